// Opcodes and per-op metadata, generated from ops.def (the one op list; see its header).
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace hodu {

// The op families (ops.def's family column), as an X-macro so their names reach TypeScript.
#define HODU_OP_FAMILIES(X)                                                                                   \
  X(Cast) X(Copy) X(View) X(Binary) X(Logical) X(Compare) X(LogicalNot) X(UnarySigned) X(UnaryFloat) X(Where) \
  X(Matmul) X(Reduce) X(ReduceFloat) X(ArgReduce) X(Concat) X(IndexSelect) X(Gather) X(SoftmaxLike) X(Conv2d)  \
  X(Pool2d) X(Conv2dGradInput) X(Conv2dGradWeight) X(MaxPool2dGrad) X(AvgPool2dGrad) X(ScatterAdd)            \
  X(IndexAdd) X(SliceScatter) X(LayerNorm)

enum class OpFamily {
#define HODU_X(f) f,
  HODU_OP_FAMILIES(HODU_X)
#undef HODU_X
};
const char* family_name(OpFamily f);

// Whether an op is differentiable: Vjp (lib/autograd/vjp.ts has an entry), None (integer or bool
// result), Internal (a gradient op that backward passes record; no second order).
enum class OpGrad { Vjp, None, Internal };
const char* grad_name(OpGrad g);

enum class OpCode : uint16_t {
#define HODU_OP(E, name, code, fam, arity, attrs, grad) E = code,
#include "ops.def"
#undef HODU_OP
};

constexpr int kNumOps = 0
#define HODU_OP(E, name, code, fam, arity, attrs, grad) +1
#include "ops.def"
#undef HODU_OP
    ;

struct OpInfo {
  OpCode code;
  const char* name;
  OpFamily family;
  int arity;           // -1 = variadic (at least one)
  const char* attrs;   // the schema text of ops.def, e.g. "keepdim, dims..."
  OpGrad grad;
  int attr_count;      // names in the schema (a variadic last name counts as its minimum, 0)
  bool attr_variadic;  // the last name ends in "...": attr_count or more values
};

namespace detail {
// Parses an attribute schema at compile time: the number of fixed names, and whether the last name
// is variadic ("dims...").
constexpr int schema_names(const char* s) {
  int n = 0;
  bool word = false;
  for (; *s; s++) {
    if (*s == ',') word = false;
    else if (*s != ' ' && !word) { word = true; n++; }
  }
  return n;
}
constexpr bool schema_variadic(const char* s) {
  const char* e = s;
  while (*e) e++;
  return e - s >= 3 && e[-1] == '.' && e[-2] == '.' && e[-3] == '.';
}
constexpr std::array<OpInfo, kNumOps> build_op_table() {
  std::array<OpInfo, kNumOps> t{};
  std::array<bool, kNumOps> seen{};
  const OpInfo rows[] = {
#define HODU_OP(E, name, code, fam, arity, attrs, grad)                                                   \
  {OpCode::E, name, OpFamily::fam, arity, attrs, OpGrad::grad,                                          \
   schema_names(attrs) - (schema_variadic(attrs) ? 1 : 0), schema_variadic(attrs)},
#include "ops.def"
#undef HODU_OP
  };
  for (const OpInfo& r : rows) {
    const int c = (int)r.code;
    // A code outside 0..kNumOps-1 or used twice: fix ops.def (codes are unique and dense).
    if (c < 0 || c >= kNumOps || seen[c]) throw "ops.def: opcodes must be unique and dense";
    seen[c] = true;
    t[c] = r;
  }
  return t;
}
}  // namespace detail

// The table, indexed by opcode (a compile-time constant, so families can select ops in templates).
inline constexpr std::array<OpInfo, kNumOps> kOpTable = detail::build_op_table();

constexpr const OpInfo& op_info(OpCode op) { return kOpTable[(size_t)op]; }
constexpr OpFamily op_family(OpCode op) { return kOpTable[(size_t)op].family; }
inline bool opcode_valid(int code) { return code >= 0 && code < kNumOps; }

// Every op whose family is one of `fams`, in opcode order (kernel registrars and lowering tables
// select their ops with it, so a new op of a family needs no list edit).
std::vector<OpCode> ops_of(std::initializer_list<OpFamily> fams);

// Attributes travel as a flat list of doubles (integers are exact up to 2^53).
using Attrs = std::vector<double>;

}  // namespace hodu
