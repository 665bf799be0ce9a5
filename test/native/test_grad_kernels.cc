// Gradient and scatter kernels against float64 references written here:
//   conv2d_grad_input / conv2d_grad_weight and max/avg_pool2d_grad: a double forward pass, central
//     finite differences of L = sum(r * forward(x, w)) for a random r, and a direct loop of the
//     adjoint (in gather form, independent of the kernels' scatter form);
//   scatter_add / index_add / slice_scatter: direct loops, repeated indices, out-of-range indices.
// Every op runs on contiguous, transposed, sliced and broadcast input views. HODU_BENCH=1 also
// prints timings of the conv and pool gradients at the CNN's sizes.
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <limits>
#include <string>
#include <vector>

#include "kernel_views.h"

using namespace hodu;
using namespace hodu_test;

namespace {

bool has(const std::string& s, const char* sub) { return s.find(sub) != std::string::npos; }

constexpr DType kFloats[] = {DType::F32, DType::F64, DType::F16, DType::BF16};

// Relative tolerance of a kernel against the exact adjoint, scaled by the sum of |terms|.
double adj_tol(DType t) {
  switch (t) {
    case DType::F64: return 1e-12;
    case DType::F32: return 1e-5;
    case DType::F16: return 2e-3;
    default: return 1.6e-2;  // bf16
  }
}

// Tolerance against finite differences, relative to the largest |gradient| (the brief's values).
double fd_tol(DType t) { return t == DType::F64 ? 1e-9 : 1e-4; }

// got vs want, |got - want| <= rtol * (mag + |want|) elementwise.
void compare_mag(const Result& r, const std::vector<double>& want, const std::vector<double>& mag, double rtol,
                 const std::string& what) {
  CHECK(r.vals.size() == want.size());
  int bad = 0;
  for (size_t i = 0; i < want.size() && i < r.vals.size(); i++) {
    const double tol = rtol * (mag[i] + std::fabs(want[i])) + 1e-300;
    if (!(std::fabs(r.vals[i] - want[i]) <= tol) && bad++ < 3)
      std::printf("  %s [%s]: [%zu] got %.12g, want %.12g\n", what.c_str(), r.impl.c_str(), i, r.vals[i], want[i]);
  }
  if (bad) g_failures++;
}

// got vs a finite-difference gradient, relative to max |fd|.
void compare_fd(const std::vector<double>& got, const std::vector<double>& fd, double rtol, const std::string& what) {
  double scale = 1e-30;
  for (double v : fd) scale = std::max(scale, std::fabs(v));
  check_close(got, fd, 0, rtol * scale, what + " vs finite differences");
}

// Central differences of L(x) = sum(r * fwd(x)) for every component of x. The difference of the
// two forward outputs is taken before the weighted sum, so that the rounding error is relative to
// the outputs that change rather than to L.
template <class F>
std::vector<double> finite_diff(std::vector<double> x, const std::vector<double>& r, double h, F&& fwd) {
  std::vector<double> g(x.size());
  for (size_t i = 0; i < x.size(); i++) {
    const double x0 = x[i];
    x[i] = x0 + h;
    const std::vector<double> yp = fwd(x);
    x[i] = x0 - h;
    const std::vector<double> ym = fwd(x);
    x[i] = x0;
    double s = 0;
    for (size_t o = 0; o < yp.size(); o++) s += r[o] * (yp[o] - ym[o]);
    g[i] = s / (2 * h);
  }
  return g;
}

// The view `v` with its dims permuted: dim i of the result is dim perm[i] of v (same storage).
View permuted(View v, const std::vector<int>& perm) {
  Shape s(perm.size()), st(perm.size());
  for (size_t i = 0; i < perm.size(); i++) s[i] = v.desc.shape[perm[i]], st[i] = v.desc.strides[perm[i]];
  v.desc = TensorDesc(v.desc.dtype, s, st, 0);
  v.refresh();
  return v;
}

View random_view(DType t, const Shape& s, Layout l, uint64_t seed, double lo = -1, double hi = 1) {
  Rng rng(seed);
  return make_view(t, s, l, [&] { return rng.value(t, lo, hi); });
}

// ---------------------------------------------------------------------------------------------
// Conv2d gradients.

struct ConvCase {
  int64_t N, C, H, W, O, KH, KW;
  int64_t sh, sw, ph, pw, dh, dw, groups;
  int64_t OH() const { return (H + 2 * ph - (dh * (KH - 1) + 1)) / sh + 1; }
  int64_t OW() const { return (W + 2 * pw - (dw * (KW - 1) + 1)) / sw + 1; }
  Shape x_shape() const { return {N, C, H, W}; }
  Shape w_shape() const { return {O, C / groups, KH, KW}; }
  Shape y_shape() const { return {N, O, OH(), OW()}; }
  Attrs conv_attrs() const {
    return {(double)sh, (double)sw, (double)ph, (double)pw, (double)dh, (double)dw, (double)groups};
  }
  Attrs grad_input_attrs() const {
    Attrs a = conv_attrs();
    a.push_back((double)H);
    a.push_back((double)W);
    return a;
  }
  Attrs grad_weight_attrs() const {
    Attrs a = conv_attrs();
    a.push_back((double)KH);
    a.push_back((double)KW);
    return a;
  }
};

// Calls f(n, o, oh, ow, ci, kh, kw, x index, w index, y index) for every product of the forward
// convolution that touches the image (padding contributes zeros).
template <class F>
void for_each_tap(const ConvCase& c, F&& f) {
  const int64_t Cg = c.C / c.groups, Og = c.O / c.groups, OH = c.OH(), OW = c.OW();
  for (int64_t n = 0; n < c.N; n++)
    for (int64_t o = 0; o < c.O; o++)
      for (int64_t oh = 0; oh < OH; oh++)
        for (int64_t ow = 0; ow < OW; ow++)
          for (int64_t ci = 0; ci < Cg; ci++)
            for (int64_t kh = 0; kh < c.KH; kh++)
              for (int64_t kw = 0; kw < c.KW; kw++) {
                const int64_t ih = oh * c.sh - c.ph + kh * c.dh, iw = ow * c.sw - c.pw + kw * c.dw;
                if (ih < 0 || ih >= c.H || iw < 0 || iw >= c.W) continue;
                const int64_t cin = (o / Og) * Cg + ci;
                f(((n * c.C + cin) * c.H + ih) * c.W + iw, ((o * Cg + ci) * c.KH + kh) * c.KW + kw,
                  ((n * c.O + o) * OH + oh) * OW + ow);
              }
}

std::vector<double> conv_fwd(const ConvCase& c, const std::vector<double>& x, const std::vector<double>& w) {
  std::vector<double> y(numel(c.y_shape()), 0.0);
  for_each_tap(c, [&](int64_t xi, int64_t wi, int64_t yi) { y[yi] += x[xi] * w[wi]; });
  return y;
}

// dL/dx for L = sum(dy * conv(x, w)), gathered per input element, with the sum of |terms|.
void ref_grad_input(const ConvCase& c, const std::vector<double>& dy, const std::vector<double>& w,
                    std::vector<double>* dx, std::vector<double>* mag) {
  const int64_t Cg = c.C / c.groups, Og = c.O / c.groups, OH = c.OH(), OW = c.OW();
  dx->assign(numel(c.x_shape()), 0);
  mag->assign(dx->size(), 0);
  for (int64_t n = 0; n < c.N; n++)
    for (int64_t cin = 0; cin < c.C; cin++)
      for (int64_t ih = 0; ih < c.H; ih++)
        for (int64_t iw = 0; iw < c.W; iw++) {
          double s = 0, m = 0;
          const int64_t grp = cin / Cg, ci = cin % Cg;
          for (int64_t o = grp * Og; o < (grp + 1) * Og; o++)
            for (int64_t kh = 0; kh < c.KH; kh++)
              for (int64_t kw = 0; kw < c.KW; kw++) {
                // ih = oh * sh - ph + kh * dh  =>  oh = (ih + ph - kh * dh) / sh when divisible
                const int64_t th = ih + c.ph - kh * c.dh, tw = iw + c.pw - kw * c.dw;
                if (th < 0 || tw < 0 || th % c.sh || tw % c.sw) continue;
                const int64_t oh = th / c.sh, ow = tw / c.sw;
                if (oh >= OH || ow >= OW) continue;
                const double p = dy[((n * c.O + o) * OH + oh) * OW + ow] * w[((o * Cg + ci) * c.KH + kh) * c.KW + kw];
                s += p;
                m += std::fabs(p);
              }
          const int64_t i = ((n * c.C + cin) * c.H + ih) * c.W + iw;
          (*dx)[i] = s;
          (*mag)[i] = m;
        }
}

// dL/dw for L = sum(dy * conv(x, w)), gathered per weight, with the sum of |terms|.
void ref_grad_weight(const ConvCase& c, const std::vector<double>& x, const std::vector<double>& dy,
                     std::vector<double>* dw, std::vector<double>* mag) {
  const int64_t Cg = c.C / c.groups, Og = c.O / c.groups, OH = c.OH(), OW = c.OW();
  dw->assign(numel(c.w_shape()), 0);
  mag->assign(dw->size(), 0);
  for (int64_t o = 0; o < c.O; o++)
    for (int64_t ci = 0; ci < Cg; ci++)
      for (int64_t kh = 0; kh < c.KH; kh++)
        for (int64_t kw = 0; kw < c.KW; kw++) {
          double s = 0, m = 0;
          const int64_t cin = (o / Og) * Cg + ci;
          for (int64_t n = 0; n < c.N; n++)
            for (int64_t oh = 0; oh < OH; oh++)
              for (int64_t ow = 0; ow < OW; ow++) {
                const int64_t ih = oh * c.sh - c.ph + kh * c.dh, iw = ow * c.sw - c.pw + kw * c.dw;
                if (ih < 0 || ih >= c.H || iw < 0 || iw >= c.W) continue;
                const double p = dy[((n * c.O + o) * OH + oh) * OW + ow] * x[((n * c.C + cin) * c.H + ih) * c.W + iw];
                s += p;
                m += std::fabs(p);
              }
          const int64_t i = ((o * Cg + ci) * c.KH + kh) * c.KW + kw;
          (*dw)[i] = s;
          (*mag)[i] = m;
        }
}

struct ConvGradRun {
  Result gi, gw;
};

// Runs both gradients for views x, w, dy (dy = r, the weights of L) and checks them against the
// adjoint loops; with `fd`, also against finite differences of the double forward.
ConvGradRun check_conv_grads(DType t, const ConvCase& c, const View& x, const View& w, const View& dy, bool fd,
                             const std::string& what) {
  ConvGradRun out;
  out.gi = run_op(OpCode::Conv2dGradInput, c.grad_input_attrs(), {&dy, &w});
  out.gw = run_op(OpCode::Conv2dGradWeight, c.grad_weight_attrs(), {&x, &dy});
  CHECK(out.gi.out.shape == c.x_shape());
  CHECK(out.gw.out.shape == c.w_shape());
  std::vector<double> ref, mag;
  ref_grad_input(c, dy.vals, w.vals, &ref, &mag);
  compare_mag(out.gi, ref, mag, adj_tol(t), what + " grad_input");
  if (fd) {
    auto gx = finite_diff(x.vals, dy.vals, 1e-3, [&](const std::vector<double>& xv) { return conv_fwd(c, xv, w.vals); });
    compare_fd(out.gi.vals, gx, fd_tol(t), what + " grad_input");
    compare_fd(ref, gx, 1e-9, what + " adjoint grad_input");
  }
  ref_grad_weight(c, x.vals, dy.vals, &ref, &mag);
  compare_mag(out.gw, ref, mag, adj_tol(t), what + " grad_weight");
  if (fd) {
    auto gw = finite_diff(w.vals, dy.vals, 1e-3, [&](const std::vector<double>& wv) { return conv_fwd(c, x.vals, wv); });
    compare_fd(out.gw.vals, gw, fd_tol(t), what + " grad_weight");
    compare_fd(ref, gw, 1e-9, what + " adjoint grad_weight");
  }
  return out;
}

const ConvCase kConvCases[] = {
    // N C   H   W  O KH KW  sh sw ph pw dh dw g
    {2, 4, 9, 8, 6, 3, 3, 2, 2, 1, 1, 1, 1, 1},      // stride 2, padding 1 (last column never read)
    {2, 4, 9, 10, 6, 3, 3, 1, 1, 2, 2, 2, 2, 2},     // dilation 2, groups 2
    {1, 6, 11, 7, 4, 3, 2, 2, 1, 1, 0, 1, 2, 2},     // non-square kernel, mixed strides / dilations
    {2, 6, 10, 9, 4, 2, 3, 2, 3, 1, 1, 2, 1, 2},     // 2x3 kernel, stride 2x3, dilation 2x1, groups 2
    {3, 8, 6, 6, 8, 3, 3, 1, 1, 1, 1, 1, 1, 8},      // depthwise
    {2, 5, 5, 5, 7, 1, 1, 1, 1, 0, 0, 1, 1, 1},      // 1x1
    {1, 3, 12, 12, 16, 5, 5, 3, 3, 2, 2, 1, 1, 1},   // stride 3, 5x5
    {2, 16, 7, 7, 16, 3, 3, 2, 2, 1, 1, 1, 1, 1},    // channel-blocked layouts
    {2, 1, 8, 8, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1},      // 1 input channel (padded blocking of dx)
    {1, 2, 4, 5, 3, 1, 2, 1, 2, 2, 3, 1, 1, 1},      // padding wider than the kernel: border outputs read nothing
    {2, 4, 6, 6, 4, 3, 3, 2, 2, 2, 2, 3, 3, 1},      // dilation 3: most taps fall in the padding
};

}  // namespace

HODU_TEST(conv2d_grad_finite_differences) {
  // Contiguous inputs: kernel vs finite differences vs adjoint loop, f32 and f64.
  for (DType t : {DType::F32, DType::F64})
    for (const ConvCase& c : kConvCases) {
      View x = random_view(t, c.x_shape(), Layout::Contiguous, 1);
      View w = random_view(t, c.w_shape(), Layout::Contiguous, 2);
      View dy = random_view(t, c.y_shape(), Layout::Contiguous, 3);
      check_conv_grads(t, c, x, w, dy, true, std::string("conv ") + dtype_name(t));
    }
}

HODU_TEST(conv2d_grad_views_and_dtypes) {
  // Every float dtype, every input layout (the three operands cycle through the layouts).
  for (DType t : kFloats)
    for (const ConvCase& c : kConvCases)
      for (int l = 0; l < 4; l++) {
        View x = random_view(t, c.x_shape(), kAllLayouts[l], 11);
        View w = random_view(t, c.w_shape(), kAllLayouts[(l + 1) % 4], 12);
        View dy = random_view(t, c.y_shape(), kAllLayouts[(l + 2) % 4], 13);
        check_conv_grads(t, c, x, w, dy, false,
                         std::string("conv ") + dtype_name(t) + " " + layout_name(kAllLayouts[l]));
      }
  // Channels-last views of x and dy (what a channels-last producer hands over).
  for (DType t : {DType::F32, DType::F64}) {
    const ConvCase& c = kConvCases[7];
    View x = permuted(random_view(t, {c.N, c.H, c.W, c.C}, Layout::Contiguous, 21), {0, 3, 1, 2});
    View w = random_view(t, c.w_shape(), Layout::Contiguous, 22);
    View dy = permuted(random_view(t, {c.N, c.OH(), c.OW(), c.O}, Layout::Contiguous, 23), {0, 3, 1, 2});
    check_conv_grads(t, c, x, w, dy, false, std::string("conv nhwc ") + dtype_name(t));
  }
}

HODU_TEST(conv2d_grad_impls) {
  // A typical layer: N=8, 16 -> 32, 3x3, 14x14, padding 1. f32 must run oneDNN (not ref).
  const ConvCase c{8, 16, 14, 14, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1};
  View x = random_view(DType::F32, c.x_shape(), Layout::Contiguous, 31);
  View w = random_view(DType::F32, c.w_shape(), Layout::Contiguous, 32);
  View dy = random_view(DType::F32, c.y_shape(), Layout::Contiguous, 33);
  ConvGradRun r = check_conv_grads(DType::F32, c, x, w, dy, false, "conv 16->32");
  std::printf("  f32 conv2d_grad_input 16->32: %s\n  f32 conv2d_grad_weight 16->32: %s\n", r.gi.impl.c_str(),
              r.gw.impl.c_str());
  CHECK(has(r.gi.impl, "onednn:") && !has(r.gi.impl, "ref"));
  CHECK(has(r.gw.impl, "onednn:") && !has(r.gw.impl, "ref"));
  // A first layer (one input channel): oneDNN too (dx through the plain-layout gemm).
  const ConvCase c1{4, 1, 16, 16, 8, 3, 3, 1, 1, 0, 0, 1, 1, 1};
  View x1 = random_view(DType::F32, c1.x_shape(), Layout::Contiguous, 42);
  View w1 = random_view(DType::F32, c1.w_shape(), Layout::Contiguous, 43);
  View dy1 = random_view(DType::F32, c1.y_shape(), Layout::Contiguous, 44);
  r = check_conv_grads(DType::F32, c1, x1, w1, dy1, false, "conv 1->8");
  std::printf("  f32 conv2d_grad_input 1->8: %s\n  f32 conv2d_grad_weight 1->8: %s\n", r.gi.impl.c_str(), r.gw.impl.c_str());
  CHECK(has(r.gi.impl, "onednn:") && !has(r.gi.impl, "ref"));
  CHECK(has(r.gw.impl, "onednn:") && !has(r.gw.impl, "ref"));
  // Transposed / sliced views are reordered, still oneDNN.
  View xs = random_view(DType::F32, c.x_shape(), Layout::Sliced, 34);
  View wt = random_view(DType::F32, c.w_shape(), Layout::Transposed, 35);
  View dyt = random_view(DType::F32, c.y_shape(), Layout::Transposed, 36);
  r = check_conv_grads(DType::F32, c, xs, wt, dyt, false, "conv 16->32 strided views");
  CHECK(has(r.gi.impl, "onednn:") && !has(r.gi.impl, "ref"));
  CHECK(has(r.gw.impl, "onednn:") && !has(r.gw.impl, "ref"));
  // Broadcast (stride-0) views and f64 take the loops (multi-threaded at this size).
  View xb = random_view(DType::F32, c.x_shape(), Layout::Broadcast, 37);
  View dyb = random_view(DType::F32, c.y_shape(), Layout::Broadcast, 38);
  r = check_conv_grads(DType::F32, c, xb, w, dyb, false, "conv 16->32 broadcast");
  CHECK(has(r.gi.impl, "loop:conv2d_grad_input") && has(r.gw.impl, "loop:conv2d_grad_weight"));
  View x64 = random_view(DType::F64, c.x_shape(), Layout::Contiguous, 39);
  View w64 = random_view(DType::F64, c.w_shape(), Layout::Contiguous, 40);
  View dy64 = random_view(DType::F64, c.y_shape(), Layout::Contiguous, 41);
  r = check_conv_grads(DType::F64, c, x64, w64, dy64, false, "conv 16->32 f64");
  CHECK(has(r.gi.impl, "loop:conv2d_grad_input") && has(r.gw.impl, "loop:conv2d_grad_weight"));
}

HODU_TEST(conv2d_grad_empty_reductions) {
  // No images: dw is zero. No input channels in dy's reduction (O = 0): dx is zero.
  for (DType t : {DType::F32, DType::F64}) {
    const ConvCase c{0, 4, 5, 5, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1};
    View x = random_view(t, c.x_shape(), Layout::Contiguous, 1);
    View dy = random_view(t, c.y_shape(), Layout::Contiguous, 2);
    Result r = run_op(OpCode::Conv2dGradWeight, c.grad_weight_attrs(), {&x, &dy});
    check_close(r.vals, std::vector<double>(r.vals.size(), 0.0), 0, 0, "grad_weight N=0");
    const ConvCase d{2, 4, 5, 5, 0, 3, 3, 1, 1, 1, 1, 1, 1, 1};
    View w = random_view(t, d.w_shape(), Layout::Contiguous, 3);
    View dy2 = random_view(t, d.y_shape(), Layout::Contiguous, 4);
    r = run_op(OpCode::Conv2dGradInput, d.grad_input_attrs(), {&dy2, &w});
    CHECK(r.out.shape == d.x_shape());
    check_close(r.vals, std::vector<double>(r.vals.size(), 0.0), 0, 0, "grad_input O=0");
  }
}

// ---------------------------------------------------------------------------------------------
// Pool gradients.

namespace {

struct PoolCase {
  int64_t N, C, H, W, KH, KW, sh, sw, ph, pw;
  int64_t OH() const { return (H + 2 * ph - KH) / sh + 1; }
  int64_t OW() const { return (W + 2 * pw - KW) / sw + 1; }
  Shape x_shape() const { return {N, C, H, W}; }
  Shape y_shape() const { return {N, C, OH(), OW()}; }
  Attrs attrs() const { return {(double)KH, (double)KW, (double)sh, (double)sw, (double)ph, (double)pw}; }
  Attrs avg_grad_attrs() const {
    Attrs a = attrs();
    a.push_back((double)H);
    a.push_back((double)W);
    return a;
  }
};

// Calls f(output index, list of in-image x indices of its window in row-major order).
template <class F>
void for_each_window(const PoolCase& p, F&& f) {
  std::vector<int64_t> cells;
  for (int64_t nc = 0; nc < p.N * p.C; nc++)
    for (int64_t oh = 0; oh < p.OH(); oh++)
      for (int64_t ow = 0; ow < p.OW(); ow++) {
        cells.clear();
        for (int64_t kh = 0; kh < p.KH; kh++)
          for (int64_t kw = 0; kw < p.KW; kw++) {
            const int64_t ih = oh * p.sh - p.ph + kh, iw = ow * p.sw - p.pw + kw;
            if (ih >= 0 && ih < p.H && iw >= 0 && iw < p.W) cells.push_back((nc * p.H + ih) * p.W + iw);
          }
        f((nc * p.OH() + oh) * p.OW() + ow, cells);
      }
}

// Index of the window's first maximum (a NaN beats everything; the first NaN wins).
int64_t first_max(const std::vector<double>& x, const std::vector<int64_t>& cells) {
  int64_t best = cells[0];
  for (int64_t i : cells) {
    if (std::isnan(x[i])) return i;
    if (x[i] > x[best]) best = i;
  }
  return best;
}

std::vector<double> pool_fwd(bool is_max, const PoolCase& p, const std::vector<double>& x) {
  std::vector<double> y(numel(p.y_shape()));
  for_each_window(p, [&](int64_t o, const std::vector<int64_t>& cells) {
    if (is_max) {
      y[o] = x[first_max(x, cells)];
    } else {
      double s = 0;
      for (int64_t i : cells) s += x[i];
      y[o] = s / (double)(p.KH * p.KW);  // padded cells count (count_include_pad)
    }
  });
  return y;
}

// The adjoint: every window sends dy to its first maximum / spreads dy / (KH * KW) over its cells.
void ref_pool_grad(bool is_max, const PoolCase& p, const std::vector<double>& x, const std::vector<double>& dy,
                   std::vector<double>* dx, std::vector<double>* mag) {
  dx->assign(numel(p.x_shape()), 0);
  mag->assign(dx->size(), 0);
  for_each_window(p, [&](int64_t o, const std::vector<int64_t>& cells) {
    if (is_max) {
      const int64_t i = first_max(x, cells);
      (*dx)[i] += dy[o];
      (*mag)[i] += std::fabs(dy[o]);
    } else {
      for (int64_t i : cells) {
        (*dx)[i] += dy[o] / (double)(p.KH * p.KW);
        (*mag)[i] += std::fabs(dy[o]) / (double)(p.KH * p.KW);
      }
    }
  });
}

// The smallest difference, over all windows, between the largest and the second largest value.
double max_gap(const PoolCase& p, const std::vector<double>& x) {
  double gap = std::numeric_limits<double>::infinity();
  for_each_window(p, [&](int64_t, const std::vector<int64_t>& cells) {
    double a = -std::numeric_limits<double>::infinity(), b = a;
    for (int64_t i : cells) {
      if (x[i] > a) b = a, a = x[i];
      else if (x[i] > b) b = x[i];
    }
    if (cells.size() > 1) gap = std::min(gap, a - b);
  });
  return gap;
}

Result run_pool_grad(bool is_max, const PoolCase& p, const View& x, const View& dy) {
  if (is_max) return run_op(OpCode::MaxPool2dGrad, p.attrs(), {&x, &dy});
  return run_op(OpCode::AvgPool2dGrad, p.avg_grad_attrs(), {&dy});
}

Result check_pool_grad(bool is_max, DType t, const PoolCase& p, const View& x, const View& dy, bool fd,
                       const std::string& what) {
  Result r = run_pool_grad(is_max, p, x, dy);
  CHECK(r.out.shape == p.x_shape());
  std::vector<double> ref, mag;
  ref_pool_grad(is_max, p, x.vals, dy.vals, &ref, &mag);
  compare_mag(r, ref, mag, adj_tol(t), what);
  if (fd) {
    // Max is linear only while no window's maximum changes: h stays well below the smallest gap
    // between a window's two largest values (random inputs: no ties).
    const double h = is_max ? std::min(1e-3, max_gap(p, x.vals) / 4) : 1e-3;
    auto g = finite_diff(x.vals, dy.vals, h, [&](const std::vector<double>& xv) { return pool_fwd(is_max, p, xv); });
    compare_fd(r.vals, g, fd_tol(t), what);
    compare_fd(ref, g, 1e-9, what + " adjoint");
  }
  return r;
}

const PoolCase kPoolCases[] = {
    // N C  H  W KH KW sh sw ph pw
    {2, 3, 7, 9, 3, 3, 2, 2, 1, 1},     // overlapping windows, padding
    {2, 3, 8, 8, 2, 2, 2, 2, 0, 0},     // tiling
    {1, 5, 9, 7, 3, 2, 1, 2, 1, 1},     // non-square, stride 1 along h
    {2, 16, 10, 11, 3, 3, 1, 1, 1, 1},  // every cell in up to 9 windows
    {1, 2, 5, 5, 5, 5, 1, 1, 2, 2},     // kernel as large as the image, padding = kernel / 2
    {1, 2, 6, 7, 4, 3, 3, 2, 2, 1},     // even kernel with padding kernel / 2
};

const char* pool_name(bool is_max) { return is_max ? "max_pool2d_grad" : "avg_pool2d_grad"; }

}  // namespace

HODU_TEST(pool2d_grad_finite_differences) {
  for (bool is_max : {true, false})
    for (DType t : {DType::F32, DType::F64})
      for (const PoolCase& p : kPoolCases) {
        View x = random_view(t, p.x_shape(), Layout::Contiguous, 5);
        View dy = random_view(t, p.y_shape(), Layout::Contiguous, 6);
        check_pool_grad(is_max, t, p, x, dy, true, std::string(pool_name(is_max)) + " " + dtype_name(t));
      }
}

HODU_TEST(pool2d_grad_views_and_dtypes) {
  for (bool is_max : {true, false})
    for (DType t : kFloats)
      for (const PoolCase& p : kPoolCases)
        for (int l = 0; l < 4; l++) {
          View x = random_view(t, p.x_shape(), kAllLayouts[l], 7);
          View dy = random_view(t, p.y_shape(), kAllLayouts[(l + 1) % 4], 8);
          Result r = check_pool_grad(is_max, t, p, x, dy, false,
                                     std::string(pool_name(is_max)) + " " + dtype_name(t) + " " + layout_name(kAllLayouts[l]));
          CHECK(has(r.impl, "loop:"));
        }
  // A larger case runs on several threads (where available).
  for (bool is_max : {true, false}) {
    const PoolCase p{8, 32, 24, 24, 3, 3, 2, 2, 1, 1};
    View x = random_view(DType::F32, p.x_shape(), Layout::Transposed, 9);
    View dy = random_view(DType::F32, p.y_shape(), Layout::Contiguous, 10);
    check_pool_grad(is_max, DType::F32, p, x, dy, false, std::string(pool_name(is_max)) + " large");
  }
}

HODU_TEST(max_pool2d_grad_ties) {
  // Values from {0, 1, 2}: most windows hold ties; the first maximum (row-major) gets the gradient.
  for (DType t : kFloats)
    for (const PoolCase& p : kPoolCases)
      for (int l = 0; l < 4; l++) {
        Rng rng(17);
        View x = make_view(t, p.x_shape(), kAllLayouts[l], [&] { return rng.integer(0, 2); });
        View dy = random_view(t, p.y_shape(), kAllLayouts[(l + 2) % 4], 18);
        check_pool_grad(true, t, p, x, dy, false, std::string("max_pool2d_grad ties ") + dtype_name(t));
      }
  // Hand-checked: one 3x3 window over a 2x2 image with padding 1 (kernel 3, stride 1 gives 2x2
  // outputs); all values equal: every window sends its gradient to its first in-image cell.
  {
    const PoolCase p{1, 1, 2, 2, 3, 3, 1, 1, 1, 1};
    View x = make_values(DType::F32, p.x_shape(), {-5, -5, -5, -5});
    View dy = make_values(DType::F32, p.y_shape(), {1, 2, 4, 8});
    Result r = run_pool_grad(true, p, x, dy);
    check_close(r.vals, {15, 0, 0, 0}, 0, 0, "max_pool2d_grad all ties");
  }
  // -inf everywhere: padded cells (also -inf in the forward) never win.
  {
    const double inf = std::numeric_limits<double>::infinity();
    const PoolCase p{1, 1, 3, 3, 2, 2, 2, 2, 1, 1};
    View x = make_values(DType::F64, p.x_shape(), std::vector<double>(9, -inf));
    View dy = make_values(DType::F64, p.y_shape(), {1, 2, 3, 4});
    Result r = run_pool_grad(true, p, x, dy);
    check_close(r.vals, {1, 2, 0, 3, 4, 0, 0, 0, 0}, 0, 0, "max_pool2d_grad -inf");
  }
  // NaN wins its windows (the forward propagates it).
  {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const PoolCase p{1, 1, 2, 3, 2, 2, 1, 1, 0, 0};
    View x = make_values(DType::F32, p.x_shape(), {1, 5, 2, nan, 0, 9});
    View dy = make_values(DType::F32, p.y_shape(), {1, 2});
    Result r = run_pool_grad(true, p, x, dy);
    check_close(r.vals, {0, 0, 0, 1, 0, 2}, 0, 0, "max_pool2d_grad NaN");
  }
}

// ---------------------------------------------------------------------------------------------
// scatter_add / index_add / slice_scatter.

namespace {

constexpr DType kScatterDtypes[] = {DType::F32, DType::F64, DType::F16, DType::BF16, DType::I32,
                                    DType::I64, DType::U8,  DType::I8,  DType::I16,  DType::U32};

// Values for a dtype: small integers (sums stay exact in every dtype, u8 included).
View small_view(DType t, const Shape& s, Layout l, uint64_t seed) {
  Rng rng(seed);
  return make_view(t, s, l, [&] { return is_float(t) ? rng.uniform(-2, 2) : rng.integer(0, 4); });
}

View index_view(DType t, const Shape& s, Layout l, int64_t hi, uint64_t seed) {
  Rng rng(seed);
  return make_view(t, s, l, [&] { return rng.integer(0, (int)hi - 1); });
}

// Row-major coordinates of flat index i of shape s.
Shape coords(int64_t i, const Shape& s) {
  Shape c(s.size());
  for (size_t d = s.size(); d-- > 0;) {
    c[d] = i % s[d];
    i /= s[d];
  }
  return c;
}

int64_t flat(const Shape& c, const Shape& s) {
  int64_t f = 0;
  for (size_t d = 0; d < s.size(); d++) f = f * s[d] + c[d];
  return f;
}

// Adds src[i] into out at position f(i) (with the sum of |terms| for the tolerance).
struct AddRef {
  std::vector<double> out, mag;
  explicit AddRef(const View& base) : out(base.vals), mag(base.vals) {
    for (double& m : mag) m = std::fabs(m);
  }
  void add(int64_t at, double v) {
    out[at] += v;
    mag[at] += std::fabs(v);
  }
};

void check_add(const Result& r, const AddRef& ref, DType t, const std::string& what) {
  if (is_float(t)) {
    // f16 / bf16 round at every add: allow a few roundings of the magnitude.
    compare_mag(r, ref.out, ref.mag, t == DType::F16 ? 4e-3 : t == DType::BF16 ? 3e-2 : adj_tol(t), what);
  } else {
    check_close(r.vals, ref.out, 0, 0, what);
  }
}

Result check_scatter_add(DType t, DType it, const Shape& base_shape, const Shape& src_shape, int dim, int layout,
                         uint64_t seed) {
  const Layout lb = kAllLayouts[layout], li = kAllLayouts[(layout + 1) % 4], ls = kAllLayouts[(layout + 2) % 4];
  const int r = (int)base_shape.size(), d = dim < 0 ? dim + r : dim;
  View base = small_view(t, base_shape, lb, seed);
  View idx = index_view(it, src_shape, li, base_shape[d], seed + 1);
  View src = small_view(t, src_shape, ls, seed + 2);
  Result res = run_op(OpCode::ScatterAdd, {(double)dim}, {&base, &idx, &src});
  AddRef ref(base);
  for (int64_t i = 0; i < src.desc.numel(); i++) {
    Shape c = coords(i, src_shape);
    c[d] = (int64_t)idx.vals[i];
    ref.add(flat(c, base_shape), src.vals[i]);
  }
  check_add(res, ref, t,
            std::string("scatter_add ") + dtype_name(t) + "/" + dtype_name(it) + " dim " + std::to_string(dim) + " " +
                layout_name(lb));
  return res;
}

Result check_index_add(DType t, DType it, const Shape& base_shape, int64_t k, int dim, int layout, uint64_t seed) {
  const Layout lb = kAllLayouts[layout], li = kAllLayouts[(layout + 1) % 4], ls = kAllLayouts[(layout + 2) % 4];
  const int r = (int)base_shape.size(), d = dim < 0 ? dim + r : dim;
  Shape src_shape = base_shape;
  src_shape[d] = k;
  View base = small_view(t, base_shape, lb, seed);
  View idx = index_view(it, {k}, li, base_shape[d], seed + 1);
  View src = small_view(t, src_shape, ls, seed + 2);
  Result res = run_op(OpCode::IndexAdd, {(double)dim}, {&base, &idx, &src});
  AddRef ref(base);
  for (int64_t i = 0; i < src.desc.numel(); i++) {
    Shape c = coords(i, src_shape);
    c[d] = (int64_t)idx.vals[c[d]];
    ref.add(flat(c, base_shape), src.vals[i]);
  }
  check_add(res, ref, t,
            std::string("index_add ") + dtype_name(t) + "/" + dtype_name(it) + " dim " + std::to_string(dim) + " " +
                layout_name(lb));
  return res;
}

// Runs an op expecting INVALID_ARGUMENT whose message contains every fragment.
void check_index_error(OpCode op, const Attrs& attrs, const std::vector<const View*>& ins,
                       const std::vector<std::string>& fragments) {
  bool thrown = false;
  try {
    run_op(op, attrs, ins);
  } catch (const HoduError& e) {
    thrown = true;
    CHECK(e.code() == ErrorCode::INVALID_ARGUMENT);
    for (const std::string& f : fragments)
      if (!has(e.what(), f.c_str())) {
        std::printf("  message \"%s\" lacks \"%s\"\n", e.what(), f.c_str());
        g_failures++;
      }
  }
  if (!thrown) {
    std::printf("  %s: out-of-range index did not throw\n", op_info(op).name);
    g_failures++;
  }
}

}  // namespace

HODU_TEST(scatter_add_cases) {
  // base [4, 5, 6]; the source is smaller in the other dims and longer along dim (repeats).
  for (DType t : kScatterDtypes)
    for (DType it : {DType::I32, DType::I64})
      for (int dim = 0; dim < 3; dim++)
        for (int l = 0; l < 4; l++) {
          Shape src_shape{3, 4, 5};
          src_shape[dim] = 9;
          check_scatter_add(t, it, {4, 5, 6}, src_shape, dim, l, 100 + dim * 4 + l);
        }
  check_scatter_add(DType::F32, DType::I64, {4, 5, 6}, {3, 2, 8}, -1, 0, 7);   // negative dim
  check_scatter_add(DType::F64, DType::I32, {7}, {20}, 0, 1, 8);               // 1-D
  check_scatter_add(DType::F32, DType::I64, {4, 5, 6}, {3, 0, 5}, 1, 0, 9);    // empty source
  // Large enough for several threads: along the outer dim and along the inner dim.
  check_scatter_add(DType::F32, DType::I64, {64, 300}, {200, 300}, 0, 0, 10);
  check_scatter_add(DType::F64, DType::I32, {300, 64}, {300, 200}, 1, 2, 11);
  check_scatter_add(DType::I64, DType::I64, {16, 40, 33}, {16, 120, 33}, 1, 1, 12);
}

HODU_TEST(index_add_cases) {
  for (DType t : kScatterDtypes)
    for (DType it : {DType::I32, DType::I64})
      for (int dim = 0; dim < 3; dim++)
        for (int l = 0; l < 4; l++) check_index_add(t, it, {5, 4, 3}, 7, dim, l, 200 + dim * 4 + l);
  check_index_add(DType::F32, DType::I64, {5, 4, 3}, 2, -2, 0, 1);  // negative dim
  check_index_add(DType::F32, DType::I64, {5, 4, 3}, 0, 1, 0, 2);   // empty index
  check_index_add(DType::F32, DType::I64, {512, 256}, 1024, 0, 0, 3);  // embedding-style, threaded
  check_index_add(DType::F64, DType::I32, {256, 512}, 700, 1, 1, 4);
}

HODU_TEST(scatter_index_add_out_of_range) {
  for (DType it : {DType::I32, DType::I64}) {
    View base = small_view(DType::F32, {4, 5}, Layout::Contiguous, 1);
    View src = small_view(DType::F32, {2, 3}, Layout::Contiguous, 2);
    View hi = make_values(it, {2, 3}, {0, 1, 2, 3, 5, 4});   // 5 at position [1, 1]
    View neg = make_values(it, {2, 3}, {0, -1, 2, 3, 4, 4});  // -1 at position [0, 1]
    check_index_error(OpCode::ScatterAdd, {1}, {&base, &hi, &src}, {"index 5", "[1, 1]", "dim 1", "size 5"});
    check_index_error(OpCode::ScatterAdd, {1}, {&base, &neg, &src}, {"index -1", "[0, 1]", "dim 1", "size 5"});
    View src2 = small_view(DType::F32, {4, 3}, Layout::Contiguous, 3);
    View idx2 = make_values(it, {3}, {1, 0, 5});
    View idx3 = make_values(it, {3}, {-6, 0, 1});
    check_index_error(OpCode::IndexAdd, {-1}, {&base, &idx2, &src2}, {"index 5", "dim 1", "size 5"});
    check_index_error(OpCode::IndexAdd, {1}, {&base, &idx3, &src2}, {"index -6", "dim 1", "size 5"});
  }
  // The threaded path reports the first bad index in row-major order.
  View base = small_view(DType::F32, {64, 300}, Layout::Contiguous, 4);
  View src = small_view(DType::F32, {200, 300}, Layout::Contiguous, 5);
  View idx = index_view(DType::I64, {200, 300}, Layout::Contiguous, 64, 6);
  write_elem(DType::I64, const_cast<void*>(idx.ptr()), 150 * 300 + 7, 64);
  write_elem(DType::I64, const_cast<void*>(idx.ptr()), 199 * 300 + 1, -3);
  idx.refresh();
  check_index_error(OpCode::ScatterAdd, {0}, {&base, &idx, &src}, {"index 64", "[150, 7]", "dim 0", "size 64"});
}

namespace {

Result check_slice_scatter(DType t, const Shape& base_shape, int dim, int64_t start, int64_t end, int64_t step,
                           int layout, uint64_t seed) {
  const Attrs attrs{(double)dim, (double)start, (double)end, (double)step};
  const SliceAttrs sa = slice_attrs(attrs, base_shape);
  Shape src_shape = base_shape;
  src_shape[sa.dim] = sa.length;
  View base = small_view(t, base_shape, kAllLayouts[layout], seed);
  View src = small_view(t, src_shape, kAllLayouts[(layout + 1) % 4], seed + 1);
  Result r = run_op(OpCode::SliceScatter, attrs, {&base, &src});
  std::vector<double> want = base.vals;
  for (int64_t i = 0; i < src.desc.numel(); i++) {
    Shape c = coords(i, src_shape);
    c[sa.dim] = sa.start + c[sa.dim] * sa.step;
    want[flat(c, base_shape)] = src.vals[i];
  }
  check_close(r.vals, want, 0, 0,
              std::string("slice_scatter ") + dtype_name(t) + " " + layout_name(kAllLayouts[layout]));
  return r;
}

}  // namespace

HODU_TEST(slice_scatter_cases) {
  for (DType t : {DType::F32, DType::F64, DType::F16, DType::I64, DType::U8, DType::Bool, DType::I16})
    for (int l = 0; l < 4; l++) {
      check_slice_scatter(t, {6, 7}, 1, -5, 7, 2, l, 1);     // columns 2, 4, 6: step 2, negative start
      check_slice_scatter(t, {6, 7}, 0, -4, -1, 1, l, 2);    // rows 2..4
      check_slice_scatter(t, {3, 8, 5}, 1, 1, 8, 3, l, 3);   // 1, 4, 7
      check_slice_scatter(t, {3, 8, 5}, -1, 0, 100, 2, l, 4);
      check_slice_scatter(t, {6, 7}, 1, 5, 2, 1, l, 5);      // empty slice: a copy of the base
    }
  // Large: several threads, including a single contiguous row split between them.
  check_slice_scatter(DType::F32, {512, 600}, 1, 1, 600, 2, 0, 6);
  check_slice_scatter(DType::F64, {400, 300}, 0, -300, 400, 1, 2, 7);
  check_slice_scatter(DType::F32, {1 << 17}, 0, 3, -3, 5, 0, 8);
}

// ---------------------------------------------------------------------------------------------
// Timings (HODU_BENCH=1).

HODU_TEST(grad_kernels_bench) {
  if (!std::getenv("HODU_BENCH")) return;
  auto bench = [](OpCode op, const Attrs& attrs, std::vector<const View*> ins, int reps, const std::string& what) {
    KernelSpec spec;
    spec.op = op;
    spec.attrs = attrs;
    std::vector<const void*> ptrs;
    for (const View* v : ins) {
      spec.inputs.push_back(v->desc);
      ptrs.push_back(v->ptr());
    }
    spec.output = infer(op, attrs, spec.inputs).out;
    auto t0 = std::chrono::steady_clock::now();
    auto k = try_make_kernel(spec);  // the forward conv is absent when this file is built alone
    if (!k) {
      std::printf("  %s: no kernel in this build\n", what.c_str());
      return 0.0;
    }
    const double create = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::vector<char> out(spec.output.nbytes());
    for (int i = 0; i < 2; i++) run_once(*k, ptrs.data(), out.data());
    // Best wall time per call, and the process CPU time per call of that repetition (on a shared
    // machine the CPU time of a 1-thread run is the steadier number).
    double best = 1e30, best_cpu = 0;
    for (int rep = 0; rep < 5; rep++) {
      t0 = std::chrono::steady_clock::now();
      const std::clock_t c0 = std::clock();
      for (int i = 0; i < reps; i++) run_once(*k, ptrs.data(), out.data());
      const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / reps;
      if (wall < best) best = wall, best_cpu = (double)(std::clock() - c0) / CLOCKS_PER_SEC / reps;
    }
    std::printf("  %s: %.3f ms wall, %.3f ms cpu (create %.2f ms; %s; scratchpad %zu B)\n", what.c_str(), best * 1e3,
                best_cpu * 1e3, create * 1e3, k->impl().c_str(), k->scratchpad_bytes());
    return best;
  };
  {
    // The CNN's first conv: N=32, 1 -> 32, 3x3, 28x28.
    const ConvCase c{32, 1, 28, 28, 32, 3, 3, 1, 1, 0, 0, 1, 1, 1};
    View x = random_view(DType::F32, c.x_shape(), Layout::Contiguous, 1);
    View w = random_view(DType::F32, c.w_shape(), Layout::Contiguous, 2);
    View dy = random_view(DType::F32, c.y_shape(), Layout::Contiguous, 3);
    const std::string tag = "f32 N=32 1->32 3x3 28x28";
    bench(OpCode::Conv2d, c.conv_attrs(), {&x, &w}, 20, "conv2d " + tag);
    bench(OpCode::Conv2dGradInput, c.grad_input_attrs(), {&dy, &w}, 20, "conv2d_grad_input " + tag);
    bench(OpCode::Conv2dGradWeight, c.grad_weight_attrs(), {&x, &dy}, 20, "conv2d_grad_weight " + tag);
  }
  for (int64_t pad : {0, 1}) {
    const ConvCase c{32, 32, 26, 26, 64, 3, 3, 1, 1, pad, pad, 1, 1, 1};
    const double gflop = 2.0 * 32 * 64 * c.OH() * c.OW() * 32 * 9 * 1e-9;
    for (DType t : {DType::F32, DType::F64}) {
      View x = random_view(t, c.x_shape(), Layout::Contiguous, 1);
      View w = random_view(t, c.w_shape(), Layout::Contiguous, 2);
      View dy = random_view(t, c.y_shape(), Layout::Contiguous, 3);
      const int reps = t == DType::F32 ? 10 : 1;
      const std::string tag = std::string(dtype_name(t)) + " N=32 32->64 3x3 26x26 pad " + std::to_string(pad);
      double s = bench(OpCode::Conv2d, c.conv_attrs(), {&x, &w}, reps, "conv2d " + tag);
      if (s > 0) std::printf("    %.0f GFLOP/s\n", gflop / s);
      s = bench(OpCode::Conv2dGradInput, c.grad_input_attrs(), {&dy, &w}, reps, "conv2d_grad_input " + tag);
      std::printf("    %.0f GFLOP/s\n", gflop / s);
      s = bench(OpCode::Conv2dGradWeight, c.grad_weight_attrs(), {&x, &dy}, reps, "conv2d_grad_weight " + tag);
      std::printf("    %.0f GFLOP/s\n", gflop / s);
    }
  }
  {
    const PoolCase p{32, 64, 24, 24, 2, 2, 2, 2, 0, 0};
    View x = random_view(DType::F32, p.x_shape(), Layout::Contiguous, 4);
    View dy = random_view(DType::F32, p.y_shape(), Layout::Contiguous, 5);
    bench(OpCode::MaxPool2dGrad, p.attrs(), {&x, &dy}, 20, "max_pool2d_grad f32 N=32 C=64 24x24 2x2/2");
    bench(OpCode::AvgPool2dGrad, p.avg_grad_attrs(), {&dy}, 20, "avg_pool2d_grad f32 N=32 C=64 24x24 2x2/2");
    const PoolCase q{32, 64, 24, 24, 3, 3, 1, 1, 1, 1};
    View dq = random_view(DType::F32, q.y_shape(), Layout::Contiguous, 6);
    bench(OpCode::MaxPool2dGrad, q.attrs(), {&x, &dq}, 20, "max_pool2d_grad f32 N=32 C=64 24x24 3x3/1 pad 1");
    bench(OpCode::AvgPool2dGrad, q.avg_grad_attrs(), {&dq}, 20, "avg_pool2d_grad f32 N=32 C=64 24x24 3x3/1 pad 1");
  }
}
