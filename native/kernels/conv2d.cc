// Conv2d: x [N, C, H, W] (any strides), w [O, C/groups, KH, KW], optional bias [O] -> [N, O, OH, OW],
// contiguous or (oneDNN path) with the output strides the planner asked for (channels-last);
// attributes stride, padding (symmetric), dilation and groups (conv2d_attrs).
//
// f32 runs oneDNN's convolution_forward (forward_inference, direct). Every layout is left to the
// primitive (format_tag::any): on AVX-512 it picks nhwc or channel-blocked activations and blocked
// weights (brgconv / jit), about 2-3x faster than the im2col gemm it would use on plain nchw, even
// counting the reorders. The kernel then runs up to four steps, each a separate primitive:
//   1. src reorder:     the user's (possibly strided) NCHW view -> the chosen src layout;
//   2. weights reorder: OIHW -> the chosen blocked layout; for constant weights (a compiled
//                       plan's, KernelSpec::constant_data) done once at creation instead;
//   3. the convolution;
//   4. dst reorder:     the chosen dst layout -> the contiguous NCHW output.
// A step whose layouts already agree is skipped. Every temporary lives in the scratchpad:
//   [ primitive scratchpad (shared: the steps run in sequence) | src | weights | bias | dst |
//     post-op operands ].
// When the chosen dst layout is channel-blocked and O is not a multiple of the block (e.g. 1->8
// channels: half the block is padding), an nhwc dst is tried instead (65 vs 110 us for N=32 1->8
// 28x28 3x3 on one thread).
//
// Fused post-ops (KernelSpec::post_ops: the planner's bias add and activations after the conv)
// become oneDNN post-ops of the convolution: activations whose oneDNN algorithm has our semantics
// (relu, leaky_relu, tanh, sigmoid, gelu, silu, abs, square, sqrt, recip; not clamp, whose clip
// maps NaN to a bound) and adds of a scalar, per-channel ([O, 1, 1] / [1, O, 1, 1], unit stride)
// or full-shaped operand. A full-shaped operand is given to oneDNN in the dst layout the
// convolution chose, reordered there each run (so the layouts are chosen as for a plain conv).
// Anything else declines, and the planner runs those ops as kernels of their own. The direct loop
// takes no post-ops.
//
// Measured through this kernel (2 threads, quiet machine, N=32 28x28 3x3 pad 1 + bias, weights
// reordered every run): 1->8 39 us (jit:avx512_core, nhwc dst), 8->16 190 us (brgconv:avx512_core
// with nhwc src/dst). The plain-nchw primitive (x64:gemm:jit) took 67 and 513 us.
//
// f64, f16 and bf16 (and f32 if oneDNN declines) use a direct loop: per (image, output channel)
// plane, accumulate in float (double for f64) over input channels and kernel taps, with the valid
// output range of each tap computed up front so the inner loop has no bounds checks.
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


struct ConvGeom {
  int64_t N, C, H, W, O, KH, KW, OH, OW, G, Cg, Og;
  Conv2dAttrs a;
  bool has_bias;
  Shape xs, ws;   // strides of x and w (elements)
  int64_t bs = 1; // stride of the bias

  double flops() const { return 2.0 * (double)N * (double)O * (double)OH * (double)OW * (double)Cg * (double)KH * (double)KW; }
};

// The conv's own inputs (x, w, optional bias); binary post-op operands are appended after them.
size_t conv_inputs(const KernelSpec& s) {
  size_t n = s.inputs.size();
  for (const PostOp& p : s.post_ops)
    if (p.operand >= 0) n = std::min(n, (size_t)p.operand);
  return n;
}

ConvGeom make_geom(const KernelSpec& s) {
  ConvGeom g;
  const TensorDesc &x = s.inputs.at(0), &w = s.inputs.at(1);
  g.a = conv2d_attrs(s.attrs);
  g.N = x.shape[0], g.C = x.shape[1], g.H = x.shape[2], g.W = x.shape[3];
  g.O = w.shape[0], g.KH = w.shape[2], g.KW = w.shape[3];
  g.OH = s.output.shape[2], g.OW = s.output.shape[3];
  g.G = g.a.groups, g.Cg = g.C / g.G, g.Og = g.O / g.G;
  g.has_bias = conv_inputs(s) == 3;
  g.xs = strides_of(x);
  g.ws = strides_of(w);
  if (g.has_bias) g.bs = strides_of(s.inputs[2])[0];
  return g;
}

// ---------------------------------------------------------------------------------------------
// Direct loop.

template <class T>
class LoopConvKernel final : public Kernel {
  using Acc = std::conditional_t<std::is_same_v<T, double>, double, float>;

 public:
  explicit LoopConvKernel(ConvGeom g) : g_(std::move(g)) {
    threads_ = pick_threads(g_.flops() / 4);
    const int64_t planes = g_.N * g_.O;
    if (planes < threads_) threads_ = (int)std::max<int64_t>(1, planes);
    plane_bytes_ = align_up(g_.OH * g_.OW * (int64_t)sizeof(Acc), kAlign);
  }

  void run(const void* const* in, void* out, const ExecContext& ctx) override {
    const T* x = (const T*)in[0];
    const T* w = (const T*)in[1];
    const T* b = g_.has_bias ? (const T*)in[2] : nullptr;
    T* y = (T*)out;
    char* sp = (char*)ctx.scratchpad;
    const int64_t planes = g_.N * g_.O;
    if (threads_ > 1) {
      ThreadScope ts(threads_);
#pragma omp parallel
      {
        const int nt = omp_get_num_threads(), t = omp_get_thread_num();
        const int64_t lo = planes * t / nt, hi = planes * (t + 1) / nt;
        for (int64_t p = lo; p < hi; p++) plane(p, x, w, b, y, (Acc*)(sp + t * plane_bytes_));
      }
    } else {
      for (int64_t p = 0; p < planes; p++) plane(p, x, w, b, y, (Acc*)sp);
    }
  }

  size_t scratchpad_bytes() const override { return (size_t)(plane_bytes_ * threads_); }
  std::string impl() const override { return "loop:conv2d_direct"; }

 private:
  // Output plane p = (n, o): acc[oh, ow] = bias[o] + sum over c, kh, kw of w * x.
  void plane(int64_t p, const T* x, const T* w, const T* b, T* y, Acc* acc) const {
    const ConvGeom& g = g_;
    const int64_t n = p / g.O, o = p % g.O, grp = o / g.Og;
    const int64_t npix = g.OH * g.OW;
    const Acc init = b ? (Acc)load(b[o * g.bs]) : Acc(0);
    std::fill(acc, acc + npix, init);
    for (int64_t kw = 0; kw < g.KW; kw++) {
      // Output columns whose input column iw = ow*sw - pw + kw*dw lies in [0, W).
      const int64_t off = kw * g.a.dil_w - g.a.pad_w;
      int64_t ow_lo = off >= 0 ? 0 : (-off + g.a.stride_w - 1) / g.a.stride_w;
      int64_t ow_hi = g.W - 1 - off < 0 ? 0 : (g.W - 1 - off) / g.a.stride_w + 1;
      ow_hi = std::min(ow_hi, g.OW);
      if (ow_lo >= ow_hi) continue;
      for (int64_t c = 0; c < g.Cg; c++) {
        const T* xc = x + n * g.xs[0] + (grp * g.Cg + c) * g.xs[1];
        const T* wc = w + o * g.ws[0] + c * g.ws[1] + kw * g.ws[3];
        for (int64_t kh = 0; kh < g.KH; kh++) {
          const Acc wv = (Acc)load(wc[kh * g.ws[2]]);
          for (int64_t oh = 0; oh < g.OH; oh++) {
            const int64_t ih = oh * g.a.stride_h - g.a.pad_h + kh * g.a.dil_h;
            if (ih < 0 || ih >= g.H) continue;
            const T* row = xc + ih * g.xs[2];
            Acc* arow = acc + oh * g.OW;
            const int64_t step = g.a.stride_w * g.xs[3];
            const T* px = row + (ow_lo * g.a.stride_w + off) * g.xs[3];
            if (step == 1) {
              for (int64_t ow = ow_lo; ow < ow_hi; ow++) arow[ow] += wv * (Acc)load(px[ow - ow_lo]);
            } else {
              for (int64_t ow = ow_lo; ow < ow_hi; ow++) arow[ow] += wv * (Acc)load(px[(ow - ow_lo) * step]);
            }
          }
        }
      }
    }
    T* out = y + p * npix;
    for (int64_t i = 0; i < npix; i++) out[i] = store<T>((compute_t<T>)acc[i]);
  }

  ConvGeom g_;
  int threads_ = 1;
  int64_t plane_bytes_ = 0;
};

std::unique_ptr<Kernel> make_loop_conv(const KernelSpec& s) {
  if (!s.post_ops.empty()) return nullptr;  // no fused epilogue here: the planner runs the ops after
  ConvGeom g = make_geom(s);
  switch (s.output.dtype) {
    case DType::F32: return std::make_unique<LoopConvKernel<float>>(g);
    case DType::F64: return std::make_unique<LoopConvKernel<double>>(g);
    case DType::F16: return std::make_unique<LoopConvKernel<f16_t>>(g);
    case DType::BF16: return std::make_unique<LoopConvKernel<bf16_t>>(g);
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

class DnnlConvKernel final : public Kernel {
 public:
  // A binary post-op's operand (an add).
  struct Operand {
    int post_op;     // its index among the post-ops
    int input;       // index into the kernel's inputs
    md md_;          // as the convolution reads it
    ReorderStep re;  // a full-shaped operand: the user's layout -> the dst layout (inactive when equal)
  };

  struct Plan {
    ConvGeom g;
    dnnl::convolution_forward conv;
    md src_md, wei_md, bias_md, dst_md, conv_scratch;
    // The same convolution made for one thread (same layouts), run when the plan caps a run at one
    // thread (thread_policy.h): oneDNN's conv kernels fix their thread count at creation, so the
    // cap alone would not keep them off a CPU another process holds. Empty when threads == 1.
    dnnl::convolution_forward conv1;
    md conv1_scratch;
    ReorderStep src_re, wei_re, dst_re;
    std::shared_ptr<void> wei_packed;  // constant weights, reordered once at creation (wei_re then idle)
    bool pack_bias = false;  // a strided bias is gathered into the scratchpad
    int threads = 1;
    std::string conv_impl;
    std::vector<Operand> operands;
    std::string post_desc;  // " +relu +add" ...
    bool fused = false;     // the spec's post-ops are applied (as oneDNN post-ops)
  };

  explicit DnnlConvKernel(Plan p) : p_(std::move(p)) {
    size_t shared = std::max({p_.conv_scratch.get_size(), p_.conv1_scratch.get_size(), p_.src_re.scratch_bytes(),
                              p_.wei_re.scratch_bytes(), p_.dst_re.scratch_bytes()});
    for (const Operand& o : p_.operands) shared = std::max(shared, o.re.scratch_bytes());
    int64_t off = align_up((int64_t)shared, kAlign);
    auto carve = [&](int64_t bytes) {
      const int64_t at = off;
      off += align_up(bytes, kAlign);
      return at;
    };
    src_off_ = p_.src_re.active ? carve((int64_t)p_.src_md.get_size()) : 0;
    wei_off_ = p_.wei_re.active && !p_.wei_packed ? carve((int64_t)p_.wei_md.get_size()) : 0;
    bias_off_ = p_.pack_bias ? carve(p_.g.O * 4) : 0;
    dst_off_ = p_.dst_re.active ? carve((int64_t)p_.dst_md.get_size()) : 0;
    for (const Operand& o : p_.operands) operand_off_.push_back(o.re.active ? carve((int64_t)o.md_.get_size()) : 0);
    total_ = off;
    // the two convolutions (all threads, one thread) share every layout but the scratchpad's
    auto declare = [&](DnnlArgs& a, const md& scratch) {
      a.add(DNNL_ARG_SRC, p_.src_md);
      a.add(DNNL_ARG_WEIGHTS, p_.wei_md);
      if (p_.g.has_bias) a.add(DNNL_ARG_BIAS, p_.bias_md);
      a.add(DNNL_ARG_DST, p_.dst_md);
      if (scratch.get_size() > 0) a.add(DNNL_ARG_SCRATCHPAD, scratch);
      for (const Operand& o : p_.operands) a.add(DNNL_ARG_ATTR_MULTIPLE_POST_OP(o.post_op) | DNNL_ARG_SRC_1, o.md_);
    };
    declare(args_, p_.conv_scratch);
    if (p_.conv1) declare(args1_, p_.conv1_scratch);
  }

  // Step 2 on its own: w (OIHW, the user's strides) -> the primitive's weights layout at `dst`.
  // Returns the pointer the convolution reads (w itself when no reorder is needed).
  const void* reorder_weights(const void* w, void* dst, void* sp) const {
    if (!p_.wei_re.active) return w;
    p_.wei_re.run(w, dst, sp, "conv2d reorder");
    return dst;
  }

  void run(const void* const* in, void* out, const ExecContext& ctx) override {
    char* sp = (char*)ctx.scratchpad;
    ThreadScope ts(p_.threads);
    const void* x = in[0];
    if (p_.src_re.active) {
      p_.src_re.run(x, sp + src_off_, sp, "conv2d reorder");
      x = sp + src_off_;
    }
    const void* w = p_.wei_packed ? p_.wei_packed.get() : reorder_weights(in[1], sp + wei_off_, sp);
    const void* b = p_.g.has_bias ? in[2] : nullptr;
    if (p_.pack_bias) {
      float* pb = (float*)(sp + bias_off_);
      for (int64_t o = 0; o < p_.g.O; o++) pb[o] = ((const float*)b)[o * p_.g.bs];
      b = pb;
    }
    // Post-op operands; a full-shaped one is reordered into the dst layout first.
    const void* ops[kMaxOperands];
    for (size_t k = 0; k < p_.operands.size(); k++) {
      const Operand& o = p_.operands[k];
      ops[k] = in[o.input];
      if (o.re.active) {
        o.re.run(ops[k], sp + operand_off_[k], sp, "conv2d post-op reorder");
        ops[k] = sp + operand_off_[k];
      }
    }
    void* y = p_.dst_re.active ? (void*)(sp + dst_off_) : out;
    const bool one = p_.conv1 && thread_cap() == 1;
    const DnnlArgs& args = one ? args1_ : args_;
    auto held = args.lock();
    args.set(DNNL_ARG_SRC, x);
    args.set(DNNL_ARG_WEIGHTS, w);
    if (b) args.set(DNNL_ARG_BIAS, b);
    args.set(DNNL_ARG_DST, y);
    if ((one ? p_.conv1_scratch : p_.conv_scratch).get_size() > 0) args.set(DNNL_ARG_SCRATCHPAD, sp);
    for (size_t k = 0; k < p_.operands.size(); k++)
      args.set(DNNL_ARG_ATTR_MULTIPLE_POST_OP(p_.operands[k].post_op) | DNNL_ARG_SRC_1, ops[k]);
    args.execute(one ? p_.conv1 : p_.conv);
    if (p_.dst_re.active) p_.dst_re.run(y, out, sp, "conv2d reorder");
  }

  size_t scratchpad_bytes() const override { return (size_t)total_; }
  bool fused_post_ops() const override { return p_.fused; }
  bool writes_strided_output() const override { return true; }
  bool reads_input_at_run(size_t i) const override { return !(i == 1 && p_.wei_packed); }

  std::string impl() const override {
    std::string s = "onednn:" + p_.conv_impl + p_.post_desc;
    const ReorderStep* steps[] = {&p_.src_re, &p_.wei_re, &p_.dst_re};
    const char* names[] = {"src", "weights", "dst"};
    for (int i = 0; i < 3; i++) {
      if (!steps[i]->active) continue;
      if (i == 1 && p_.wei_packed) s += " (weights pre-packed)";
      else s += std::string(" +") + names[i] + " reorder " + steps[i]->impl;
    }
    for (const Operand& o : p_.operands)
      if (o.re.active) s += " +add operand reorder " + o.re.impl;
    return s;
  }

  static constexpr size_t kMaxOperands = 16;

 private:
  Plan p_;
  DnnlArgs args_, args1_;
  int64_t src_off_ = 0, wei_off_ = 0, bias_off_ = 0, dst_off_ = 0, total_ = 0;
  std::vector<int64_t> operand_off_;
};

// The spec's post-ops as oneDNN post-ops on the convolution's dst [N, O, OH, OW]: activations whose
// oneDNN form has our semantics (dnnl_eltwise_algorithm), and adds of an operand that is a scalar,
// per channel ([O, 1, 1], [1, O, 1, 1]) or full-shaped. A full-shaped operand is read in
// `full_layout`, the dst layout (the kernel reorders it there); with `full_layout` null such
// post-ops are left out (to choose the layouts first). False when a post-op cannot be expressed:
// the planner then runs the ops after the convolution as kernels of their own.
bool conv_post_ops(const KernelSpec& s, const ConvGeom& g, const md* full_layout, int threads, dnnl::post_ops* po,
                   std::vector<DnnlConvKernel::Operand>* ops, std::string* desc) {
  const dims yd{g.N, g.O, g.OH, g.OW};
  const auto f32 = dnnl::memory::data_type::f32;
  int index = 0;  // the post-op's index in `po`
  for (const PostOp& p : s.post_ops) {
    if (p.pattern != PostPattern::None) {  // a matched hard-swish (native/hodu/fuse_conv.cc)
      if (p.pattern != PostPattern::HardSwish || p.operand >= 0 || p.attrs.size() != 2) return false;
      po->append_eltwise(dnnl::algorithm::eltwise_hardswish, (float)p.attrs[0], (float)p.attrs[1]);
      *desc += " +hard_swish";
      index = po->len();
      continue;
    }
    if (p.operand < 0) {
      dnnl::algorithm alg;
      float alpha, beta;
      if (!dnnl_eltwise_algorithm(p.op, p.attrs, &alg, &alpha, &beta)) return false;
      append_eltwise_post_op(po, alg, alpha, beta);
      *desc += std::string(" +") + op_info(p.op).name;
      index = po->len();
      continue;
    }
    if (p.op != OpCode::Add || p.operand >= (int)s.inputs.size()) return false;
    const TensorDesc& o = s.inputs[p.operand];
    if (o.dtype != DType::F32 || o.ndim() > 4) return false;
    // the operand right-aligned to 4-D
    Shape od(4, 1), ost(4, 0);
    const Shape st = strides_of(o);
    for (int k = 0; k < o.ndim(); k++) {
      od[4 - o.ndim() + k] = o.shape[k];
      ost[4 - o.ndim() + k] = st[k];
    }
    bool full = true, ones = true;
    for (int d = 0; d < 4; d++) {
      if (od[d] != yd[d] && od[d] != 1) return false;
      full = full && od[d] == yd[d];
      ones = ones && od[d] == 1;
    }
    DnnlConvKernel::Operand op{index, p.operand, {}, {}};
    if (ones) {
      op.md_ = md({1, 1, 1, 1}, f32, dims{1, 1, 1, 1});
    } else if (od[0] == 1 && od[2] == 1 && od[3] == 1) {  // per channel
      if (ost[1] != 1) return false;  // a strided channel vector: not worth a gather here
      op.md_ = md({1, g.O, 1, 1}, f32, dims{g.O, 1, 1, 1});
    } else if (full) {
      for (int d = 0; d < 4; d++)
        if (ost[d] == 0 && od[d] > 1) return false;  // a broadcast view
      if (!full_layout) continue;  // left out while the layouts are chosen
      op.md_ = *full_layout;
      if (!op.re.init(dense_view_md(od, ost), *full_layout, threads)) return false;
    } else {
      return false;  // other broadcasts ([1, 1, OH, OW], ...): not fused
    }
    po->append_binary(dnnl::algorithm::binary_add, op.md_);
    ops->push_back(std::move(op));
    *desc += " +add";
    index = po->len();
  }
  return true;
}

// A convolution pd for the given src/dst layouts (weights `any` unless given), or an empty one.
dnnl::convolution_forward::primitive_desc conv_pd(const ConvGeom& g, const md& src, const md& dst, int threads,
                                                  const dnnl::post_ops* po, const md* weights = nullptr) {
  const auto f32 = dnnl::memory::data_type::f32;
  const dims wd = g.G > 1 ? dims{g.G, g.Og, g.Cg, g.KH, g.KW} : dims{g.O, g.Cg, g.KH, g.KW};
  const md wei = weights ? *weights : md(wd, f32, tag::any);
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  if (po) attr.set_post_ops(*po);
  // Symmetric padding reproduces infer()'s output size: OH = (H + 2p - eff_kh) / s + 1.
  const dims strides{g.a.stride_h, g.a.stride_w}, dil{g.a.dil_h - 1, g.a.dil_w - 1}, pad{g.a.pad_h, g.a.pad_w};
  const auto prop = dnnl::prop_kind::forward_inference;
  const auto alg = dnnl::algorithm::convolution_direct;
  ThreadScope ts(threads);
  if (g.has_bias)
    return {cpu_engine(), prop, alg, src, wei, md({g.O}, f32, tag::a), dst, strides, dil, pad, pad, attr, true};
  return {cpu_engine(), prop, alg, src, wei, dst, strides, dil, pad, pad, attr, /*allow_empty=*/true};
}

std::unique_ptr<Kernel> make_dnnl_conv(const KernelSpec& s) {
  if (s.output.dtype != DType::F32) return nullptr;
  if (conv_inputs(s) < 2 || conv_inputs(s) > 3) return nullptr;
  ConvGeom g = make_geom(s);
  if (g.Cg == 0 || g.H == 0 || g.W == 0) return nullptr;  // nothing to convolve: the loop writes the bias
  // Zero strides (broadcast views) in x or w: oneDNN's reorders do not promise to handle them.
  for (int d = 0; d < 4; d++)
    if ((s.inputs[0].shape[d] > 1 && g.xs[d] == 0) || (s.inputs[1].shape[d] > 1 && g.ws[d] == 0)) return nullptr;

  const auto f32 = dnnl::memory::data_type::f32;
  const double bytes = 4.0 * ((double)s.inputs[0].numel() + (double)s.inputs[1].numel() + (double)s.output.numel());
  DnnlConvKernel::Plan p;
  p.g = g;
  p.threads = pick_threads(std::max(g.flops() / 8, bytes));
  try {
    // Post-ops: first without full-shaped operands, to let oneDNN choose the layouts as for a
    // plain convolution; then, when there are any, again with them in the chosen dst layout.
    dnnl::post_ops po;
    std::vector<DnnlConvKernel::Operand> operands;
    std::string desc;
    const bool has_post = !s.post_ops.empty();
    if (has_post && !conv_post_ops(s, g, nullptr, p.threads, &po, &operands, &desc)) return nullptr;
    const dnnl::post_ops* pp = has_post ? &po : nullptr;
    const dims xd{g.N, g.C, g.H, g.W}, yd{g.N, g.O, g.OH, g.OW};
    const md x_user = dense_view_md(s.inputs[0].shape, g.xs);
    const md y_user = dense_view_md(s.output.shape, strides_of(s.output));
    // Channels-last memory on either side (a planner's nhwc intermediate) is read or written in
    // place when oneDNN has a fast kernel for it; else the layouts are oneDNN's choice.
    const md nhwc_x(xd, f32, tag::nhwc), nhwc_y(yd, f32, tag::nhwc);
    const bool x_nhwc = g.C > 1 && x_user == nhwc_x, y_nhwc = !s.output.is_contiguous() && y_user == nhwc_y;
    dnnl::convolution_forward::primitive_desc pd;
    if (x_nhwc || y_nhwc) {
      pd = conv_pd(g, x_nhwc ? x_user : md(xd, f32, tag::any), y_nhwc ? y_user : md(yd, f32, tag::any), p.threads, pp);
      if (pd && is_ref_impl(pd.impl_info_str())) pd = {};
    }
    const bool chosen = (bool)pd;
    if (!pd) pd = conv_pd(g, md(xd, f32, tag::any), md(yd, f32, tag::any), p.threads, pp);
    if (!pd || is_ref_impl(pd.impl_info_str())) return nullptr;
    if (!chosen && padded_blocking(pd.dst_desc(), g.O)) {
      auto alt = conv_pd(g, md(xd, f32, tag::any), md(yd, f32, tag::nhwc), p.threads, pp);
      if (alt && !is_ref_impl(alt.impl_info_str())) pd = alt;
    }
    size_t binary_ops = 0;
    for (const PostOp& q : s.post_ops) binary_ops += q.operand >= 0;
    if (operands.size() < binary_ops) {
      const md dst = pd.dst_desc();
      dnnl::post_ops po2;
      std::vector<DnnlConvKernel::Operand> operands2;
      std::string desc2;
      if (!conv_post_ops(s, g, &dst, p.threads, &po2, &operands2, &desc2)) return nullptr;
      pd = conv_pd(g, pd.src_desc(), dst, p.threads, &po2);
      if (!pd || is_ref_impl(pd.impl_info_str()) || pd.dst_desc() != dst) return nullptr;
      operands = std::move(operands2);
      desc = desc2;
      po = po2;
    }
    if (operands.size() > DnnlConvKernel::kMaxOperands) return nullptr;
    p.operands = std::move(operands);
    p.post_desc = desc;
    p.fused = has_post;
    p.conv_impl = pd.impl_info_str();
    p.src_md = pd.src_desc();
    p.wei_md = pd.weights_desc();
    p.dst_md = pd.dst_desc();
    p.conv_scratch = pd.scratchpad_desc();
    if (g.has_bias) {
      p.bias_md = md({g.O}, f32, tag::a);
      p.pack_bias = g.bs != 1 && g.O > 1;
    }
    // The user's weights as oneDNN's grouped 5-D view when groups > 1: [G, O/G, C/G, KH, KW].
    Shape wshape{g.O, g.Cg, g.KH, g.KW}, wstr = g.ws;
    if (g.G > 1) {
      wshape = {g.G, g.Og, g.Cg, g.KH, g.KW};
      wstr = {g.ws[0] * g.Og, g.ws[0], g.ws[1], g.ws[2], g.ws[3]};
    }
    const md w_user = dense_view_md(wshape, wstr);
    if (!p.src_re.init(x_user, p.src_md, p.threads) || !p.wei_re.init(w_user, p.wei_md, p.threads) ||
        !p.dst_re.init(p.dst_md, y_user, p.threads))
      return nullptr;
    // constant weights (a compiled plan's): reordered once here instead of at every run
    if (s.constant(1) && p.wei_re.active) p.wei_packed = dnnl_steps::pack_constant(w_user, p.wei_md, s.constant(1), p.threads);
    p.conv = dnnl::convolution_forward(pd);
    if (p.threads > 1) {  // the one-thread twin, with the same layouts (else none: the cap is then advisory)
      auto pd1 = conv_pd(g, p.src_md, p.dst_md, 1, pp, &p.wei_md);
      if (pd1 && !is_ref_impl(pd1.impl_info_str()) && pd1.src_desc() == p.src_md && pd1.weights_desc() == p.wei_md &&
          pd1.dst_desc() == p.dst_md) {
        p.conv1 = dnnl::convolution_forward(pd1);
        p.conv1_scratch = pd1.scratchpad_desc();
      }
    }
  } catch (const dnnl::error&) {
    return nullptr;
  }
  return std::make_unique<DnnlConvKernel>(std::move(p));
}

KernelRegistrar reg_dnnl({OpCode::Conv2d}, &make_dnnl_conv, 10);
KernelRegistrar reg_loop({OpCode::Conv2d}, &make_loop_conv, 0);

}  // namespace

}  // namespace hodu
