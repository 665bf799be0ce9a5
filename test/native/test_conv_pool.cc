// Conv2d, MaxPool2d and AvgPool2d kernels against float64 reference loops: stride, padding,
// dilation, groups, bias, permuted/sliced/broadcast input views, f32 (oneDNN, never its reference
// impl) and the loop dtypes. HODU_BENCH=1 also prints timings.
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
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

double rel_tol(DType t) {
  switch (t) {
    case DType::F64: return 1e-12;
    case DType::F32: return 1e-5;
    case DType::F16: return 2e-3;
    default: return 1.6e-2;  // bf16
  }
}

bool has(const std::string& s, const char* sub) { return s.find(sub) != std::string::npos; }

constexpr DType kFloats[] = {DType::F32, DType::F64, DType::F16, DType::BF16};

// Compares against a reference (value and magnitude per output); returns the impl string.
std::string compare(const Result& r, const std::vector<double>& ref, const std::vector<double>& mag, DType t,
                    const char* what) {
  CHECK(r.vals.size() == ref.size());
  int bad = 0;
  for (size_t i = 0; i < ref.size() && i < r.vals.size() && bad < 3; i++) {
    const double tol = rel_tol(t) * (mag[i] + std::fabs(ref[i])) + 1e-30;
    const bool same_inf = std::isinf(ref[i]) && r.vals[i] == ref[i];
    if (!same_inf && !(std::fabs(r.vals[i] - ref[i]) <= tol)) {
      std::printf("  %s [%s, %s]: out[%zu] = %.9g, want %.9g\n", what, dtype_name(t), r.impl.c_str(), i, r.vals[i], ref[i]);
      hodu_test::g_failures++;
      bad++;
    }
  }
  return r.impl;
}

struct ConvCase {
  int64_t N, C, H, W, O, KH, KW;
  int64_t sh, sw, ph, pw, dh, dw, groups;
  bool bias;
};

Attrs conv_attrs(const ConvCase& c) {
  return {(double)c.sh, (double)c.sw, (double)c.ph, (double)c.pw, (double)c.dh, (double)c.dw, (double)c.groups};
}

// float64 direct convolution of the logical values.
void ref_conv(const ConvCase& c, const View& x, const View& w, const View* b, std::vector<double>* out,
              std::vector<double>* mag) {
  const int64_t OH = (c.H + 2 * c.ph - (c.dh * (c.KH - 1) + 1)) / c.sh + 1;
  const int64_t OW = (c.W + 2 * c.pw - (c.dw * (c.KW - 1) + 1)) / c.sw + 1;
  const int64_t Cg = c.C / c.groups, Og = c.O / c.groups;
  out->assign(c.N * c.O * OH * OW, 0);
  mag->assign(out->size(), 0);
  for (int64_t n = 0; n < c.N; n++)
    for (int64_t o = 0; o < c.O; o++)
      for (int64_t oh = 0; oh < OH; oh++)
        for (int64_t ow = 0; ow < OW; ow++) {
          double s = b ? b->vals[o] : 0, m = std::fabs(s);
          for (int64_t ci = 0; ci < Cg; ci++)
            for (int64_t kh = 0; kh < c.KH; kh++)
              for (int64_t kw = 0; kw < c.KW; kw++) {
                const int64_t ih = oh * c.sh - c.ph + kh * c.dh, iw = ow * c.sw - c.pw + kw * c.dw;
                if (ih < 0 || ih >= c.H || iw < 0 || iw >= c.W) continue;
                const int64_t cin = (o / Og) * Cg + ci;
                const double p = x.vals[((n * c.C + cin) * c.H + ih) * c.W + iw] * w.vals[((o * Cg + ci) * c.KH + kh) * c.KW + kw];
                s += p;
                m += std::fabs(p);
              }
          const int64_t i = ((n * c.O + o) * OH + oh) * OW + ow;
          (*out)[i] = s;
          (*mag)[i] = m;
        }
}

// x layouts: 0 contiguous, 1 permuted (NHWC storage), 2 sliced (W step 2), 3 broadcast over N.
View conv_input(DType t, const ConvCase& c, int layout, uint32_t seed) {
  const Shape s{c.N, c.C, c.H, c.W};
  switch (layout) {
    case 1: return make_view(t, s, seed, {0, 2, 3, 1});
    case 2: return make_view(t, s, seed, {0, 1, 2, 3}, 2);
    case 3: return make_view(t, s, seed, {}, 1, {0});
    default: return make_view(t, s, seed);
  }
}

std::string check_conv(DType t, const ConvCase& c, int x_layout, bool w_permuted, const char* what) {
  View x = conv_input(t, c, x_layout, 1);
  View w = w_permuted ? make_view(t, {c.O, c.C / c.groups, c.KH, c.KW}, 2, {2, 3, 1, 0})
                      : make_view(t, {c.O, c.C / c.groups, c.KH, c.KW}, 2);
  View b = make_view(t, {c.O}, 3, {0}, x_layout == 2 ? 2 : 1);
  std::vector<const View*> ins{&x, &w};
  if (c.bias) ins.push_back(&b);
  Result r = run_op(OpCode::Conv2d, conv_attrs(c), ins);
  std::vector<double> ref, mag;
  ref_conv(c, x, w, c.bias ? &b : nullptr, &ref, &mag);
  return compare(r, ref, mag, t, what);
}

const ConvCase kConvCases[] = {
    // N C  H  W  O KH KW  sh sw ph pw dh dw g  bias
    {2, 4, 9, 8, 6, 3, 3, 2, 2, 1, 1, 1, 1, 1, true},    // stride 2, padding 1
    {2, 4, 9, 10, 6, 3, 3, 1, 1, 2, 2, 2, 2, 2, false},  // dilation 2, groups 2
    {1, 6, 11, 7, 4, 3, 2, 2, 1, 1, 0, 1, 2, 2, true},   // mixed strides/dilations, non-square kernel
    {3, 8, 6, 6, 8, 3, 3, 1, 1, 1, 1, 1, 1, 8, true},    // depthwise
    {2, 5, 5, 5, 7, 1, 1, 1, 1, 0, 0, 1, 1, 1, true},    // 1x1
    {1, 3, 12, 12, 16, 5, 5, 3, 3, 2, 2, 1, 1, 1, false},
    {2, 1, 8, 8, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, true},    // 1 -> 8 channels (padded blocking)
};

}  // namespace

HODU_TEST(conv2d_cases) {
  for (DType t : kFloats)
    for (const ConvCase& c : kConvCases)
      for (int layout = 0; layout < 4; layout++) check_conv(t, c, layout, layout == 1, "conv2d");
}

HODU_TEST(conv2d_impls) {
  // N=4, 8 -> 16, 3x3, 28x28: oneDNN, not its reference impl; plain contiguous and permuted input.
  ConvCase c{4, 8, 28, 28, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, true};
  std::string i1 = check_conv(DType::F32, c, 0, false, "conv 8->16");
  std::string i2 = check_conv(DType::F32, c, 1, true, "conv 8->16 nhwc view");
  std::printf("  f32 conv 8->16: %s\n  nhwc-strided input: %s\n", i1.c_str(), i2.c_str());
  CHECK(has(i1, "onednn:") && !has(i1, "ref"));
  CHECK(has(i2, "onednn:") && !has(i2, "ref"));
  ConvCase d{4, 1, 28, 28, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, true};
  std::string i3 = check_conv(DType::F32, d, 0, false, "conv 1->8");
  std::printf("  f32 conv 1->8: %s\n", i3.c_str());
  CHECK(has(i3, "onednn:") && !has(i3, "ref"));
  // broadcast (stride-0) input and the other dtypes take the direct loop
  std::string i4 = check_conv(DType::F32, c, 3, false, "conv broadcast input");
  std::printf("  f32 conv, stride-0 input: %s\n", i4.c_str());
  CHECK(has(i4, "loop:conv2d"));
  std::string i5 = check_conv(DType::F64, c, 0, false, "conv f64");
  CHECK(has(i5, "loop:conv2d"));
}

HODU_TEST(conv2d_no_input_channels) {
  // C = 0: every output is the bias (or zero).
  for (DType t : {DType::F32, DType::F64}) {
    ConvCase c{2, 0, 5, 5, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, true};
    check_conv(t, c, 0, false, "conv C=0");
    c.bias = false;
    check_conv(t, c, 0, false, "conv C=0 no bias");
  }
}

// ---------------------------------------------------------------------------------------------
// Pooling.

namespace {

struct PoolCase {
  int64_t N, C, H, W, KH, KW, sh, sw, ph, pw;
};

void ref_pool(bool is_max, const PoolCase& p, const View& x, std::vector<double>* out, std::vector<double>* mag) {
  const int64_t OH = (p.H + 2 * p.ph - p.KH) / p.sh + 1, OW = (p.W + 2 * p.pw - p.KW) / p.sw + 1;
  out->assign(p.N * p.C * OH * OW, 0);
  mag->assign(out->size(), 0);
  for (int64_t nc = 0; nc < p.N * p.C; nc++)
    for (int64_t oh = 0; oh < OH; oh++)
      for (int64_t ow = 0; ow < OW; ow++) {
        double m = -std::numeric_limits<double>::infinity(), s = 0, a = 0;
        for (int64_t kh = 0; kh < p.KH; kh++)
          for (int64_t kw = 0; kw < p.KW; kw++) {
            const int64_t ih = oh * p.sh - p.ph + kh, iw = ow * p.sw - p.pw + kw;
            if (ih < 0 || ih >= p.H || iw < 0 || iw >= p.W) continue;  // padding: ignored / zero
            const double v = x.vals[(nc * p.H + ih) * p.W + iw];
            m = std::max(m, v);
            s += v;
            a += std::fabs(v);
          }
        const int64_t i = (nc * OH + oh) * OW + ow;
        (*out)[i] = is_max ? m : s / (double)(p.KH * p.KW);
        (*mag)[i] = is_max ? 0 : a / (double)(p.KH * p.KW);
      }
}

std::string check_pool(OpCode op, DType t, const PoolCase& p, int layout, const char* what) {
  ConvCase shape{p.N, p.C, p.H, p.W, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, false};
  View x = conv_input(t, shape, layout, 7);
  Attrs attrs{(double)p.KH, (double)p.KW, (double)p.sh, (double)p.sw, (double)p.ph, (double)p.pw};
  Result r = run_op(op, attrs, {&x});
  std::vector<double> ref, mag;
  ref_pool(op == OpCode::MaxPool2d, p, x, &ref, &mag);
  return compare(r, ref, mag, t, what);
}

const PoolCase kPoolCases[] = {
    // N C  H  W KH KW sh sw ph pw
    {2, 3, 7, 9, 3, 3, 2, 2, 1, 1},
    {2, 3, 8, 8, 2, 2, 2, 2, 0, 0},
    {1, 5, 9, 7, 3, 2, 1, 2, 1, 1},
    {2, 16, 10, 11, 3, 3, 2, 2, 1, 1},  // blocked nChw16c path
    {1, 20, 9, 9, 4, 4, 3, 3, 2, 2},    // C not a multiple of the block; padding = kernel / 2
    {1, 2, 5, 5, 5, 5, 1, 1, 2, 2},
};

}  // namespace

HODU_TEST(pool2d_cases) {
  for (OpCode op : {OpCode::MaxPool2d, OpCode::AvgPool2d})
    for (DType t : kFloats)
      for (const PoolCase& p : kPoolCases)
        for (int layout = 0; layout < 4; layout++) check_pool(op, t, p, layout, op_info(op).name);
}

HODU_TEST(pool2d_impls) {
  for (OpCode op : {OpCode::MaxPool2d, OpCode::AvgPool2d}) {
    for (int64_t C : {8, 64}) {
      for (int layout : {0, 1, 2}) {
        PoolCase p{2, C, 28, 28, 3, 3, 2, 2, 1, 1};
        std::string impl = check_pool(op, DType::F32, p, layout, "pool impl");
        std::printf("  f32 %s C=%lld %s: %s\n", op_info(op).name, (long long)C,
                    layout == 0 ? "contiguous" : layout == 1 ? "nhwc view" : "sliced", impl.c_str());
        // a channels-last f32 max pool runs the NaN-propagating nhwc loop, the rest oneDNN
        if (op == OpCode::MaxPool2d && layout == 1) CHECK(has(impl, "loop:max_pool2d_nhwc"));
        else CHECK(has(impl, "onednn:") && !has(impl, "ref"));
      }
    }
    std::string i2 = check_pool(op, DType::F64, {1, 2, 6, 6, 2, 2, 2, 2, 0, 0}, 0, "pool f64");
    CHECK(has(i2, "loop:"));
  }
}

HODU_TEST(pool2d_nan_propagates) {
  // NaN propagates like PyTorch in every dtype (f32 runs oneDNN with a NaN check that falls back
  // to the loop).
  for (DType t : {DType::F32, DType::F64, DType::F16}) {
    View x = make_view(t, {1, 1, 4, 4}, 9);
    write_elem(t, (void*)x.ptr(), 5, std::numeric_limits<double>::quiet_NaN());
    Result r = run_op(OpCode::MaxPool2d, {2, 2, 2, 2, 0, 0}, {&x});
    CHECK(std::isnan(r.vals[0]));
    CHECK(!std::isnan(r.vals[1]) && !std::isnan(r.vals[2]) && !std::isnan(r.vals[3]));
  }
  // a channels-last f32 input (storage order n, h, w, c): storage element 5 is (c 5, h 0, w 0), so
  // of the 16 x 2 x 2 outputs exactly channel 5's window (0, 0) is NaN
  View x = make_view(DType::F32, {1, 16, 4, 4}, 9, {0, 2, 3, 1});
  write_elem(DType::F32, (void*)x.ptr(), 5, std::numeric_limits<double>::quiet_NaN());
  Result r = run_op(OpCode::MaxPool2d, {2, 2, 2, 2, 0, 0}, {&x});
  CHECK(has(r.impl, "loop:max_pool2d_nhwc"));
  for (size_t i = 0; i < r.vals.size(); i++) CHECK(std::isnan(r.vals[i]) == (i == 5 * 4));
}

HODU_TEST(conv_pool_concurrent_runs) {
  // Concurrent run() calls on one kernel, each thread with its own scratchpad.
  ConvCase c{2, 8, 12, 12, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, true};
  View x = conv_input(DType::F32, c, 1, 11), w = make_view(DType::F32, {16, 8, 3, 3}, 12), b = make_view(DType::F32, {16}, 13);
  std::vector<double> ref, mag;
  ref_conv(c, x, w, &b, &ref, &mag);
  PoolCase pc{2, 8, 12, 12, 3, 3, 2, 2, 1, 1};
  std::vector<double> pref, pmag;
  ref_pool(true, pc, x, &pref, &pmag);
  struct Job {
    OpCode op;
    Attrs attrs;
    std::vector<const View*> ins;
    const std::vector<double>* ref;
    const std::vector<double>* mag;
  };
  for (const Job& job : {Job{OpCode::Conv2d, conv_attrs(c), {&x, &w, &b}, &ref, &mag},
                         Job{OpCode::MaxPool2d, {3, 3, 2, 2, 1, 1}, {&x}, &pref, &pmag}}) {
    KernelSpec spec;
    spec.op = job.op;
    spec.attrs = job.attrs;
    std::vector<const void*> ptrs;
    for (const View* v : job.ins) {
      spec.inputs.push_back(v->desc);
      ptrs.push_back(v->ptr());
    }
    spec.output = infer(job.op, job.attrs, spec.inputs).out;
    auto k = make_kernel(spec);
    std::vector<std::vector<float>> outs(3, std::vector<float>(spec.output.numel()));
    std::vector<std::thread> threads;
    for (int i = 0; i < 3; i++)
      threads.emplace_back([&, i] {
        for (int rep = 0; rep < 5; rep++) run_once(*k, ptrs.data(), outs[i].data());
      });
    for (auto& th : threads) th.join();
    for (int i = 0; i < 3; i++)
      for (size_t j = 0; j < job.ref->size(); j++)
        CHECK_NEAR(outs[i][j], (*job.ref)[j], 1e-5 * ((*job.mag)[j] + std::fabs((*job.ref)[j])) + 1e-30);
  }
}

HODU_TEST(conv_pool_bench) {
  if (!std::getenv("HODU_BENCH")) return;
  auto bench = [](OpCode op, const Attrs& attrs, std::vector<View*> ins, int reps, const char* what) {
    KernelSpec spec;
    spec.op = op;
    spec.attrs = attrs;
    std::vector<const void*> ptrs;
    for (View* v : ins) {
      spec.inputs.push_back(v->desc);
      ptrs.push_back(v->ptr());
    }
    spec.output = infer(op, attrs, spec.inputs).out;
    auto k = make_kernel(spec);
    std::vector<char> out(spec.output.nbytes());
    for (int i = 0; i < 3; i++) run_once(*k, ptrs.data(), out.data());
    double best = 1e30;
    for (int rep = 0; rep < 7; rep++) {
      auto t0 = std::chrono::steady_clock::now();
      for (int i = 0; i < reps; i++) run_once(*k, ptrs.data(), out.data());
      best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / reps);
    }
    std::printf("  %s: %.1f us (%s, scratchpad %zu B)\n", what, best * 1e6, k->impl().c_str(), k->scratchpad_bytes());
  };
  for (auto [C, O] : {std::pair<int64_t, int64_t>{1, 8}, {8, 16}}) {
    View x = make_view(DType::F32, {32, C, 28, 28}, 1), w = make_view(DType::F32, {O, C, 3, 3}, 2),
         b = make_view(DType::F32, {O}, 3);
    std::string what = "conv N=32 " + std::to_string(C) + "->" + std::to_string(O) + " 28x28 3x3 pad 1 + bias";
    bench(OpCode::Conv2d, {1, 1, 1, 1, 1, 1, 1}, {&x, &w, &b}, 50, what.c_str());
  }
  for (int64_t C : {8, 16, 64}) {
    View x = make_view(DType::F32, {32, C, 28, 28}, 4);
    std::string a = "max_pool2d N=32 C=" + std::to_string(C) + " 28x28 2x2/2", b = "max_pool2d N=32 C=" +
                    std::to_string(C) + " 28x28 3x3/2 pad 1", c = "avg_pool2d N=32 C=" + std::to_string(C) +
                    " 28x28 3x3/1 pad 1";
    bench(OpCode::MaxPool2d, {2, 2, 2, 2, 0, 0}, {&x}, 50, a.c_str());
    bench(OpCode::MaxPool2d, {3, 3, 2, 2, 1, 1}, {&x}, 50, b.c_str());
    bench(OpCode::AvgPool2d, {3, 3, 1, 1, 1, 1}, {&x}, 50, c.c_str());
  }
}
