#include "random.h"

#include <cmath>

#include "error.h"
#include "half.h"

namespace hodu {

static inline uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// uniform in [0, 1) with 53 random bits
static inline double u01(uint64_t seed, uint64_t i) {
  return (double)(splitmix64(seed ^ splitmix64(i)) >> 11) * (1.0 / 9007199254740992.0);
}

void fill_random(void* out, DType dtype, int64_t n, RandomKind kind, double a, double b, uint64_t seed) {
  if (!is_float(dtype)) fail(ErrorCode::INTERNAL, "fill_random: dtype ", dtype_name(dtype));
  // stores v rounded to the dtype; for uniform draws a value that rounds up to `high` is moved one
  // step of the dtype down, so the interval stays half-open
  auto put = [&](int64_t i, double v, bool below_b) {
    switch (dtype) {
      case DType::F64:
        ((double*)out)[i] = v;
        break;
      case DType::F32: {
        float f = (float)v;
        if (below_b && f >= (float)b) f = std::nextafter((float)b, -INFINITY);
        ((float*)out)[i] = f;
        break;
      }
      case DType::F16:
      case DType::BF16: {
        const bool h = dtype == DType::F16;
        uint16_t bits = h ? f32_to_f16((float)v) : f32_to_bf16((float)v);
        float back = h ? f16_to_f32(bits) : bf16_to_f32(bits);
        if (below_b && back >= b) {
          uint16_t hb = h ? f32_to_f16((float)b) : f32_to_bf16((float)b);
          // one representable step below b (sign-magnitude: positive values step down by -1)
          if (hb & 0x8000u) bits = (uint16_t)(hb + 1);
          else if ((hb & 0x7fffu) == 0) bits = 0x8001u;
          else bits = (uint16_t)(hb - 1);
        }
        ((uint16_t*)out)[i] = bits;
        break;
      }
      default:
        break;
    }
  };
  if (kind == RandomKind::Uniform) {
    for (int64_t i = 0; i < n; i++) put(i, a + (b - a) * u01(seed, (uint64_t)i), b > a);
    return;
  }
  // Box-Muller on pairs (2k, 2k+1)
  const double two_pi = 6.283185307179586;
  for (int64_t i = 0; i < n; i += 2) {
    double u1 = 1.0 - u01(seed, (uint64_t)i);  // (0, 1]
    double u2 = u01(seed, (uint64_t)i + 1);
    double r = std::sqrt(-2.0 * std::log(u1));
    put(i, a + b * r * std::cos(two_pi * u2), false);
    if (i + 1 < n) put(i + 1, a + b * r * std::sin(two_pi * u2), false);
  }
}

}  // namespace hodu
