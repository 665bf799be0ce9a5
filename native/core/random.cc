#include "random.h"

#include <cmath>

#include "error.h"

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
  if (dtype != DType::F32 && dtype != DType::F64) fail(ErrorCode::INTERNAL, "fill_random: dtype ", dtype_name(dtype));
  auto put = [&](int64_t i, double v) {
    if (dtype == DType::F32) ((float*)out)[i] = (float)v;
    else ((double*)out)[i] = v;
  };
  if (kind == RandomKind::Uniform) {
    for (int64_t i = 0; i < n; i++) {
      double v = a + (b - a) * u01(seed, (uint64_t)i);
      if (dtype == DType::F32 && (float)v >= (float)b && b > a) v = std::nextafter((float)b, (float)a);
      put(i, v);
    }
    return;
  }
  // Box-Muller on pairs (2k, 2k+1)
  const double two_pi = 6.283185307179586;
  for (int64_t i = 0; i < n; i += 2) {
    double u1 = 1.0 - u01(seed, (uint64_t)i);  // (0, 1]
    double u2 = u01(seed, (uint64_t)i + 1);
    double r = std::sqrt(-2.0 * std::log(u1));
    put(i, a + b * r * std::cos(two_pi * u2));
    if (i + 1 < n) put(i + 1, a + b * r * std::sin(two_pi * u2));
  }
}

}  // namespace hodu
