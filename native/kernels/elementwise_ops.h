// Scalar semantics of the elementwise ops, per compute type (float, double, the integer types,
// bool): one functor per op, shared by the unary and binary loop kernels (unary.cc, binary.cc) and
// the fused elementwise kernel (fused_elementwise.cc), so that a fused chain computes exactly what
// the separate kernels compute. The float math comes from unary_math.h (inline, vectorisable).
#pragma once
#include <cmath>
#include <limits>
#include <type_traits>

#include "../core/op.h"
#include "elem.h"
#include "unary_math.h"

namespace hodu {
namespace ew {

// ---------------------------------------------------------------------------------------------
// Unary ops.

// Relative cost per byte moved of a unary op, for the thread policy: memory-bound, the inline
// vectorised math of unary_math.h, or a libm call per element (double math, sqrt, sin, cos, tan).
enum class Cost { Cheap = 1, VecMath = 3, Libm = 12 };

constexpr Cost unary_cost(OpCode op, bool f64) {
  switch (op) {
    case OpCode::LogicalNot: case OpCode::Neg: case OpCode::Abs: case OpCode::Sign: case OpCode::Square:
    case OpCode::Relu: case OpCode::Clamp: case OpCode::Recip: case OpCode::LeakyRelu:
      return Cost::Cheap;
    case OpCode::Sqrt: case OpCode::Sin: case OpCode::Cos: case OpCode::Tan:
      return Cost::Libm;
    default:
      return f64 ? Cost::Libm : Cost::VecMath;
  }
}

// Integer arithmetic wraps around: it is done in the unsigned type of the promoted operands.
template <class C>
using wrap_t = std::make_unsigned_t<decltype(C() + C())>;

template <class C>
inline C neg_of(C x) {
  if constexpr (std::is_integral_v<C>) return (C)(wrap_t<C>(0) - (wrap_t<C>)x);
  else return -x;
}

template <class C>
inline C square_of(C x) {
  if constexpr (std::is_integral_v<C>) return (C)((wrap_t<C>)x * (wrap_t<C>)x);
  else return x * x;
}

template <class C>
inline C abs_of(C x) {
  if constexpr (std::is_floating_point_v<C>) return std::fabs(x);
  else if constexpr (std::is_signed_v<C>) return x < 0 ? neg_of(x) : x;  // abs(MIN) wraps to MIN
  else return x;
}

template <class C>
inline C relu_of(C x) {
  if constexpr (std::is_unsigned_v<C>) return x;
  else return x > C(0) || x != x ? x : C(0);  // NaN stays NaN (PyTorch); -0 becomes 0
}

template <class C>
inline C sign_of(C x) {
  if constexpr (std::is_unsigned_v<C>) return (C)(x > 0 ? 1 : 0);
  else if (x != x) return x;  // NaN stays NaN (PyTorch)
  else return (C)((x > C(0)) - (x < C(0)));  // 0 for 0
}

// One functor for every op except Clamp; `a` is the op's attribute (leaky_relu slope, elu alpha)
// in the compute type.
template <OpCode OP, class C>
struct UnaryFn {
  C a = C();

  auto operator()(C x) const {
    if constexpr (OP == OpCode::LogicalNot) return !(x != C(0));
    else if constexpr (OP == OpCode::Neg) return neg_of(x);
    else if constexpr (OP == OpCode::Abs) return abs_of(x);
    else if constexpr (OP == OpCode::Sign) return sign_of(x);
    else if constexpr (OP == OpCode::Square) return square_of(x);
    else if constexpr (OP == OpCode::Relu) return relu_of(x);
    else if constexpr (OP == OpCode::Sqrt) return std::sqrt(x);
    else if constexpr (OP == OpCode::Recip) return C(1) / x;
    else if constexpr (OP == OpCode::Sigmoid) return umath::sigmoid(x);
    else if constexpr (OP == OpCode::Tanh) return umath::tanh(x);
    else if constexpr (OP == OpCode::Gelu) {
      // 0.5·x·(1 + tanh(u)) written as x·sigmoid(2u): the same function without the cancellation
      // of 1 + tanh(u) for negative x.
      const C u = C(0.7978845608028654) * (x + C(0.044715) * x * x * x);
      return x * umath::sigmoid(C(2) * u);
    } else if constexpr (OP == OpCode::Softplus) {
      return (x > C(0) ? x : C(0)) + umath::log1p_unit(umath::exp(-std::fabs(x)));
    } else if constexpr (OP == OpCode::Sin) return std::sin(x);
    else if constexpr (OP == OpCode::Cos) return std::cos(x);
    else if constexpr (OP == OpCode::Tan) return std::tan(x);
    else if constexpr (OP == OpCode::Exp) return umath::exp(x);
    else if constexpr (OP == OpCode::Exp2) return umath::exp2(x);
    else if constexpr (OP == OpCode::Exp10) return umath::exp10(x);
    else if constexpr (OP == OpCode::Ln) return umath::log(x);
    else if constexpr (OP == OpCode::Log2) return umath::log2(x);
    else if constexpr (OP == OpCode::Log10) return umath::log10(x);
    else if constexpr (OP == OpCode::LeakyRelu) return umath::select(x > C(0), x, a * x);
    else if constexpr (OP == OpCode::Elu) return umath::select(x > C(0), x, a * umath::expm1(x));
    else if constexpr (OP == OpCode::Silu) return x * umath::sigmoid(x);
    else if constexpr (OP == OpCode::Erf) return umath::erf(x);
    else if constexpr (OP == OpCode::GeluErf) return umath::gelu_erf(x);
    else static_assert(OP == OpCode::LogicalNot, "not a unary op");
  }
};

// clamp(x) = min(max(x, lo), hi) with the bounds as doubles (they may be ±inf). Floats compare in
// their compute type, NaN passes through. Integers decide in exact arithmetic which of x, lo, hi
// the double formula picks and convert a picked bound into the dtype (saturating, truncating).
template <class C>
struct ClampFn {
  C lo = C(), hi = C();           // floats: the bounds; integers: thresholds (see make)
  bool lo_all = false, lo_none = false, hi_all = false, hi_none = false;
  C lo_val = C(), hi_val = C();   // integers: the results when x is below lo / above hi

  static ClampFn make(double lo, double hi) {
    ClampFn f;
    if constexpr (std::is_floating_point_v<C>) {
      f.lo = (C)lo;
      f.hi = (C)hi;
    } else {
      const double min = (double)std::numeric_limits<C>::min();
      const double max_plus_one = std::ldexp(1.0, std::numeric_limits<C>::digits);  // exact
      // x < lo  <=>  x < ceil(lo) for an integer x.
      const double c = std::ceil(lo);
      if (c <= min) f.lo_none = true;
      else if (c >= max_plus_one) f.lo_all = true;
      else f.lo = (C)c;
      // x > hi  <=>  x > floor(hi).
      const double fl = std::floor(hi);
      if (fl >= max_plus_one - 1) f.hi_none = true;  // x > max never holds
      else if (fl < min) f.hi_all = true;
      else f.hi = (C)fl;
      f.lo_val = convert_value<C>(std::min(lo, hi));
      f.hi_val = convert_value<C>(hi);
    }
    return f;
  }

  C operator()(C x) const {
    if constexpr (std::is_floating_point_v<C>) {
      const C r = x < lo ? lo : x;
      return hi < r ? hi : r;
    } else {
      const bool below = lo_all || (!lo_none && x < lo);
      const bool above = hi_all || (!hi_none && x > hi);
      return below ? lo_val : above ? hi_val : x;
    }
  }
};

// ---------------------------------------------------------------------------------------------
// Binary ops.


template <class C>
inline C int_div(C a, C b) {
  if (b == 0) return 0;
  if constexpr (std::is_signed_v<C>) {
    if (b == -1) return (C)(wrap_t<C>(0) - (wrap_t<C>)a);  // MIN / -1 wraps to MIN
  }
  return (C)(a / b);
}

template <class C>
inline C int_pow(C base, C exp) {
  if constexpr (std::is_signed_v<C>) {
    if (exp < 0) {
      if (base == 1) return 1;
      if (base == -1) return (exp & 1) ? C(-1) : C(1);
      return 0;
    }
  }
  wrap_t<C> result = 1, b = (wrap_t<C>)base;
  for (auto e = (std::make_unsigned_t<C>)exp; e != 0; e >>= 1) {
    if (e & 1) result *= b;
    b *= b;
  }
  return (C)result;
}

template <OpCode OP, class C>
struct BinaryFn {
  auto operator()(C a, C b) const {
    constexpr bool integral = std::is_integral_v<C>;
    if constexpr (OP == OpCode::Add) {
      if constexpr (integral) return (C)((wrap_t<C>)a + (wrap_t<C>)b);
      else return a + b;
    } else if constexpr (OP == OpCode::Sub) {
      if constexpr (integral) return (C)((wrap_t<C>)a - (wrap_t<C>)b);
      else return a - b;
    } else if constexpr (OP == OpCode::Mul) {
      if constexpr (integral) return (C)((wrap_t<C>)a * (wrap_t<C>)b);
      else return a * b;
    } else if constexpr (OP == OpCode::Div) {
      if constexpr (integral) return int_div(a, b);
      else return a / b;
    } else if constexpr (OP == OpCode::Pow) {
      if constexpr (integral) return int_pow(a, b);
      else return std::pow(a, b);
    } else if constexpr (OP == OpCode::Maximum) {
      if constexpr (integral) return a < b ? b : a;
      else return a != a ? a : (b != b ? b : (a < b ? b : a));
    } else if constexpr (OP == OpCode::Minimum) {
      if constexpr (integral) return a > b ? b : a;
      else return a != a ? a : (b != b ? b : (a > b ? b : a));
    } else if constexpr (OP == OpCode::LogicalAnd) {
      return bool((a != C(0)) & (b != C(0)));
    } else if constexpr (OP == OpCode::LogicalOr) {
      return bool((a != C(0)) | (b != C(0)));
    } else if constexpr (OP == OpCode::LogicalXor) {
      return (a != C(0)) != (b != C(0));
    } else if constexpr (OP == OpCode::Eq) {
      return a == b;
    } else if constexpr (OP == OpCode::Ne) {
      return a != b;
    } else if constexpr (OP == OpCode::Lt) {
      return a < b;
    } else if constexpr (OP == OpCode::Le) {
      return a <= b;
    } else if constexpr (OP == OpCode::Gt) {
      return a > b;
    } else {
      static_assert(OP == OpCode::Ge, "not a binary op");
      return a >= b;
    }
  }
};

}  // namespace ew
}  // namespace hodu
