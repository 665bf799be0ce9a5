// Counter-based random numbers: value i of a fill depends only on (seed, i), so fills are
// reproducible under manualSeed and independent of threading.
#pragma once
#include <cstdint>

#include "dtype.h"

namespace hodu {

enum class RandomKind { Normal = 0, Uniform = 1 };

// Fills `n` elements of dtype F32 or F64 at `out`: Normal(a = mean, b = std) or Uniform[a = low, b = high).
void fill_random(void* out, DType dtype, int64_t n, RandomKind kind, double a, double b, uint64_t seed);

}  // namespace hodu
