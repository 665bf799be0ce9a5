// The hand-written elementwise loop shared by the unary, binary and where kernels.
//
// An elementwise kernel has N operands: operand 0 is the contiguous output, operands 1..N-1 are
// inputs already broadcast to the output's shape (stride 0 on broadcast dims). ElementwiseLoop
// coalesces the dims once (StridedLoop), splits the output's element range evenly across threads
// (also inside a single long row, so a contiguous 1M-element op uses every core) and walks each
// thread's range as a sequence of row blocks. A "row function" processes one block:
//
//   fn(op, rows, n, p, s, rs): `rows` rows of `n` elements; p[k] points at operand k's first
//   element, s[k] is its stride along a row in elements, rs[k] the distance between rows in bytes.
//
// Row functions are generated from a row functor (see UnaryRows etc. in the kernel files) for three
// instruction sets: the baseline the library is compiled for, AVX2+FMA and AVX-512. The functor is
// inlined whole into each entry point (`flatten`), so its `#pragma omp simd` loops and the inline
// math they call are vectorised for that ISA. The choice is made once per process from CPUID;
// HODU_ELEMENTWISE_ISA=base|avx2|avx512 lowers it (tests use that to cover every variant).
#pragma once
#include <omp.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <string>
#include <type_traits>

#include "dnnl_util.h"
#include "elem.h"
#include "kernel.h"
#include "strided.h"

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define HODU_EW_MULTIVERSION 1
#define HODU_EW_FLATTEN __attribute__((flatten))
#define HODU_EW_TARGET_AVX2 __attribute__((target("avx2,fma,f16c,bmi,bmi2,popcnt"), flatten))
#if defined(__clang__)  // clang ignores a whole target attribute with prefer-vector-width in it
#define HODU_EW_TARGET_AVX512                                                                       \
  __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma,f16c,bmi,bmi2,popcnt"),    \
                 min_vector_width(512), flatten))
#else
#define HODU_EW_TARGET_AVX512                                                                       \
  __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma,f16c,bmi,bmi2,popcnt,"    \
                        "prefer-vector-width=512"),                                              \
                 flatten))
#endif
#else
#define HODU_EW_MULTIVERSION 0
#define HODU_EW_FLATTEN
#endif

namespace hodu {
namespace ew {

enum class Isa { Base = 0, Avx2 = 1, Avx512 = 2 };

inline const char* isa_name(Isa i) {
  switch (i) {
    case Isa::Avx2: return "avx2";
    case Isa::Avx512: return "avx512";
    default: return "base";
  }
}

// The widest ISA this CPU runs that the row functions were built for (capped by the environment).
inline Isa host_isa() {
  static const Isa isa = [] {
    Isa best = Isa::Base;
#if HODU_EW_MULTIVERSION
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) best = Isa::Avx2;
    if (best == Isa::Avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq"))
      best = Isa::Avx512;
#endif
    if (const char* env = std::getenv("HODU_ELEMENTWISE_ISA")) {
      Isa want = best;
      if (!std::strcmp(env, "base")) want = Isa::Base;
      else if (!std::strcmp(env, "avx2")) want = Isa::Avx2;
      if ((int)want < (int)best) best = want;
    }
    return best;
  }();
  return isa;
}

using RowFn = void (*)(const void* op, int64_t rows, int64_t n, char* const* p, const int64_t* s, const int64_t* rs);

template <class Rows>
HODU_EW_FLATTEN void rows_base(const void* op, int64_t rows, int64_t n, char* const* p, const int64_t* s,
                               const int64_t* rs) {
  (*static_cast<const Rows*>(op))(rows, n, p, s, rs);
}

#if HODU_EW_MULTIVERSION
template <class Rows>
HODU_EW_TARGET_AVX2 void rows_avx2(const void* op, int64_t rows, int64_t n, char* const* p, const int64_t* s,
                                   const int64_t* rs) {
  (*static_cast<const Rows*>(op))(rows, n, p, s, rs);
}

template <class Rows>
HODU_EW_TARGET_AVX512 void rows_avx512(const void* op, int64_t rows, int64_t n, char* const* p, const int64_t* s,
                                       const int64_t* rs) {
  (*static_cast<const Rows*>(op))(rows, n, p, s, rs);
}
#endif

// Which ISA variants a row functor is compiled for. Each variant costs compile time and code
// size, so they are generated only where they pay: everything for float math (16 lanes and FMA),
// up to AVX2 for 4- and 8-byte integer work (64-bit compares need SSE4.2+), the baseline for byte
// types (SSE2 already has 16 lanes) and for loops that call libm or divide integers.
enum class Variants { Base, UpToAvx2, All };

// The ISA a kernel built with `v` runs on this CPU.
inline Isa variant_isa(Variants v) {
  const Isa h = host_isa();
  if (v == Variants::Base) return Isa::Base;
  if (v == Variants::UpToAvx2 && h == Isa::Avx512) return Isa::Avx2;
  return h;
}

// The entry point of a row functor for this CPU.
template <class Rows, Variants v>
RowFn pick_rows() {
#if HODU_EW_MULTIVERSION
  if constexpr (v == Variants::All) {
    if (variant_isa(v) == Isa::Avx512) return &rows_avx512<Rows>;
  }
  if constexpr (v != Variants::Base) {
    if (variant_isa(v) == Isa::Avx2) return &rows_avx2<Rows>;
  }
#endif
  return &rows_base<Rows>;
}

// Element loads and stores for the row functors: elem.h's load/store, except for f16, whose
// conversions there normalise subnormals in a loop and so keep a loop from vectorising. These
// give the same bits (round to nearest even, NaN payloads kept) without branches.
inline uint32_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float bits_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

inline float f16_bits_to_f32(uint16_t h) {
  const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  const uint32_t em = (uint32_t)(h & 0x7fffu) << 13;  // exponent and mantissa in float position
  const uint32_t e = em & 0x0f800000u;
  const uint32_t normal = em + ((127u - 15u) << 23);  // rebiased
  const uint32_t inf_nan = normal + ((128u - 16u) << 23);  // exponent 31 -> 255
  // zero/subnormal: m·2^-24 = 2^-14·(1 + m/1024) - 2^-14, exactly, in float arithmetic
  const uint32_t subnormal = float_bits(bits_float(normal + (1u << 23)) - bits_float(113u << 23));
  const uint32_t r = e == 0x0f800000u ? inf_nan : e == 0 ? subnormal : normal;
  return bits_float(sign | r);
}

inline uint16_t f32_to_f16_bits(float f) {
  const uint32_t x = float_bits(f);
  const uint32_t sign = (x >> 16) & 0x8000u, a = x & 0x7fffffffu;
  // normal results: rebias, round to nearest even at bit 13 (a carry may reach the exponent)
  const uint32_t n = a - (112u << 23);
  const uint32_t normal = (n + 0xfffu + ((n >> 13) & 1u)) >> 13;
  // subnormal results: adding 0.5 makes the float adder round at 2^-24, the f16 subnormal step
  const uint32_t subnormal = float_bits(bits_float(a) + 0.5f) - 0x3f000000u;
  uint32_t r = a < 0x38800000u ? subnormal : a >= 0x477ff000u ? 0x7c00u : normal;
  r = a > 0x7f800000u ? 0x7e00u | ((a >> 13) & 0x3ffu) : r;  // NaN, quieted, payload kept
  return (uint16_t)(sign | r);
}

template <class T>
inline compute_t<T> ld(T v) {
  if constexpr (std::is_same_v<T, f16_t>) return f16_bits_to_f32(v.bits);
  else return load(v);
}

template <class T>
inline T st(compute_t<T> v) {
  if constexpr (std::is_same_v<T, f16_t>) return f16_t{f32_to_f16_bits(v)};
  else return store<T>(v);
}

// Input strides as the kernel reads them: broadcast to `out` (right-aligned, stride 0 on broadcast
// dims), tolerating a descriptor whose strides were left empty (contiguous).
inline Shape operand_strides(const TensorDesc& in, const Shape& out) {
  Shape st = in.strides.size() == in.shape.size() ? in.strides : contiguous_strides(in.shape);
  return broadcast_strides(in.shape, st, out);
}

// The N-operand loop: the coalesced iteration space, the thread count and the range walker.
template <int N>
class ElementwiseLoop {
 public:
  // strides[0] must be the output's (contiguous); `cost` scales the bytes moved into the work
  // estimate for the thread policy (1 for a memory-bound op, more for transcendental math).
  ElementwiseLoop(const Shape& out_shape, const std::array<Shape, N>& strides, const std::array<int64_t, N>& esz,
                  double cost)
      : loop_(out_shape, strides, esz), total_(numel(out_shape)) {
    const size_t r = loop_.shape.size();
    for (int k = 0; k < N; k++) {
      inner_st_[k] = loop_.strides[k][r - 1];
      row_st_[k] = r >= 2 ? loop_.strides[k][r - 2] * esz[k] : 0;
    }
    double bytes = 0;
    for (int k = 0; k < N; k++) bytes += (double)total_ * (double)esz[k];
    threads_ = pick_threads(bytes * cost);
    if (total_ < 2 * kAlign) threads_ = 1;
  }

  // Runs `fn` over the whole output; `base[k]` points at operand k's first element.
  void run(const std::array<char*, N>& base, RowFn fn, const void* op) const {
    if (total_ <= 0) return;
    if (threads_ > 1) {
      ThreadScope ts(threads_);
#pragma omp parallel
      {
        const int nt = omp_get_num_threads(), t = omp_get_thread_num();
        run_range(base, bound(t, nt), bound(t + 1, nt), fn, op);
      }
    } else {
      run_range(base, 0, total_, fn, op);
    }
  }

 private:
  // Thread chunks start on multiples of kAlign elements so threads do not share output cache lines.
  static constexpr int64_t kAlign = 64;

  int64_t bound(int t, int nt) const {
    if (t <= 0) return 0;
    if (t >= nt) return total_;
    return std::min(total_, total_ * t / nt / kAlign * kAlign);
  }

  // Elements [begin, end) in row-major order of the coalesced shape (= the output's order).
  void run_range(const std::array<char*, N>& base, int64_t begin, int64_t end, RowFn fn, const void* op) const {
    const Shape& shape = loop_.shape;
    const int r = (int)shape.size();
    const int64_t inner = shape[r - 1];
    int64_t pos = begin;
    while (pos < end) {
      const int64_t row = pos / inner, col = pos % inner;
      std::array<char*, N> p;
      for (int k = 0; k < N; k++) {
        int64_t off = col * loop_.strides[k][r - 1];
        int64_t rem = row;
        for (int d = r - 2; d >= 0; d--) {
          off += (rem % shape[d]) * loop_.strides[k][d];
          rem /= shape[d];
        }
        p[k] = base[k] + off * loop_.elem_size[k];
      }
      if (col != 0 || end - pos < inner) {  // a partial row at either end of the range
        const int64_t n = std::min(inner - col, end - pos);
        fn(op, 1, n, p.data(), inner_st_.data(), row_st_.data());
        pos += n;
        continue;
      }
      // Whole rows up to the end of the second-innermost dim (or of the range).
      int64_t rows = r >= 2 ? shape[r - 2] - row % shape[r - 2] : 1;
      rows = std::min(rows, (end - pos) / inner);
      fn(op, rows, inner, p.data(), inner_st_.data(), row_st_.data());
      pos += rows * inner;
    }
  }

  StridedLoop<N> loop_;
  int64_t total_;
  std::array<int64_t, N> inner_st_{}, row_st_{};
  int threads_ = 1;
};

// A kernel made of a row functor and its loop. `Rows` must be copyable and callable as
// `void(int64_t rows, int64_t n, char* const* p, const int64_t* s, const int64_t* rs) const`.
template <int N, class Rows, Variants v>
class LoopKernel final : public Kernel {
 public:
  LoopKernel(Rows rows, ElementwiseLoop<N> loop, std::string name)
      : rows_(std::move(rows)), loop_(std::move(loop)), fn_(pick_rows<Rows, v>()),
        name_("loop:" + std::move(name) + "/" + isa_name(variant_isa(v))) {}

  void run(const void* const* in, void* out, const ExecContext&) override {
    std::array<char*, N> base;
    base[0] = static_cast<char*>(out);
    for (int k = 1; k < N; k++) base[k] = const_cast<char*>(static_cast<const char*>(in[k - 1]));
    loop_.run(base, fn_, &rows_);
  }

  std::string impl() const override { return name_; }
  // Element k of every operand is read, and then element k of the output written (same walk).
  bool may_write_over_input(size_t) const override { return true; }

 private:
  Rows rows_;
  ElementwiseLoop<N> loop_;
  RowFn fn_;
  std::string name_;
};

}  // namespace ew
}  // namespace hodu
