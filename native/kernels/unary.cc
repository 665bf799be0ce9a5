// Unary elementwise ops: Neg Abs Sign Square Relu Clamp (every numeric dtype), the float-only
// activations and math functions, and LogicalNot (any dtype -> bool).
//
// Two implementations:
//  * oneDNN eltwise_forward (priority 1) for contiguous f32/bf16 inputs, for the ops where its
//    algorithm has our semantics and is faster than the loop, from the sizes in kDnnlUse;
//  * the hand-written loop (elementwise.h) for everything else: any dtype, any strides, with the
//    float math of unary_math.h so that exp, log, sigmoid... vectorise.
//
// Measured on 1M contiguous f32 (AMD Zen 5, 2 cores, AVX-512), µs per call with 1 / 2 threads:
// oneDNN 3.2 eltwise (jit:avx512_core) against the loop's AVX-512 variant.
//
//   op                      oneDNN       loop          runs    why
//   relu leaky abs square   70 / 43      67 / 41       loop    same speed; the loop has no per-call cost
//   recip                   71 / 44      68 / 42       loop
//   sqrt                    76 / 46      1142 / 566    oneDNN  libm sqrt does not vectorise (errno)
//   tanh                    224 / 116    244 / 129 *   oneDNN
//   sigmoid                 214 / 113    236 / 119 *   oneDNN  sigmoid(0) = 0.5; subnormal results flush to 0
//   silu                    245 / 128    252 / 126 *   oneDNN
//   gelu                    292 / 154    343 / -   *   oneDNN  ~1e-7 absolute error in the far negative tail
//   exp                     153 / 79     245 / 124     loop    oneDNN gives exp(NaN) = inf
//   ln                      761 / 391    376 / 191     loop    oneDNN's log is 2e-6 off at ln 2
//   elu                     182 / 95     371 / 188     loop    oneDNN's exp(x)-1 is 2e-4 off near 0
//   softplus                —            469 / 244     loop    oneDNN's soft_relu gives -1.9e-6 at x = -20
//   neg, clamp              —            67 / 41       loop    oneDNN's linear/clip lose -0 / map NaN to a bound
//   sin, cos, tan           —            1727 / 887    loop    (libm calls; no oneDNN algorithm)
//   bf16 relu / tanh        41 / 23, 225 / 118        oneDNN  (the loop: ~71 / 38 for relu)
//
// (* after the tanh/sigmoid rewrite in unary_math.h, measured through a one-instruction fused
// program on a loaded machine, hence no 2-thread gelu figure; it was 456 / 228 for tanh, 338 / 174
// for sigmoid, 354 / 183 for silu, 492 / 246 for gelu.)
// Other dtypes run the loop: f64 relu 179 / 78, f16 relu 341 / 174, i32 relu 68 / 42, u8 19 / 10.
// oneDNN costs ~1 µs per call (binding memory objects, executing) and ~2.5 µs more to build the
// kernel in eager mode, which is why it only runs from kDnnlUse's sizes on.
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "dnnl_util.h"
#include "elem.h"
#include "elementwise.h"
#include "elementwise_ops.h"
#include "kernel.h"
#include "unary_math.h"

namespace hodu {

namespace {

using ew::ClampFn;
using ew::UnaryFn;

// The row functor: a contiguous (vectorised) loop when input and output are dense, else strided.
template <class In, class Out, class F>
struct UnaryRows {
  F f;

  void operator()(int64_t rows, int64_t n, char* const* p, const int64_t* s, const int64_t* rs) const {
    const F fn = f;
    for (int64_t r = 0; r < rows; r++) {
      Out* o = reinterpret_cast<Out*>(p[0] + r * rs[0]);
      const In* a = reinterpret_cast<const In*>(p[1] + r * rs[1]);
      if (s[0] == 1 && s[1] == 1) {
#pragma omp simd
        for (int64_t i = 0; i < n; i++) o[i] = ew::st<Out>(fn(ew::ld(a[i])));
      } else {
        const int64_t so = s[0], sa = s[1];
        for (int64_t i = 0; i < n; i++) o[i * so] = ew::st<Out>(fn(ew::ld(a[i * sa])));
      }
    }
  }
};

// ---------------------------------------------------------------------------------------------
// Loop factory.

using ew::Cost;

template <OpCode OP, class T>
constexpr bool op_accepts() {
  constexpr OpFamily fam = op_family(OP);
  if (fam == OpFamily::LogicalNot) return true;
  if (fam == OpFamily::UnarySigned) return !std::is_same_v<T, bool_t>;
  if (fam != OpFamily::UnaryFloat) return false;  // not a unary op
  return std::is_same_v<T, f16_t> || std::is_same_v<T, bf16_t> || std::is_same_v<T, float> ||
         std::is_same_v<T, double>;
}

// Relative cost per byte moved, for the thread policy.
template <OpCode OP, class C>
constexpr Cost op_cost() {
  return ew::unary_cost(OP, std::is_same_v<C, double>);
}

// The ISA variants worth compiling (see ew::Variants): all for float math that vectorises (f16
// and bf16 included: they compute in float), AVX2 for wide integers, the baseline for bytes and
// for libm calls.
template <OpCode OP, class T>
constexpr ew::Variants unary_variants() {
  using C = compute_t<T>;
  if constexpr (sizeof(T) < 4 && !std::is_floating_point_v<C>) return ew::Variants::Base;
  else if constexpr (op_cost<OP, C>() == Cost::Libm) return ew::Variants::Base;
  else if constexpr (std::is_floating_point_v<C>) return ew::Variants::All;
  else return ew::Variants::UpToAvx2;
}

template <OpCode OP>
std::unique_ptr<Kernel> make_loop_for(const KernelSpec& s) {
  const TensorDesc& in = s.inputs.at(0);
  return dispatch_dtype(in.dtype, [&](auto tag) -> std::unique_ptr<Kernel> {
    using T = decltype(tag);
    using C = compute_t<T>;
    if constexpr (!op_accepts<OP, T>()) {
      return nullptr;  // infer() rejects the dtype; nothing to run
    } else {
      using Out = std::conditional_t<OP == OpCode::LogicalNot, bool_t, T>;
      const Shape& shape = s.output.shape;
      ew::ElementwiseLoop<2> loop(shape, {contiguous_strides(shape), ew::operand_strides(in, shape)},
                                  {(int64_t)sizeof(Out), (int64_t)sizeof(T)}, (double)op_cost<OP, C>());
      auto kernel = [&](auto f) -> std::unique_ptr<Kernel> {
        using Rows = UnaryRows<T, Out, decltype(f)>;
        return std::make_unique<ew::LoopKernel<2, Rows, unary_variants<OP, T>()>>(Rows{f}, loop, op_info(OP).name);
      };
      if constexpr (OP == OpCode::Clamp) {
        return kernel(ClampFn<C>::make(s.attrs.at(0), s.attrs.at(1)));
      } else {
        UnaryFn<OP, C> f;
        if constexpr (OP == OpCode::LeakyRelu || OP == OpCode::Elu) f.a = (C)s.attrs.at(0);
        return kernel(f);
      }
    }
  });
}

// Every unary op of ops.def (families LogicalNot, UnarySigned, UnaryFloat); others decline.
std::unique_ptr<Kernel> make_unary_loop(const KernelSpec& s) {
  switch (s.op) {
#define HODU_OP(E, name, code, fam, arity, attrs, grad) \
  case OpCode::E: return make_loop_for<OpCode::E>(s);
#include "../core/ops.def"
#undef HODU_OP
  }
  return nullptr;
}

// ---------------------------------------------------------------------------------------------
// oneDNN eltwise fast path: contiguous f32/bf16 input, treated as one flat vector.

class DnnlEltwiseKernel final : public Kernel {
 public:
  DnnlEltwiseKernel(dnnl::memory::desc md, dnnl::eltwise_forward prim, dnnl::memory::desc scratch, int threads,
                    std::string impl)
      : md_(std::move(md)), prim_(std::move(prim)), scratch_md_(std::move(scratch)), threads_(threads),
        impl_("onednn:" + std::move(impl)) {
    args_.add(DNNL_ARG_SRC, md_);
    args_.add(DNNL_ARG_DST, md_);
    if (scratch_md_.get_size() > 0) args_.add(DNNL_ARG_SCRATCHPAD, scratch_md_);
  }

  void run(const void* const* in, void* out, const ExecContext& ctx) override {
    auto held = args_.lock();
    args_.set(DNNL_ARG_SRC, in[0]);
    args_.set(DNNL_ARG_DST, out);
    if (scratch_md_.get_size() > 0) args_.set(DNNL_ARG_SCRATCHPAD, ctx.scratchpad);
    ThreadScope ts(threads_);
    args_.execute(prim_);
  }

  size_t scratchpad_bytes() const override { return scratch_md_.get_size(); }
  std::string impl() const override { return impl_; }

 private:
  dnnl::memory::desc md_;
  dnnl::eltwise_forward prim_;
  DnnlArgs args_;
  dnnl::memory::desc scratch_md_;
  int threads_;
  std::string impl_;
};

// When oneDNN runs an op: the smallest element count for f32 and for bf16 (0 = never). Below it,
// or where the loop is as fast (the memory-bound ops on f32), the loop wins by oneDNN's per-call
// cost (~1 µs to bind memory objects and execute, ~2.5 µs more to build the kernel in eager mode).
struct DnnlUse {
  OpCode op;
  int64_t min_f32, min_bf16;
};
constexpr DnnlUse kDnnlUse[] = {
    {OpCode::Sqrt, 1024, 1024},        // libm sqrt does not vectorise (errno)
    {OpCode::Tanh, 16384, 16384},      // oneDNN's polynomials are 3-15% faster than unary_math.h
    {OpCode::Sigmoid, 16384, 16384},
    {OpCode::Silu, 16384, 16384},
    {OpCode::Gelu, 16384, 16384},
    {OpCode::Relu, 0, 0},              // never: oneDNN's relu turns NaN into 0 (the loop keeps NaN)
    {OpCode::LeakyRelu, 0, 65536},
    {OpCode::Abs, 0, 65536},
    {OpCode::Square, 0, 65536},
    {OpCode::Recip, 0, 65536},
};

std::unique_ptr<Kernel> build_dnnl_eltwise(const KernelSpec& s) {
  const TensorDesc& in = s.inputs.at(0);
  dnnl::algorithm alg;
  float alpha, beta;
  if (!dnnl_eltwise_algorithm(s.op, s.attrs, &alg, &alpha, &beta)) return nullptr;
  // oneDNN's relu with alpha 0 is max(x, 0): NaN becomes 0 (hodu's own loop keeps NaN)
  if (alg == dnnl::algorithm::eltwise_relu && alpha == 0.f) return nullptr;
  if (in.dtype != DType::F32 && in.dtype != DType::BF16) return nullptr;
  if (in.dtype != s.output.dtype || in.shape != s.output.shape || !in.is_contiguous()) return nullptr;
  const int64_t n = s.output.numel();
  if (n <= 0) return nullptr;
  const int threads = pick_threads(2.0 * (double)s.output.nbytes());
  try {
    ThreadScope ts(threads);
    dnnl::memory::desc md = plain_md(in.dtype, {n}, {1});
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    dnnl::eltwise_forward::primitive_desc pd(cpu_engine(), dnnl::prop_kind::forward_inference, alg, md, md, alpha,
                                             beta, attr);
    const std::string impl = pd.impl_info_str();
    if (is_ref_impl(impl)) return nullptr;
    return std::make_unique<DnnlEltwiseKernel>(md, dnnl::eltwise_forward(pd), pd.scratchpad_desc(), threads, impl);
  } catch (const dnnl::error&) {
    return nullptr;  // this oneDNN build has no implementation for the case: use the loop
  } catch (...) {
    rethrow_dnnl("eltwise");
  }
}

std::vector<OpCode> dnnl_use_ops() {
  std::vector<OpCode> r;
  for (const DnnlUse& u : kDnnlUse) r.push_back(u.op);
  return r;
}

std::unique_ptr<Kernel> make_dnnl_eltwise(const KernelSpec& s) {
  const DType t = s.output.dtype;
  const int64_t n = s.output.numel();
  for (const DnnlUse& u : kDnnlUse) {
    if (u.op != s.op) continue;
    const int64_t min = t == DType::F32 ? u.min_f32 : t == DType::BF16 ? u.min_bf16 : 0;
    return min > 0 && n >= min ? build_dnnl_eltwise(s) : nullptr;
  }
  return nullptr;
}

KernelRegistrar reg_loop(ops_of({OpFamily::LogicalNot, OpFamily::UnarySigned, OpFamily::UnaryFloat}), &make_unary_loop, 0);
KernelRegistrar reg_dnnl(dnnl_use_ops(), &make_dnnl_eltwise, 1);

}  // namespace

}  // namespace hodu
