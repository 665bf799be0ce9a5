// Matmul kernels against float64 reference loops: 2-D, batched with broadcasting, vector operands,
// transposed/sliced/stride-0 views, every implementation path (oneDNN in place, runtime-M,
// packed operands, the hand-written loop) and several dtypes. HODU_BENCH=1 also prints timings.
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "kernels/elem.h"
#include "kernels/kernel.h"
#include "ops/infer.h"
#include "test_util.h"

using namespace hodu;

namespace {

#include "dense_views.h"
}

// float64 numpy matmul of logical values; also returns sum |a||b| per output for tolerances.
void ref_matmul(const View& a, const View& b, std::vector<double>* out, std::vector<double>* mag) {
  Shape sa = a.desc.shape, sb = b.desc.shape;
  const bool va = sa.size() == 1, vb = sb.size() == 1;
  if (va) sa.insert(sa.begin(), 1);
  if (vb) sb.push_back(1);
  const int64_t M = sa[sa.size() - 2], K = sa.back(), N = sb.back();
  Shape ba(sa.begin(), sa.end() - 2), bb(sb.begin(), sb.end() - 2);
  Shape batch = broadcast_shapes(ba, bb, "ref");
  const int64_t nbatch = numel(batch);
  out->assign(nbatch * M * N, 0);
  mag->assign(nbatch * M * N, 0);
  auto offset = [&](const Shape& own, int64_t bi) {  // row-major batch index of an operand
    int64_t off = 0, mul = 1;
    for (size_t d = batch.size(); d-- > 0;) {
      int64_t idx = bi % batch[d];
      bi /= batch[d];
      int64_t od = (int64_t)d - (int64_t)(batch.size() - own.size());
      if (od >= 0) {
        if (own[od] != 1) off += idx * mul;
        mul *= own[od];
      }
    }
    return off;
  };
  for (int64_t bi = 0; bi < nbatch; bi++) {
    const double* A = a.vals.data() + offset(ba, bi) * M * K;
    const double* B = b.vals.data() + offset(bb, bi) * K * N;
    for (int64_t i = 0; i < M; i++)
      for (int64_t j = 0; j < N; j++) {
        double s = 0, m = 0;
        for (int64_t k = 0; k < K; k++) {
          s += A[i * K + k] * B[k * N + j];
          m += std::fabs(A[i * K + k] * B[k * N + j]);
        }
        (*out)[(bi * M + i) * N + j] = s;
        (*mag)[(bi * M + i) * N + j] = m;
      }
  }
}

double rel_tol(DType t) {
  switch (t) {
    case DType::F64: return 1e-12;
    case DType::F32: return 1e-5;
    case DType::F16: return 2e-3;
    case DType::BF16: return 1.6e-2;
    default: return 0;  // integers: exact (with wrap-around)
  }
}

// Wraps an exact integer result to the dtype like numpy (two's complement).
double wrap_int(DType t, double v) {
  const int64_t x = (int64_t)v;
  switch (t) {
    case DType::I8: return (double)(int8_t)(uint8_t)x;
    case DType::U8: return (double)(uint8_t)x;
    case DType::I16: return (double)(int16_t)(uint16_t)x;
    case DType::U16: return (double)(uint16_t)x;
    case DType::I32: return (double)(int32_t)(uint32_t)x;
    case DType::U32: return (double)(uint32_t)x;
    default: return v;
  }
}

// Runs a @ b and compares with the reference; returns the impl string.
std::string check_matmul(const View& a, const View& b, const char* what) {
  Result r = run_op(OpCode::Matmul, {}, {&a, &b});
  std::vector<double> ref, mag;
  ref_matmul(a, b, &ref, &mag);
  const DType t = a.desc.dtype;
  CHECK(r.vals.size() == ref.size());
  int bad = 0;
  for (size_t i = 0; i < ref.size() && i < r.vals.size() && bad < 3; i++) {
    const double want = is_float(t) ? ref[i] : wrap_int(t, ref[i]);
    const double tol = rel_tol(t) * (mag[i] + std::fabs(want)) + (is_float(t) ? 1e-30 : 0);
    if (!(std::fabs(r.vals[i] - want) <= tol)) {
      std::printf("  %s [%s, %s]: out[%zu] = %.9g, want %.9g\n", what, dtype_name(t), r.impl.c_str(), i, r.vals[i], want);
      hodu_test::g_failures++;
      bad++;
    }
  }
  return r.impl;
}

bool has(const std::string& s, const char* sub) { return s.find(sub) != std::string::npos; }

constexpr DType kAllNumeric[] = {DType::F32, DType::F64, DType::F16, DType::BF16, DType::I8,  DType::U8, DType::I16,
                                 DType::U16, DType::I32, DType::U32, DType::I64,  DType::U64};

}  // namespace

HODU_TEST(matmul_known_values) {
  for (DType t : {DType::F32, DType::F64, DType::I32, DType::F16}) {
    View a = make_view(t, {2, 3}, 1), b = make_view(t, {3, 2}, 2);
    const double av[] = {1, 2, 3, 4, 5, 6}, bv[] = {1, 0, 0, 1, 1, 1};
    for (int i = 0; i < 6; i++) {
      write_elem(t, (void*)a.ptr(), i, av[i]);
      write_elem(t, (void*)b.ptr(), i, bv[i]);
    }
    Result r = run_op(OpCode::Matmul, {}, {&a, &b});
    CHECK((r.out.shape == Shape{2, 2}));
    const double want[] = {4, 5, 10, 11};
    for (int i = 0; i < 4; i++) CHECK_NEAR(r.vals[i], want[i], 1e-6);
  }
}

HODU_TEST(matmul_2d_all_dtypes) {
  for (DType t : kAllNumeric) {
    for (auto [M, K, N] : {std::array<int64_t, 3>{7, 5, 3}, {33, 70, 51}, {1, 9, 17}, {130, 140, 200}}) {
      View a = make_view(t, {M, K}, 10), b = make_view(t, {K, N}, 11);
      check_matmul(a, b, "2d");
    }
  }
}

HODU_TEST(matmul_vectors) {
  for (DType t : {DType::F32, DType::F64, DType::I32, DType::F16}) {
    View v = make_view(t, {6}, 3), m = make_view(t, {6, 4}, 4), mt = make_view(t, {4, 6}, 5), w = make_view(t, {6}, 6);
    Result r1 = run_op(OpCode::Matmul, {}, {&v, &m});
    CHECK((r1.out.shape == Shape{4}));
    check_matmul(v, m, "1d @ 2d");
    Result r2 = run_op(OpCode::Matmul, {}, {&mt, &w});
    CHECK((r2.out.shape == Shape{4}));
    check_matmul(mt, w, "2d @ 1d");
    Result r3 = run_op(OpCode::Matmul, {}, {&v, &w});
    CHECK(r3.out.shape.empty());
    check_matmul(v, w, "1d @ 1d");
    View bv = make_view(t, {3, 6, 4}, 7);
    check_matmul(v, bv, "1d @ 3d");
    View bm = make_view(t, {2, 4, 6}, 8);
    check_matmul(bm, w, "3d @ 1d");
  }
}

HODU_TEST(matmul_batched_broadcast) {
  for (DType t : {DType::F32, DType::F64, DType::I32, DType::F16, DType::BF16}) {
    View a = make_view(t, {5, 1, 2, 3}, 20), b = make_view(t, {4, 3, 7}, 21);
    Result r = run_op(OpCode::Matmul, {}, {&a, &b});
    CHECK((r.out.shape == Shape{5, 4, 2, 7}));
    check_matmul(a, b, "[5,1,2,3]@[4,3,7]");
    View c = make_view(t, {3, 16, 24}, 22), d = make_view(t, {24, 8}, 23);
    check_matmul(c, d, "[3,16,24]@[24,8] (folded)");
    View e = make_view(t, {16, 24}, 24), f = make_view(t, {3, 24, 8}, 25);
    check_matmul(e, f, "[16,24]@[3,24,8]");
    View g = make_view(t, {2, 3, 5, 6}, 26), h = make_view(t, {2, 3, 6, 4}, 27);
    check_matmul(g, h, "[2,3,5,6]@[2,3,6,4]");
    // batch dims that cannot merge: permuted batch dims of a
    View p = make_view(t, {3, 4, 5, 6}, 28, {1, 0, 2, 3}), q = make_view(t, {3, 4, 6, 2}, 29);
    check_matmul(p, q, "permuted batch");
    // stride-0 broadcast views in batch and matrix dims
    View s = make_view(t, {4, 5, 6}, 30, {}, 1, {0}), u = make_view(t, {4, 6, 3}, 31);
    check_matmul(s, u, "stride-0 batch");
    View rowb = make_view(t, {5, 6}, 32, {}, 1, {0}), col = make_view(t, {6, 7}, 33);
    check_matmul(rowb, col, "stride-0 rows");
    View both_a = make_view(t, {3, 5, 6}, 34, {}, 1, {0}), both_b = make_view(t, {3, 6, 2}, 35, {}, 1, {0});
    check_matmul(both_a, both_b, "both stride-0 batch");
  }
}

HODU_TEST(matmul_strided_operands) {
  for (DType t : {DType::F32, DType::F64, DType::I32, DType::F16, DType::BF16, DType::I64}) {
    for (auto [M, K, N] : {std::array<int64_t, 3>{20, 30, 40}, {1, 64, 48}, {3, 17, 1}, {64, 64, 64}}) {
      View a = make_view(t, {M, K}, 40), at = make_view(t, {M, K}, 41, {1, 0}), as = make_view(t, {M, K}, 42, {0, 1}, 2),
           ats = make_view(t, {M, K}, 43, {1, 0}, 3);
      View b = make_view(t, {K, N}, 44), bt = make_view(t, {K, N}, 45, {1, 0}), bs = make_view(t, {K, N}, 46, {0, 1}, 2),
           bts = make_view(t, {K, N}, 47, {1, 0}, 2);
      for (const View* x : {&a, &at, &as, &ats})
        for (const View* y : {&b, &bt, &bs, &bts}) check_matmul(*x, *y, "strided 2d");
    }
    // batched, transposed inner matrices
    View a = make_view(t, {3, 9, 10}, 50, {0, 2, 1}), b = make_view(t, {3, 10, 11}, 51, {2, 0, 1});
    check_matmul(a, b, "batched transposed");
    View c = make_view(t, {4, 9, 10}, 52, {1, 2, 0}, 2), d = make_view(t, {10, 11}, 53, {1, 0});
    check_matmul(c, d, "batch-last sliced @ transposed");
  }
}

HODU_TEST(matmul_edge_sizes) {
  for (DType t : {DType::F32, DType::F64, DType::I16}) {
    View a = make_view(t, {3, 0}, 60), b = make_view(t, {0, 4}, 61);
    Result r = run_op(OpCode::Matmul, {}, {&a, &b});
    CHECK((r.out.shape == Shape{3, 4}));
    for (double v : r.vals) CHECK(v == 0);
    View c = make_view(t, {1, 1}, 62), d = make_view(t, {1, 1}, 63);
    check_matmul(c, d, "1x1");
    View e = make_view(t, {5, 1}, 64), f = make_view(t, {1, 7}, 65);
    check_matmul(e, f, "outer product");
    View g = make_view(t, {5, 1}, 66, {1, 0}), h = make_view(t, {1, 7}, 67, {1, 0});
    check_matmul(g, h, "outer product, transposed views");
  }
}

HODU_TEST(matmul_integer_wraparound) {
  // 100 * 100 * 3 = 30000 wraps in i8 and i16 like numpy; i64 products wrap mod 2^64.
  for (DType t : {DType::I8, DType::I16, DType::U8}) {
    View a = make_view(t, {1, 3}, 70), b = make_view(t, {3, 1}, 71);
    for (int i = 0; i < 3; i++) {
      write_elem(t, (void*)a.ptr(), i, 100);
      write_elem(t, (void*)b.ptr(), i, 100);
    }
    Result r = run_op(OpCode::Matmul, {}, {&a, &b});
    CHECK_NEAR(r.vals[0], wrap_int(t, 30000), 0);
  }
  View a = make_view(DType::I64, {1, 2}, 72), b = make_view(DType::I64, {2, 1}, 73);
  ((int64_t*)a.ptr())[0] = ((int64_t*)a.ptr())[1] = int64_t(1) << 40;
  ((int64_t*)b.ptr())[0] = ((int64_t*)b.ptr())[1] = int64_t(3) << 30;
  KernelSpec spec;
  spec.op = OpCode::Matmul;
  spec.inputs = {a.desc, b.desc};
  spec.output = TensorDesc(DType::I64, {1, 1});
  auto k = make_kernel(spec);
  int64_t out = 0;
  const void* ptrs[] = {a.ptr(), b.ptr()};
  run_once(*k, ptrs, &out);
  const uint64_t want = (uint64_t(1) << 40) * (uint64_t(3) << 30) * 2;
  CHECK((uint64_t)out == want);
}

HODU_TEST(matmul_impls) {
  // f32 uses oneDNN (never its reference impl), in place for transposed operands.
  View a = make_view(DType::F32, {256, 256}, 80), b = make_view(DType::F32, {256, 256}, 81);
  View bt = make_view(DType::F32, {256, 256}, 82, {1, 0});
  std::string i1 = check_matmul(a, b, "256^3");
  std::string i2 = check_matmul(a, bt, "256^3 b^T");
  std::printf("  f32 256^3: %s; b transposed: %s\n", i1.c_str(), i2.c_str());
  CHECK(has(i1, "onednn:") && !has(i1, "ref") && !has(i1, "packed"));
  CHECK(has(i2, "onednn:") && !has(i2, "ref") && !has(i2, "packed"));
  // small M: runtime-dim gemm
  View v = make_view(DType::F32, {1, 784}, 83), w = make_view(DType::F32, {784, 512}, 84);
  std::string i3 = check_matmul(v, w, "gemv");
  std::printf("  f32 1x784 @ 784x512: %s\n", i3.c_str());
  CHECK(has(i3, "onednn:") && !has(i3, "ref"));
  // no unit stride: packed into the scratchpad
  View s = make_view(DType::F32, {40, 30}, 85, {0, 1}, 2), s2 = make_view(DType::F32, {30, 20}, 86);
  std::string i4 = check_matmul(s, s2, "packed");
  std::printf("  f32 column-sliced a: %s\n", i4.c_str());
  CHECK(has(i4, "onednn:") && !has(i4, "ref"));
  View x = make_view(DType::F64, {8, 8}, 87), y = make_view(DType::F64, {8, 8}, 88);
  std::string i5 = check_matmul(x, y, "f64");
  std::printf("  f64: %s\n", i5.c_str());
  CHECK(has(i5, "loop:matmul"));
  View p = make_view(DType::BF16, {64, 64}, 89), q = make_view(DType::BF16, {64, 64}, 90);
  std::printf("  bf16: %s\n", check_matmul(p, q, "bf16").c_str());
  View f = make_view(DType::F16, {64, 64}, 91), g = make_view(DType::F16, {64, 64}, 92);
  std::printf("  f16: %s\n", check_matmul(f, g, "f16").c_str());
}

HODU_TEST(matmul_concurrent_runs) {
  // run() may be called from several threads at once, each with its own scratchpad (and on a
  // thread other than the one that made the kernel).
  for (DType t : {DType::F32, DType::F64}) {
    View a = make_view(t, {96, 80}, 100, {1, 0}), b = make_view(t, {80, 72}, 101, {0, 1}, 2);
    KernelSpec spec;
    spec.op = OpCode::Matmul;
    spec.inputs = {a.desc, b.desc};
    spec.output = infer(OpCode::Matmul, {}, spec.inputs).out;
    auto k = make_kernel(spec);
    std::vector<double> ref, mag;
    ref_matmul(a, b, &ref, &mag);
    std::vector<std::vector<char>> outs(3, std::vector<char>(spec.output.nbytes()));
    std::vector<std::thread> threads;
    for (int i = 0; i < 3; i++)
      threads.emplace_back([&, i] {
        const void* ptrs[] = {a.ptr(), b.ptr()};
        for (int rep = 0; rep < 5; rep++) run_once(*k, ptrs, outs[i].data());
      });
    for (auto& th : threads) th.join();
    for (int i = 0; i < 3; i++)
      for (size_t j = 0; j < ref.size(); j++)
        CHECK_NEAR(read_elem(t, outs[i].data(), (int64_t)j), ref[j], rel_tol(t) * (mag[j] + 1));
  }
}

HODU_TEST(matmul_bench) {
  if (!std::getenv("HODU_BENCH")) return;
  auto bench = [](const Shape& sa, const Shape& sb, DType t, int reps) {
    View a = make_view(t, sa, 1), b = make_view(t, sb, 2);
    KernelSpec spec;
    spec.op = OpCode::Matmul;
    spec.inputs = {a.desc, b.desc};
    spec.output = infer(OpCode::Matmul, {}, spec.inputs).out;
    auto k = make_kernel(spec);
    std::vector<char> out(spec.output.nbytes());
    const void* ptrs[] = {a.ptr(), b.ptr()};
    for (int i = 0; i < 3; i++) run_once(*k, ptrs, out.data());
    double best = 1e30;
    for (int rep = 0; rep < 5; rep++) {
      auto t0 = std::chrono::steady_clock::now();
      for (int i = 0; i < reps; i++) run_once(*k, ptrs, out.data());
      best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / reps);
    }
    const int64_t M = sa[0], K = sa[1], N = sb[1];
    std::printf("  matmul %s %lldx%lld @ %lldx%lld: %.1f us, %.1f GFLOP/s (%s)\n", dtype_name(t), (long long)M,
                (long long)K, (long long)K, (long long)N, best * 1e6, 2.0 * M * N * K / best / 1e9, k->impl().c_str());
  };
  bench({1024, 1024}, {1024, 1024}, DType::F32, 10);
  bench({1, 784}, {784, 512}, DType::F32, 2000);
  bench({64, 784}, {784, 512}, DType::F32, 200);
  bench({256, 256}, {256, 256}, DType::F32, 200);
  bench({1024, 1024}, {1024, 1024}, DType::BF16, 10);
  bench({512, 512}, {512, 512}, DType::F64, 5);
  bench({512, 512}, {512, 512}, DType::F16, 5);
  bench({512, 512}, {512, 512}, DType::I32, 5);
}
