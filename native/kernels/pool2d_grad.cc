// Gradients of max_pool2d and avg_pool2d (pool2d.cc) with respect to their input:
//   MaxPool2dGrad(x [N, C, H, W], dy [N, C, OH, OW])  attrs kernel, stride, padding       -> dx [N, C, H, W]
//   AvgPool2dGrad(dy [N, C, OH, OW])                  attrs kernel, stride, padding, in_h, in_w
// Inputs are read through their strides; the output is contiguous.
//
// Max: each window's gradient goes to the FIRST maximum of the window in row-major order, the
// argmax being recomputed from x (no workspace from the forward pass is needed). Padded cells never
// win: the search starts at the window's first cell inside the image, so a window of -inf values
// routes its gradient there. A NaN is larger than everything (the forward propagates it): the
// first NaN of a window wins. Overlapping windows (stride < kernel) accumulate. The search runs
// for a whole output row at once, tap by tap in row-major order with the windows innermost: a
// strict `>` per window then keeps the first maximum, and the inner loop is a branch-free select
// over consecutive windows that the compiler vectorises (measured 3-4x faster than a per-window
// scan, whose comparisons mispredict on random data). Rows holding a NaN are redone window by window.
//
// Avg: the forward divides by the full kernel size with padded cells counted as zeros (PyTorch's
// count_include_pad=True), so every window spreads dy / (KH * KW) over its cells inside the image.
// The spreading is separable: per output row, dy is first spread along the row into a W-long
// buffer, which is then added to the KH input rows of the window (a unit-stride, vectorisable loop).
//
// Both run per (image, channel) plane, OpenMP over the N * C planes, and accumulate in float
// (double for f64): f32 and f64 directly in the output plane, f16 and bf16 in a per-thread float
// plane stored once at the end.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <utility>
#include <vector>

#include "../ops/infer.h"
#include "dnnl_util.h"
#include "elem.h"
#include "kernel.h"

namespace hodu {

namespace {

constexpr int64_t kAlign = 64;
inline int64_t align_up(int64_t n, int64_t a) { return (n + a - 1) / a * a; }

struct PoolGradGeom {
  bool is_max;
  int64_t N, C, H, W, OH, OW;
  Pool2dAttrs a;
  Shape xs, ys;  // strides of x (max only) and dy (elements)
};

inline Shape strides_of(const TensorDesc& d) {
  return d.strides.size() == d.shape.size() ? d.strides : contiguous_strides(d.shape);
}

PoolGradGeom make_geom(const KernelSpec& s) {
  PoolGradGeom g;
  g.is_max = s.op == OpCode::MaxPool2dGrad;
  // Both ops start with the six pooling attributes; AvgPool2dGrad appends in_h, in_w (the output's).
  g.a = pool2d_attrs(g.is_max ? OpCode::MaxPool2d : OpCode::AvgPool2d, Attrs(s.attrs.begin(), s.attrs.begin() + 6));
  const TensorDesc& dy = s.inputs.at(g.is_max ? 1 : 0);
  g.N = s.output.shape[0], g.C = s.output.shape[1], g.H = s.output.shape[2], g.W = s.output.shape[3];
  g.OH = dy.shape[2], g.OW = dy.shape[3];
  g.ys = strides_of(dy);
  if (g.is_max) g.xs = strides_of(s.inputs[0]);
  return g;
}

template <class T>
class LoopPoolGradKernel final : public Kernel {
  using C = compute_t<T>;
  using Acc = std::conditional_t<std::is_same_v<T, double>, double, float>;
  // Position of a window's running maximum relative to the window's origin, kh * W + kw (so the
  // cell is found without a division): as wide as C, so that the select on the compare vectorises.
  using Tap = std::conditional_t<sizeof(C) == 8, int64_t, int32_t>;
  static constexpr bool kDirect = std::is_same_v<T, Acc>;  // accumulate in the output itself

 public:
  explicit LoopPoolGradKernel(PoolGradGeom g) : g_(std::move(g)) {
    const double work = (double)g_.N * (double)g_.C *
                        ((double)g_.OH * (double)g_.OW * (double)(g_.a.kernel_h * g_.a.kernel_w) + (double)(g_.H * g_.W)) *
                        (double)sizeof(T);
    threads_ = pick_threads(work);
    const int64_t planes = g_.N * g_.C;
    if (planes < threads_) threads_ = (int)std::max<int64_t>(1, planes);
    // Per thread: the float plane (f16 / bf16 only), then two row buffers: for max the running
    // maximum and tap of each window of an output row, for avg one spread input row and the
    // output row's dy / (KH * KW).
    plane_bytes_ = kDirect ? 0 : align_up(g_.H * g_.W * (int64_t)sizeof(Acc), kAlign);
    if (g_.is_max) {
      row0_bytes_ = align_up(g_.OW * (int64_t)sizeof(C), kAlign);
      row_bytes_ = row0_bytes_ + align_up(g_.OW * (int64_t)sizeof(Tap), kAlign);
    } else {
      row0_bytes_ = align_up(g_.W * (int64_t)sizeof(Acc), kAlign);
      row_bytes_ = row0_bytes_ + align_up(g_.OW * (int64_t)sizeof(Acc), kAlign);
    }
    // Positions must fit in Tap (always, short of absurd planes); else every window is scanned alone.
    by_row_ = (double)g_.a.kernel_h * (double)g_.W + (double)g_.a.kernel_w < (double)std::numeric_limits<Tap>::max();
    // Per kernel column kw: the output columns [lo, hi) whose window cell kw is inside the image
    // (input column ow * stride_w + kw - pad_w in [0, W)). The kernel is at most W + 2 * pad wide.
    kw_range_.resize((size_t)g_.a.kernel_w);
    for (int64_t kw = 0; kw < g_.a.kernel_w; kw++) {
      const int64_t off = kw - g_.a.pad_w, s = g_.a.stride_w;
      const int64_t lo = off >= 0 ? 0 : (-off + s - 1) / s;
      const int64_t hi = g_.W - 1 - off < 0 ? 0 : std::min(g_.OW, (g_.W - 1 - off) / s + 1);
      kw_range_[kw] = {lo, std::max(lo, hi)};
    }
  }

  void run(const void* const* in, void* out, const ExecContext& ctx) override {
    const T* x = g_.is_max ? (const T*)in[0] : nullptr;
    const T* dy = (const T*)in[g_.is_max ? 1 : 0];
    T* dx = (T*)out;
    char* sp = (char*)ctx.scratchpad;
    const int64_t planes = g_.N * g_.C, per_thread = plane_bytes_ + row_bytes_;
    if (threads_ > 1) {
      ThreadScope ts(threads_);
#pragma omp parallel
      {
        const int nt = omp_get_num_threads(), t = omp_get_thread_num();
        const int64_t lo = planes * t / nt, hi = planes * (t + 1) / nt;
        for (int64_t p = lo; p < hi; p++) plane(p, x, dy, dx, sp + t * per_thread);
      }
    } else {
      for (int64_t p = 0; p < planes; p++) plane(p, x, dy, dx, sp);
    }
  }

  size_t scratchpad_bytes() const override { return (size_t)((plane_bytes_ + row_bytes_) * threads_); }
  std::string impl() const override { return g_.is_max ? "loop:max_pool2d_grad" : "loop:avg_pool2d_grad"; }

 private:
  void plane(int64_t p, const T* x, const T* dy, T* dx, char* scratch) const {
    const int64_t n = p / g_.C, c = p % g_.C, npix = g_.H * g_.W;
    T* out = dx + p * npix;
    Acc* acc;
    if constexpr (kDirect) acc = out;
    else acc = (Acc*)scratch;
    std::fill(acc, acc + npix, Acc(0));
    const T* dyp = dy + n * g_.ys[0] + c * g_.ys[1];
    char* rows = scratch + plane_bytes_;
    if (g_.is_max) {
      const T* xp = x + n * g_.xs[0] + c * g_.xs[1];
      for (int64_t oh = 0; oh < g_.OH; oh++) {
        if (by_row_) max_row(oh, xp, dyp, acc, (C*)rows, (Tap*)(rows + row0_bytes_));
        else max_row_by_window(oh, xp, dyp, acc);
      }
    } else {
      avg_plane(dyp, acc, (Acc*)rows, (Acc*)(rows + row0_bytes_));
    }
    if constexpr (!kDirect)
      for (int64_t i = 0; i < npix; i++) out[i] = store<T>(acc[i]);
  }

  // Max-pool gradient of output row oh, all windows at once (see the file comment).
  void max_row(int64_t oh, const T* xp, const T* dyp, Acc* acc, C* m, Tap* tap) const {
    const Pool2dAttrs& a = g_.a;
    const Shape& xs = g_.xs;
    const int64_t h0 = oh * a.stride_h - a.pad_h;
    const int64_t kh_lo = std::max<int64_t>(0, -h0), kh_hi = std::min(a.kernel_h, g_.H - h0);
    // Start every window at -inf on its first in-image cell (a window of -inf keeps that cell).
    for (int64_t ow = 0; ow < g_.OW; ow++) {
      m[ow] = -std::numeric_limits<C>::infinity();
      tap[ow] = (Tap)(kh_lo * g_.W + std::max<int64_t>(0, a.pad_w - ow * a.stride_w));
    }
    int64_t nans = 0;
    for (int64_t kh = kh_lo; kh < kh_hi; kh++) {
      const T* row = xp + (h0 + kh) * xs[2];
      for (int64_t kw = 0; kw < a.kernel_w; kw++) {
        const auto [lo, hi] = kw_range_[kw];
        if (lo == hi) continue;
        const Tap t = (Tap)(kh * g_.W + kw);
        // window ow reads input column ow * stride_w + kw - pad_w
        const T* px = row + (lo * a.stride_w + kw - a.pad_w) * xs[3];
        const int64_t step = a.stride_w * xs[3], n = hi - lo;
        if (step == 1) nans += scan(px, 1, n, t, m + lo, tap + lo);
        else nans += scan(px, step, n, t, m + lo, tap + lo);
      }
    }
    if (nans) {
      max_row_by_window(oh, xp, dyp, acc);
      return;
    }
    for (int64_t ow = 0; ow < g_.OW; ow++) {
      acc[h0 * g_.W + ow * a.stride_w - a.pad_w + tap[ow]] += (Acc)load(dyp[oh * g_.ys[2] + ow * g_.ys[3]]);
    }
  }

  // One tap of n consecutive windows: x values px[j * step] against the running maxima mm[j];
  // returns the number of NaNs seen. A constant step of 1 lets the compiler vectorise.
  static int64_t scan(const T* __restrict px, int64_t step, int64_t n, Tap t, C* __restrict mm, Tap* __restrict tt) {
    int64_t nans = 0;
#pragma omp simd reduction(+ : nans)
    for (int64_t j = 0; j < n; j++) {
      const C v = load(px[j * step]), cur = mm[j];
      const Tap gt = -(Tap)(v > cur);  // all ones when strictly greater: a tie keeps the earlier tap
      mm[j] = cur < v ? v : cur;       // max, written as a select the vectoriser accepts
      tt[j] ^= (tt[j] ^ t) & gt;
      nans += v != v;
    }
    return nans;
  }

  // The same, one window at a time (rows holding a NaN, or planes too large for Tap).
  void max_row_by_window(int64_t oh, const T* xp, const T* dyp, Acc* acc) const {
    const Pool2dAttrs& a = g_.a;
    const int64_t h0 = oh * a.stride_h - a.pad_h;
    const int64_t hs = std::max<int64_t>(h0, 0), he = std::min(h0 + a.kernel_h, g_.H);
    for (int64_t ow = 0; ow < g_.OW; ow++) {
      const int64_t w0 = ow * a.stride_w - a.pad_w;
      const int64_t ws = std::max<int64_t>(w0, 0), we = std::min(w0 + a.kernel_w, g_.W);
      acc[argmax(xp, hs, he, ws, we)] += (Acc)load(dyp[oh * g_.ys[2] + ow * g_.ys[3]]);
    }
  }

  // Flat index (ih * W + iw) of the first maximum of a clipped window, NaN counting as the largest
  // (the first NaN wins). pool2d_attrs keeps padding <= kernel / 2, so every window holds a cell.
  int64_t argmax(const T* xp, int64_t hs, int64_t he, int64_t ws, int64_t we) const {
    const Shape& xs = g_.xs;
    int64_t best = hs * g_.W + ws;
    C m = -std::numeric_limits<C>::infinity();
    for (int64_t ih = hs; ih < he; ih++)
      for (int64_t iw = ws; iw < we; iw++) {
        const C v = load(xp[ih * xs[2] + iw * xs[3]]);
        if (std::isnan(v)) return ih * g_.W + iw;
        if (v > m) {
          m = v;
          best = ih * g_.W + iw;
        }
      }
    return best;
  }

  void avg_plane(const T* dyp, Acc* acc, Acc* row, Acc* v) const {
    const Pool2dAttrs& a = g_.a;
    const Acc inv = Acc(1) / (Acc)(a.kernel_h * a.kernel_w);
    for (int64_t oh = 0; oh < g_.OH; oh++) {
      const T* dyrow = dyp + oh * g_.ys[2];
      for (int64_t ow = 0; ow < g_.OW; ow++) v[ow] = (Acc)load(dyrow[ow * g_.ys[3]]) * inv;
      // Spread the output row along w, kernel column by kernel column: row[iw] = sum of v[ow]
      // over the windows covering iw.
      std::fill(row, row + g_.W, Acc(0));
      for (int64_t kw = 0; kw < a.kernel_w; kw++) {
        const auto [lo, hi] = kw_range_[kw];
        if (lo == hi) continue;
        Acc* r = row + lo * a.stride_w + kw - a.pad_w;
        if (a.stride_w == 1) {
          for (int64_t ow = lo; ow < hi; ow++) r[ow - lo] += v[ow];
        } else {
          for (int64_t ow = lo; ow < hi; ow++) r[(ow - lo) * a.stride_w] += v[ow];
        }
      }
      // ...then down the window's rows.
      const int64_t h0 = oh * a.stride_h - a.pad_h;
      const int64_t hs = std::max<int64_t>(h0, 0), he = std::min(h0 + a.kernel_h, g_.H);
      for (int64_t ih = hs; ih < he; ih++) {
        Acc* arow = acc + ih * g_.W;
        for (int64_t iw = 0; iw < g_.W; iw++) arow[iw] += row[iw];
      }
    }
  }

  PoolGradGeom g_;
  int threads_ = 1;
  bool by_row_ = true;
  int64_t plane_bytes_ = 0, row0_bytes_ = 0, row_bytes_ = 0;
  std::vector<std::pair<int64_t, int64_t>> kw_range_;
};

std::unique_ptr<Kernel> make_loop_pool_grad(const KernelSpec& s) {
  PoolGradGeom g = make_geom(s);
  switch (s.output.dtype) {
    case DType::F32: return std::make_unique<LoopPoolGradKernel<float>>(g);
    case DType::F64: return std::make_unique<LoopPoolGradKernel<double>>(g);
    case DType::F16: return std::make_unique<LoopPoolGradKernel<f16_t>>(g);
    case DType::BF16: return std::make_unique<LoopPoolGradKernel<bf16_t>>(g);
    default: return nullptr;  // infer() allows float dtypes only
  }
}

KernelRegistrar reg_loop({OpCode::MaxPool2dGrad, OpCode::AvgPool2dGrad}, &make_loop_pool_grad, 0);

}  // namespace

}  // namespace hodu
