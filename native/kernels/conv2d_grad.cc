// Gradients of conv2d (y = conv2d(x, w), NCHW / OIHW, PyTorch semantics, no bias):
//   Conv2dGradInput(dy [N, O, OH, OW], w [O, C/g, KH, KW])  -> dx [N, C, in_h, in_w]
//   Conv2dGradWeight(x [N, C, H, W], dy [N, O, OH, OW])     -> dw [O, C/g, kernel_h, kernel_w]
// Attributes: stride_h, stride_w, pad_h, pad_w, dil_h, dil_w, groups, then the spatial size of the
// result (in_h, in_w or kernel_h, kernel_w). infer() has already rebuilt the forward convolution and
// checked that dy has its output shape. Input rows/columns that no window reaches (when
// H + 2 * pad - effective kernel is not a multiple of the stride) get a zero gradient.
//
// f32 runs oneDNN's convolution_backward_data / convolution_backward_weights (algorithm direct),
// built from a forward_training primitive descriptor as the hint. As in conv2d.cc every layout is
// left to the primitive (format_tag::any) and the kernel runs up to four steps, each a primitive:
//   1, 2. reorders of the two inputs from the user's (possibly strided) views into the chosen layouts;
//   3.    the backward convolution;
//   4.    a reorder of the result into the contiguous NCHW / OIHW output.
// A step whose layouts already agree is skipped. Every temporary lives in the scratchpad:
//   [ primitive scratchpad (shared: the steps run in sequence) | input 0 | input 1 | result ].
//
// f64, f16 and bf16 (and f32 when oneDNN declines, e.g. for broadcast views) use direct loops that
// read every operand through its strides:
//   grad input:  per (image, input channel) plane, scatter w * dy into a plane accumulator (float,
//                double for f64) over the group's output channels and the kernel taps;
//   grad weight: per (output channel, input channel) pair, accumulate dy * x over images and output
//                pixels for every tap (each output row in float / double, the running total per
//                tap in double).
// Both loops compute, per tap, the range of output columns whose input column lies inside the
// image, so the innermost loops have no bounds checks.
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <unordered_map>

#include "../ops/infer.h"
#include "dnnl_reorder.h"
#include "dnnl_util.h"
#include "elem.h"
#include "kernel.h"

namespace hodu {

namespace {

using dnnl_steps::align_up;
using dnnl_steps::kAlign;
using dnnl_steps::padded_blocking;
using dnnl_steps::strides_of;


// The forward convolution both gradients belong to, plus the strides of the two inputs.
struct GradGeom {
  bool grad_input;  // Conv2dGradInput (else Conv2dGradWeight)
  int64_t N, C, H, W, O, KH, KW, OH, OW, G, Cg, Og;
  Conv2dAttrs a;
  Shape s0, s1;  // strides (elements) of input 0 and input 1

  double flops() const { return 2.0 * (double)N * (double)O * (double)OH * (double)OW * (double)Cg * (double)KH * (double)KW; }

  // Output columns [lo, hi) whose input column ow * stride_w + off lies in [0, W), where off is
  // the column offset of tap kw (kw * dil_w - pad_w). Likewise for rows with the _h values.
  static void valid_range(int64_t off, int64_t stride, int64_t in, int64_t out, int64_t* lo, int64_t* hi) {
    *lo = off >= 0 ? 0 : (-off + stride - 1) / stride;
    *hi = in - 1 - off < 0 ? 0 : std::min(out, (in - 1 - off) / stride + 1);
  }
};

GradGeom make_geom(const KernelSpec& s) {
  GradGeom g;
  g.grad_input = s.op == OpCode::Conv2dGradInput;
  g.a = conv2d_attrs(Attrs(s.attrs.begin(), s.attrs.begin() + 7));
  const TensorDesc &in0 = s.inputs.at(0), &in1 = s.inputs.at(1);
  const TensorDesc& dy = g.grad_input ? in0 : in1;
  g.N = dy.shape[0], g.O = dy.shape[1], g.OH = dy.shape[2], g.OW = dy.shape[3];
  if (g.grad_input) {  // in1 = w [O, C/g, KH, KW]; output = dx [N, C, H, W]
    g.C = s.output.shape[1], g.H = s.output.shape[2], g.W = s.output.shape[3];
    g.KH = in1.shape[2], g.KW = in1.shape[3];
  } else {  // in0 = x [N, C, H, W]; output = dw [O, C/g, KH, KW]
    g.C = in0.shape[1], g.H = in0.shape[2], g.W = in0.shape[3];
    g.KH = s.output.shape[2], g.KW = s.output.shape[3];
  }
  g.G = g.a.groups, g.Cg = g.C / g.G, g.Og = g.O / g.G;
  g.s0 = strides_of(in0);
  g.s1 = strides_of(in1);
  return g;
}

// Accumulator type of the loops: double for f64, float for f32, f16 and bf16.
template <class T>
using acc_t = std::conditional_t<std::is_same_v<T, double>, double, float>;

// ---------------------------------------------------------------------------------------------
// Direct loop: gradient of the input.

template <class T>
class LoopGradInputKernel final : public Kernel {
  using Acc = acc_t<T>;

 public:
  explicit LoopGradInputKernel(GradGeom g) : g_(std::move(g)) {
    threads_ = pick_threads(g_.flops() / 4);
    const int64_t planes = g_.N * g_.C;
    if (planes < threads_) threads_ = (int)std::max<int64_t>(1, planes);
    plane_bytes_ = align_up(g_.H * g_.W * (int64_t)sizeof(Acc), kAlign);
  }

  void run(const void* const* in, void* out, const ExecContext& ctx) override {
    const T* dy = (const T*)in[0];
    const T* w = (const T*)in[1];
    T* dx = (T*)out;
    char* sp = (char*)ctx.scratchpad;
    const int64_t planes = g_.N * g_.C;
    if (threads_ > 1) {
      ThreadScope ts(threads_);
#pragma omp parallel
      {
        const int nt = omp_get_num_threads(), t = omp_get_thread_num();
        const int64_t lo = planes * t / nt, hi = planes * (t + 1) / nt;
        for (int64_t p = lo; p < hi; p++) plane(p, dy, w, dx, (Acc*)(sp + t * plane_bytes_));
      }
    } else {
      for (int64_t p = 0; p < planes; p++) plane(p, dy, w, dx, (Acc*)sp);
    }
  }

  size_t scratchpad_bytes() const override { return (size_t)(plane_bytes_ * threads_); }
  std::string impl() const override { return "loop:conv2d_grad_input"; }

 private:
  // Input plane p = (n, c): dx[ih, iw] = sum over the group's output channels o and taps (kh, kw)
  // with ih = oh * sh - ph + kh * dh, iw = ow * sw - pw + kw * dw of w[o, c % Cg, kh, kw] * dy[n, o, oh, ow].
  void plane(int64_t p, const T* dy, const T* w, T* dx, Acc* acc) const {
    const GradGeom& g = g_;
    const Shape &ys = g.s0, &ws = g.s1;
    const int64_t n = p / g.C, c = p % g.C, grp = c / g.Cg, ci = c % g.Cg;
    const int64_t npix = g.H * g.W;
    std::fill(acc, acc + npix, Acc(0));
    for (int64_t ol = 0; ol < g.Og; ol++) {
      const int64_t o = grp * g.Og + ol;
      const T* dyp = dy + n * ys[0] + o * ys[1];
      const T* wp = w + o * ws[0] + ci * ws[1];
      for (int64_t kh = 0; kh < g.KH; kh++) {
        const int64_t offh = kh * g.a.dil_h - g.a.pad_h;
        int64_t oh_lo, oh_hi;
        GradGeom::valid_range(offh, g.a.stride_h, g.H, g.OH, &oh_lo, &oh_hi);
        for (int64_t kw = 0; kw < g.KW; kw++) {
          const int64_t offw = kw * g.a.dil_w - g.a.pad_w;
          int64_t ow_lo, ow_hi;
          GradGeom::valid_range(offw, g.a.stride_w, g.W, g.OW, &ow_lo, &ow_hi);
          if (ow_lo >= ow_hi) continue;
          const Acc wv = (Acc)load(wp[kh * ws[2] + kw * ws[3]]);
          for (int64_t oh = oh_lo; oh < oh_hi; oh++) {
            const int64_t ih = oh * g.a.stride_h + offh;
            const T* dyrow = dyp + oh * ys[2];
            // acc index of output column ow: ih * W + ow * sw + offw (always inside the row)
            Acc* arow = acc + ih * g.W + ow_lo * g.a.stride_w + offw;
            const int64_t n_ow = ow_hi - ow_lo, sw = g.a.stride_w, sy = ys[3];
            const T* py = dyrow + ow_lo * sy;
            if (sw == 1 && sy == 1) {
              for (int64_t j = 0; j < n_ow; j++) arow[j] += wv * (Acc)load(py[j]);
            } else {
              for (int64_t j = 0; j < n_ow; j++) arow[j * sw] += wv * (Acc)load(py[j * sy]);
            }
          }
        }
      }
    }
    T* o = dx + p * npix;
    for (int64_t i = 0; i < npix; i++) o[i] = store<T>((compute_t<T>)acc[i]);
  }

  GradGeom g_;
  int threads_ = 1;
  int64_t plane_bytes_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Direct loop: gradient of the weights.

template <class T>
class LoopGradWeightKernel final : public Kernel {
  using Acc = acc_t<T>;

 public:
  explicit LoopGradWeightKernel(GradGeom g) : g_(std::move(g)) {
    threads_ = pick_threads(g_.flops() / 4);
    const int64_t pairs = g_.O * g_.Cg;
    if (pairs < threads_) threads_ = (int)std::max<int64_t>(1, pairs);
    taps_bytes_ = align_up(g_.KH * g_.KW * (int64_t)sizeof(double), kAlign);
  }

  void run(const void* const* in, void* out, const ExecContext& ctx) override {
    const T* x = (const T*)in[0];
    const T* dy = (const T*)in[1];
    T* dw = (T*)out;
    char* sp = (char*)ctx.scratchpad;
    const int64_t pairs = g_.O * g_.Cg;
    if (threads_ > 1) {
      ThreadScope ts(threads_);
#pragma omp parallel
      {
        const int nt = omp_get_num_threads(), t = omp_get_thread_num();
        const int64_t lo = pairs * t / nt, hi = pairs * (t + 1) / nt;
        for (int64_t p = lo; p < hi; p++) pair(p, x, dy, dw, (double*)(sp + t * taps_bytes_));
      }
    } else {
      for (int64_t p = 0; p < pairs; p++) pair(p, x, dy, dw, (double*)sp);
    }
  }

  size_t scratchpad_bytes() const override { return (size_t)(taps_bytes_ * threads_); }
  std::string impl() const override { return "loop:conv2d_grad_weight"; }

 private:
  // Pair p = (o, ci): dw[o, ci, kh, kw] = sum over n, oh, ow of dy[n, o, oh, ow] * x[n, c, ih, iw]
  // with c = (o / Og) * Cg + ci and ih, iw as in the forward. Images are the outer loop so that one
  // image's x and dy planes stay in cache across all taps.
  void pair(int64_t p, const T* x, const T* dy, T* dw, double* taps) const {
    const GradGeom& g = g_;
    const Shape &xs = g.s0, &ys = g.s1;
    const int64_t o = p / g.Cg, ci = p % g.Cg, c = (o / g.Og) * g.Cg + ci;
    const int64_t ntaps = g.KH * g.KW;
    std::fill(taps, taps + ntaps, 0.0);
    for (int64_t n = 0; n < g.N; n++) {
      const T* xp = x + n * xs[0] + c * xs[1];
      const T* dyp = dy + n * ys[0] + o * ys[1];
      for (int64_t kh = 0; kh < g.KH; kh++) {
        const int64_t offh = kh * g.a.dil_h - g.a.pad_h;
        int64_t oh_lo, oh_hi;
        GradGeom::valid_range(offh, g.a.stride_h, g.H, g.OH, &oh_lo, &oh_hi);
        for (int64_t kw = 0; kw < g.KW; kw++) {
          const int64_t offw = kw * g.a.dil_w - g.a.pad_w;
          int64_t ow_lo, ow_hi;
          GradGeom::valid_range(offw, g.a.stride_w, g.W, g.OW, &ow_lo, &ow_hi);
          if (ow_lo >= ow_hi) continue;
          const int64_t n_ow = ow_hi - ow_lo, sx = g.a.stride_w * xs[3], sy = ys[3];
          double total = 0;
          for (int64_t oh = oh_lo; oh < oh_hi; oh++) {
            const int64_t ih = oh * g.a.stride_h + offh;
            const T* px = xp + ih * xs[2] + (ow_lo * g.a.stride_w + offw) * xs[3];
            const T* py = dyp + oh * ys[2] + ow_lo * sy;
            Acc row = 0;
            if (sx == 1 && sy == 1) {
              for (int64_t j = 0; j < n_ow; j++) row += (Acc)load(py[j]) * (Acc)load(px[j]);
            } else {
              for (int64_t j = 0; j < n_ow; j++) row += (Acc)load(py[j * sy]) * (Acc)load(px[j * sx]);
            }
            total += (double)row;
          }
          taps[kh * g.KW + kw] += total;
        }
      }
    }
    T* out = dw + p * ntaps;  // contiguous [O, C/g, KH, KW]: pair p owns ntaps consecutive values
    for (int64_t i = 0; i < ntaps; i++) out[i] = store<T>((compute_t<T>)taps[i]);
  }

  GradGeom g_;
  int threads_ = 1;
  int64_t taps_bytes_ = 0;
};

template <template <class> class K>
std::unique_ptr<Kernel> make_loop_for(DType t, const GradGeom& g) {
  switch (t) {
    case DType::F32: return std::make_unique<K<float>>(g);
    case DType::F64: return std::make_unique<K<double>>(g);
    case DType::F16: return std::make_unique<K<f16_t>>(g);
    case DType::BF16: return std::make_unique<K<bf16_t>>(g);
    default: return nullptr;  // infer() allows float dtypes only
  }
}

std::unique_ptr<Kernel> make_loop_grad(const KernelSpec& s) {
  GradGeom g = make_geom(s);
  return g.grad_input ? make_loop_for<LoopGradInputKernel>(s.output.dtype, g)
                      : make_loop_for<LoopGradWeightKernel>(s.output.dtype, g);
}

// ---------------------------------------------------------------------------------------------
// oneDNN.

using dims = dnnl::memory::dims;
using md = dnnl::memory::desc;
using tag = dnnl::memory::format_tag;
using dnnl_steps::dense_view_md;
using dnnl_steps::ReorderStep;

// One backward convolution primitive with its two inputs and one result, each behind an optional
// reorder. The argument ids say what the inputs and the result are to the primitive.
class DnnlConvGradKernel final : public Kernel {
 public:
  struct Plan {
    const char* name = "";  // op name for error messages
    dnnl::primitive prim;
    int in_arg[2] = {0, 0}, out_arg = 0;
    md in_md[2], out_md, prim_scratch;  // layouts the primitive reads / writes
    ReorderStep in_re[2], out_re;
    int threads = 1;
    std::string prim_impl;
  };

  explicit DnnlConvGradKernel(Plan p) : p_(std::move(p)) {
    const int64_t shared = (int64_t)std::max({p_.prim_scratch.get_size(), p_.in_re[0].scratch_bytes(),
                                              p_.in_re[1].scratch_bytes(), p_.out_re.scratch_bytes()});
    int64_t off = align_up(shared, kAlign);
    for (int i = 0; i < 2; i++) {
      in_off_[i] = off;
      if (p_.in_re[i].active) off += align_up((int64_t)p_.in_md[i].get_size(), kAlign);
    }
    out_off_ = off;
    if (p_.out_re.active) off += align_up((int64_t)p_.out_md.get_size(), kAlign);
    total_ = off;
  }

  void run(const void* const* in, void* out, const ExecContext& ctx) override {
    char* sp = (char*)ctx.scratchpad;
    ThreadScope ts(p_.threads);
    const void* src[2] = {in[0], in[1]};
    for (int i = 0; i < 2; i++) {
      if (!p_.in_re[i].active) continue;
      p_.in_re[i].run(src[i], sp + in_off_[i], sp, p_.name);
      src[i] = sp + in_off_[i];
    }
    void* res = p_.out_re.active ? (void*)(sp + out_off_) : out;
    std::unordered_map<int, dnnl::memory> args;
    try {
      auto& eng = cpu_engine();
      for (int i = 0; i < 2; i++) args.emplace(p_.in_arg[i], dnnl::memory(p_.in_md[i], eng, const_cast<void*>(src[i])));
      args.emplace(p_.out_arg, dnnl::memory(p_.out_md, eng, res));
      if (p_.prim_scratch.get_size() > 0) args.emplace(DNNL_ARG_SCRATCHPAD, dnnl::memory(p_.prim_scratch, eng, sp));
    } catch (...) {
      rethrow_dnnl(p_.name);
    }
    dnnl_execute(p_.prim, args);
    if (p_.out_re.active) p_.out_re.run(res, out, sp, p_.name);
  }

  size_t scratchpad_bytes() const override { return (size_t)total_; }

  std::string impl() const override {
    std::string s = "onednn:" + p_.prim_impl;
    const ReorderStep* steps[] = {&p_.in_re[0], &p_.in_re[1], &p_.out_re};
    for (int i = 0; i < 3; i++) {
      if (!steps[i]->active) continue;
      s += i < 2 ? " +input" + std::to_string(i) + " reorder " : " +output reorder ";
      s += steps[i]->impl;
    }
    return s;
  }

 private:
  Plan p_;
  int64_t in_off_[2] = {0, 0}, out_off_ = 0, total_ = 0;
};


// oneDNN's conv descriptors for a geometry: shapes, the (grouped) weights shape, and the
// stride / dilation (0 = dense) / symmetric padding vectors.
struct ConvDescs {
  dims xd, wd, yd, strides, dil, pad;
  explicit ConvDescs(const GradGeom& g)
      : xd{g.N, g.C, g.H, g.W},
        wd(g.G > 1 ? dims{g.G, g.Og, g.Cg, g.KH, g.KW} : dims{g.O, g.Cg, g.KH, g.KW}),
        yd{g.N, g.O, g.OH, g.OW},
        strides{g.a.stride_h, g.a.stride_w},
        dil{g.a.dil_h - 1, g.a.dil_w - 1},
        pad{g.a.pad_h, g.a.pad_w} {}
};

// The forward primitive descriptor the backward ones need as a hint (never instantiated).
dnnl::convolution_forward::primitive_desc fwd_hint(const ConvDescs& d, const md& x, const md& w, const md& y) {
  return {cpu_engine(), dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct, x, w, y,
          d.strides, d.dil, d.pad, d.pad, dnnl::primitive_attr(), /*allow_empty=*/true};
}

dnnl::primitive_attr user_scratchpad() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

// Backward-data pd for the given diff_src / diff_dst layouts (weights `any`), or an empty one.
dnnl::convolution_backward_data::primitive_desc bwd_data_pd(const ConvDescs& d, tag dx_tag, tag dy_tag) {
  const auto f32 = dnnl::memory::data_type::f32;
  const md dx(d.xd, f32, dx_tag), w(d.wd, f32, tag::any), dy(d.yd, f32, dy_tag);
  auto hint = fwd_hint(d, dx, w, dy);
  if (!hint) return {};
  return {cpu_engine(), dnnl::algorithm::convolution_direct, dx, w, dy, d.strides, d.dil, d.pad, d.pad, hint,
          user_scratchpad(), /*allow_empty=*/true};
}

// Backward-weights pd (every layout `any`), or an empty one.
dnnl::convolution_backward_weights::primitive_desc bwd_weights_pd(const ConvDescs& d) {
  const auto f32 = dnnl::memory::data_type::f32;
  const md x(d.xd, f32, tag::any), w(d.wd, f32, tag::any), dy(d.yd, f32, tag::any);
  auto hint = fwd_hint(d, x, w, dy);
  if (!hint) return {};
  return {cpu_engine(), dnnl::algorithm::convolution_direct, x, w, dy, d.strides, d.dil, d.pad, d.pad, hint,
          user_scratchpad(), /*allow_empty=*/true};
}

// The user's [O, C/g, KH, KW] weights (strides `ws`) as oneDNN sees them: [G, O/G, C/G, KH, KW]
// when grouped.
md user_weights_md(const GradGeom& g, const Shape& ws) {
  if (g.G == 1) return dense_view_md({g.O, g.Cg, g.KH, g.KW}, ws);
  return dense_view_md({g.G, g.Og, g.Cg, g.KH, g.KW}, {ws[0] * g.Og, ws[0], ws[1], ws[2], ws[3]});
}

std::unique_ptr<Kernel> make_dnnl_grad(const KernelSpec& s) {
  if (s.output.dtype != DType::F32) return nullptr;
  const GradGeom g = make_geom(s);
  // Empty reductions (no images, no output channels, no input channels) are left to the loop,
  // which writes zeros.
  if (g.N == 0 || g.O == 0 || g.Cg == 0) return nullptr;
  // Zero strides (broadcast views): oneDNN's reorders do not promise to handle them.
  for (int i = 0; i < 2; i++)
    for (int d = 0; d < 4; d++)
      if (s.inputs[i].shape[d] > 1 && (i == 0 ? g.s0 : g.s1)[d] == 0) return nullptr;

  const double bytes = 4.0 * ((double)s.inputs[0].numel() + (double)s.inputs[1].numel() + (double)s.output.numel());
  const ConvDescs d(g);
  DnnlConvGradKernel::Plan p;
  p.name = op_info(s.op).name;
  p.threads = pick_threads(std::max(g.flops() / 8, bytes));
  try {
    ThreadScope ts(p.threads);
    md in_user[2], out_user;
    if (g.grad_input) {
      dnnl::convolution_backward_data::primitive_desc pd;
      // With very few input channels the blocked kernels spend most of each channel block on
      // padding; the im2col gemm on plain NCHW is faster (1 thread, N=32, 28x28, 3x3: 1->32
      // 0.17 vs 0.80 ms, 3->32 1.06 vs 1.86 ms, 4->64 1.65 vs 3.07 ms; 8->32 2.30 vs 1.47 ms) and
      // reads a contiguous dy in place. Not for grouped convs (depthwise has its own kernels).
      if (g.G == 1 && g.C <= 4) {
        pd = bwd_data_pd(d, tag::any, tag::nchw);
        if (pd && is_ref_impl(pd.impl_info_str())) pd = {};
      }
      if (!pd) {
        pd = bwd_data_pd(d, tag::any, tag::any);
        if (!pd || is_ref_impl(pd.impl_info_str())) return nullptr;
        // A channel-blocked dx with C not a multiple of the block: plain channels-last is faster.
        if (padded_blocking(pd.diff_src_desc(), g.C)) {
          auto alt = bwd_data_pd(d, tag::nhwc, tag::any);
          if (alt && !is_ref_impl(alt.impl_info_str())) pd = alt;
        }
      }
      p.prim_impl = pd.impl_info_str();
      p.in_arg[0] = DNNL_ARG_DIFF_DST, p.in_md[0] = pd.diff_dst_desc();
      p.in_arg[1] = DNNL_ARG_WEIGHTS, p.in_md[1] = pd.weights_desc();
      p.out_arg = DNNL_ARG_DIFF_SRC, p.out_md = pd.diff_src_desc();
      p.prim_scratch = pd.scratchpad_desc();
      in_user[0] = dense_view_md(s.inputs[0].shape, g.s0);
      in_user[1] = user_weights_md(g, g.s1);
      out_user = dense_view_md(s.output.shape, contiguous_strides(s.output.shape));
      p.prim = dnnl::convolution_backward_data(pd);
    } else {
      auto pd = bwd_weights_pd(d);
      if (!pd || is_ref_impl(pd.impl_info_str())) return nullptr;
      p.prim_impl = pd.impl_info_str();
      p.in_arg[0] = DNNL_ARG_SRC, p.in_md[0] = pd.src_desc();
      p.in_arg[1] = DNNL_ARG_DIFF_DST, p.in_md[1] = pd.diff_dst_desc();
      p.out_arg = DNNL_ARG_DIFF_WEIGHTS, p.out_md = pd.diff_weights_desc();
      p.prim_scratch = pd.scratchpad_desc();
      in_user[0] = dense_view_md(s.inputs[0].shape, g.s0);
      in_user[1] = dense_view_md(s.inputs[1].shape, g.s1);
      out_user = user_weights_md(g, contiguous_strides(s.output.shape));
      p.prim = dnnl::convolution_backward_weights(pd);
    }
    if (!p.in_re[0].init(in_user[0], p.in_md[0], p.threads) || !p.in_re[1].init(in_user[1], p.in_md[1], p.threads) ||
        !p.out_re.init(p.out_md, out_user, p.threads))
      return nullptr;
  } catch (const dnnl::error&) {
    return nullptr;
  }
  return std::make_unique<DnnlConvGradKernel>(std::move(p));
}

KernelRegistrar reg_dnnl({OpCode::Conv2dGradInput, OpCode::Conv2dGradWeight}, &make_dnnl_grad, 10);
KernelRegistrar reg_loop({OpCode::Conv2dGradInput, OpCode::Conv2dGradWeight}, &make_loop_grad, 0);

}  // namespace

}  // namespace hodu
