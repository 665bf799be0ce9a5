// Opcodes and per-op metadata, generated from ops.def.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace hodu {

enum class OpFamily {
  Cast, Copy, View, Binary, Logical, Compare, LogicalNot, UnarySigned, UnaryFloat, Where, Matmul,
  Reduce, ReduceFloat, ArgReduce, Concat, IndexSelect, Gather, SoftmaxLike, Conv2d, Pool2d,
  Conv2dGradInput, Conv2dGradWeight, MaxPool2dGrad, AvgPool2dGrad, ScatterAdd, IndexAdd, SliceScatter,
};

enum class OpCode : uint16_t {
#define HODU_OP(E, name, fam, arity, attrs) E,
#include "ops.def"
#undef HODU_OP
  Count_
};
constexpr int kNumOps = (int)OpCode::Count_;

struct OpInfo {
  OpCode code;
  const char* name;
  OpFamily family;
  int arity;  // -1 = variadic (at least one)
  const char* attrs;
};

const OpInfo& op_info(OpCode op);
inline bool opcode_valid(int code) { return code >= 0 && code < kNumOps; }

// Attributes travel as a flat list of doubles (integers are exact up to 2^53).
using Attrs = std::vector<double>;

}  // namespace hodu
