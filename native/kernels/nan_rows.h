// PyTorch's NaN rule for softmax/log-softmax: a row that holds a NaN is NaN throughout. oneDNN's
// softmax leaves NaN only where it arose (its max ignores NaN); a NaN in an output row can only come
// from a NaN (or an Inf) in its input row, so after oneDNN ran, any row of the output that holds a NaN
// is filled with NaN. The output is still in cache; rows without NaN are only read.
#pragma once
#include <cstdint>
#include <cstring>

#include "../core/dtype.h"

namespace hodu {

inline void spread_nan_rows(void* out, DType t, int64_t rows, int64_t n) {
  if (t == DType::F32) {
    float* p = static_cast<float*>(out);
    for (int64_t r = 0; r < rows; r++, p += n) {
      int nan = 0;
#pragma omp simd reduction(| : nan)
      for (int64_t k = 0; k < n; k++) nan |= p[k] != p[k];
      if (nan)
        for (int64_t k = 0; k < n; k++) p[k] = __builtin_nanf("");
    }
  } else if (t == DType::BF16) {
    uint16_t* p = static_cast<uint16_t*>(out);
    for (int64_t r = 0; r < rows; r++, p += n) {
      int nan = 0;
#pragma omp simd reduction(| : nan)
      for (int64_t k = 0; k < n; k++) nan |= (p[k] & 0x7fff) > 0x7f80;
      if (nan)
        for (int64_t k = 0; k < n; k++) p[k] = 0x7fc0;
    }
  }
}

}  // namespace hodu
