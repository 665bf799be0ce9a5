// Fused elementwise programs: a chain (tree) of f32 elementwise ops evaluated in one pass over
// memory. The HODU planner (native/hodu/plan.cc) groups ops whose intermediates have one reader
// into a FusedProgram; a kernel file registers the factory that compiles it.
#pragma once
#include <memory>
#include <vector>

#include "kernel.h"

namespace hodu {

struct FusedInstr {
  OpCode op;   // a Binary, UnarySigned or UnaryFloat op (see ops.def)
  Attrs attrs;
  // Register operands: 0 .. inputs-1 are the program's inputs; inputs + k is instruction k's result.
  int a = -1;
  int b = -1;  // second operand of a binary op, -1 for unary
};

struct FusedProgram {
  std::vector<TensorDesc> inputs;  // leaves, strided, each broadcastable (right-aligned) to output.shape
  std::vector<FusedInstr> instrs;  // in evaluation order; the last one's result is stored
  TensorDesc output;               // contiguous; every instruction's result has this shape
};

using FusedFactory = std::unique_ptr<Kernel> (*)(const FusedProgram&);
// Whether `op` with `dtype` may appear in a fused program (consulted by the planner before grouping).
using FusedSupports = bool (*)(OpCode op, DType dtype);

struct FusedRegistrar {
  FusedRegistrar(FusedFactory make, FusedSupports supports);
};

// nullptr / false when no fused kernel is registered.
std::unique_ptr<Kernel> make_fused_elementwise(const FusedProgram& p);
bool fused_elementwise_supports(OpCode op, DType dtype);

}  // namespace hodu
