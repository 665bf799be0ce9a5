// Matmul with numpy semantics: a [..., M, K] @ b [..., K, N] -> [..., M, N]. A 1-D a is a row
// vector [1, K] and a 1-D b a column vector [K, 1], their unit dim dropped from the output; the
// batch dims broadcast. Operands are arbitrary strided views (transposed, sliced, stride-0 broadcast).
//
// Two kernels:
//   * DnnlMatmulKernel (f32, bf16, and f16 where the CPU has a non-reference impl): one oneDNN
//     matmul primitive over plain strided memory descriptors, so transposed and row-sliced
//     operands are read in place. Batch dims are merged where the strides allow, a batch that only
//     `a` carries is folded into M, and size-1 (broadcast) batch dims use oneDNN's own broadcast.
//     Small M (GEMV-like: batch-1 MLP layers, decode steps) uses a primitive whose M is a runtime
//     dim: oneDNN then picks gemm:jit, which is 2-3x faster than brgemm there (numbers below).
//     An operand oneDNN cannot read in place (no unit stride in either matrix dim) is packed into
//     the scratchpad first.
//   * LoopMatmulKernel (every non-bool dtype): a cache-blocked GEMM. Panels of a and b are packed
//     (converted to the accumulation type) into per-thread scratch, and a register-tiled micro
//     kernel accumulates an MR x NR tile of C over a K panel. The micro kernel is built for the
//     baseline ISA, AVX2+FMA and AVX-512 and picked once from CPUID (HODU_MATMUL_ISA=base|avx2
//     lowers the choice, for tests). f16/bf16/f32 accumulate in float, f64 in double, integers in
//     unsigned wrap-around arithmetic of at least 32 bits (see LoopAcc).
//
// Measured through this kernel (oneDNN 3.2, 2-core Zen 5, 2 threads, quiet machine):
//   f32 1024^3                brg:avx512_core        4.4-4.6 ms  (470-490 GFLOP/s)
//   f32 256^3                 brg:avx512_core        68 us
//   f32 1x784 @ 784x512       runtime-M gemm:jit     7.5 us      (fixed-dims brgemm: ~21 us)
//   f32 64x784 @ 784x512      runtime-M gemm:jit     110 us      (~465 GFLOP/s)
//   bf16 1024^3               brg:avx512_core_bf16   2.2 ms      (~960 GFLOP/s)
//   loop, 512^3               AVX-512 micro kernel   f64 ~195, i32 ~295, f16 ~148 GFLOP/s
// Primitive-level comparisons behind the runtime-M thresholds: M=32 512x512 brgemm 43 us vs
// runtime-M 36 us, level at M=128; with a transposed b at M=16 brgemm 41 us vs runtime-M 78 us.
#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <type_traits>
#include <unordered_map>

#include "../ops/infer.h"
#include "dnnl_reorder.h"
#include "dnnl_util.h"
#include "elem.h"
#include "kernel.h"
#include "post_op_dims.h"
#include "strided.h"

#if defined(__GNUC__) && defined(__x86_64__)
#define HODU_MM_MULTIVERSION 1
#define HODU_MM_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define HODU_MM_TARGET_AVX512 __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")))
#else
#define HODU_MM_MULTIVERSION 0
#endif

namespace hodu {

namespace {

constexpr int64_t kAlign = 64;
inline int64_t align_up(int64_t n, int64_t a) { return (n + a - 1) / a * a; }
inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// ---------------------------------------------------------------------------------------------
// The problem after normalisation.

// One operand as a matrix with batch dims: rows x cols with strides rs/cs, and per batch dim of
// the problem its own size (1 where it broadcasts) and stride (0 where it broadcasts).
struct MatOperand {
  Shape bdims, bstrides;
  int64_t rs = 0, cs = 0;
};

struct MatmulProblem {
  Shape batch;  // the output's batch dims, merged (empty for a single matrix)
  int64_t M = 0, K = 0, N = 0;
  MatOperand a, b;  // a: M x K, b: K x N
  int64_t batch_count() const { return numel(batch); }
};

inline Shape strides_of(const TensorDesc& d) {
  return d.strides.size() == d.shape.size() ? d.strides : contiguous_strides(d.shape);
}

// Builds the problem from the two input descriptors (already validated by infer()): aligns and
// broadcasts the batch dims, drops size-1 ones, merges neighbours that every operand walks
// contiguously (or broadcasts in both), and folds a batch that only `a` carries into M.
MatmulProblem make_problem(const TensorDesc& A, const TensorDesc& B) {
  MatmulProblem p;
  const Shape sa = strides_of(A), sb = strides_of(B);
  const int ra = A.ndim(), rb = B.ndim();
  p.M = ra == 1 ? 1 : A.shape[ra - 2];
  p.K = A.shape[ra - 1];
  p.N = rb == 1 ? 1 : B.shape[rb - 1];
  p.a.rs = ra == 1 ? 0 : sa[ra - 2];
  p.a.cs = sa[ra - 1];
  p.b.rs = rb == 1 ? sb[0] : sb[rb - 2];
  p.b.cs = rb == 1 ? 0 : sb[rb - 1];
  // Strides of size-1 matrix dims never matter: zero them so later checks see them as free.
  if (p.M == 1) p.a.rs = 0;
  if (p.K == 1) p.a.cs = p.b.rs = 0;
  if (p.N == 1) p.b.cs = 0;

  const int ba = std::max(ra - 2, 0), bb = std::max(rb - 2, 0), r = std::max(ba, bb);
  for (int d = 0; d < r; d++) {
    const int da = d - (r - ba), db = d - (r - bb);
    const int64_t na = da >= 0 ? A.shape[da] : 1, nb = db >= 0 ? B.shape[db] : 1;
    const int64_t n = std::max(na, nb);
    if (n == 1) continue;  // contributes nothing to any index
    auto own = [&](int64_t size, int64_t stride, MatOperand& op) {
      const bool bc = size == 1 || stride == 0;  // broadcast, by shape or by a stride-0 view
      op.bdims.push_back(bc ? 1 : n);
      op.bstrides.push_back(bc ? 0 : stride);
    };
    own(na, da >= 0 ? sa[da] : 0, p.a);
    own(nb, db >= 0 ? sb[db] : 0, p.b);
    p.batch.push_back(n);
  }

  // Merge batch dim d into the previous kept dim when each operand either broadcasts over both or
  // walks both with stride[prev] == stride[d] * size[d].
  MatmulProblem m = p;
  m.batch.clear();
  m.a.bdims.clear(), m.a.bstrides.clear(), m.b.bdims.clear(), m.b.bstrides.clear();
  for (size_t d = 0; d < p.batch.size(); d++) {
    auto mergeable = [&](const MatOperand& src, const MatOperand& dst) {
      const bool prev_bc = dst.bdims.back() == 1, cur_bc = src.bdims[d] == 1;
      return prev_bc == cur_bc && (cur_bc || dst.bstrides.back() == src.bstrides[d] * p.batch[d]);
    };
    const bool merge = !m.batch.empty() && mergeable(p.a, m.a) && mergeable(p.b, m.b);
    if (merge) m.batch.back() *= p.batch[d];
    else m.batch.push_back(p.batch[d]);
    for (auto [src, dst] : {std::pair<const MatOperand*, MatOperand*>{&p.a, &m.a}, {&p.b, &m.b}}) {
      if (merge) {
        if (dst->bdims.back() != 1) dst->bdims.back() = m.batch.back();
        dst->bstrides.back() = src->bstrides[d];
      } else {
        dst->bdims.push_back(src->bdims[d]);
        dst->bstrides.push_back(src->bstrides[d]);
      }
    }
  }

  // [B, M, K] @ [K, N] where a's batch continues its rows: one [B*M, K] @ [K, N] product.
  if (m.batch.size() == 1 && m.b.bdims[0] == 1 && m.a.bdims[0] != 1 &&
      (m.M == 1 || m.a.bstrides[0] == m.a.rs * m.M)) {
    if (m.M == 1) m.a.rs = m.a.bstrides[0];
    m.M *= m.batch[0];
    m.batch.clear();
    m.a.bdims.clear(), m.a.bstrides.clear(), m.b.bdims.clear(), m.b.bstrides.clear();
  }
  return m;
}

// Element offset of batch index `bi` (row-major over `batch`) in an operand.
inline int64_t batch_offset(const Shape& batch, const MatOperand& op, int64_t bi) {
  int64_t off = 0;
  for (size_t d = batch.size(); d-- > 0;) {
    off += (bi % batch[d]) * op.bstrides[d];
    bi /= batch[d];
  }
  return off;
}

// ---------------------------------------------------------------------------------------------
// Hand-written GEMM.

// Accumulation type of the loop kernel. Integer products wrap like numpy's: the low bits of a sum
// of products depend only on the low bits of the operands, so unsigned arithmetic of the output's
// width (at least 32 bits, to avoid promotion to int) gives the exact wrapped result with no
// signed-overflow UB and twice the vector width of int64.
template <class T> struct LoopAcc { using type = compute_t<T>; };
template <> struct LoopAcc<int8_t> { using type = uint32_t; };
template <> struct LoopAcc<uint8_t> { using type = uint32_t; };
template <> struct LoopAcc<int16_t> { using type = uint32_t; };
template <> struct LoopAcc<uint16_t> { using type = uint32_t; };
template <> struct LoopAcc<int32_t> { using type = uint32_t; };
template <> struct LoopAcc<uint32_t> { using type = uint32_t; };
template <> struct LoopAcc<int64_t> { using type = uint64_t; };
template <> struct LoopAcc<uint64_t> { using type = uint64_t; };

template <class T, class Acc>
inline Acc to_acc(T v) {
  if constexpr (std::is_integral_v<T>) return (Acc)v;  // sign-extends, then wraps: exact mod 2^bits
  else return (Acc)load(v);
}

template <class T, class Acc>
inline T from_acc(Acc v) {
  if constexpr (std::is_integral_v<T>) return (T)v;  // keeps the low bits
  else return store<T>((compute_t<T>)v);
}

// The micro kernel: C[rows x ncols] += A[rows x kc] * B[kc x ncols], A row-major with leading dim
// lda, B row-major with leading dim ldb, C with leading dim ldc; ncols is a multiple of NV vectors.
// The MR x NV accumulator vectors live in registers across the whole k loop.
template <class Acc, int VB>
struct VecOf {
  typedef Acc type __attribute__((vector_size(VB)));
};

// The fixed-trip loops over rows and vectors must be fully unrolled for the accumulators to stay in
// registers; GCC does that at -O3 on its own but not at -O2, hence the pragmas.
#define HODU_UNROLL _Pragma("GCC unroll 32")

template <class Acc, int ROWS, int NV, int VB>
inline __attribute__((always_inline)) void micro_tile(int64_t kc, const Acc* a, int64_t lda, const Acc* b, int64_t ldb,
                                                      Acc* c, int64_t ldc, int64_t ncols) {
  typedef typename VecOf<Acc, VB>::type V;
  constexpr int L = VB / (int)sizeof(Acc);
  for (int64_t j0 = 0; j0 < ncols; j0 += NV * L) {
    V acc[ROWS][NV];
    HODU_UNROLL for (int r = 0; r < ROWS; r++)
      HODU_UNROLL for (int v = 0; v < NV; v++) std::memcpy(&acc[r][v], c + r * ldc + j0 + v * L, VB);
    for (int64_t k = 0; k < kc; k++) {
      V bv[NV];
      HODU_UNROLL for (int v = 0; v < NV; v++) std::memcpy(&bv[v], b + k * ldb + j0 + v * L, VB);
      HODU_UNROLL for (int r = 0; r < ROWS; r++) {
        const Acc av = a[r * lda + k];
        HODU_UNROLL for (int v = 0; v < NV; v++) acc[r][v] += av * bv[v];
      }
    }
    HODU_UNROLL for (int r = 0; r < ROWS; r++)
      HODU_UNROLL for (int v = 0; v < NV; v++) std::memcpy(c + r * ldc + j0 + v * L, &acc[r][v], VB);
  }
}

template <class Acc, int MR, int NV, int VB>
inline __attribute__((always_inline)) void micro_rows(int rows, int64_t kc, const Acc* a, int64_t lda, const Acc* b,
                                                      int64_t ldb, Acc* c, int64_t ldc, int64_t ncols) {
  if constexpr (MR > 1) {
    if (rows < MR) return micro_rows<Acc, MR - 1, NV, VB>(rows, kc, a, lda, b, ldb, c, ldc, ncols);
  }
  micro_tile<Acc, MR, NV, VB>(kc, a, lda, b, ldb, c, ldc, ncols);
}

using MicroFn = void (*)(int rows, int64_t kc, const void* a, int64_t lda, const void* b, int64_t ldb, void* c,
                         int64_t ldc, int64_t ncols);

struct Micro {
  MicroFn fn;
  int mr;      // rows per register tile
  int nr;      // columns per register tile (NV vectors)
  const char* isa;
};

// Register tiles per ISA: MR x NV vectors of accumulators plus NV for b and one broadcast fit the
// register file (AVX-512: 24 + 3 + 1 of 32 zmm; AVX2: 12 + 2 + 1 of 16 ymm; SSE2: 8 + 2 + 1 of 16 xmm).
#define HODU_MM_MICRO(NAME, ATTR, MR, NV, VB)                                                                  \
  template <class Acc>                                                                                         \
  ATTR void NAME(int rows, int64_t kc, const void* a, int64_t lda, const void* b, int64_t ldb, void* c,        \
                 int64_t ldc, int64_t ncols) {                                                                 \
    micro_rows<Acc, MR, NV, VB>(rows, kc, (const Acc*)a, lda, (const Acc*)b, ldb, (Acc*)c, ldc, ncols);        \
  }                                                                                                            \
  template <class Acc>                                                                                         \
  Micro NAME##_info() {                                                                                        \
    return {&NAME<Acc>, MR, NV * (VB / (int)sizeof(Acc)), #NAME};                                              \
  }

HODU_MM_MICRO(micro_base, , 4, 2, 16)
#if HODU_MM_MULTIVERSION
HODU_MM_MICRO(micro_avx2, HODU_MM_TARGET_AVX2, 6, 2, 32)
HODU_MM_MICRO(micro_avx512, HODU_MM_TARGET_AVX512, 8, 3, 64)
#endif
#undef HODU_MM_MICRO
#undef HODU_UNROLL

enum class MmIsa { Base = 0, Avx2 = 1, Avx512 = 2 };

// The widest ISA this CPU has, lowered by HODU_MATMUL_ISA=base|avx2 (tests cover every variant).
MmIsa host_mm_isa() {
  static const MmIsa isa = [] {
    MmIsa best = MmIsa::Base;
#if HODU_MM_MULTIVERSION
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) best = MmIsa::Avx2;
    if (best == MmIsa::Avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq"))
      best = MmIsa::Avx512;
#endif
    if (const char* env = std::getenv("HODU_MATMUL_ISA")) {
      MmIsa want = best;
      if (!std::strcmp(env, "base")) want = MmIsa::Base;
      else if (!std::strcmp(env, "avx2")) want = MmIsa::Avx2;
      if ((int)want < (int)best) best = want;
    }
    return best;
  }();
  return isa;
}

template <class Acc>
Micro pick_micro() {
#if HODU_MM_MULTIVERSION
  switch (host_mm_isa()) {
    case MmIsa::Avx512: return micro_avx512_info<Acc>();
    case MmIsa::Avx2: return micro_avx2_info<Acc>();
    default: break;
  }
#endif
  return micro_base_info<Acc>();
}

// Blocking: a task computes an MT x NC block of C, accumulated in scratch (in Acc), over K panels
// of depth KC. Per K panel the B panel (KC x NC) is packed once and shared by the task's row
// sub-blocks of MC rows, whose A panels (MC x KC) are packed in turn; packing converts to Acc, so
// f16/bf16 operands are converted once per panel rather than once per multiply-add. With 8-byte
// Acc: A panel 96 KB, B panel 192 KB, C block 432 KB per thread.
constexpr int64_t kMC = 96, kMT = 3 * kMC, kKC = 128, kNC = 192;

template <class T>
class LoopMatmulKernel final : public Kernel {
  using Acc = typename LoopAcc<T>::type;

 public:
  explicit LoopMatmulKernel(const MatmulProblem& p) : p_(p), micro_(pick_micro<Acc>()) {
    const int64_t bcount = p_.batch_count();
    const double flops = 2.0 * (double)bcount * (double)p_.M * (double)p_.N * (double)p_.K;
    threads_ = pick_threads(flops / 4);  // ~4 flops per byte-equivalent of work for a blocked loop
    nc_ = align_up(std::min<int64_t>(p_.N, align_up(kNC, micro_.nr)), micro_.nr);
    kc_ = std::max<int64_t>(1, std::min<int64_t>(p_.K, kKC));
    mt_ = std::min<int64_t>(p_.M, kMT);
    // Enough tasks for every thread: split M finer when batch x column blocks are too few.
    col_blocks_ = ceil_div(p_.N, nc_);
    if (bcount * col_blocks_ * ceil_div(p_.M, mt_) < threads_ && p_.M > micro_.mr)
      mt_ = align_up(ceil_div(p_.M, threads_), micro_.mr);
    row_blocks_ = ceil_div(p_.M, mt_);
    tasks_ = bcount * row_blocks_ * col_blocks_;
    if (tasks_ < threads_) threads_ = (int)std::max<int64_t>(1, tasks_);
    a_off_ = 0;
    b_off_ = align_up(std::min(mt_, kMC) * kc_ * (int64_t)sizeof(Acc), kAlign);
    c_off_ = b_off_ + align_up(kc_ * nc_ * (int64_t)sizeof(Acc), kAlign);
    per_thread_ = c_off_ + align_up(mt_ * nc_ * (int64_t)sizeof(Acc), kAlign);
  }

  void run(const void* const* in, void* out, const ExecContext& ctx) override {
    const T* A = (const T*)in[0];
    const T* B = (const T*)in[1];
    T* C = (T*)out;
    char* scratch = (char*)ctx.scratchpad;
    if (threads_ > 1) {
      ThreadScope ts(threads_);
#pragma omp parallel
      {
        const int nt = omp_get_num_threads(), t = omp_get_thread_num();
        for (int64_t task = t; task < tasks_; task += nt) run_task(task, A, B, C, scratch + t * per_thread_);
      }
    } else {
      for (int64_t task = 0; task < tasks_; task++) run_task(task, A, B, C, scratch);
    }
  }

  size_t scratchpad_bytes() const override { return (size_t)(per_thread_ * threads_); }
  std::string impl() const override { return std::string("loop:matmul_") + micro_.isa; }

 private:
  void run_task(int64_t task, const T* A, const T* B, T* C, char* scratch) const {
    const int64_t cb = task % col_blocks_, rb = (task / col_blocks_) % row_blocks_;
    const int64_t bi = task / (col_blocks_ * row_blocks_);
    const int64_t m0 = rb * mt_, mt = std::min(mt_, p_.M - m0);
    const int64_t n0 = cb * nc_, nc = std::min(nc_, p_.N - n0), ncp = align_up(nc, micro_.nr);
    const T* a = A + batch_offset(p_.batch, p_.a, bi) + m0 * p_.a.rs;
    const T* b = B + batch_offset(p_.batch, p_.b, bi) + n0 * p_.b.cs;
    Acc* ap = (Acc*)(scratch + a_off_);
    Acc* bp = (Acc*)(scratch + b_off_);
    Acc* cp = (Acc*)(scratch + c_off_);
    std::fill(cp, cp + mt * ncp, Acc(0));
    for (int64_t k0 = 0; k0 < p_.K; k0 += kc_) {
      const int64_t kc = std::min(kc_, p_.K - k0);
      // B panel: kc x ncp, zero-padded to whole register tiles.
      for (int64_t k = 0; k < kc; k++) {
        const T* src = b + (k0 + k) * p_.b.rs;
        Acc* dst = bp + k * ncp;
        if (p_.b.cs == 1) {
          for (int64_t j = 0; j < nc; j++) dst[j] = to_acc<T, Acc>(src[j]);
        } else {
          for (int64_t j = 0; j < nc; j++) dst[j] = to_acc<T, Acc>(src[j * p_.b.cs]);
        }
        for (int64_t j = nc; j < ncp; j++) dst[j] = Acc(0);
      }
      for (int64_t s0 = 0; s0 < mt; s0 += kMC) {
        const int64_t ms = std::min(kMC, mt - s0);
        // A panel: ms x kc, row-major.
        for (int64_t i = 0; i < ms; i++) {
          const T* src = a + (s0 + i) * p_.a.rs + k0 * p_.a.cs;
          Acc* dst = ap + i * kc;
          if (p_.a.cs == 1) {
            for (int64_t k = 0; k < kc; k++) dst[k] = to_acc<T, Acc>(src[k]);
          } else {
            for (int64_t k = 0; k < kc; k++) dst[k] = to_acc<T, Acc>(src[k * p_.a.cs]);
          }
        }
        for (int64_t i = 0; i < ms; i += micro_.mr)
          micro_.fn((int)std::min<int64_t>(micro_.mr, ms - i), kc, ap + i * kc, kc, bp, ncp, cp + (s0 + i) * ncp, ncp,
                    ncp);
      }
    }
    T* c = C + (bi * p_.M + m0) * p_.N + n0;
    for (int64_t i = 0; i < mt; i++)
      for (int64_t j = 0; j < nc; j++) c[i * p_.N + j] = from_acc<T, Acc>(cp[i * ncp + j]);
  }

  MatmulProblem p_;
  Micro micro_;
  int threads_ = 1;
  int64_t mt_ = 0, kc_ = 0, nc_ = 0, row_blocks_ = 0, col_blocks_ = 0, tasks_ = 0;
  int64_t a_off_ = 0, b_off_ = 0, c_off_ = 0, per_thread_ = 0;
};

std::unique_ptr<Kernel> make_loop_matmul(const KernelSpec& s) {
  const MatmulProblem p = make_problem(s.inputs.at(0), s.inputs.at(1));
  return dispatch_dtype(s.output.dtype, [&](auto tag) -> std::unique_ptr<Kernel> {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, bool_t>) {
      return nullptr;  // infer() rejects bool matmul
    } else {
      return std::make_unique<LoopMatmulKernel<T>>(p);
    }
  });
}

// ---------------------------------------------------------------------------------------------
// oneDNN matmul.

using dims = dnnl::memory::dims;

// Strides for oneDNN: a size-1 dim's stride is irrelevant to the data but oneDNN classifies the
// layout from it, so give it the value a dense layout would have (the extent of the inner dims).
dims canonical_strides(const dims& d, dims st) {
  for (size_t i = d.size(); i-- > 0;) {
    if (d[i] != 1) continue;
    int64_t ext = 1;
    for (size_t j = i + 1; j < d.size(); j++) ext = std::max<int64_t>(ext, st[j] * d[j]);
    st[i] = ext;
  }
  return st;
}

// An operand that oneDNN reads in place needs a unit stride in one of its two matrix dims and no
// stride-0 (broadcast-by-view) matrix dim; anything else is packed contiguous first.
bool needs_pack(const MatOperand& op, int64_t rows, int64_t cols) {
  if ((rows > 1 && op.rs == 0) || (cols > 1 && op.cs == 0)) return true;
  return !(rows == 1 || cols == 1 || op.rs == 1 || op.cs == 1);
}

struct OperandLayout {
  dims d, st;                    // dims and strides as oneDNN sees them
  Shape src_shape, src_strides;  // the strided view that is packed (when packed)
};

OperandLayout operand_layout(const MatOperand& op, int64_t rows, int64_t cols, bool pack) {
  OperandLayout l;
  l.d.assign(op.bdims.begin(), op.bdims.end());
  l.d.push_back(rows);
  l.d.push_back(cols);
  if (pack) {
    l.src_shape.assign(l.d.begin(), l.d.end());
    l.src_strides = op.bstrides;
    l.src_strides.push_back(op.rs);
    l.src_strides.push_back(op.cs);
    Shape c = contiguous_strides(l.src_shape);
    l.st.assign(c.begin(), c.end());
  } else {
    l.st.assign(op.bstrides.begin(), op.bstrides.end());
    l.st.push_back(op.rs);
    l.st.push_back(op.cs);
  }
  l.st = canonical_strides(l.d, l.st);
  return l;
}

// Copies a strided view into a contiguous buffer of the same shape (elements of `esz` bytes).
class Packer {
 public:
  Packer() = default;
  Packer(const Shape& shape, const Shape& strides, int64_t esz)
      : loop_(std::make_unique<StridedLoop<2>>(shape, std::array<Shape, 2>{contiguous_strides(shape), strides},
                                               std::array<int64_t, 2>{esz, esz})),
        esz_(esz) {}
  explicit operator bool() const { return loop_ != nullptr; }

  void run(const void* src, void* dst) const {
    std::array<char*, 2> base{(char*)dst, (char*)src};
    const int64_t esz = esz_;
    loop_->run(base, [esz](int64_t n, std::array<char*, 2> p, std::array<int64_t, 2> s) {
      auto gather = [&](auto tag) {
        using E = decltype(tag);
        E* d = (E*)p[0];
        const E* x = (const E*)p[1];
        for (int64_t i = 0; i < n; i++) d[i] = x[i * s[1]];
      };
      if (s[1] == 1) std::memcpy(p[0], p[1], (size_t)(n * esz));
      else if (esz == 4) gather(uint32_t{});
      else gather(uint16_t{});
    });
  }

 private:
  std::unique_ptr<StridedLoop<2>> loop_;
  int64_t esz_ = 0;
};

class DnnlMatmulKernel final : public Kernel {
 public:
  struct Plan {
    dnnl::matmul prim;
    dnnl::memory::desc a_md, b_md, c_md, scratch_md;  // actual descs (no runtime dims)
    Packer pack_a, pack_b;
    int64_t a_bytes = 0, b_bytes = 0;  // packed buffer sizes
    std::shared_ptr<void> b_prepacked;  // a constant b, reordered at creation into b_md's layout
    int threads = 1;
    std::string impl;
    // fused epilogue: binary post-op operands (post-op index, input index, memory desc)
    struct Operand {
      int post_op;
      int input;
      dnnl::memory::desc md;
    };
    std::vector<Operand> operands;
    bool fused = false;
  };

  explicit DnnlMatmulKernel(Plan plan) : p_(std::move(plan)) {
    const int64_t s = (int64_t)p_.scratch_md.get_size();
    a_off_ = align_up(s, kAlign);
    b_off_ = a_off_ + align_up(p_.a_bytes, kAlign);
    total_ = b_off_ + align_up(p_.b_bytes, kAlign);
    args_.add(DNNL_ARG_SRC, p_.a_md);
    args_.add(DNNL_ARG_WEIGHTS, p_.b_md);
    args_.add(DNNL_ARG_DST, p_.c_md);
    if (p_.scratch_md.get_size() > 0) args_.add(DNNL_ARG_SCRATCHPAD, p_.scratch_md);
    for (const auto& o : p_.operands) args_.add(DNNL_ARG_ATTR_MULTIPLE_POST_OP(o.post_op) | DNNL_ARG_SRC_1, o.md);
  }

  void run(const void* const* in, void* out, const ExecContext& ctx) override {
    char* sp = (char*)ctx.scratchpad;
    const void* a = in[0];
    const void* b = in[1];
    if (p_.pack_a) {
      p_.pack_a.run(a, sp + a_off_);
      a = sp + a_off_;
    }
    if (p_.b_prepacked) {
      b = p_.b_prepacked.get();
    } else if (p_.pack_b) {
      p_.pack_b.run(b, sp + b_off_);
      b = sp + b_off_;
    }
    auto held = args_.lock();
    args_.set(DNNL_ARG_SRC, a);
    args_.set(DNNL_ARG_WEIGHTS, b);
    args_.set(DNNL_ARG_DST, out);
    if (p_.scratch_md.get_size() > 0) args_.set(DNNL_ARG_SCRATCHPAD, sp);
    for (const auto& o : p_.operands) args_.set(DNNL_ARG_ATTR_MULTIPLE_POST_OP(o.post_op) | DNNL_ARG_SRC_1, in[o.input]);
    ThreadScope ts(p_.threads);
    args_.execute(p_.prim);
  }

  size_t scratchpad_bytes() const override { return (size_t)total_; }
  std::string impl() const override { return p_.impl; }
  bool fused_post_ops() const override { return p_.fused; }
  bool reads_input_at_run(size_t i) const override { return !(i == 1 && p_.b_prepacked); }

 private:
  Plan p_;
  DnnlArgs args_;
  int64_t a_off_ = 0, b_off_ = 0, total_ = 0;
};

// The spec's post-ops as oneDNN post-ops on a destination of dims `cd`: a bias-like add (an operand
// that broadcasts, right-aligned, to the output) and a few activations whose oneDNN forms match our
// semantics. False when any post-op cannot be expressed.
bool build_post_ops(const KernelSpec& s, const dims& cd, dnnl::post_ops* po, std::vector<DnnlMatmulKernel::Plan::Operand>* ops,
                    std::string* desc) {
  using A = dnnl::algorithm;
  for (size_t i = 0; i < s.post_ops.size(); i++) {
    const PostOp& p = s.post_ops[i];
    if (p.operand >= 0) {
      if (p.op != OpCode::Add || p.operand >= (int)s.inputs.size()) return false;
      const TensorDesc& o = s.inputs[p.operand];
      if (o.dtype != s.output.dtype || !o.is_contiguous()) return false;
      // the operand over the product's dims (merged batch dims, folded rows: post_op_dims.h)
      dims od;
      if (!operand_on_dims(s.output.shape, o.shape, cd, &od)) return false;
      dnnl::memory::data_type dt;
      if (!dnnl_dtype(o.dtype, &dt)) return false;
      const Shape ost = contiguous_strides(Shape(od.begin(), od.end()));
      dnnl::memory::desc md(od, dt, dims(ost.begin(), ost.end()));
      po->append_binary(A::binary_add, md);
      ops->push_back({po->len() - 1, p.operand, md});
      *desc += " +add";
      continue;
    }
    switch (p.op) {
      case OpCode::Relu: append_eltwise_post_op(po, A::eltwise_relu, 0.f, 0.f); *desc += " +relu"; break;
      case OpCode::LeakyRelu: append_eltwise_post_op(po, A::eltwise_relu, (float)p.attrs.at(0), 0.f); *desc += " +leaky_relu"; break;
      case OpCode::Tanh: po->append_eltwise(A::eltwise_tanh, 0.f, 0.f); *desc += " +tanh"; break;
      case OpCode::Sigmoid: po->append_eltwise(A::eltwise_logistic, 0.f, 0.f); *desc += " +sigmoid"; break;
      case OpCode::Gelu: po->append_eltwise(A::eltwise_gelu_tanh, 0.f, 0.f); *desc += " +gelu"; break;
      case OpCode::GeluErf: po->append_eltwise(A::eltwise_gelu_erf, 0.f, 0.f); *desc += " +gelu_erf"; break;
      case OpCode::Mul:  // a scale by a constant scalar (fuse_transformer.cc: attrs {scale})
        if (p.attrs.size() != 1) return false;
        po->append_eltwise(A::eltwise_linear, (float)p.attrs[0], 0.f);
        *desc += " +scale";
        break;
      default: return false;
    }
  }
  return true;
}

// Tries one configuration; returns false (and leaves `plan` alone) when oneDNN refuses it or only
// has a reference implementation for it.
// With `b_const` (the data of a constant b, read in place: !pack_b), the weights layout is left to
// oneDNN (format `any`: a blocked layout brgemm reads without copying b each run) and b is
// reordered into it once, here.
bool try_plan(const KernelSpec& s, const MatmulProblem& p, dnnl::memory::data_type dt, bool pack_a, bool pack_b,
              bool runtime_m, int threads, DnnlMatmulKernel::Plan* plan, const void* b_const = nullptr) {
  using md = dnnl::memory::desc;
  const OperandLayout la = operand_layout(p.a, p.M, p.K, pack_a);
  const OperandLayout lb = operand_layout(p.b, p.K, p.N, pack_b);
  dims cd(p.batch.begin(), p.batch.end());
  cd.push_back(p.M);
  cd.push_back(p.N);
  const Shape cst = contiguous_strides(Shape(cd.begin(), cd.end()));
  try {
    const md a_md(la.d, dt, la.st), b_md(lb.d, dt, lb.st), c_md(cd, dt, dims(cst.begin(), cst.end()));
    md a_pd = a_md, c_pd = c_md;
    if (runtime_m) {
      // M, and the strides of src/dst that depend on it, are bound at execution time; the unit
      // stride of the row-major src and dst stays static (gemm:jit needs it).
      dims rt_a(la.d.size(), DNNL_RUNTIME_DIM_VAL), rt_c(cd.size(), DNNL_RUNTIME_DIM_VAL);
      rt_a.back() = rt_c.back() = 1;
      dims ad = la.d, cdd = cd;
      ad[ad.size() - 2] = cdd[cdd.size() - 2] = DNNL_RUNTIME_DIM_VAL;
      a_pd = md(ad, dt, rt_a);
      c_pd = md(cdd, dt, rt_c);
    }
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    std::vector<DnnlMatmulKernel::Plan::Operand> operands;
    std::string fused;
    if (!s.post_ops.empty()) {
      dnnl::post_ops po;
      if (!build_post_ops(s, cd, &po, &operands, &fused)) return false;
      attr.set_post_ops(po);
    }
    ThreadScope ts(threads);
    const bool prepack = b_const && !pack_b && !runtime_m;
    const md b_pd = prepack ? md(lb.d, dt, dnnl::memory::format_tag::any) : b_md;
    dnnl::matmul::primitive_desc pd(cpu_engine(), a_pd, b_pd, c_pd, attr, /*allow_empty=*/true);
    if (!pd) return false;
    const std::string info = pd.impl_info_str();
    if (is_ref_impl(info)) return false;
    std::shared_ptr<void> packed;
    if (prepack && pd.weights_desc() != b_md) {
      packed = dnnl_steps::pack_constant(b_md, pd.weights_desc(), b_const, threads);
      if (!packed) return false;
    }
    plan->prim = dnnl::matmul(pd);
    plan->a_md = a_md;
    plan->b_md = prepack ? pd.weights_desc() : b_md;
    plan->b_prepacked = std::move(packed);
    plan->c_md = c_md;
    plan->scratch_md = pd.scratchpad_desc();
    const int64_t esz = (int64_t)dnnl::memory::data_type_size(dt);
    plan->pack_a = pack_a ? Packer(la.src_shape, la.src_strides, esz) : Packer();
    plan->pack_b = pack_b ? Packer(lb.src_shape, lb.src_strides, esz) : Packer();
    plan->a_bytes = pack_a ? numel(la.src_shape) * esz : 0;
    plan->b_bytes = pack_b ? numel(lb.src_shape) * esz : 0;
    plan->threads = threads;
    plan->impl = "onednn:" + info + fused;
    plan->operands = std::move(operands);
    plan->fused = !s.post_ops.empty();
    if (pack_a || pack_b) plan->impl += pack_a && pack_b ? " (a, b packed)" : pack_a ? " (a packed)" : " (b packed)";
    if (plan->b_prepacked) plan->impl += " (b pre-packed)";
    return true;
  } catch (const dnnl::error&) {
    return false;
  }
}

std::unique_ptr<Kernel> make_dnnl_matmul(const KernelSpec& s) {
  dnnl::memory::data_type dt;
  const DType t = s.output.dtype;
  if (!(t == DType::F32 || t == DType::BF16 || t == DType::F16) || !dnnl_dtype(t, &dt)) return nullptr;
  const MatmulProblem p = make_problem(s.inputs.at(0), s.inputs.at(1));
  if (p.K == 0 || p.batch.size() + 2 > DNNL_MAX_NDIMS) return nullptr;  // the loop writes zeros / handles rank

  const double esz = (double)dtype_size(t);
  const double flops = 2.0 * (double)p.batch_count() * (double)p.M * (double)p.N * (double)p.K;
  const double bytes = esz * ((double)s.inputs[0].numel() + (double)s.inputs[1].numel() + (double)s.output.numel());
  const int threads = pick_threads(std::max(flops / 8, bytes));

  // A runtime-M primitive (gemm:jit) wins for small M over a weight matrix of some size (for tiny
  // products brgemm is a fraction of a microsecond faster); with a transposed b only for M <= 4.
  const bool b_rowmajor = p.b.cs == 1 || p.N == 1;
  const bool small_m = t == DType::F32 && p.M <= (b_rowmajor ? 64 : 4) && p.K * p.N >= 4096 && (p.a.cs == 1 || p.K == 1);

  const bool pa = needs_pack(p.a, p.M, p.K), pb = needs_pack(p.b, p.K, p.N);
  DnnlMatmulKernel::Plan plan;
  // Constant weights (a compiled plan's b, one matrix): brgemm over b packed once at creation, with
  // the epilogue fused, matches the runtime-M gemm:jit at M=1 and beats it from there (784x512: M=1
  // 11.5 vs 11.4 us, M=64 116 vs 123 us; 9216x128: M=1 33 vs 34, M=64 340 vs 440 us; 2 threads),
  // and gemm:jit must run the bias add and activation as kernels of their own.
  if (s.constant(1) && t == DType::F32 && p.batch.empty() && !pb && p.K * p.N >= 4096 &&
      try_plan(s, p, dt, pa, false, false, threads, &plan, s.constant(1)))
    return std::make_unique<DnnlMatmulKernel>(std::move(plan));
  // a fused epilogue must not cost the runtime-M path its speed: decline the fusion instead
  if (small_m && !s.post_ops.empty()) {
    if (!try_plan(s, p, dt, pa, pb, true, threads, &plan)) return nullptr;
    return std::make_unique<DnnlMatmulKernel>(std::move(plan));
  }
  // Large products of two run-time operands (nothing to pre-pack): oneDNN's gemm:jit, which the
  // runtime-M primitive selects, beats brgemm on plain row-major operands here (1024^3, 2 threads:
  // 5.5 vs 6.0 ms in shared/research/onednn.md; interleaved in one process on the loaded VM:
  // median 0.86x at 2 threads, 0.95x at 1). With an epilogue, brgemm's fused post-ops win instead.
  const bool big_dynamic = t == DType::F32 && s.post_ops.empty() && !s.constant(1) &&
                           p.batch.empty() && p.M >= 512 && p.N >= 512 && p.K >= 512 && !pa && !pb;
  if (big_dynamic && try_plan(s, p, dt, pa, pb, true, threads, &plan))
    return std::make_unique<DnnlMatmulKernel>(std::move(plan));
  // Batched f32 products over strided operands (attention's q·kᵀ and p·v on permuted head views):
  // oneDNN runs gemm:jit on them and brgemm only on dense ones; packing b (then a too) into dense
  // blocks first is 4-5x faster at MiniLM's [12, 128, 32]·[12, 32, 128] and [12, 128, 128]·[12, 128, 32]
  // (bench/bert-parts.ts).
  if (!p.batch.empty() && t == DType::F32 && !small_m && try_plan(s, p, dt, pa, pb, false, threads, &plan)) {
    if (plan.impl.find("brg") == std::string::npos) {
      for (const auto& [ka, kb] : {std::pair<bool, bool>{pa, true}, std::pair<bool, bool>{true, true}}) {
        DnnlMatmulKernel::Plan packed;
        if (try_plan(s, p, dt, ka, kb, false, threads, &packed) && packed.impl.find("brg") != std::string::npos)
          return std::make_unique<DnnlMatmulKernel>(std::move(packed));
      }
    }
    return std::make_unique<DnnlMatmulKernel>(std::move(plan));
  }
  bool ok = (small_m && try_plan(s, p, dt, pa, pb, true, threads, &plan)) || try_plan(s, p, dt, pa, pb, false, threads, &plan) ||
            ((!pa || !pb) && try_plan(s, p, dt, true, true, false, threads, &plan));
  if (!ok) return nullptr;
  return std::make_unique<DnnlMatmulKernel>(std::move(plan));
}

KernelRegistrar reg_dnnl({OpCode::Matmul}, &make_dnnl_matmul, 10);
KernelRegistrar reg_loop({OpCode::Matmul}, &make_loop_matmul, 0);

}  // namespace

}  // namespace hodu
