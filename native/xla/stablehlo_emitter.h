// The XLA backend's lowering: a decoded, validated IR graph -> one StableHLO module as MLIR text
// (`func.func @main`, generic op syntax), which the PJRT plugin parses and compiles (format "mlir").
//
// Parameters of @main: every graph input (graph.input_ids order), then every live constant bigger
// than EmitOptions::inline_constant_max_elements (uploaded once at compile time and kept on the
// device, so weights are never literals in the program text). Results: the graph outputs, in order.
//
// Each IR op has one lowering function, looked up by OpCode (has_lowering). Semantics follow the
// HODU backend (native/ops/infer.cc and the kernels): integer division truncates and x/0 = 0,
// float->int casts saturate with NaN -> 0, maximum/minimum keep a NaN of the first operand only,
// argmax/argmin give the row-major flat index within the reduced dims (ties: first; NaN wins),
// f16/bf16 compute in f32. Index ops check their indices at run time as HODU does: each adds a
// flag to a hidden last result (index_check_messages), which XlaPlan::run turns into INVALID_ARGUMENT.
// Needs no PJRT header: it is plain text generation and always compiled.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "../ir/graph.h"

namespace hodu {
namespace xla {

struct EmitOptions {
  // Constants with at most this many elements become literals in the text (XLA can fold them);
  // larger ones are parameters.
  size_t inline_constant_max_elements = 1;
  // precision = HIGHEST on float dot_general/convolution (keeps GPUs from using TF32).
  bool highest_precision = true;
  // SPMD over several devices (XlaPlan with Target::devices): > 1 writes mhlo.sharding on @main:
  // graph input k split along input_split_axis[k] ({devices=[1,..,N,..,1]0,..,N-1}) or, for -1 or a
  // missing entry, replicated; constants and every result replicated (the partitioner inserts the
  // collectives, so the program's meaning does not depend on these choices).
  int num_partitions = 1;
  std::vector<int> input_split_axis;
  // Updated script variables (an input and an output both named `@var:<name>`, same type): the
  // input is marked `tf.aliasing_output` so that a donated device buffer becomes the output in
  // place (XLA may alias; an input the caller does not donate is copied by the runtime).
  bool alias_variables = true;
};

struct Param {
  enum class Kind { Input, Constant };
  Kind kind;
  uint32_t value;  // IR value id
  uint32_t index;  // Input: position in graph.input_ids; Constant: index into the constant buffers
  DType dtype;
  Shape shape;
};

struct EmitResult {
  std::string text;
  std::vector<Param> params;  // @main's arguments, in order
  std::vector<int> aliased_output;  // per param: the result it may alias (tf.aliasing_output), -1 none
  // When not empty, @main has one more result than the graph has outputs: tensor<Kxi1>, flag k
  // set when an index of index op k was out of range (message k says which op and dim).
  std::vector<std::string> index_check_messages;
  size_t ops = 0;             // IR ops lowered (after dead-code elimination)
  size_t inlined_constants = 0;
  size_t loops = 0;           // rolled loops lowered to stablehlo.while
};

// Throws COMPILE_FAILED for an op without a lowering, INTERNAL if a lowering produced a value whose
// type differs from the IR's (a bug, caught before XLA sees the text).
EmitResult emit_stablehlo(const Graph& g, const std::vector<ConstantData>& constants, const EmitOptions& opts = {});

// "f32", "i32", "ui8", "i1", ...
const char* stablehlo_element_type(DType t);

// True when `op` has a lowering (every op of ops.def should; tests check it).
bool has_lowering(OpCode op);

}  // namespace xla
}  // namespace hodu
