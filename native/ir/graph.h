// The IR: a script's graph as the C++ core sees it after decoding and validation.
//
// A graph is a list of values in topological order. Each value is a named input, a constant, or
// the output of one op whose inputs are earlier values. Every value carries its dtype and shape
// (the TS recorder wrote them; validation re-derives them with infer() and rejects a mismatch).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "../core/op.h"
#include "../core/tensor_desc.h"

namespace hodu {

constexpr uint32_t kIrVersion = 1;

// Input, Constant and Op are what the IR holds. Loop and LoopResult exist only in graphs made by
// the loop-rolling pass (native/ir/loop_roll.h); the decoder rejects them.
enum class ValueKind : uint8_t { Input = 0, Constant = 1, Op = 2, Loop = 3, LoopResult = 4 };

struct Value {
  ValueKind kind = ValueKind::Op;
  DType dtype = DType::F32;
  Shape shape;
  std::string name;             // Input
  uint32_t constant = 0;        // Constant: index into the constant buffers
  OpCode op = OpCode::Copy;     // Op
  std::vector<uint32_t> inputs; // Op: ids of earlier values
  Attrs attrs;                  // Op
  uint32_t index = 0;           // Loop: index into Graph::loops; LoopResult: the loop's state index
};

struct Output {
  std::string name;
  uint32_t value;
};

struct Loop;

struct Graph {
  std::vector<Value> values;
  std::vector<Output> outputs;
  std::vector<uint32_t> input_ids;  // values of kind Input, in order of appearance
  std::vector<std::shared_ptr<const Loop>> loops;  // bodies of the Loop values (rolled graphs only)
};

// A rolled loop: `trips` runs of `body`. A Loop value's inputs are, in order, the initial value of
// each state, the invariants and the tables; body.input_ids follow the same order. Iteration i
// binds state k to the previous iteration's body output k (the initial value when i = 0), each
// invariant to the same outer value, and table t to row i of its outer [trips, ...] constant.
// The body's outputs are the next states; LoopResult k (inputs = {loop value}) is the last one.
struct Loop {
  Graph body;
  uint32_t trips = 0;
  uint32_t num_state = 0;
  uint32_t num_invariant = 0;
  uint32_t num_table = 0;
};

struct ConstantData {
  const void* data;
  size_t bytes;
};

// Decodes IR bytes (see lib/ir/encode.ts for the layout). INVALID_FILE on any malformed input;
// never reads out of bounds, and allocates no more than the byte count justifies.
Graph decode_graph(const uint8_t* bytes, size_t size);

// Checks ids, arity, attributes, shapes and dtypes (via infer()), names, constants' sizes.
// INVALID_FILE for structural errors; the infer() error code (SHAPE_MISMATCH, ...) for op errors.
void validate_graph(const Graph& g, const std::vector<ConstantData>& constants);

}  // namespace hodu
