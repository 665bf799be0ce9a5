// The eager kernel cache (native/kernels/kernel_cache.h): equal specs share a kernel, different
// strides or attributes do not, the LRU bound holds, and threads using one cache at the same time
// get right results (matmul against a float64 loop).
#include <algorithm>
#include <thread>

#include "kernels/kernel_cache.h"
#include "test_util.h"

using namespace hodu;

namespace {
KernelSpec matmul_spec(int64_t m, int64_t k, int64_t n, bool a_transposed = false) {
  TensorDesc a(DType::F32, {m, k});
  if (a_transposed) a.strides = {1, m};
  return KernelSpec{OpCode::Matmul, {}, {a, TensorDesc(DType::F32, {k, n})}, TensorDesc(DType::F32, {m, n})};
}

// runs C = A B through the cache and returns the largest error against a float64 loop
double run_matmul(KernelCache& cache, int64_t m, int64_t k, int64_t n, unsigned seed) {
  std::vector<float> a(m * k), b(k * n), c(m * n);
  for (auto& v : a) v = (float)((seed = seed * 1664525u + 1013904223u) % 1000) / 500.0f - 1.0f;
  for (auto& v : b) v = (float)((seed = seed * 1664525u + 1013904223u) % 1000) / 500.0f - 1.0f;
  auto kern = cache.get(matmul_spec(m, k, n));
  const void* ins[2] = {a.data(), b.data()};
  run_once(*kern, ins, c.data());
  double worst = 0;
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = 0; j < n; j++) {
      double s = 0;
      for (int64_t p = 0; p < k; p++) s += (double)a[i * k + p] * b[p * n + j];
      worst = std::max(worst, std::fabs(s - c[i * n + j]) / (1 + std::fabs(s)));
    }
  return worst;
}
}  // namespace

HODU_TEST(kernel_cache_shares_equal_specs_only) {
  KernelCache cache(8);
  auto k1 = cache.get(matmul_spec(4, 5, 6));
  auto k2 = cache.get(matmul_spec(4, 5, 6));
  CHECK(k1.get() == k2.get());
  CHECK(cache.hits() == 1 && cache.misses() == 1);
  CHECK(cache.get(matmul_spec(4, 5, 6, true)).get() != k1.get());  // other strides
  CHECK(cache.get(matmul_spec(4, 5, 7)).get() != k1.get());        // other shape
  CHECK(KernelCache::key_of(matmul_spec(4, 5, 6)) != KernelCache::key_of(matmul_spec(4, 5, 6, true)));
  // an empty stride list means contiguous: the same key as the spelled-out strides
  KernelSpec implicit = matmul_spec(4, 5, 6);
  implicit.inputs[1].strides.clear();
  CHECK(KernelCache::key_of(implicit) == KernelCache::key_of(matmul_spec(4, 5, 6)));
  CHECK(cache.size() == 3);
}

HODU_TEST(kernel_cache_stays_bounded) {
  KernelCache cache(5);
  for (int64_t n = 1; n <= 40; n++) {
    CHECK(run_matmul(cache, 3, 4, n, (unsigned)n) < 1e-5);
    CHECK(cache.size() <= 5);
  }
  CHECK(cache.size() == 5);
  CHECK(cache.misses() == 40);
  cache.set_capacity(2);
  CHECK(cache.size() == 2);
  cache.set_capacity(0);
  CHECK(cache.size() == 0);
  CHECK(run_matmul(cache, 3, 4, 5, 1) < 1e-5);  // off: made and run, not kept
  CHECK(cache.size() == 0);
}

HODU_TEST(kernel_cache_concurrent_threads) {
  KernelCache cache(6);  // smaller than the shapes used: entries are evicted while others run them
  std::vector<double> worst(4, 0);
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; t++)
    ts.emplace_back([&, t] {
      for (int r = 0; r < 30; r++) {
        const int64_t m = 1 + (r + t) % 9, k = 3 + r % 5, n = 2 + (r * 7 + t) % 11;
        worst[t] = std::max(worst[t], run_matmul(cache, m, k, n, (unsigned)(r * 31 + t)));
      }
    });
  for (auto& th : ts) th.join();
  for (double w : worst) CHECK(w < 1e-5);
  CHECK(cache.size() <= 6);
  CHECK(cache.hits() + cache.misses() == 120);
}
