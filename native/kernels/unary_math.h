// Scalar math for the elementwise loops, written so that a `#pragma omp simd` loop vectorises it.
//
// libm's float functions are calls the compiler cannot vectorise (1.5–9 ms per 1M floats here),
// so the float versions of exp, expm1, log and friends below are branch-free inline code: range
// reduction with a split constant (Cody–Waite), a short polynomial, exponent bit arithmetic, and
// selects for the special values. Accuracy is within a few ulp over the whole float range,
// subnormal results included; NaN propagates, ±inf and 0 give the IEEE answers. Double keeps libm
// (it is exact to within an ulp and f64 is not the performance dtype).
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

namespace hodu {
namespace vmath {

inline float from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
inline uint32_t to_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

// c ? a : b computed on the bits. A plain conditional lets the compiler move the computation of
// the unused operand into a branch, and a branch with float arithmetic (which may trap) is not
// turned back into a vector blend; with this form both operands are always computed.
inline float blend(bool c, float a, float b) {
  const uint32_t m = 0u - (uint32_t)c;
  return from_bits((to_bits(a) & m) | (to_bits(b) & ~m));
}

// Round to the nearest integer (ties to even) for |v| < 2^22, without a libm call.
inline float round_int(float v) {
  const float magic = 12582912.0f;  // 1.5 * 2^23
  return (v + magic) - magic;
}

// exp(r) for |r| <= ln(2)/2 + a little: Taylor series to degree 7 (truncation < 6e-9 relative).
inline float exp_poly(float r) {
  float p = 1.0f / 5040;
  p = p * r + 1.0f / 720;
  p = p * r + 1.0f / 120;
  p = p * r + 1.0f / 24;
  p = p * r + 1.0f / 6;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  return p * r + 1.0f;
}

// p * 2^n for an integral n in [-252, 254]: one power of two clamped to the normal exponents and
// a second for the rest, so that subnormal results are rounded once and large ones overflow to inf.
inline float scale_pow2(float p, float n) {
  const int32_t ni = (int32_t)n;
  int32_t n1 = ni < 127 ? ni : 127;
  n1 = n1 > -126 ? n1 : -126;
  return p * from_bits((uint32_t)(n1 + 127) << 23) * from_bits((uint32_t)(ni - n1 + 127) << 23);
}

inline float exp(float x) {
  // Inputs beyond these bounds give 0 and inf exactly like the bounds themselves; NaN is
  // clamped too (comparisons with NaN are false) and restored at the end.
  float xc = x > -104.0f ? x : -104.0f;
  xc = xc < 88.8f ? xc : 88.8f;
  const float n = round_int(xc * 1.44269504f);
  const float r = (xc - n * 0.693115234375f) - n * 3.19461833e-05f;  // ln 2 = hi + lo, n*hi exact
  const float y = scale_pow2(exp_poly(r), n);
  return blend(x != x, x, y);
}

inline float exp2(float x) {
  float xc = x > -152.0f ? x : -152.0f;
  xc = xc < 128.5f ? xc : 128.5f;
  const float n = round_int(xc);
  const float y = scale_pow2(exp_poly((xc - n) * 0.693147182f), n);
  return blend(x != x, x, y);
}

inline float exp10(float x) {
  float xc = x > -46.0f ? x : -46.0f;
  xc = xc < 38.6f ? xc : 38.6f;
  const float n = round_int(xc * 3.32192802f);
  // x - n*log10(2) in extended precision, then times ln 10.
  const float r = ((xc - n * 0.301025390625f) - n * 4.60503907e-06f) * 2.30258512f;
  const float y = scale_pow2(exp_poly(r), n);
  return blend(x != x, x, y);
}

// exp(x) - 1 without cancellation near 0.
inline float expm1(float x) {
  // |x| < 0.5: x * (1 + x/2! + ... + x^9/10!), truncation < 1e-11 relative.
  float p = 1.0f / 3628800;
  p = p * x + 1.0f / 362880;
  p = p * x + 1.0f / 40320;
  p = p * x + 1.0f / 5040;
  p = p * x + 1.0f / 720;
  p = p * x + 1.0f / 120;
  p = p * x + 1.0f / 24;
  p = p * x + 1.0f / 6;
  p = p * x + 0.5f;
  p = p * x + 1.0f;
  const float small = p * x;
  const float big = vmath::exp(x) - 1.0f;
  return blend(std::fabs(x) < 0.5f, small, big);
}

// The pieces of log(x) for x > 0: x = 2^e * (1 + f) with f in [sqrt(1/2) - 1, sqrt(2) - 1],
// and log(1 + f) by the atanh series (fdlibm's arrangement, Taylor coefficients up to s^11).
struct LogParts {
  float e;
  float log1p_f;
};

inline LogParts log_parts(float x) {
  // Selects pick between values, never guard arithmetic: a conditional float operation could
  // trap, which keeps the compiler from turning the branch into a vector blend.
  const bool sub = x < 1.17549435e-38f;  // subnormal: scale into the normal range first
  const float xs = x * (sub ? 8388608.0f : 1.0f);
  const uint32_t u = to_bits(xs);
  int32_t e = (int32_t)((u >> 23) & 0xffu) - 127 - (sub ? 23 : 0);
  float m = from_bits((u & 0x7fffffu) | 0x3f800000u);  // [1, 2)
  const bool hi = m > 1.41421354f;
  m = m * (hi ? 0.5f : 1.0f);
  e += hi ? 1 : 0;
  const float f = m - 1.0f;
  const float s = f / (2.0f + f);
  const float z = s * s;
  float R = 2.0f / 11;
  R = R * z + 2.0f / 9;
  R = R * z + 2.0f / 7;
  R = R * z + 2.0f / 5;
  R = R * z + 2.0f / 3;
  R = R * z;
  const float hfsq = 0.5f * f * f;
  return {(float)e, f - (hfsq - s * (hfsq + R))};
}

// IEEE special cases shared by the logarithms: log(NaN) = NaN, log(x < 0) = NaN, log(±0) = -inf,
// log(inf) = inf.
inline float log_special(float x, float y) {
  const float inf = std::numeric_limits<float>::infinity();
  y = blend(x == inf, inf, y);
  y = blend(x == 0.0f, -inf, y);
  y = blend(x < 0.0f, std::numeric_limits<float>::quiet_NaN(), y);
  return blend(x != x, x, y);
}

inline float log(float x) {
  const LogParts p = log_parts(x);
  return log_special(x, p.e * 0.693115234375f + (p.log1p_f + p.e * 3.19461833e-05f));
}

inline float log2(float x) {
  const LogParts p = log_parts(x);
  return log_special(x, p.e + p.log1p_f * 1.44269504f);
}

inline float log10(float x) {
  const LogParts p = log_parts(x);
  return log_special(x, p.e * 0.301025390625f + (p.log1p_f * 0.434294492f + p.e * 4.60503907e-06f));
}

// log(1 + y) for y in [0, 1] (softplus, where y = exp(-|x|)): 2·atanh(s) with s = y / (2 + y) in
// [0, 1/3], the series to s^15 (truncation < 2e-9 relative); exact for tiny y, no cancellation.
inline float log1p_unit(float y) {
  const float s = y / (2.0f + y);
  const float z = s * s;
  float R = 2.0f / 15;
  R = R * z + 2.0f / 13;
  R = R * z + 2.0f / 11;
  R = R * z + 2.0f / 9;
  R = R * z + 2.0f / 7;
  R = R * z + 2.0f / 5;
  R = R * z + 2.0f / 3;
  return 2.0f * s + s * (z * R);
}

inline float copysign(float mag, float sign) {
  return from_bits((to_bits(mag) & 0x7fffffffu) | (to_bits(sign) & 0x80000000u));
}

// tanh(x) = sign(x)·tanh(|x|), from one of two branches (both computed, then selected):
//   |x| < 0.625:  |x| + |x|^3·P(x^2), P a degree-4 Chebyshev fit of (tanh(a)/a - 1)/a^2 on
//                 [0, 0.625^2] (relative truncation error < 2e-8);
//   |x| >= 0.625: (1 - e) / (1 + e) with e = exp(-2|x|) <= 0.29 (no cancellation; the exponent
//                 is clamped at -20, where the result rounds to 1, so exp needs no range checks).
// Within 1.6 ulp over all floats (checked exhaustively against double); NaN propagates (the clamp
// maps NaN to -20, so that the float -> int conversion below never sees a NaN, which is undefined
// behaviour; the NaN is restored at the end), tanh(±0) = ±0, tanh(±inf) = ±1.
inline float tanh(float x) {
  const float a = copysign(x, 1.0f);
  float t = -2.0f * a;
  t = blend(t >= -20.0f, t, -20.0f);  // (a conditional here keeps the AVX2 and SSE loops scalar)
  const float n = round_int(t * 1.44269504f);
  const float r = (t - n * 0.693115234375f) - n * 3.19461833e-05f;
  const float e = exp_poly(r) * from_bits((uint32_t)((int32_t)n + 127) << 23);  // n in [-29, 0]
  const float big = (1.0f - e) / (1.0f + e);
  const float z = a * a;
  float p = -0.00609671416591f;
  p = p * z + 0.0209971789991f;
  p = p * z - 0.0538509095785f;
  p = p * z + 0.13332769737f;
  p = p * z - 0.333333289441f;
  const float small = a + (a * z) * p;
  return blend(x != x, x, copysign(blend(a < 0.625f, small, big), x));
}

// 1 / (1 + exp(-x)) without overflow: with e = exp(-|x|), 1 / (1 + e) for x >= 0 and e / (1 + e)
// for x < 0. -|x| is clamped at -104, where the result is below half the smallest subnormal, so
// the exponent n of e stays in [-150, 0]: 2^n is applied as 2^(n+64)·2^-64, two normal factors,
// and a subnormal e is rounded once. sigmoid(0) = 0.5 exactly; within 2.8 ulp over all floats,
// subnormal results included (checked exhaustively against double); NaN propagates (clamped to
// -104 like tanh's, so no NaN reaches the float -> int conversion; restored at the end).
inline float sigmoid(float x) {
  float t = copysign(x, -1.0f);
  t = blend(t >= -104.0f, t, -104.0f);
  const float n = round_int(t * 1.44269504f);
  const float r = (t - n * 0.693115234375f) - n * 3.19461833e-05f;
  const float e = exp_poly(r) * from_bits((uint32_t)((int32_t)n + 191) << 23) * 5.42101086e-20f;  // 2^-64
  const float s = 1.0f / (1.0f + e);
  return blend(x != x, x, blend(x >= 0.0f, s, e * s));
}

// erf for float, computed in double (the loop vectorises the conversions) to stay within ~1 ulp of
// the float64 erf: |x| < 1: x·P(x²); 1 <= |x| < 4: 1 - exp(Q(|x| - 2.5)) (Q fits log erfc, whose
// error in erf is at most erfc(1)·|ΔQ|, and exp's float rounding costs a quarter ulp there); from 4
// on erf rounds to ±1. Least-squares fits with relative (P) and erfc (Q) weights; measured over
// the float range by test/native/test_elementwise.cc. The XLA lowering evaluates the same
// polynomials (stablehlo_emitter.cc).
inline constexpr double kErfSmall[] = {1.1283791650034185,    -0.3761262500073332,    0.1128358667929172,
                                       -0.02685410972847968,  0.0051891947247917364, -0.0008019873542955598,
                                       7.891571023311468e-05};
inline constexpr double kErfLarge[] = {-7.806815266390378,    -5.35268065234117,      -0.9438935154378327,
                                       -0.010858714568626348, 0.002162636341814214,   -0.0004238925383888907,
                                       7.816165981637042e-05, -8.238670318356336e-06, 5.17657697720036e-06,
                                       7.803680993289712e-07};
constexpr double kErfSplit = 1.0, kErfOne = 4.0, kErfCenter = 2.5;

inline float erf(float x) {
  const double a = std::fabs((double)x);
  const double t = a * a;
  double p = kErfSmall[6];
  for (int k = 5; k >= 0; k--) p = p * t + kErfSmall[k];
  const double s = (a < kErfOne ? a : kErfOne) - kErfCenter;  // NaN -> 4 (fixed below)
  double q = kErfLarge[9];
  for (int k = 8; k >= 0; k--) q = q * s + kErfLarge[k];
  const float small = (float)(a * p);
  const float large = (float)(1.0 - (double)exp((float)q));
  const float r = copysign(blend(a < kErfSplit, small, large), x);
  return blend(x != x, x, r);
}

// Exact GELU, x·Φ(x) with Φ(x) = (1 + erf(x/√2))/2, from the same polynomials as erf, in double.
// With a = |x|/√2, erfc(a) is taken from 1 - erf (a < 1, where erf <= 0.843: no cancellation),
// from the fit of erfc (1 <= a < 3; relative error under 2e-7) or from its continued fraction
// e^(-a²)/√π / (a + (1/2)/(a + 1/(a + (3/2)/(a + ...)))) cut after 8 terms (a >= 3: relative error
// under 6e-8), so that Φ(x) = erfc(a)/2 for x < 0 keeps its relative accuracy in the left tail.
// x < -14 gives -0 (the limit; |x·Φ(x)| < 1e-44 there), -inf gives -0, +inf gives +inf, NaN stays NaN.
constexpr double kGeluCf = 3.0;
inline float gelu_erf(float x) {
  const double u = (double)x * 0.7071067811865476;
  const double a = std::fabs(u);
  const double t = a * a;
  double p = kErfSmall[6];
  for (int k = 5; k >= 0; k--) p = p * t + kErfSmall[k];
  const double s = (a < kErfOne ? a : kErfOne) - kErfCenter;  // NaN -> 4 (fixed below)
  double q = kErfLarge[9];
  for (int k = 8; k >= 0; k--) q = q * s + kErfLarge[k];
  const double ec = (double)exp((float)q);  // erfc(a) for 1 <= a < 3
  const double erf_a = a * p;                // erf(a) for a < 1
  const double tc = a < kGeluCf ? kGeluCf : (a < 10.0 ? a : 10.0);  // the fraction's argument, kept finite
  double f = tc;
  for (int k = 8; k >= 1; k--) f = tc + (0.5 * k) / f;
  const double a2 = tc * tc;
  const float a2_hi = (float)a2;  // e^(-a²) = e^(-a2_hi)·e^(-(a² - a2_hi)), the second factor ≈ 1 - δ
  const double tail = (double)exp(-a2_hi) * (1.0 - (a2 - (double)a2_hi)) / (1.7724538509055160 * f);
  const float mid = blend(a < kErfSplit, (float)(1.0 - erf_a), (float)ec);
  const float lo = blend(a < kGeluCf, mid, (float)tail);             // erfc(a)
  const float phi2 = blend(u < 0.0, lo, (float)(2.0 - (double)lo));  // 2·Φ(x)
  const float r = blend(x < -14.0f, -0.0f, 0.5f * x * phi2);
  return blend(x != x, x, r);
}

}  // namespace vmath

// The functions the unary ops use, per compute type: float -> vmath, double -> libm.
namespace umath {

inline float exp(float x) { return vmath::exp(x); }
inline double exp(double x) { return std::exp(x); }
inline float exp2(float x) { return vmath::exp2(x); }
inline double exp2(double x) { return std::exp2(x); }
inline float exp10(float x) { return vmath::exp10(x); }
inline double exp10(double x) { return std::pow(10.0, x); }
inline float expm1(float x) { return vmath::expm1(x); }
inline double expm1(double x) { return std::expm1(x); }
inline float log(float x) { return vmath::log(x); }
inline double log(double x) { return std::log(x); }
inline float log2(float x) { return vmath::log2(x); }
inline double log2(double x) { return std::log2(x); }
inline float log10(float x) { return vmath::log10(x); }
inline double log10(double x) { return std::log10(x); }
inline float log1p_unit(float x) { return vmath::log1p_unit(x); }
inline double log1p_unit(double x) { return std::log1p(x); }
inline float tanh(float x) { return vmath::tanh(x); }
inline double tanh(double x) { return std::tanh(x); }
inline float erf(float x) { return vmath::erf(x); }
inline double erf(double x) { return std::erf(x); }
inline float gelu_erf(float x) { return vmath::gelu_erf(x); }
// x < -40: erfc(28.3) underflows; the limit -0 (also for -inf, where the product would be NaN)
inline double gelu_erf(double x) { return x < -40.0 ? -0.0 : 0.5 * x * std::erfc(-x * 0.7071067811865476); }

// c ? a : b for the unary ops: a bit blend for float (see vmath::blend), a plain conditional for
// the other types (double math calls libm and does not vectorise anyway; integers cannot trap).
template <class C>
inline C select(bool c, C a, C b) {
  if constexpr (std::is_same_v<C, float>) return vmath::blend(c, a, b);
  else return c ? a : b;
}

template <class C>
inline C sigmoid(C x) {
  if constexpr (std::is_same_v<C, float>) {
    return vmath::sigmoid(x);
  } else {
    const C e = std::exp(-std::fabs(x));
    const C s = C(1) / (C(1) + e);
    return x >= C(0) ? s : e * s;
  }
}

}  // namespace umath
}  // namespace hodu
