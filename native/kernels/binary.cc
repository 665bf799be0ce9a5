// Binary elementwise ops with numpy broadcasting: arithmetic (Add Sub Mul Div Pow Maximum Minimum,
// same dtype in and out), logical (LogicalAnd/Or/Xor -> bool) and comparisons (Eq Ne Lt Le Gt Ge
// -> bool).
//
// Two implementations:
//  * oneDNN `binary` (priority 1) for bf16 add/sub/mul/div from 64K elements, when the operand
//    that oneDNN reads as src0 is not broadcast (a broadcast src0 selects ref:any, 250x slower):
//    add and mul swap their operands, sub and div decline;
//  * the hand-written loop (elementwise.h) for everything else, f32 included.
//
// Measured on 1M elements (AMD Zen 5, 2 cores, AVX-512), µs per call with 1 / 2 threads:
//
//                                      oneDNN (jit:uni)   loop (AVX-512)
//   f32 add sub mul div                101-103 / 56-62    100-102 / 57-66
//   f32 add, row/column/scalar bcast   69-82 / 44-52      66-71 / 41-44
//   bf16 add / mul                     58 / 34            87 / 43
//   f32 add, n = 16 / 1K / 64K         1.0 / 1.1 / 5.6    0.01 / 0.06 / 4.1
//   the same, building the kernel too  2.8 / 2.9 / 8.3    0.2 / 0.2 / 4.6   (eager mode)
// So f32 always runs the loop (as fast at 1M, faster below), bf16 runs oneDNN from 64K elements.
// Other loops: f32 maximum/minimum 101-104 / 66-67, lt f32 76 / 49, f64 add 303 / 106, i32 add 99 / 61, u8 add 29 / 15, f16 add
// 406 / 206, i32 div 1528 / 761, f32 pow 2728 / 1340 (libm).
//
// Semantics: integers wrap around (add/sub/mul), Div truncates toward zero and never traps
// (x/0 -> 0, MIN/-1 -> MIN), integer Pow is exact by repeated squaring (negative exponents give 0,
// except for bases 1 and -1). Maximum and Minimum propagate NaN from either side (PyTorch, numpy,
// StableHLO), so they always run on the loop: oneDNN's binary_max/min drops a NaN in one operand.
#include <cmath>
#include <limits>
#include <type_traits>

#include "dnnl_util.h"
#include "elem.h"
#include "elementwise.h"
#include "elementwise_ops.h"
#include "kernel.h"

namespace hodu {

namespace {

using ew::BinaryFn;

// The row functor: vectorised loops for a contiguous output with each input either contiguous
// or constant along the row (a broadcast inner dim), strided otherwise.
template <class In, class Out, class F>
struct BinaryRows {
  F f;

  void operator()(int64_t rows, int64_t n, char* const* p, const int64_t* s, const int64_t* rs) const {
    const F fn = f;
    for (int64_t r = 0; r < rows; r++) {
      Out* o = reinterpret_cast<Out*>(p[0] + r * rs[0]);
      const In* a = reinterpret_cast<const In*>(p[1] + r * rs[1]);
      const In* b = reinterpret_cast<const In*>(p[2] + r * rs[2]);
      if (s[0] == 1 && s[1] == 1 && s[2] == 1) {
#pragma omp simd
        for (int64_t i = 0; i < n; i++) o[i] = ew::st<Out>(fn(ew::ld(a[i]), ew::ld(b[i])));
      } else if (s[0] == 1 && s[1] == 1 && s[2] == 0) {
        const auto bv = ew::ld(b[0]);
#pragma omp simd
        for (int64_t i = 0; i < n; i++) o[i] = ew::st<Out>(fn(ew::ld(a[i]), bv));
      } else if (s[0] == 1 && s[1] == 0 && s[2] == 1) {
        const auto av = ew::ld(a[0]);
#pragma omp simd
        for (int64_t i = 0; i < n; i++) o[i] = ew::st<Out>(fn(av, ew::ld(b[i])));
      } else {
        const int64_t so = s[0], sa = s[1], sb = s[2];
        for (int64_t i = 0; i < n; i++) o[i * so] = ew::st<Out>(fn(ew::ld(a[i * sa]), ew::ld(b[i * sb])));
      }
    }
  }
};

// ---------------------------------------------------------------------------------------------
// Loop factory.

constexpr bool is_arith(OpCode op) { return op_family(op) == OpFamily::Binary; }

constexpr bool is_binary_kernel_op(OpCode op) {
  const OpFamily f = op_family(op);
  return f == OpFamily::Binary || f == OpFamily::Logical || f == OpFamily::Compare;
}

template <OpCode OP>
std::unique_ptr<Kernel> make_loop_for(const KernelSpec& s) {
  const TensorDesc &a = s.inputs.at(0), &b = s.inputs.at(1);
  return dispatch_dtype(a.dtype, [&](auto tag) -> std::unique_ptr<Kernel> {
    using T = decltype(tag);
    using C = compute_t<T>;
    if constexpr (!is_binary_kernel_op(OP)) {
      return nullptr;  // not a binary op
    } else if constexpr (is_arith(OP) && std::is_same_v<T, bool_t>) {
      return nullptr;  // infer() rejects bool arithmetic
    } else {
      using Out = std::conditional_t<is_arith(OP), T, bool_t>;
      using Rows = BinaryRows<T, Out, BinaryFn<OP, C>>;
      const Shape& shape = s.output.shape;
      // pow on floats calls libm; integer div/pow do not vectorise.
      const double cost = OP == OpCode::Pow                            ? (std::is_integral_v<C> ? 4 : 12)
                          : OP == OpCode::Div && std::is_integral_v<C> ? 4
                                                                       : 1;
      ew::ElementwiseLoop<3> loop(
          shape, {contiguous_strides(shape), ew::operand_strides(a, shape), ew::operand_strides(b, shape)},
          {(int64_t)sizeof(Out), (int64_t)sizeof(T), (int64_t)sizeof(T)}, cost);
      // ISA variants worth compiling (see ew::Variants): all for float arithmetic (f16/bf16 compute
      // in float), AVX2 for i32/i64 arithmetic and float/i32/i64 comparisons (64-bit compares need
      // it), the baseline for the rest (bytes, unsigned, logical ops, pow, integer div).
      constexpr bool scalar = OP == OpCode::Pow || (OP == OpCode::Div && std::is_integral_v<C>);
      constexpr bool common = std::is_floating_point_v<C> || std::is_same_v<T, int32_t> || std::is_same_v<T, int64_t>;
      constexpr bool logical = OP == OpCode::LogicalAnd || OP == OpCode::LogicalOr || OP == OpCode::LogicalXor;
      constexpr ew::Variants variants =
          scalar ? ew::Variants::Base
          : is_arith(OP) && std::is_floating_point_v<C>
              ? ew::Variants::All
          : common && !logical ? ew::Variants::UpToAvx2
                               : ew::Variants::Base;
      return std::make_unique<ew::LoopKernel<3, Rows, variants>>(Rows{}, loop, op_info(OP).name);
    }
  });
}

// Every op of the families Binary, Logical and Compare (ops.def); others decline.
std::unique_ptr<Kernel> make_binary_loop(const KernelSpec& s) {
  switch (s.op) {
#define HODU_OP(E, name, code, fam, arity, attrs, grad) \
  case OpCode::E: return make_loop_for<OpCode::E>(s);
#include "../core/ops.def"
#undef HODU_OP
  }
  return nullptr;
}

// ---------------------------------------------------------------------------------------------
// oneDNN binary fast path.

class DnnlBinaryKernel final : public Kernel {
 public:
  DnnlBinaryKernel(dnnl::memory::desc md0, dnnl::memory::desc md1, dnnl::memory::desc mdd, dnnl::binary prim,
                   dnnl::memory::desc scratch, bool swap, int threads, std::string impl)
      : md0_(std::move(md0)), md1_(std::move(md1)), mdd_(std::move(mdd)), prim_(std::move(prim)),
        scratch_md_(std::move(scratch)), swap_(swap), threads_(threads), impl_("onednn:" + std::move(impl)) {
    args_.add(DNNL_ARG_SRC_0, md0_);
    args_.add(DNNL_ARG_SRC_1, md1_);
    args_.add(DNNL_ARG_DST, mdd_);
    if (scratch_md_.get_size() > 0) args_.add(DNNL_ARG_SCRATCHPAD, scratch_md_);
  }

  void run(const void* const* in, void* out, const ExecContext& ctx) override {
    auto held = args_.lock();
    args_.set(DNNL_ARG_SRC_0, in[swap_ ? 1 : 0]);
    args_.set(DNNL_ARG_SRC_1, in[swap_ ? 0 : 1]);
    args_.set(DNNL_ARG_DST, out);
    if (scratch_md_.get_size() > 0) args_.set(DNNL_ARG_SCRATCHPAD, ctx.scratchpad);
    ThreadScope ts(threads_);
    args_.execute(prim_);
  }

  size_t scratchpad_bytes() const override { return scratch_md_.get_size(); }
  std::string impl() const override { return impl_; }

 private:
  dnnl::memory::desc md0_, md1_, mdd_;
  dnnl::binary prim_;
  DnnlArgs args_;
  dnnl::memory::desc scratch_md_;
  bool swap_;
  int threads_;
  std::string impl_;
};

// A oneDNN descriptor of an operand over the coalesced dims: stride-0 dims become size-1 dims
// (oneDNN's broadcast), whose strides are filled in as if the operand were row-major.
dnnl::memory::desc operand_md(DType t, const Shape& shape, const Shape& strides) {
  const size_t r = shape.size();
  Shape dims(r), st(r);
  int64_t next = 1;  // stride a size-1 dim gets: just outside the dims inside it
  for (size_t i = r; i-- > 0;) {
    if (strides[i] == 0) {
      dims[i] = 1;
      st[i] = next;
    } else {
      dims[i] = shape[i];
      st[i] = strides[i];
      next = std::max<int64_t>(next, strides[i] * shape[i]);
    }
  }
  return plain_md(t, dims, st);
}

std::unique_ptr<Kernel> build_dnnl_binary(const KernelSpec& s) {
  using A = dnnl::algorithm;
  A alg;
  bool commutative = false;
  switch (s.op) {
    case OpCode::Add: alg = A::binary_add; commutative = true; break;
    case OpCode::Mul: alg = A::binary_mul; commutative = true; break;
    case OpCode::Sub: alg = A::binary_sub; break;
    case OpCode::Div: alg = A::binary_div; break;
    default: return nullptr;  // Maximum/Minimum: oneDNN does not propagate NaN
  }
  const DType t = s.output.dtype;
  if (t != DType::F32 && t != DType::BF16) return nullptr;
  const Shape& shape = s.output.shape;
  const int64_t n = numel(shape);
  if (n <= 0) return nullptr;

  const int64_t es = (int64_t)dtype_size(t);
  StridedLoop<3> loop(shape,
                      {contiguous_strides(shape), ew::operand_strides(s.inputs.at(0), shape),
                       ew::operand_strides(s.inputs.at(1), shape)},
                      {es, es, es});
  if (loop.shape.size() > DNNL_MAX_NDIMS) return nullptr;
  auto full = [&](int k) {  // not broadcast in any dim
    for (size_t d = 0; d < loop.shape.size(); d++)
      if (loop.strides[k][d] == 0 && loop.shape[d] > 1) return false;
    return true;
  };
  bool swap = false;  // oneDNN's src0 is our b
  if (!full(1)) {
    if (!commutative || !full(2)) return nullptr;  // src0 would be broadcast: ref:any
    swap = true;
  }
  const int threads = pick_threads(3.0 * (double)n * (double)es);
  try {
    ThreadScope ts(threads);
    dnnl::memory::desc md0 = operand_md(t, loop.shape, loop.strides[swap ? 2 : 1]);
    dnnl::memory::desc md1 = operand_md(t, loop.shape, loop.strides[swap ? 1 : 2]);
    dnnl::memory::desc mdd = operand_md(t, loop.shape, loop.strides[0]);
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    dnnl::binary::primitive_desc pd(cpu_engine(), alg, md0, md1, mdd, attr);
    const std::string impl = pd.impl_info_str();
    if (is_ref_impl(impl)) return nullptr;
    return std::make_unique<DnnlBinaryKernel>(md0, md1, mdd, dnnl::binary(pd), pd.scratchpad_desc(), swap, threads,
                                              impl);
  } catch (const dnnl::error&) {
    return nullptr;  // no implementation for this case in this oneDNN build: use the loop
  } catch (...) {
    rethrow_dnnl("binary");
  }
}

// oneDNN runs bf16 from this many elements on, where its faster conversion pays for its per-call
// cost (~1 µs, ~2.5 µs more to build the kernel in eager mode); for f32 the loop is as fast at
// every size (see the table at the top).
constexpr int64_t kDnnlMinBf16 = 65536;

std::unique_ptr<Kernel> make_dnnl_binary(const KernelSpec& s) {
  if (s.output.dtype != DType::BF16 || s.output.numel() < kDnnlMinBf16) return nullptr;
  return build_dnnl_binary(s);
}

KernelRegistrar reg_loop(ops_of({OpFamily::Binary, OpFamily::Logical, OpFamily::Compare}), &make_binary_loop, 0);
KernelRegistrar reg_dnnl({OpCode::Add, OpCode::Sub, OpCode::Mul, OpCode::Div}, &make_dnnl_binary, 1);

}  // namespace

}  // namespace hodu
