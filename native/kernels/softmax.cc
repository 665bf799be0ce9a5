// Softmax and log-softmax along one dim of a strided float tensor.
//
// Numerically stable form: with m the maximum along the dim,
//   softmax(x)     = exp(x - m) / Σ exp(x - m)
//   log_softmax(x) = (x - m) - log Σ exp(x - m)
// so exp never overflows ([1000, 1000] gives [0.5, 0.5]); the sum is accumulated in double.
//
// Two implementations:
//  * oneDNN softmax_forward (softmax_accurate / softmax_log) when the dim is the last one (nothing
//    but size-1 dims after it) of a contiguous f32 (or bf16) tensor: the only case with a jit
//    kernel (other axes and strided rows run ref:any, ~200x slower). Note: oneDNN does not spread
//    a NaN over its row ([1, NaN] gives [0, NaN]); the loop gives NaN for the whole row.
//  * A loop for every other case, with no transposes. The shape depends on which dim moves
//    fastest in the input:
//      - rows: the softmax dim. Each row takes three passes (max; exp and its sum; scale), each a
//        vectorisable loop along the row.
//      - lanes: another dim (e.g. softmax over dim 0 of a matrix, or over the last dim of a
//        transposed view). That dim (merged with its neighbours where the layout allows) provides
//        the vector lanes: a block of lanes × the whole softmax dim is read once, along memory,
//        into a contiguous scratchpad buffer sized to stay in L2; the exp/sum pass runs there
//        (per-lane rows of maxima and sums) and the last pass writes the output.
//    float/f16/bf16 compute in float, f64 in double, with vectorisable exps (exp_nonpos below).
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "dnnl_util.h"
#include "elem.h"
#include "kernel.h"
#include "nan_rows.h"

// Hot loops are compiled for several x86 ISA levels and picked at load time (GNU ifunc).
#if defined(__x86_64__) && defined(__linux__) && defined(__GNUC__) && !defined(__clang__)
#define HODU_CLONES __attribute__((target_clones("default", "avx2", "arch=x86-64-v4")))
#else
#define HODU_CLONES
#endif
#if defined(__GNUC__)
#define HODU_INLINE inline __attribute__((always_inline))
#else
#define HODU_INLINE inline
#endif

namespace hodu {

namespace {

// exp(x) for x <= 0 or NaN (softmax only exponentiates x - max): 2^n · p(r) with
// r = x - n·ln2 in [-ln2/2, ln2/2] and p the degree-7 Taylor polynomial (truncation error below
// 6e-9 relative; 1.2 ulp measured overall). x < -87 (results under 1.7e-38) gives 0 and NaN stays
// NaN. Branch-free, with the selects done on bit patterns (GCC does not if-convert them here) and
// no float->int conversion, so that loops calling it vectorise.
HODU_INLINE uint32_t bits_of(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}
HODU_INLINE float float_of(uint32_t b) {
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}
HODU_INLINE float exp_nonpos(float x) {
  const float kLog2e = 1.44269504088896341f;
  const float kLn2Hi = 0.693145751953125f;  // ln 2 split so that n * kLn2Hi is exact
  const float kLn2Lo = 1.42860682030941723212e-6f;
  const float kRound = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer in the low bits
  // All ones unless x < -87 (NaN keeps its bits and so propagates).
  const uint32_t keep = 0u - (uint32_t)((x >= -87.0f) | (x != x));
  const float xc = float_of((bits_of(x) & keep) | (bits_of(-87.0f) & ~keep));
  const float t = xc * kLog2e + kRound;
  const float n = t - kRound;
  const float r = (xc - n * kLn2Hi) - n * kLn2Lo;
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  // n is in [-126, 0]: 2^n is a normal float whose exponent field is n + 127.
  const float scale = float_of((bits_of(t) - 0x4B400000u + 127u) << 23);
  return float_of(bits_of(p * scale) & keep);
}

// The same for double: r reduced with fdlibm's split of ln 2, degree-12 Taylor polynomial
// (truncation error below 2e-16 relative; 2.6 ulp measured overall), x < -708 gives 0.
HODU_INLINE uint64_t bits_of(double f) {
  uint64_t b;
  std::memcpy(&b, &f, 8);
  return b;
}
HODU_INLINE double double_of(uint64_t b) {
  double f;
  std::memcpy(&f, &b, 8);
  return f;
}
HODU_INLINE double exp_nonpos(double x) {
  const double kLog2e = 1.4426950408889634074;
  const double kLn2Hi = 6.93147180369123816490e-01;
  const double kLn2Lo = 1.90821492927058770002e-10;
  const double kRound = 6755399441055744.0;  // 1.5 * 2^52
  const uint64_t keep = 0ull - (uint64_t)((x >= -708.0) | (x != x));
  const double xc = double_of((bits_of(x) & keep) | (bits_of(-708.0) & ~keep));
  const double t = xc * kLog2e + kRound;
  const double n = t - kRound;
  const double r = (xc - n * kLn2Hi) - n * kLn2Lo;
  double p = 1.0 / 479001600.0;  // 1/12!
  p = p * r + 1.0 / 39916800.0;
  p = p * r + 1.0 / 3628800.0;
  p = p * r + 1.0 / 362880.0;
  p = p * r + 1.0 / 40320.0;
  p = p * r + 1.0 / 5040.0;
  p = p * r + 1.0 / 720.0;
  p = p * r + 1.0 / 120.0;
  p = p * r + 1.0 / 24.0;
  p = p * r + 1.0 / 6.0;
  p = p * r + 0.5;
  p = p * r + 1.0;
  p = p * r + 1.0;
  // n is in [-1022, 0]: 2^n is a normal double whose exponent field is n + 1023.
  const double scale = double_of((bits_of(t) - bits_of(kRound) + 1023u) << 52);
  return double_of(bits_of(p * scale) & keep);
}

HODU_INLINE float exp_of(float x) { return exp_nonpos(x); }
HODU_INLINE double exp_of(double x) { return exp_nonpos(x); }

// Rows: f16/bf16 outputs recompute exp in the last pass instead of rounding it through the output.
template <class T> constexpr bool kStoreExp = std::is_same_v<T, float> || std::is_same_v<T, double>;

using One = std::integral_constant<int64_t, 1>;

// One row: n elements x[k*s] -> out[k*os]. S, O: int64_t, or One for unit strides (vectorises).
template <class T, bool kLog, class S, class O>
HODU_INLINE void row_body(const T* __restrict x, int64_t n, S s, T* __restrict out, O os) {
  using C = compute_t<T>;
  C m = -std::numeric_limits<C>::infinity();
  int nan = 0;
#pragma omp simd reduction(max : m) reduction(| : nan)
  for (int64_t k = 0; k < n; k++) {
    C v = load(x[k * s]);
    m = v > m ? v : m;
    nan |= v != v;
  }
  if (nan) m = std::numeric_limits<C>::quiet_NaN();  // NaN spreads over the row
  double sum = 0;
  if constexpr (kStoreExp<T> && !kLog) {
#pragma omp simd reduction(+ : sum)
    for (int64_t k = 0; k < n; k++) {
      C e = exp_of((C)(load(x[k * s]) - m));
      out[k * os] = e;
      sum += e;
    }
  } else {
#pragma omp simd reduction(+ : sum)
    for (int64_t k = 0; k < n; k++) sum += exp_of((C)(load(x[k * s]) - m));
  }
  if constexpr (kLog) {
    const C lse = (C)std::log(sum);
#pragma omp simd
    for (int64_t k = 0; k < n; k++) out[k * os] = store<T>((load(x[k * s]) - m) - lse);
  } else if constexpr (kStoreExp<T>) {
    const C inv = (C)(1.0 / sum);
#pragma omp simd
    for (int64_t k = 0; k < n; k++) out[k * os] *= inv;
  } else {
    const C inv = (C)(1.0 / sum);
#pragma omp simd
    for (int64_t k = 0; k < n; k++) out[k * os] = store<T>(exp_of((C)(load(x[k * s]) - m)) * inv);
  }
}

template <class T, bool kLog>
HODU_CLONES void softmax_row(const T* x, int64_t n, int64_t s, T* out, int64_t os) {
  if (s == 1 && os == 1)
    row_body<T, kLog>(x, n, One(), out, One());
  else
    row_body<T, kLog>(x, n, s, out, os);
}

// A block of L lanes (input x[k*sl], output out[k*ol]) over n steps of the softmax dim (input
// stride sa, output stride oa), staged through a contiguous buffer buf[n][L] in the compute type:
// one pass reads the input (and finds the maxima), the exp/sum pass runs in the buffer, the last
// pass writes the output. Strided and power-of-two-aliased input rows are therefore read once.
// m: L compute-type slots, sum: L doubles.
template <class T, bool kLog, class S>
HODU_INLINE void lanes_body(const T* __restrict x, int64_t n, int64_t sa, int64_t L, S sl, T* __restrict out,
                            int64_t oa, int64_t ol, compute_t<T>* __restrict buf, compute_t<T>* __restrict m,
                            double* __restrict sum) {
  using C = compute_t<T>;
  for (int64_t k = 0; k < L; k++) {
    m[k] = -std::numeric_limits<C>::infinity();
    sum[k] = 0;
  }
  for (int64_t j = 0; j < n; j++) {
    const T* xr = x + j * sa;
    C* b = buf + j * L;
#pragma omp simd
    for (int64_t k = 0; k < L; k++) {
      C v = load(xr[k * sl]);
      b[k] = v;
      m[k] = v > m[k] || v != v ? v : m[k];  // NaN sticks
    }
  }
  for (int64_t j = 0; j < n; j++) {
    C* b = buf + j * L;
#pragma omp simd
    for (int64_t k = 0; k < L; k++) {
      C e = exp_of((C)(b[k] - m[k]));
      sum[k] += e;
      if constexpr (!kLog) b[k] = e;
    }
  }
  // Reuse sum[] for the final per-lane constant: log Σ (log) or 1 / Σ.
  for (int64_t k = 0; k < L; k++) sum[k] = kLog ? std::log(sum[k]) : 1.0 / sum[k];
  auto final_value = [&](C b, int64_t k) -> C { return kLog ? (b - m[k]) - (C)sum[k] : b * (C)sum[k]; };
  if (ol == 1) {  // output contiguous along the lanes
    for (int64_t j = 0; j < n; j++) {
      const C* b = buf + j * L;
      T* orow = out + j * oa;
#pragma omp simd
      for (int64_t k = 0; k < L; k++) orow[k] = store<T>(final_value(b[k], k));
    }
  } else {  // e.g. the last dim of a transposed view: walk the output along the softmax dim
    for (int64_t k = 0; k < L; k++) {
      T* ocol = out + k * ol;
      for (int64_t j = 0; j < n; j++) ocol[j * oa] = store<T>(final_value(buf[j * L + k], k));
    }
  }
}

template <class T, bool kLog>
HODU_CLONES void softmax_lanes(const T* x, int64_t n, int64_t sa, int64_t L, int64_t sl, T* out, int64_t oa, int64_t ol,
                               compute_t<T>* buf, compute_t<T>* m, double* sum) {
  if (sl == 1)
    lanes_body<T, kLog>(x, n, sa, L, One(), out, oa, ol, buf, m, sum);
  else
    lanes_body<T, kLog>(x, n, sa, L, sl, out, oa, ol, buf, m, sum);
}

struct Dim {
  int64_t n, s, o;  // size, input stride, output stride
};

// Odometer over batch dims tracking the input and output offsets.
struct Counter {
  const Dim* d;
  int nd;
  int64_t i[kMaxRank] = {};
  int64_t in = 0, out = 0;
  explicit Counter(const std::vector<Dim>& dims) : d(dims.data()), nd((int)dims.size()) {}
  void seek(int64_t linear) {
    in = out = 0;
    for (int k = nd - 1; k >= 0; k--) {
      i[k] = linear % d[k].n;
      linear /= d[k].n;
      in += i[k] * d[k].s;
      out += i[k] * d[k].o;
    }
  }
  void next() {
    for (int k = nd - 1; k >= 0; k--) {
      in += d[k].s;
      out += d[k].o;
      if (++i[k] < d[k].n) return;
      in -= i[k] * d[k].s;
      out -= i[k] * d[k].o;
      i[k] = 0;
    }
  }
};

// Appends d to dims, merging it into the last one when both strides allow.
void push_merged(std::vector<Dim>& dims, const Dim& d) {
  if (d.n == 1) return;
  if (!dims.empty() && dims.back().s == d.s * d.n && dims.back().o == d.o * d.n) {
    dims.back() = {dims.back().n * d.n, d.s, d.o};
  } else {
    dims.push_back(d);
  }
}

// Lanes blocks: staging buffer target (a share of L2: wider blocks vectorise better), hard cap,
// and widest block.
constexpr size_t kStageBytes = 256 * 1024;
constexpr size_t kMaxStageBytes = 4 * 1024 * 1024;
constexpr int64_t kMaxLaneTile = 512;

class SoftmaxLoopKernel final : public Kernel {
 public:
  SoftmaxLoopKernel(const KernelSpec& s) : dtype_(s.output.dtype), log_(s.op == OpCode::LogSoftmax) {
    const TensorDesc& in = s.inputs.at(0);
    const int r = in.ndim();
    const int axis = norm_dim((int64_t)s.attrs.at(0), r, op_info(s.op).name);
    Shape ost = contiguous_strides(in.shape);
    axis_ = {in.shape[axis], in.strides[axis], ost[axis]};
    // The other dims in output order, merged where both layouts allow.
    std::vector<Dim> rest;
    for (int d = 0; d < r; d++)
      if (d != axis) push_merged(rest, {in.shape[d], in.strides[d], ost[d]});
    // Lanes when some other dim moves faster in memory than the softmax dim (the fastest one,
    // preferring contiguous output among equals); rows otherwise.
    int lane = -1;
    for (int i = 0; i < (int)rest.size(); i++) {
      const Dim& d = rest[i];
      if (lane < 0 || key(d.s) < key(rest[lane].s) || (key(d.s) == key(rest[lane].s) && d.o < rest[lane].o)) lane = i;
    }
    const size_t csize = dtype_ == DType::F64 ? 8 : 4;  // compute type
    if (lane >= 0 && key(rest[lane].s) < key(axis_.s)) {
      // Lanes per block: the staging buffer (n × tile compute-type values) should stay in L2.
      int64_t tile = (int64_t)(kStageBytes / ((size_t)axis_.n * csize)) / 16 * 16;
      tile = std::min(std::max<int64_t>(tile, 16), kMaxLaneTile);
      tile = std::min(tile, rest[lane].n);
      if ((size_t)axis_.n * (size_t)tile * csize <= kMaxStageBytes) {
        lane_ = rest[lane];
        rest.erase(rest.begin() + lane);
        tile_ = tile;
      }
      // else: a very long softmax dim; the rows kernel reads it strided instead.
    }
    batch_ = rest;
    batch_count_ = 1;
    for (const Dim& d : batch_) batch_count_ *= d.n;
    tiles_ = (lane_.n + tile_ - 1) / tile_;
    units_ = batch_count_ * tiles_;
    threads_ = pick_threads(2.0 * (double)s.output.nbytes());
    if (lanes()) {
      buf_bytes_ = align64((size_t)axis_.n * (size_t)tile_ * csize);
      slot_ = buf_bytes_ + align64((size_t)tile_ * csize) + align64((size_t)tile_ * sizeof(double));
    }
  }

  size_t scratchpad_bytes() const override { return slot_ * (size_t)threads_; }
  std::string impl() const override { return lanes() ? "loop:softmax_lanes" : "loop:softmax_rows"; }

  void run(const void* const* in, void* out, const ExecContext& ctx) override {
    switch (dtype_) {
      case DType::F32: return log_ ? run_typed<float, true>(in[0], out, ctx) : run_typed<float, false>(in[0], out, ctx);
      case DType::F64: return log_ ? run_typed<double, true>(in[0], out, ctx) : run_typed<double, false>(in[0], out, ctx);
      case DType::F16: return log_ ? run_typed<f16_t, true>(in[0], out, ctx) : run_typed<f16_t, false>(in[0], out, ctx);
      case DType::BF16: return log_ ? run_typed<bf16_t, true>(in[0], out, ctx) : run_typed<bf16_t, false>(in[0], out, ctx);
      default: fail(ErrorCode::INTERNAL, "softmax: dtype ", dtype_name(dtype_));
    }
  }

 private:
  // Sort key for "moves faster in memory": broadcast (stride-0) dims count as slowest.
  static uint64_t key(int64_t s) { return s == 0 ? ~uint64_t(0) : (uint64_t)s; }
  static size_t align64(size_t n) { return (n + 63) / 64 * 64; }
  bool lanes() const { return lane_.n > 1; }

  template <class T, bool kLog>
  void run_typed(const void* in, void* out, const ExecContext& ctx) const {
    using C = compute_t<T>;
    const T* x = (const T*)in;
    T* o = (T*)out;
    char* scratch = (char*)ctx.scratchpad;
    auto range = [&](int64_t ub, int64_t ue, int t) {
      if (ub >= ue) return;
      Counter c(batch_);
      c.seek(ub / tiles_);
      int64_t tile = ub % tiles_;
      // Per-thread slot: staging buffer, maxima, sums (lanes only).
      char* slot = scratch + slot_ * t;
      C* buf = (C*)slot;
      C* m = (C*)(slot + buf_bytes_);
      double* sum = (double*)(slot + buf_bytes_ + align64((size_t)tile_ * sizeof(C)));
      for (int64_t u = ub; u < ue; u++) {
        if (lanes()) {
          int64_t k0 = tile * tile_;
          softmax_lanes<T, kLog>(x + c.in + k0 * lane_.s, axis_.n, axis_.s, std::min(tile_, lane_.n - k0), lane_.s,
                                 o + c.out + k0 * lane_.o, axis_.o, lane_.o, buf, m, sum);
        } else {
          softmax_row<T, kLog>(x + c.in, axis_.n, axis_.s, o + c.out, axis_.o);
        }
        if (++tile == tiles_) {
          tile = 0;
          c.next();
        }
      }
    };
    if (threads_ > 1 && units_ > 1) {
      ThreadScope ts(threads_);
#pragma omp parallel
      {
        int nt = omp_get_num_threads(), t = omp_get_thread_num();
        range(units_ * t / nt, units_ * (t + 1) / nt, t);
      }
    } else {
      range(0, units_, 0);
    }
  }

  DType dtype_;
  bool log_;
  Dim axis_{1, 0, 0}, lane_{1, 0, 0};
  std::vector<Dim> batch_;
  int64_t batch_count_ = 1, tile_ = 1, tiles_ = 1, units_ = 1;
  size_t buf_bytes_ = 0, slot_ = 0;  // per-thread scratch: staging buffer, then maxima and sums
  int threads_ = 1;
};

class SoftmaxDnnlKernel final : public Kernel {
 public:
  SoftmaxDnnlKernel(dnnl::softmax_forward::primitive_desc pd, int threads, DType t, int64_t rows, int64_t n)
      : pd_(std::move(pd)), prim_(pd_), threads_(threads), impl_(pd_.impl_info_str()), dtype_(t), rows_(rows), n_(n) {
    args_.add(DNNL_ARG_SRC, pd_.src_desc());
    args_.add(DNNL_ARG_DST, pd_.dst_desc());
    if (scratchpad_bytes()) args_.add(DNNL_ARG_SCRATCHPAD, pd_.scratchpad_desc());
  }

  size_t scratchpad_bytes() const override { return pd_.scratchpad_desc().get_size(); }
  std::string impl() const override { return "onednn:" + impl_; }

  void run(const void* const* in, void* out, const ExecContext& ctx) override {
    ThreadScope ts(threads_);
    auto held = args_.lock();
    args_.set(DNNL_ARG_SRC, in[0]);
    args_.set(DNNL_ARG_DST, out);
    if (scratchpad_bytes()) args_.set(DNNL_ARG_SCRATCHPAD, ctx.scratchpad);
    args_.execute(prim_);
    spread_nan_rows(out, dtype_, rows_, n_);
  }

 private:
  dnnl::softmax_forward::primitive_desc pd_;
  dnnl::softmax_forward prim_;
  DnnlArgs args_;
  int threads_;
  std::string impl_;
  DType dtype_;
  int64_t rows_, n_;
};

std::unique_ptr<Kernel> make_softmax_dnnl(const KernelSpec& s) {
  const TensorDesc& in = s.inputs.at(0);
  dnnl::memory::data_type dt;
  if ((in.dtype != DType::F32 && in.dtype != DType::BF16) || !dnnl_dtype(in.dtype, &dt)) return nullptr;
  if (!in.is_contiguous() || in.numel() == 0) return nullptr;
  const int axis = norm_dim((int64_t)s.attrs.at(0), in.ndim(), op_info(s.op).name);
  int64_t inner = 1;
  for (int d = axis + 1; d < in.ndim(); d++) inner *= in.shape[d];
  if (inner != 1) return nullptr;  // not the last axis: oneDNN would run ref:any
  const int64_t n = in.shape[axis], m = in.numel() / n;
  // Short f32 rows (attention scores: one row per query, one column per key) run faster in the
  // loop: [1536, 128] 0.25-0.5 ms against oneDNN's 0.74-0.9 ms, one thread, measured under load
  // (bench/bert-parts.ts); from 512 on the two were within noise of each other.
  if (in.dtype == DType::F32 && n <= 256) return nullptr;
  int threads = pick_threads(2.0 * (double)in.nbytes());
  try {
    ThreadScope ts(threads);
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    dnnl::memory::desc md({m, n}, dt, dnnl::memory::format_tag::ab);
    auto alg = s.op == OpCode::LogSoftmax ? dnnl::algorithm::softmax_log : dnnl::algorithm::softmax_accurate;
    dnnl::softmax_forward::primitive_desc pd(cpu_engine(), dnnl::prop_kind::forward_inference, alg, md, md, 1, attr, true);
    if (!pd || is_ref_impl(pd.impl_info_str())) return nullptr;
    return std::make_unique<SoftmaxDnnlKernel>(std::move(pd), threads, in.dtype, m, n);
  } catch (...) {
    rethrow_dnnl("softmax");
  }
}

std::unique_ptr<Kernel> make_softmax_loop(const KernelSpec& s) { return std::make_unique<SoftmaxLoopKernel>(s); }

KernelRegistrar reg_dnnl({OpCode::Softmax, OpCode::LogSoftmax}, &make_softmax_dnnl, 10);
KernelRegistrar reg_loop({OpCode::Softmax, OpCode::LogSoftmax}, &make_softmax_loop, 0);

}  // namespace

}  // namespace hodu
