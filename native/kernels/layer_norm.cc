// layer_norm(x, weight, bias), attrs axis, eps: over the trailing dims [axis, rank) of x, viewed as
// rows of C = prod(shape[axis:]) elements,
//   y = (x - mean) / sqrt(var + eps) * weight + bias     (var biased: the mean of (x - mean)^2)
//
// Two implementations:
//  * oneDNN layer_normalization_forward (forward_inference, use_scale | use_shift) on contiguous
//    f32 x with contiguous f32 weight and bias: one pass per row in a jit kernel.
//  * A loop for every other case (f64, f16, bf16, strided operands): per row, the mean and then the
//    centred sum of squares in double (two passes: no cancellation), then the output.
#include <omp.h>

#include <cmath>
#include <vector>

#include "dnnl_util.h"
#include "elem.h"
#include "kernel.h"

namespace hodu {

namespace {

struct LnShape {
  int axis = 0;
  int64_t rows = 0, cols = 0;
  double eps = 0;
};

LnShape ln_shape(const KernelSpec& s) {
  const TensorDesc& x = s.inputs.at(0);
  LnShape r;
  r.axis = norm_dim((int64_t)s.attrs.at(0), x.ndim(), "layer_norm");
  r.eps = s.attrs.at(1);
  r.rows = 1;
  r.cols = 1;
  for (int d = 0; d < r.axis; d++) r.rows *= x.shape[d];
  for (int d = r.axis; d < x.ndim(); d++) r.cols *= x.shape[d];
  return r;
}

// Element offsets of the index space `shape[from, to)` walked row-major under `strides`.
std::vector<int64_t> offsets(const Shape& shape, const Shape& strides, int from, int to) {
  std::vector<int64_t> out{0};
  for (int d = from; d < to; d++) {
    std::vector<int64_t> next;
    next.reserve(out.size() * (size_t)shape[d]);
    for (int64_t o : out)
      for (int64_t i = 0; i < shape[d]; i++) next.push_back(o + i * strides[d]);
    out.swap(next);
  }
  return out;
}

class LayerNormLoopKernel final : public Kernel {
 public:
  explicit LayerNormLoopKernel(const KernelSpec& s) : t_(s.output.dtype), sh_(ln_shape(s)) {
    const TensorDesc &x = s.inputs[0], &w = s.inputs[1], &b = s.inputs[2];
    outer_shape_.assign(x.shape.begin(), x.shape.begin() + sh_.axis);
    outer_strides_.assign(x.strides.begin(), x.strides.begin() + sh_.axis);
    x_cols_ = offsets(x.shape, x.strides, sh_.axis, x.ndim());
    w_cols_ = offsets(w.shape, w.strides, 0, w.ndim());
    b_cols_ = offsets(b.shape, b.strides, 0, b.ndim());
    threads_ = pick_threads(4.0 * (double)s.output.nbytes());
  }
  std::string impl() const override { return "loop:layer_norm"; }

  void run(const void* const* in, void* out, const ExecContext&) override {
    dispatch_dtype(t_, [&](auto tag) {
      using T = decltype(tag);
      if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, f16_t> ||
                    std::is_same_v<T, bf16_t>) {
        run_typed<T>((const T*)in[0], (const T*)in[1], (const T*)in[2], (T*)out);
      } else {
        fail(ErrorCode::INTERNAL, "layer_norm: not a float dtype");
      }
      return 0;
    });
  }

 private:
  template <class T>
  void run_typed(const T* x, const T* w, const T* b, T* y) const {
    const int64_t R = sh_.rows, C = sh_.cols;
    const double eps = sh_.eps;
    const int64_t* xc = x_cols_.data();
    const int64_t* wc = w_cols_.data();
    const int64_t* bc = b_cols_.data();
    ThreadScope ts(threads_);
#pragma omp parallel for schedule(static) if (threads_ > 1)
    for (int64_t r = 0; r < R; r++) {
      int64_t off = 0;
      for (int64_t d = (int64_t)outer_shape_.size() - 1, q = r; d >= 0; d--) {
        off += (q % outer_shape_[d]) * outer_strides_[d];
        q /= outer_shape_[d];
      }
      const T* xr = x + off;
      T* yr = y + r * C;
      double sum = 0;
      for (int64_t j = 0; j < C; j++) sum += (double)load(xr[xc[j]]);
      const double mean = sum / (double)C;
      double ss = 0;
      for (int64_t j = 0; j < C; j++) {
        const double d = (double)load(xr[xc[j]]) - mean;
        ss += d * d;
      }
      const double rstd = 1.0 / std::sqrt(ss / (double)C + eps);
      for (int64_t j = 0; j < C; j++) {
        const double v = ((double)load(xr[xc[j]]) - mean) * rstd * (double)load(w[wc[j]]) + (double)load(b[bc[j]]);
        yr[j] = store<T>((compute_t<T>)v);
      }
    }
  }

  DType t_;
  LnShape sh_;
  Shape outer_shape_, outer_strides_;
  std::vector<int64_t> x_cols_, w_cols_, b_cols_;
  int threads_ = 1;
};

class LayerNormDnnlKernel final : public Kernel {
 public:
  LayerNormDnnlKernel(dnnl::layer_normalization_forward::primitive_desc pd, int threads, const dnnl::memory::desc& ss_md)
      : pd_(std::move(pd)), prim_(pd_), threads_(threads), impl_(pd_.impl_info_str()) {
    args_.add(DNNL_ARG_SRC, pd_.src_desc());
    args_.add(DNNL_ARG_DST, pd_.dst_desc());
    args_.add(DNNL_ARG_SCALE, ss_md);
    args_.add(DNNL_ARG_SHIFT, ss_md);
    if (scratchpad_bytes()) args_.add(DNNL_ARG_SCRATCHPAD, pd_.scratchpad_desc());
  }
  size_t scratchpad_bytes() const override { return pd_.scratchpad_desc().get_size(); }
  std::string impl() const override { return "onednn:" + impl_; }

  void run(const void* const* in, void* out, const ExecContext& ctx) override {
    ThreadScope ts(threads_);
    auto held = args_.lock();
    args_.set(DNNL_ARG_SRC, in[0]);
    args_.set(DNNL_ARG_SCALE, in[1]);
    args_.set(DNNL_ARG_SHIFT, in[2]);
    args_.set(DNNL_ARG_DST, out);
    if (scratchpad_bytes()) args_.set(DNNL_ARG_SCRATCHPAD, ctx.scratchpad);
    args_.execute(prim_);
  }

 private:
  dnnl::layer_normalization_forward::primitive_desc pd_;
  dnnl::layer_normalization_forward prim_;
  DnnlArgs args_;
  int threads_;
  std::string impl_;
};

std::unique_ptr<Kernel> make_layer_norm_dnnl(const KernelSpec& s) {
  const TensorDesc &x = s.inputs.at(0), &w = s.inputs.at(1), &b = s.inputs.at(2);
  if (x.dtype != DType::F32 || !x.is_contiguous() || !w.is_contiguous() || !b.is_contiguous()) return nullptr;
  const LnShape sh = ln_shape(s);
  // eps 0 (a constant row divides 0 by 0) is left to the loop
  if (sh.rows == 0 || sh.cols == 0 || !(sh.eps > 0)) return nullptr;
  const int threads = pick_threads(4.0 * (double)x.nbytes());
  try {
    ThreadScope ts(threads);
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    using dt = dnnl::memory::data_type;
    dnnl::memory::desc md({sh.rows, sh.cols}, dt::f32, dnnl::memory::format_tag::ab);
    dnnl::memory::desc ss({sh.cols}, dt::f32, dnnl::memory::format_tag::a);
    dnnl::layer_normalization_forward::primitive_desc pd(
        cpu_engine(), dnnl::prop_kind::forward_inference, md, md, (float)sh.eps,
        dnnl::normalization_flags::use_scale | dnnl::normalization_flags::use_shift, attr, true);
    if (!pd || is_ref_impl(pd.impl_info_str())) return nullptr;
    return std::make_unique<LayerNormDnnlKernel>(std::move(pd), threads, ss);
  } catch (...) {
    rethrow_dnnl("layer_norm");
  }
}

std::unique_ptr<Kernel> make_layer_norm_loop(const KernelSpec& s) { return std::make_unique<LayerNormLoopKernel>(s); }

KernelRegistrar reg_dnnl({OpCode::LayerNorm}, &make_layer_norm_dnnl, 10);
KernelRegistrar reg_loop({OpCode::LayerNorm}, &make_layer_norm_loop, 0);

}  // namespace

}  // namespace hodu
