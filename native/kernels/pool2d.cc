// MaxPool2d / AvgPool2d: x [N, C, H, W] (any strides) -> contiguous [N, C, OH, OW]; attributes
// kernel, stride and symmetric padding (pool2d_attrs; padding is at most half the kernel, so every
// window overlaps the input). Max ignores padded cells. Avg divides by the full kernel size with
// padded cells counted as zeros (PyTorch's count_include_pad=True; oneDNN's
// pooling_avg_include_padding): with floor-mode output sizes no window reaches past the padding,
// so the divisor is always KH * KW.
//
// f32 runs oneDNN's pooling_forward (forward_inference). Pooling on plain nchw is 2-7x slower than
// on channel-blocked nChw16c, and for C >= 16 reorder + blocked pool + reorder back beats plain
// nchw even with the two reorders (N=32 28x28, one thread: C=16 max 2x2/2 63 vs 150 us, C=16 avg
// 3x3/1 210 vs 300 us, C=64 max 3x3/2 650 vs 910 us); for C=8 the block is half padding and nchw
// is as fast as any alternative. The src layout is:
//   nhwc        when the input already is a dense nhwc view (channels-last storage, no reorder);
//   nChw16c     when C >= 16;
//   dense nchw  otherwise (a strided input is first reordered into it).
// The dst layout follows the primitive's choice and is reordered into the nchw output when it
// differs. Temporaries live in the scratchpad: [ primitive scratchpads (shared) | src | dst ].
//
// f64, f16 and bf16 (and f32 if oneDNN declines) use a direct loop over output planes. The loop's
// max propagates NaN like PyTorch; oneDNN's f32 max follows the hardware max instruction and may
// drop a NaN in a window.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <unordered_map>

#include "../ops/infer.h"
#include "dnnl_reorder.h"
#include "dnnl_util.h"
#include "elem.h"
#include "elementwise.h"
#include "kernel.h"
#include "strided.h"

namespace hodu {

namespace {

using dnnl_steps::align_up;
using dnnl_steps::kAlign;
using dnnl_steps::padded_blocking;
using dnnl_steps::strides_of;


struct PoolGeom {
  bool is_max;
  int64_t N, C, H, W, OH, OW;
  Pool2dAttrs a;
  Shape xs;  // strides of x (elements)
};

PoolGeom make_geom(const KernelSpec& s) {
  PoolGeom g;
  const TensorDesc& x = s.inputs.at(0);
  g.is_max = s.op == OpCode::MaxPool2d;
  g.a = pool2d_attrs(s.op, s.attrs);
  g.N = x.shape[0], g.C = x.shape[1], g.H = x.shape[2], g.W = x.shape[3];
  g.OH = s.output.shape[2], g.OW = s.output.shape[3];
  g.xs = x.strides.size() == 4 ? x.strides : contiguous_strides(x.shape);
  return g;
}

// ---------------------------------------------------------------------------------------------
// Direct loop.

template <class T>
class LoopPoolKernel final : public Kernel {
  using C = compute_t<T>;

 public:
  explicit LoopPoolKernel(PoolGeom g) : g_(std::move(g)) {
    const double work = (double)g_.N * (double)g_.C * (double)g_.OH * (double)g_.OW * (double)g_.a.kernel_h *
                        (double)g_.a.kernel_w * (double)sizeof(T);
    threads_ = pick_threads(work);
  }

  void run(const void* const* in, void* out, const ExecContext&) override {
    const T* x = (const T*)in[0];
    T* y = (T*)out;
    const int64_t planes = g_.N * g_.C;
    if (threads_ > 1 && planes > 1) {
      ThreadScope ts(threads_);
#pragma omp parallel
      {
        const int nt = omp_get_num_threads(), t = omp_get_thread_num();
        const int64_t lo = planes * t / nt, hi = planes * (t + 1) / nt;
        for (int64_t p = lo; p < hi; p++) plane(p, x, y);
      }
    } else {
      for (int64_t p = 0; p < planes; p++) plane(p, x, y);
    }
  }

  std::string impl() const override { return g_.is_max ? "loop:max_pool2d" : "loop:avg_pool2d"; }

 private:
  void plane(int64_t p, const T* x, T* y) const {
    const PoolGeom& g = g_;
    const T* xp = x + (p / g.C) * g.xs[0] + (p % g.C) * g.xs[1];
    T* yp = y + p * g.OH * g.OW;
    // Average accumulates in double for f64 and float otherwise, dividing by the full window.
    using Acc = std::conditional_t<std::is_same_v<T, double>, double, float>;
    const Acc inv = Acc(1) / (Acc)(g.a.kernel_h * g.a.kernel_w);
    for (int64_t oh = 0; oh < g.OH; oh++) {
      const int64_t h0 = oh * g.a.stride_h - g.a.pad_h;
      const int64_t hs = std::max<int64_t>(h0, 0), he = std::min(h0 + g.a.kernel_h, g.H);
      for (int64_t ow = 0; ow < g.OW; ow++) {
        const int64_t w0 = ow * g.a.stride_w - g.a.pad_w;
        const int64_t ws = std::max<int64_t>(w0, 0), we = std::min(w0 + g.a.kernel_w, g.W);
        if (g.is_max) {
          // NaN propagates: once m is NaN no comparison replaces it.
          C m = -std::numeric_limits<C>::infinity();
          for (int64_t ih = hs; ih < he; ih++)
            for (int64_t iw = ws; iw < we; iw++) {
              const C v = load(xp[ih * g.xs[2] + iw * g.xs[3]]);
              if (v > m || std::isnan(v)) m = std::isnan(m) ? m : v;
            }
          yp[oh * g.OW + ow] = store<T>(m);
        } else {
          Acc s = 0;
          for (int64_t ih = hs; ih < he; ih++)
            for (int64_t iw = ws; iw < we; iw++) s += (Acc)load(xp[ih * g.xs[2] + iw * g.xs[3]]);
          yp[oh * g.OW + ow] = store<T>((C)(s * inv));
        }
      }
    }
  }

  PoolGeom g_;
  int threads_ = 1;
};

std::unique_ptr<Kernel> make_loop_pool(const KernelSpec& s) {
  PoolGeom g = make_geom(s);
  switch (s.output.dtype) {
    case DType::F32: return std::make_unique<LoopPoolKernel<float>>(g);
    case DType::F64: return std::make_unique<LoopPoolKernel<double>>(g);
    case DType::F16: return std::make_unique<LoopPoolKernel<f16_t>>(g);
    case DType::BF16: return std::make_unique<LoopPoolKernel<bf16_t>>(g);
    default: return nullptr;  // infer() allows float dtypes only
  }
}

// ---------------------------------------------------------------------------------------------
// oneDNN.

using dims = dnnl::memory::dims;
using md = dnnl::memory::desc;
using tag = dnnl::memory::format_tag;
using dnnl_steps::dense_view_md;
using dnnl_steps::ReorderStep;

class DnnlPoolKernel final : public Kernel {
 public:
  struct Plan {
    dnnl::pooling_forward pool;
    md src_md, dst_md, pool_scratch;
    ReorderStep src_re, dst_re;
    int threads = 1;
    std::string pool_impl;
  };

  explicit DnnlPoolKernel(Plan p) : p_(std::move(p)) {
    const int64_t shared =
        (int64_t)std::max({p_.pool_scratch.get_size(), p_.src_re.scratch_bytes(), p_.dst_re.scratch_bytes()});
    src_off_ = align_up(shared, kAlign);
    dst_off_ = src_off_ + (p_.src_re.active ? align_up((int64_t)p_.src_md.get_size(), kAlign) : 0);
    total_ = dst_off_ + (p_.dst_re.active ? align_up((int64_t)p_.dst_md.get_size(), kAlign) : 0);
    args_.add(DNNL_ARG_SRC, p_.src_md);
    args_.add(DNNL_ARG_DST, p_.dst_md);
    if (p_.pool_scratch.get_size() > 0) args_.add(DNNL_ARG_SCRATCHPAD, p_.pool_scratch);
  }

  void run(const void* const* in, void* out, const ExecContext& ctx) override {
    char* sp = (char*)ctx.scratchpad;
    ThreadScope ts(p_.threads);
    const void* x = in[0];
    if (p_.src_re.active) {
      p_.src_re.run(x, sp + src_off_, sp, "pool2d reorder");
      x = sp + src_off_;
    }
    void* y = p_.dst_re.active ? (void*)(sp + dst_off_) : out;
    auto held = args_.lock();
    args_.set(DNNL_ARG_SRC, x);
    args_.set(DNNL_ARG_DST, y);
    if (p_.pool_scratch.get_size() > 0) args_.set(DNNL_ARG_SCRATCHPAD, sp);
    args_.execute(p_.pool);
    if (p_.dst_re.active) p_.dst_re.run(y, out, sp, "pool2d reorder");
  }

  size_t scratchpad_bytes() const override { return (size_t)total_; }

  std::string impl() const override {
    std::string s = "onednn:" + p_.pool_impl;
    if (p_.src_re.active) s += " +src reorder " + p_.src_re.impl;
    if (p_.dst_re.active) s += " +dst reorder " + p_.dst_re.impl;
    return s;
  }

 private:
  Plan p_;
  DnnlArgs args_;
  int64_t src_off_ = 0, dst_off_ = 0, total_ = 0;
};

std::unique_ptr<Kernel> make_dnnl_pool(const KernelSpec& s) {
  if (s.output.dtype != DType::F32) return nullptr;
  const PoolGeom g = make_geom(s);
  if (s.inputs[0].numel() == 0) return nullptr;  // windows over nothing: the loop writes -inf / 0
  for (int d = 0; d < 4; d++)
    if (s.inputs[0].shape[d] > 1 && g.xs[d] == 0) return nullptr;  // broadcast views: see conv2d.cc

  const auto f32 = dnnl::memory::data_type::f32;
  const dims xd{g.N, g.C, g.H, g.W}, yd{g.N, g.C, g.OH, g.OW};
  const md x_user = dense_view_md(s.inputs[0].shape, g.xs);
  const md y_user = dense_view_md(s.output.shape, contiguous_strides(s.output.shape));
  md src;
  if (x_user == md(xd, f32, tag::nhwc)) src = x_user;
  else if (g.C >= 16) src = md(xd, f32, tag::nChw16c);
  else src = md(xd, f32, tag::nchw);

  DnnlPoolKernel::Plan p;
  const double bytes = 4.0 * ((double)s.inputs[0].numel() + (double)s.output.numel());
  p.threads = pick_threads(bytes * std::max<double>(1, (double)(g.a.kernel_h * g.a.kernel_w) / 4));
  try {
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    const auto alg = g.is_max ? dnnl::algorithm::pooling_max : dnnl::algorithm::pooling_avg_include_padding;
    const dims strides{g.a.stride_h, g.a.stride_w}, kernel{g.a.kernel_h, g.a.kernel_w}, dil{0, 0},
        pad{g.a.pad_h, g.a.pad_w};
    ThreadScope ts(p.threads);
    dnnl::pooling_forward::primitive_desc pd(cpu_engine(), dnnl::prop_kind::forward_inference, alg, src,
                                             md(yd, f32, tag::any), strides, kernel, dil, pad, pad, attr,
                                             /*allow_empty=*/true);
    if (!pd || is_ref_impl(pd.impl_info_str())) return nullptr;
    p.pool_impl = pd.impl_info_str();
    p.src_md = pd.src_desc();
    p.dst_md = pd.dst_desc();
    p.pool_scratch = pd.scratchpad_desc();
    if (!p.src_re.init(x_user, p.src_md, p.threads) || !p.dst_re.init(p.dst_md, y_user, p.threads)) return nullptr;
    p.pool = dnnl::pooling_forward(pd);
  } catch (const dnnl::error&) {
    return nullptr;
  }
  return std::make_unique<DnnlPoolKernel>(std::move(p));
}

// The NaN scan visits elements in any order: the input's dims sorted by falling stride, so that a
// dense input in another order (a channels-last intermediate) is one unit-stride run.
StridedLoop<1> memory_order(const TensorDesc& in) {
  const Shape st = strides_of(in);
  std::vector<size_t> idx(in.shape.size());
  for (size_t i = 0; i < idx.size(); i++) idx[i] = i;
  std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return st[a] > st[b]; });
  Shape shape, strides;
  for (size_t i : idx) {
    shape.push_back(in.shape[i]);
    strides.push_back(st[i]);
  }
  return StridedLoop<1>(shape, {strides}, {4});
}

// oneDNN's max pooling starts each window at the lowest finite float (an all -inf window gives
// -FLT_MAX) and drops NaN, where PyTorch, XLA and our loop give -inf and NaN. This kernel keeps the
// fast primitive for the common case and restores those semantics: it scans the input for NaN
// (a vectorised read, far cheaper than the loop) and runs the loop when one is present, and it
// turns -FLT_MAX results back into -inf.
class MaxPoolF32Kernel final : public Kernel {
 public:
  MaxPoolF32Kernel(std::unique_ptr<Kernel> fast, std::unique_ptr<Kernel> exact, const TensorDesc& in, int64_t out_n)
      : fast_(std::move(fast)), exact_(std::move(exact)), scan_(memory_order(in)), out_n_(out_n) {
    if (scan_.shape.size() == 1 && scan_.strides[0][0] == 1) dense_n_ = scan_.shape[0];
    // the scan and the fix-up each stream the memory once: split them over threads when large
    threads_ = pick_threads(4.0 * (double)(in.numel() + out_n));
  }

  void run(const void* const* in, void* out, const ExecContext& ctx) override {
    int nan = 0;
    if (dense_n_ > 0) {  // one unit-stride run (contiguous or channels-last input)
      const float* x = (const float*)in[0];
      const int64_t n = dense_n_;
      ThreadScope ts(threads_);
#pragma omp parallel for simd reduction(| : nan) schedule(static) if (threads_ > 1)
      for (int64_t i = 0; i < n; i++) nan |= (int)(x[i] != x[i]);
    } else {
      scan_.run({(char*)in[0]}, [&](int64_t n, std::array<char*, 1> p, std::array<int64_t, 1> st) {
        const float* x = (const float*)p[0];
        int any = 0;
        if (st[0] == 1) {
#pragma omp simd reduction(| : any)
          for (int64_t i = 0; i < n; i++) any |= (int)(x[i] != x[i]);
        } else {
          for (int64_t i = 0; i < n; i++) any |= (int)(x[i * st[0]] != x[i * st[0]]);
        }
        nan |= any;
      });
    }
    if (nan) {
      exact_->run(in, out, ctx);
      return;
    }
    fast_->run(in, out, ctx);
    float* y = (float*)out;
    const float lowest = -std::numeric_limits<float>::max(), ninf = -std::numeric_limits<float>::infinity();
    const int64_t m = out_n_;
    ThreadScope ts(threads_);
#pragma omp parallel for simd schedule(static) if (threads_ > 1)
    for (int64_t i = 0; i < m; i++) y[i] = y[i] == lowest ? ninf : y[i];
  }
  size_t scratchpad_bytes() const override { return std::max(fast_->scratchpad_bytes(), exact_->scratchpad_bytes()); }
  std::string impl() const override { return fast_->impl() + " +nan/-inf check"; }

 private:
  std::unique_ptr<Kernel> fast_, exact_;
  StridedLoop<1> scan_;
  int64_t out_n_;
  int64_t dense_n_ = 0;  // element count when the input is one unit-stride run, else 0
  int threads_ = 1;
};

std::unique_ptr<Kernel> make_max_pool_f32(const KernelSpec& s) {
  if (s.output.dtype != DType::F32) return nullptr;
  auto fast = make_dnnl_pool(s);
  if (!fast) return nullptr;
  auto exact = make_loop_pool(s);
  if (!exact) return nullptr;
  return std::make_unique<MaxPoolF32Kernel>(std::move(fast), std::move(exact), s.inputs[0], s.output.numel());
}

// ---------------------------------------------------------------------------------------------
// Max pooling of a channels-last f32 input (a conv result the planner kept in nhwc): per output
// pixel the window's rows of C contiguous channels are combined with a NaN-propagating max in one
// vectorised pass, so neither a NaN scan of the input nor oneDNN's -FLT_MAX fix-up is needed, and
// the result goes straight to the output's strides (no reorder back to nchw). Measured through the
// plan on N=32 64x24x24 2x2/2 (2 threads): about 80 us, where the scan + oneDNN pool + reorder +
// fix-up took about 230 us.

// One output row (n, oh) of the channels-last max pool; `ys` are the output strides.
struct NhwcPoolRow {
  const PoolGeom* g;
  const int64_t* ys;

  static constexpr int64_t kChunk = 64;  // channels per pass (one accumulator array on the stack)

  void operator()(int64_t n, int64_t oh, const float* x, float* y) const {
    const PoolGeom& G = *g;
    const int64_t h0 = oh * G.a.stride_h - G.a.pad_h;
    const int64_t hs = std::max<int64_t>(h0, 0), he = std::min(h0 + G.a.kernel_h, G.H);
    const float* xn = x + n * G.xs[0];
    for (int64_t ow = 0; ow < G.OW; ow++) {
      const int64_t w0 = ow * G.a.stride_w - G.a.pad_w;
      const int64_t ws = std::max<int64_t>(w0, 0), we = std::min(w0 + G.a.kernel_w, G.W);
      float* yp = y + n * ys[0] + oh * ys[2] + ow * ys[3];
      for (int64_t c0 = 0; c0 < G.C; c0 += kChunk) {
        const int64_t nc = std::min(kChunk, G.C - c0);
        float m[kChunk];
        for (int64_t c = 0; c < nc; c++) m[c] = -std::numeric_limits<float>::infinity();
        for (int64_t ih = hs; ih < he; ih++)
          for (int64_t iw = ws; iw < we; iw++) {
            const float* px = xn + ih * G.xs[2] + iw * G.xs[3] + c0;
            // NaN propagates: a NaN v replaces m, and once m is NaN no comparison replaces it
#pragma omp simd
            for (int64_t c = 0; c < nc; c++) {
              const float v = px[c], a = m[c];
              m[c] = ((v > a) | (v != v)) & (a == a) ? v : a;
            }
          }
        if (ys[1] == 1) {
          for (int64_t c = 0; c < nc; c++) yp[c0 + c] = m[c];
        } else {
          for (int64_t c = 0; c < nc; c++) yp[(c0 + c) * ys[1]] = m[c];
        }
      }
    }
  }
};

using ew::Isa;
using ew::host_isa;
using ew::isa_name;
using NhwcRowFn = void (*)(const NhwcPoolRow&, int64_t, int64_t, const float*, float*);
HODU_EW_FLATTEN void nhwc_row_base(const NhwcPoolRow& r, int64_t n, int64_t oh, const float* x, float* y) { r(n, oh, x, y); }
#if HODU_EW_MULTIVERSION
HODU_EW_TARGET_AVX512 void nhwc_row_avx512(const NhwcPoolRow& r, int64_t n, int64_t oh, const float* x, float* y) {
  r(n, oh, x, y);
}
HODU_EW_TARGET_AVX2 void nhwc_row_avx2(const NhwcPoolRow& r, int64_t n, int64_t oh, const float* x, float* y) { r(n, oh, x, y); }
#endif

class NhwcMaxPoolKernel final : public Kernel {
 public:
  NhwcMaxPoolKernel(PoolGeom g, Shape ys) : g_(std::move(g)), ys_(std::move(ys)) {
    threads_ = pick_threads(4.0 * (double)(g_.N * g_.C * (g_.H * g_.W + g_.OH * g_.OW)));
    isa_ = host_isa();
#if HODU_EW_MULTIVERSION
    fn_ = isa_ == Isa::Avx512 ? &nhwc_row_avx512 : isa_ == Isa::Avx2 ? &nhwc_row_avx2 : &nhwc_row_base;
#else
    fn_ = &nhwc_row_base;
#endif
  }

  void run(const void* const* in, void* out, const ExecContext&) override {
    const float* x = (const float*)in[0];
    float* y = (float*)out;
    const int64_t rows = g_.N * g_.OH;
    const NhwcPoolRow row{&g_, ys_.data()};
    const NhwcRowFn fn = fn_;
    ThreadScope ts(threads_);
#pragma omp parallel for schedule(static) if (threads_ > 1 && rows > 1)
    for (int64_t r = 0; r < rows; r++) fn(row, r / g_.OH, r % g_.OH, x, y);
  }

  std::string impl() const override { return std::string("loop:max_pool2d_nhwc/") + isa_name(isa_); }
  bool writes_strided_output() const override { return true; }

 private:
  PoolGeom g_;
  Shape ys_;  // output strides
  int threads_ = 1;
  Isa isa_ = Isa::Base;
  NhwcRowFn fn_ = nullptr;
};

std::unique_ptr<Kernel> make_nhwc_max_pool(const KernelSpec& s) {
  if (s.output.dtype != DType::F32 || s.inputs[0].numel() == 0) return nullptr;
  const PoolGeom g = make_geom(s);
  // a dense channels-last view: strides [H*W*C, 1, W*C, C] (size-1 dims aside)
  const Shape want{g.H * g.W * g.C, 1, g.W * g.C, g.C};
  for (int d = 0; d < 4; d++)
    if (s.inputs[0].shape[d] > 1 && g.xs[d] != want[d]) return nullptr;
  if (g.C < 8) return nullptr;  // too few channels for the vector loop: oneDNN or the plane loop
  return std::make_unique<NhwcMaxPoolKernel>(g, strides_of(s.output));
}

KernelRegistrar reg_nhwc_max({OpCode::MaxPool2d}, &make_nhwc_max_pool, 20);
KernelRegistrar reg_dnnl({OpCode::AvgPool2d}, &make_dnnl_pool, 10);
KernelRegistrar reg_max({OpCode::MaxPool2d}, &make_max_pool_f32, 10);
KernelRegistrar reg_loop({OpCode::MaxPool2d, OpCode::AvgPool2d}, &make_loop_pool, 0);

}  // namespace

}  // namespace hodu
