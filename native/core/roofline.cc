#include "roofline.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <vector>

namespace hodu {

namespace {

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// 16 independent FMA chains keep both FMA pipes busy despite the 4-cycle latency.
__attribute__((target("avx512f"))) float fma_loop_512(long iters) {
  __m512 acc[16];
  for (int i = 0; i < 16; i++) acc[i] = _mm512_set1_ps(0.001f * (float)i);
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (long k = 0; k < iters; k++)
    for (int i = 0; i < 16; i++) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
  __m512 s = acc[0];
  for (int i = 1; i < 16; i++) s = _mm512_add_ps(s, acc[i]);
  // summed by hand: GCC 12's _mm512_reduce_add_ps reads an uninitialized register (-Wuninitialized)
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, s);
  float t = 0.f;
  for (float v : lanes) t += v;
  return t;
}

__attribute__((target("avx2,fma"))) float fma_loop_256(long iters) {
  __m256 acc[12];
  for (int i = 0; i < 12; i++) acc[i] = _mm256_set1_ps(0.001f * (float)i);
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  for (long k = 0; k < iters; k++)
    for (int i = 0; i < 12; i++) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
  __m256 s = acc[0];
  for (int i = 1; i < 12; i++) s = _mm256_add_ps(s, acc[i]);
  float out[8];
  _mm256_storeu_ps(out, s);
  return out[0] + out[7];
}

}  // namespace

double measure_peak_gflops(int threads) {
  const bool avx512 = __builtin_cpu_supports("avx512f");
  const long iters = 20'000'000;
  const double flops_per_iter = avx512 ? 16.0 * 16 * 2 : 12.0 * 8 * 2;
  double best = 0;
  volatile float sink = 0;
  for (int rep = 0; rep < 3; rep++) {
    double t0 = now();
#pragma omp parallel num_threads(threads) reduction(+ : sink)
    sink += avx512 ? fma_loop_512(iters) : fma_loop_256(iters);
    double dt = now() - t0;
    best = std::max(best, flops_per_iter * iters * threads / dt / 1e9);
  }
  return best;
}

double measure_bandwidth_gbs(int threads) {
  const size_t n = size_t(1) << 25;  // 3 x 128 MiB
  std::vector<float> a(n), b(n, 1.0f), c(n, 2.0f);
#pragma omp parallel for num_threads(threads)
  for (long i = 0; i < (long)n; i++) a[i] = 0.0f;
  double best = 0;
  for (int rep = 0; rep < 4; rep++) {
    double t0 = now();
#pragma omp parallel for num_threads(threads)
    for (long i = 0; i < (long)n; i++) a[i] = b[i] + 3.0f * c[i];
    double dt = now() - t0;
    best = std::max(best, 3.0 * n * sizeof(float) / dt / 1e9);
  }
  return best + 0.0 * a[n / 2];
}

}  // namespace hodu
