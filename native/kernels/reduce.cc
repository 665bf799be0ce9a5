// Reductions: sum, mean, max, min, prod, var, std, norm, argmax, argmin over any set of dims of a
// strided input.
//
// Two implementations:
//  * oneDNN `reduction` for f32 sum/mean/prod over a trailing suffix of a contiguous input: the
//    only layout where oneDNN has a jit kernel (any other layout selects ref:any, 100-300x slower).
//    oneDNN accumulates in f32 with an error that grows with the reduced length (measured worst
//    case for a constant row: 2.4e-6 relative at 4096 elements, 4e-5 at 65536, 6e-3 at 10^7), so
//    it only takes reductions of at most kMaxDnnlCount elements; longer ones use the double loop.
//    Max/min stay on the loop because oneDNN's max/min drop NaNs while the loop propagates them
//    (NaN propagation must not depend on the layout of the input).
//  * A hand-written loop for everything else. The problem is canonicalised once in the
//    constructor (size-1 dims dropped, adjacent dims merged, reduced dims ordered by stride) and
//    then runs in one of two shapes, picked by which dim has the smallest input stride:
//      - inner: the fastest-moving dim is reduced. Each output element is a reduction along
//        contiguous (or strided) runs of the input, as vectorised (omp simd) reductions; argmax
//        finds each chunk's extreme value first and only then searches for its position.
//      - outer: the fastest-moving dim is kept (e.g. reducing axis 0 of a matrix). A tile of that
//        dim is accumulated into an accumulator row: every reduced position adds a whole input
//        row segment to it, which vectorises and reads memory in order.
//    Work is split across threads by output tiles; when there are fewer tiles than threads (e.g.
//    a full reduction), each tile's reduction range is split instead and partial states merged.
//
// Accumulation: f16/bf16/f32/f64 sums, products and squares in double; integers in 64 bits with
// wrap-around (stored back truncated to the dtype); max/min in the element's compute type with
// NaN propagation; var/std two-pass (mean, then the mean of squared deviations), population (÷N).
// Argmax/argmin return the row-major flat index within the reduced sub-block; ties go to the
// smallest index and NaN counts as both the largest and the smallest value (first NaN wins). The
// tie rule is part of the comparison, so the result does not depend on the iteration order.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "../ops/infer.h"
#include "dnnl_util.h"
#include "elem.h"
#include "kernel.h"

// Hot loops are compiled for several x86 ISA levels and picked at load time (GNU ifunc); the build
// itself targets baseline x86-64, where float->double accumulation runs at a quarter of AVX-512's
// width.
#if defined(__x86_64__) && defined(__linux__) && defined(__GNUC__) && !defined(__clang__)
#define HODU_CLONES __attribute__((target_clones("default", "avx2", "arch=x86-64-v4")))
#else
#define HODU_CLONES
#endif
// Helpers of the cloned loops must be inlined into them to be compiled for the clone's ISA.
#if defined(__GNUC__)
#define HODU_INLINE inline __attribute__((always_inline))
#else
#define HODU_INLINE inline
#endif

namespace hodu {

namespace {

enum class RK { Sum, Mean, Prod, Max, Min, Var, Std, Norm, Argmax, Argmin };

RK kind_of(OpCode op) {
  switch (op) {
    case OpCode::Sum: return RK::Sum;
    case OpCode::Mean: return RK::Mean;
    case OpCode::Prod: return RK::Prod;
    case OpCode::Max: return RK::Max;
    case OpCode::Min: return RK::Min;
    case OpCode::Var: return RK::Var;
    case OpCode::Std: return RK::Std;
    case OpCode::Norm: return RK::Norm;
    case OpCode::Argmax: return RK::Argmax;
    case OpCode::Argmin: return RK::Argmin;
    default: fail(ErrorCode::INTERNAL, "reduce: unexpected op ", op_info(op).name);
  }
}

// ---------------------------------------------------------------------------------------------
// Accumulation policies. Each has an accumulator type, an identity, add(acc, x, flat_index,
// center) and merge(acc, other), and a combining class that the inner kernels specialise on
// (additive and multiplicative policies also expose term(x, center), the value they fold in).
// `center` is only read by SqDevOp, the second pass of var/std.

enum class Comb { Add, Mul, Max, Min, Arg };

template <class T> constexpr bool is_fp_v = std::is_floating_point_v<compute_t<T>>;

// Wide accumulator for sums and products: double for floats, uint64 (wrap-around) for integers.
template <class T> using wide_t = std::conditional_t<is_fp_v<T>, double, uint64_t>;

template <class T> struct SumOp {
  using Acc = wide_t<T>;
  static constexpr Comb kComb = Comb::Add;
  static constexpr bool kCentered = false;
  static Acc init() { return Acc(0); }
  static Acc term(compute_t<T> x, double) { return (Acc)x; }
  static void add(Acc& a, compute_t<T> x, int64_t, double c) { a += term(x, c); }
  static void merge(Acc& a, const Acc& b) { a += b; }
};

template <class T> struct SqSumOp {  // Σ x² (norm)
  using Acc = double;
  static constexpr Comb kComb = Comb::Add;
  static constexpr bool kCentered = false;
  static Acc init() { return 0.0; }
  static Acc term(compute_t<T> x, double) { return (double)x * (double)x; }
  static void add(Acc& a, compute_t<T> x, int64_t, double c) { a += term(x, c); }
  static void merge(Acc& a, const Acc& b) { a += b; }
};

template <class T> struct SqDevOp {  // Σ (x - center)² (second pass of var)
  using Acc = double;
  static constexpr Comb kComb = Comb::Add;
  static constexpr bool kCentered = true;
  static Acc init() { return 0.0; }
  static Acc term(compute_t<T> x, double c) {
    double d = (double)x - c;
    return d * d;
  }
  static void add(Acc& a, compute_t<T> x, int64_t, double c) { a += term(x, c); }
  static void merge(Acc& a, const Acc& b) { a += b; }
};

template <class T> struct ProdOp {
  using Acc = wide_t<T>;
  static constexpr Comb kComb = Comb::Mul;
  static constexpr bool kCentered = false;
  static Acc init() { return Acc(1); }
  static Acc term(compute_t<T> x, double) { return (Acc)x; }
  static void add(Acc& a, compute_t<T> x, int64_t, double c) { a *= term(x, c); }
  static void merge(Acc& a, const Acc& b) { a *= b; }
};

// Max/min with NaN propagation: once the accumulator is NaN it stays NaN.
template <class T, bool kMax> struct ExtremumOp {
  using Acc = compute_t<T>;
  static constexpr Comb kComb = kMax ? Comb::Max : Comb::Min;
  static constexpr bool kCentered = false;
  static Acc init() {
    if constexpr (std::is_floating_point_v<Acc>)
      return kMax ? -std::numeric_limits<Acc>::infinity() : std::numeric_limits<Acc>::infinity();
    else
      return kMax ? std::numeric_limits<Acc>::lowest() : std::numeric_limits<Acc>::max();
  }
  static void add(Acc& a, Acc x, int64_t, double) {
    bool take = kMax ? x > a : x < a;
    if constexpr (std::is_floating_point_v<Acc>) take = take || x != x;
    a = take ? x : a;
  }
  static void merge(Acc& a, const Acc& b) { add(a, b, 0, 0.0); }
};

template <class C> struct ArgAcc {
  C v;
  int64_t i;
};

// Argmax/argmin. `better` is a total preference (NaN first, then the extreme value, then the
// smaller index), so any iteration order and any merge order give the same answer.
template <class T, bool kMax> struct ArgOp {
  using C = compute_t<T>;
  using Acc = ArgAcc<C>;
  static constexpr Comb kComb = Comb::Arg;
  static constexpr bool kCentered = false, kIsMax = kMax;
  static Acc init() { return {ExtremumOp<T, kMax>::init(), std::numeric_limits<int64_t>::max()}; }
  static bool better(C v, int64_t i, const Acc& b) {
    if constexpr (std::is_floating_point_v<C>) {
      if (v != v) return b.v == b.v || i < b.i;
      if (b.v != b.v) return false;
    }
    if (kMax ? v > b.v : v < b.v) return true;
    return v == b.v && i < b.i;
  }
  static void add(Acc& a, C x, int64_t i, double) {
    if (better(x, i, a)) a = {x, i};
  }
  static void merge(Acc& a, const Acc& b) { add(a, b.v, b.i, 0.0); }
};

// The accumulation policy of each op (var/std: the first pass; SqDevOp is the second).
template <class T, RK K> struct policy_of;
template <class T> struct policy_of<T, RK::Sum> { using type = SumOp<T>; };
template <class T> struct policy_of<T, RK::Mean> { using type = SumOp<T>; };
template <class T> struct policy_of<T, RK::Var> { using type = SumOp<T>; };
template <class T> struct policy_of<T, RK::Std> { using type = SumOp<T>; };
template <class T> struct policy_of<T, RK::Prod> { using type = ProdOp<T>; };
template <class T> struct policy_of<T, RK::Norm> { using type = SqSumOp<T>; };
template <class T> struct policy_of<T, RK::Max> { using type = ExtremumOp<T, true>; };
template <class T> struct policy_of<T, RK::Min> { using type = ExtremumOp<T, false>; };
template <class T> struct policy_of<T, RK::Argmax> { using type = ArgOp<T, true>; };
template <class T> struct policy_of<T, RK::Argmin> { using type = ArgOp<T, false>; };

constexpr bool two_pass(RK k) { return k == RK::Var || k == RK::Std; }

// ---------------------------------------------------------------------------------------------
// Inner kernels, compiled per ISA level (HODU_CLONES). `c` is the center (SqDevOp only).

// Extreme value of n elements p[k*s] and whether any was NaN (vectorised: compare and blend).
template <bool kMax, class T, class S>
HODU_INLINE compute_t<T> extremum_of(const T* p, int64_t n, S s, bool* saw_nan) {
  using C = compute_t<T>;
  C m = ExtremumOp<T, kMax>::init();
  int nan = 0;
  if constexpr (kMax) {
#pragma omp simd reduction(max : m) reduction(| : nan)
    for (int64_t k = 0; k < n; k++) {
      C x = load(p[k * s]);
      m = x > m ? x : m;
      if constexpr (std::is_floating_point_v<C>) nan |= x != x;
    }
  } else {
#pragma omp simd reduction(min : m) reduction(| : nan)
    for (int64_t k = 0; k < n; k++) {
      C x = load(p[k * s]);
      m = x < m ? x : m;
      if constexpr (std::is_floating_point_v<C>) nan |= x != x;
    }
  }
  *saw_nan = nan != 0;
  return m;
}

// Position of the first element equal to m (or the first NaN); the caller knows there is one.
// Blocks of 16 are tested with a vectorised any-of before the scalar scan that finds the hit.
template <class T, class S>
HODU_INLINE int64_t first_of(const T* p, int64_t n, S s, compute_t<T> m, bool nan) {
  using C = compute_t<T>;
  auto hit = [&](C x) { return nan ? x != x : x == m; };
  constexpr int64_t B = 16;
  int64_t b = 0;
  for (; b + B <= n; b += B) {
    int any = 0;
#pragma omp simd reduction(| : any)
    for (int64_t k = b; k < b + B; k++) any |= hit(load(p[k * s]));
    if (any) break;
  }
  for (; b < n; b++)
    if (hit(load(p[b * s]))) return b;
  return n;
}

// Argmax/argmin of a run in L1-sized chunks: the chunk's extreme value, then, only when it can
// win, the position of its first occurrence (both vectorised). S: int64_t or a constant 1.
template <class P, class T, class S>
HODU_INLINE void arg_run(typename P::Acc& acc, const T* p, int64_t n, S s, int64_t idx, int64_t is) {
  using C = compute_t<T>;
  constexpr int64_t kChunk = 1024;
  for (int64_t k0 = 0; k0 < n; k0 += kChunk) {
    const int64_t len = std::min(kChunk, n - k0);
    const T* q = p + k0 * s;
    const int64_t i0 = idx + k0 * is;
    bool nan;
    C m = extremum_of<P::kIsMax>(q, len, s, &nan);
    if (nan) {
      if (acc.v == acc.v || i0 < acc.i) {
        int64_t k = first_of(q, len, s, m, true);
        P::add(acc, load(q[k * s]), i0 + k * is, 0.0);
      }
    } else if (P::better(m, i0, acc)) {
      P::add(acc, m, i0 + first_of(q, len, s, m, false) * is, 0.0);
    }
  }
}

// Folds n elements p[k*s] (flat indices idx + k*is, increasing) into one accumulator.
template <class P, class T>
HODU_CLONES void accumulate_run(typename P::Acc& acc, const T* p, int64_t n, int64_t s, int64_t idx, int64_t is,
                                double c) {
  using Acc = typename P::Acc;
  using C = compute_t<T>;
  if constexpr (P::kComb == Comb::Add) {
    Acc a = 0;
    if (s == 1) {
#pragma omp simd reduction(+ : a)
      for (int64_t k = 0; k < n; k++) a += P::term(load(p[k]), c);
    } else {
#pragma omp simd reduction(+ : a)
      for (int64_t k = 0; k < n; k++) a += P::term(load(p[k * s]), c);
    }
    P::merge(acc, a);
  } else if constexpr (P::kComb == Comb::Mul) {
    Acc a = 1;
    if (s == 1) {
#pragma omp simd reduction(* : a)
      for (int64_t k = 0; k < n; k++) a *= P::term(load(p[k]), c);
    } else {
#pragma omp simd reduction(* : a)
      for (int64_t k = 0; k < n; k++) a *= P::term(load(p[k * s]), c);
    }
    P::merge(acc, a);
  } else if constexpr (P::kComb == Comb::Max || P::kComb == Comb::Min) {
    bool nan;
    constexpr bool kMax = P::kComb == Comb::Max;
    C m = s == 1 ? extremum_of<kMax>(p, n, std::integral_constant<int64_t, 1>(), &nan) : extremum_of<kMax>(p, n, s, &nan);
    if constexpr (std::is_floating_point_v<C>)
      if (nan) m = std::numeric_limits<C>::quiet_NaN();
    P::merge(acc, m);
  } else {
    if (s == 1)
      arg_run<P>(acc, p, n, std::integral_constant<int64_t, 1>(), idx, is);
    else
      arg_run<P>(acc, p, n, s, idx, is);
  }
}

// Argmax/argmin over rows for a row of accumulators. Blocks of lanes are moved into separate value
// and index arrays so that the branch-free update vectorises; the rows are walked inside a block.
template <class P, class T>
HODU_INLINE void arg_rows(typename P::Acc* __restrict acc, const T* __restrict p, int64_t n, int64_t s, int64_t rows,
                          int64_t rs, int64_t idx, int64_t is) {
  using C = compute_t<T>;
  constexpr int64_t B = 256;
  C v[B];
  int64_t ix[B];
  for (int64_t k0 = 0; k0 < n; k0 += B) {
    const int64_t nb = std::min(B, n - k0);
    for (int64_t k = 0; k < nb; k++) {
      v[k] = acc[k0 + k].v;
      ix[k] = acc[k0 + k].i;
    }
    for (int64_t r = 0; r < rows; r++) {
      const T* pr = p + r * rs + k0 * s;
      const int64_t ir = idx + r * is;
      for (int64_t k = 0; k < nb; k++) {
        const C x = load(pr[k * s]);
        const bool earlier = ir < ix[k];
        bool take = (P::kIsMax ? x > v[k] : x < v[k]) | ((x == v[k]) & earlier);
        if constexpr (std::is_floating_point_v<C>) take |= (x != x) & ((v[k] == v[k]) | earlier);
        v[k] = take ? x : v[k];
        ix[k] = take ? ir : ix[k];
      }
    }
    for (int64_t k = 0; k < nb; k++) acc[k0 + k] = {v[k], ix[k]};
  }
}

// Four rows into a row of accumulators (each accumulator loaded and stored once per four rows).
template <class P, class T, class S>
HODU_INLINE void add_rows4(typename P::Acc* __restrict acc, const T* __restrict p, int64_t n, S s, int64_t rs,
                           const double* __restrict c) {
  const T* p0 = p;
  const T* p1 = p0 + rs;
  const T* p2 = p1 + rs;
  const T* p3 = p2 + rs;
  for (int64_t k = 0; k < n; k++) {
    const double ck = P::kCentered ? c[k] : 0.0;
    typename P::Acc a = acc[k];
    P::add(a, load(p0[k * s]), 0, ck);
    P::add(a, load(p1[k * s]), 0, ck);
    P::add(a, load(p2[k * s]), 0, ck);
    P::add(a, load(p3[k * s]), 0, ck);
    acc[k] = a;
  }
}

template <class P, class T, class S>
HODU_INLINE void add_row(typename P::Acc* __restrict acc, const T* __restrict p, int64_t n, S s, int64_t idx,
                         const double* __restrict c) {
  for (int64_t k = 0; k < n; k++) P::add(acc[k], load(p[k * s]), idx, P::kCentered ? c[k] : 0.0);
}

// A row of n accumulators over `rows` input rows: acc[k] ⊕= p[r*rs + k*s] for each row r (flat
// index idx + r*is).
template <class P, class T>
HODU_CLONES void accumulate_rows(typename P::Acc* __restrict acc, const T* __restrict p, int64_t n, int64_t s,
                                 int64_t rows, int64_t rs, int64_t idx, int64_t is, const double* __restrict c) {
  using One = std::integral_constant<int64_t, 1>;
  if constexpr (P::kComb == Comb::Arg) {
    arg_rows<P>(acc, p, n, s, rows, rs, idx, is);
  } else {
    int64_t r = 0;
    for (; r + 4 <= rows; r += 4) {
      if (s == 1)
        add_rows4<P>(acc, p + r * rs, n, One(), rs, c);
      else
        add_rows4<P>(acc, p + r * rs, n, s, rs, c);
    }
    for (; r < rows; r++) {
      if (s == 1)
        add_row<P>(acc, p + r * rs, n, One(), idx + r * is, c);
      else
        add_row<P>(acc, p + r * rs, n, s, idx + r * is, c);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The canonical problem.

struct Dim {
  int64_t n;  // size
  int64_t s;  // input stride (elements)
  int64_t o;  // kept dims: output stride; reduced dims: stride of the flat index (argmax)
};

// Odometer over a list of dims tracking the input offset and the secondary offset (`o`).
struct Counter {
  const Dim* d = nullptr;
  int nd = 0;
  int64_t i[kMaxRank] = {};
  int64_t off = 0, off2 = 0;

  Counter(const std::vector<Dim>& dims) : d(dims.data()), nd((int)dims.size()) {}
  void seek(int64_t linear) {
    off = off2 = 0;
    for (int k = nd - 1; k >= 0; k--) {
      i[k] = linear % d[k].n;
      linear /= d[k].n;
      off += i[k] * d[k].s;
      off2 += i[k] * d[k].o;
    }
  }
  void next() {
    for (int k = nd - 1; k >= 0; k--) {
      off += d[k].s;
      off2 += d[k].o;
      if (++i[k] < d[k].n) return;
      off -= i[k] * d[k].s;
      off2 -= i[k] * d[k].o;
      i[k] = 0;
    }
  }
};

// Sort key for "which dim moves fastest in memory": broadcast (stride-0) dims count as slowest.
uint64_t stride_key(int64_t s) { return s == 0 ? ~uint64_t(0) : (uint64_t)(s < 0 ? -s : s); }

struct Plan {
  std::vector<Dim> outer;  // kept dims iterated per output unit (row-major output order)
  Dim vec{1, 0, 0};        // outer shape: the kept dim spanned by an accumulator row (else n = 1)
  std::vector<Dim> red;    // reduced dims walked by a Counter, slowest first
  Dim run{1, 0, 0};        // the fastest reduced dim, walked inside the inner kernels
  bool inner = false;      // inner shape (else outer shape)
  int64_t count = 1;       // reduced elements per output (N)
  int64_t tile = 1;        // accumulator row length (outer shape)
  int64_t tiles = 1;       // tiles per vec row
  int64_t units = 1;       // outer-count × tiles: the unit of parallel work
  int64_t red_total = 1;   // positions walked per unit: Π red.n × run.n
};

constexpr int64_t kMaxTile = 2048;  // accumulator row: 2048 × 16 bytes stays in L1/L2

Plan make_plan(const TensorDesc& in, const ReduceAttrs& ra, int threads) {
  const int r = in.ndim();
  std::vector<bool> is_red(r, false);
  for (int d : ra.dims) is_red[d] = true;

  Plan p;
  // Output strides over the kept dims and flat-index strides over the reduced dims (both
  // row-major in the original dim order).
  std::vector<Dim> kept, red;
  int64_t out_acc = 1, idx_acc = 1;
  for (int d = r - 1; d >= 0; d--) {
    int64_t n = in.shape[d];
    if (is_red[d]) {
      p.count *= n;
      if (n != 1) red.push_back({n, in.strides[d], idx_acc});
      idx_acc *= n;
    } else {
      if (n != 1) kept.push_back({n, in.strides[d], out_acc});
      out_acc *= n;
    }
  }
  std::reverse(kept.begin(), kept.end());
  std::reverse(red.begin(), red.end());

  // Merge adjacent kept dims that are laid out as one (output strides always merge).
  std::vector<Dim> k2;
  for (const Dim& d : kept) {
    if (!k2.empty() && k2.back().s == d.s * d.n) {
      k2.back() = {k2.back().n * d.n, d.s, d.o};
    } else {
      k2.push_back(d);
    }
  }
  kept.swap(k2);
  // Reduced dims: slowest first (stable, so equal strides keep their order), then merge.
  std::stable_sort(red.begin(), red.end(), [](const Dim& a, const Dim& b) { return stride_key(a.s) > stride_key(b.s); });
  std::vector<Dim> r2;
  for (const Dim& d : red) {
    if (!r2.empty() && r2.back().s == d.s * d.n && r2.back().o == d.o * d.n) {
      r2.back() = {r2.back().n * d.n, d.s, d.o};
    } else {
      r2.push_back(d);
    }
  }
  red.swap(r2);

  // Inner shape when the fastest reduced dim moves faster than every kept dim.
  int vk = -1;
  for (int i = 0; i < (int)kept.size(); i++)
    if (vk < 0 || stride_key(kept[i].s) < stride_key(kept[vk].s)) vk = i;
  p.inner = vk < 0 || (!red.empty() && stride_key(red.back().s) < stride_key(kept[vk].s));
  if (p.inner) {
    p.outer = kept;
  } else {
    p.vec = kept[vk];
    kept.erase(kept.begin() + vk);
    p.outer = kept;
  }
  // The fastest reduced dim is walked inside the inner kernels, the others by a Counter.
  if (!red.empty()) {
    p.run = red.back();
    red.pop_back();
  }
  p.red = red;

  p.red_total = p.run.n;
  for (const Dim& d : p.red) p.red_total *= d.n;
  int64_t outer_count = 1;
  for (const Dim& d : p.outer) outer_count *= d.n;
  if (p.inner) {
    p.tile = 1;
  } else {
    // Long enough rows to amortise the walk over the reduced positions, short enough to stay in
    // cache; split further when that is what it takes to give every thread a tile.
    p.tile = std::min(p.vec.n, kMaxTile);
    int64_t tiles = (p.vec.n + p.tile - 1) / p.tile;
    if (outer_count * tiles < threads) {
      int64_t want = (threads + outer_count - 1) / outer_count;
      int64_t t = (p.vec.n + want - 1) / want;
      t = (t + 15) / 16 * 16;
      p.tile = std::max<int64_t>(std::min(p.tile, t), std::min<int64_t>(p.vec.n, 256));
    }
  }
  p.tiles = (p.vec.n + p.tile - 1) / p.tile;
  p.units = outer_count * p.tiles;
  return p;
}

// ---------------------------------------------------------------------------------------------
// The loop kernel.

// Per-thread scratch: an accumulator row and a center row (var/std), each 64-byte aligned.
constexpr size_t kMaxAcc = 16;  // the largest accumulator (ArgAcc<double>)
size_t align64(size_t n) { return (n + 63) / 64 * 64; }

class ReduceLoopKernel final : public Kernel {
 public:
  ReduceLoopKernel(const KernelSpec& s) : in_(s.inputs.at(0)), out_(s.output), kind_(kind_of(s.op)) {
    ReduceAttrs ra = reduce_attrs(s.op, s.attrs, in_.ndim());
    threads_ = pick_threads((double)in_.numel() * dtype_size(in_.dtype) + (double)out_.nbytes());
    plan_ = make_plan(in_, ra, threads_);
    slot_ = align64((size_t)plan_.tile * kMaxAcc) + align64((size_t)plan_.tile * sizeof(double));
  }

  size_t scratchpad_bytes() const override { return slot_ * (size_t)threads_; }

  std::string impl() const override { return plan_.inner ? "loop:reduce_inner" : "loop:reduce_outer"; }

  void run(const void* const* in, void* out, const ExecContext& ctx) override {
    dispatch_dtype(in_.dtype, [&](auto tag) {
      using T = decltype(tag);
      if constexpr (std::is_same_v<T, bool_t>) {
        fail(ErrorCode::INTERNAL, "reduce: bool input");
      } else {
        switch (kind_) {
          case RK::Sum: return run_typed<T, RK::Sum>(in[0], out, ctx);
          case RK::Prod: return run_typed<T, RK::Prod>(in[0], out, ctx);
          case RK::Max: return run_typed<T, RK::Max>(in[0], out, ctx);
          case RK::Min: return run_typed<T, RK::Min>(in[0], out, ctx);
          case RK::Argmax: return run_typed<T, RK::Argmax>(in[0], out, ctx);
          case RK::Argmin: return run_typed<T, RK::Argmin>(in[0], out, ctx);
          default: break;
        }
        if constexpr (is_fp_v<T>) {
          switch (kind_) {
            case RK::Mean: return run_typed<T, RK::Mean>(in[0], out, ctx);
            case RK::Var: return run_typed<T, RK::Var>(in[0], out, ctx);
            case RK::Std: return run_typed<T, RK::Std>(in[0], out, ctx);
            case RK::Norm: return run_typed<T, RK::Norm>(in[0], out, ctx);
            default: break;
          }
        }
        fail(ErrorCode::INTERNAL, "reduce: op not defined for dtype ", dtype_name(in_.dtype));
      }
    });
  }

 private:
  // Writes output element `pos` from its final accumulator (`n`: elements reduced).
  template <class T, RK K, class Acc>
  static void finish(void* out, int64_t pos, const Acc& a, int64_t n) {
    if constexpr (K == RK::Argmax || K == RK::Argmin) {
      ((int64_t*)out)[pos] = a.i;
    } else {
      using C = compute_t<T>;
      C v;
      if constexpr (K == RK::Mean) v = (C)(a / (double)n);
      else if constexpr (K == RK::Var) v = (C)(a / (double)n);
      else if constexpr (K == RK::Std) v = (C)std::sqrt(a / (double)n);
      else if constexpr (K == RK::Norm) v = (C)std::sqrt(a);
      else if constexpr (is_fp_v<T>) v = (C)a;
      else v = (C)(std::make_signed_t<wide_t<T>>)a;  // wrap to the dtype
      ((T*)out)[pos] = store<T>(v);
    }
  }

  // Accumulates positions [b, e) of the unit's reduction (red × run, row-major) into acc[0..tlen).
  template <class P, class T>
  void accumulate(const T* x, int64_t tlen, typename P::Acc* acc, int64_t b, int64_t e, const double* c) const {
    const Plan& p = plan_;
    if (b >= e) return;
    Counter rc(p.red);
    const int64_t n = p.run.n;
    rc.seek(b / n);
    int64_t j = b % n;
    for (int64_t pos = b; pos < e; rc.next()) {
      int64_t len = std::min(n - j, e - pos);
      const T* ptr = x + rc.off + j * p.run.s;
      int64_t idx = rc.off2 + j * p.run.o;
      if (p.inner)
        accumulate_run<P, T>(acc[0], ptr, len, p.run.s, idx, p.run.o, c ? c[0] : 0.0);
      else
        accumulate_rows<P, T>(acc, ptr, tlen, p.vec.s, len, p.run.s, idx, p.run.o, c);
      pos += len;
      j = 0;
    }
  }

  // Unit u: (outer index, tile). Sets the input base, output base and lane count.
  struct Unit {
    int64_t in_off, out_off, tlen;
  };
  Unit unit_at(Counter& oc, int64_t tile_idx) const {
    const Plan& p = plan_;
    int64_t k0 = tile_idx * p.tile;
    return {oc.off + k0 * p.vec.s, oc.off2 + k0 * p.vec.o, std::min(p.tile, p.vec.n - k0)};
  }

  template <class T, RK K>
  void run_typed(const void* in, void* out, const ExecContext& ctx) const {
    using P = typename policy_of<T, K>::type;
    using Acc = typename P::Acc;
    static_assert(sizeof(Acc) <= kMaxAcc, "accumulator larger than the scratch slot");
    const Plan& p = plan_;
    const T* x = (const T*)in;
    char* scratch = (char*)ctx.scratchpad;
    const size_t acc_bytes = align64((size_t)p.tile * kMaxAcc);

    // Everything for one unit on one thread: the whole reduction, then the outputs.
    auto whole_unit = [&](const Unit& u, Acc* acc, double* c) {
      const T* xb = x + u.in_off;
      for (int64_t k = 0; k < u.tlen; k++) acc[k] = P::init();
      accumulate<P, T>(xb, u.tlen, acc, 0, p.red_total, nullptr);
      if constexpr (two_pass(K)) {
        using Q = SqDevOp<T>;
        for (int64_t k = 0; k < u.tlen; k++) {
          c[k] = acc[k] / (double)p.count;
          acc[k] = Q::init();
        }
        accumulate<Q, T>(xb, u.tlen, acc, 0, p.red_total, c);
      }
      for (int64_t k = 0; k < u.tlen; k++) finish<T, K>(out, u.out_off + k * p.vec.o, acc[k], p.count);
    };

    // Units [ub, ue) in order on the calling thread.
    auto unit_range = [&](int64_t ub, int64_t ue, char* slot) {
      if (ub >= ue) return;
      Acc* acc = (Acc*)slot;
      double* c = (double*)(slot + acc_bytes);
      Counter oc(p.outer);
      oc.seek(ub / p.tiles);
      int64_t t = ub % p.tiles;
      for (int64_t u = ub; u < ue; u++) {
        whole_unit(unit_at(oc, t), acc, c);
        if (++t == p.tiles) {
          t = 0;
          oc.next();
        }
      }
    };

    if (threads_ <= 1) {
      unit_range(0, p.units, scratch);
      return;
    }
    ThreadScope ts(threads_);
    if (p.units >= threads_ || p.red_total < 4096) {
#pragma omp parallel
      {
        int nt = omp_get_num_threads(), t = omp_get_thread_num();
        unit_range(p.units * t / nt, p.units * (t + 1) / nt, scratch + slot_ * t);
      }
      return;
    }

    // Fewer units than threads: split each unit's reduction range over the threads, merge the
    // partial accumulators (thread 0's row collects them) and let thread 0 write the outputs.
#pragma omp parallel
    {
      const int nt = omp_get_num_threads(), t = omp_get_thread_num();
      char* slot = scratch + slot_ * t;
      Acc* acc = (Acc*)slot;
      Acc* acc0 = (Acc*)scratch;
      double* c0 = (double*)(scratch + acc_bytes);
      const int64_t b = p.red_total * t / nt, e = p.red_total * (t + 1) / nt;
      Counter oc(p.outer);
      int64_t tile_idx = 0;
      for (int64_t u = 0; u < p.units; u++) {
        Unit un = unit_at(oc, tile_idx);
        const T* xb = x + un.in_off;
        for (int64_t k = 0; k < un.tlen; k++) acc[k] = P::init();
        accumulate<P, T>(xb, un.tlen, acc, b, e, nullptr);
#pragma omp barrier
        if (t == 0) {
          for (int o = 1; o < nt; o++) {
            const Acc* other = (const Acc*)(scratch + slot_ * o);
            for (int64_t k = 0; k < un.tlen; k++) P::merge(acc0[k], other[k]);
          }
        }
        if constexpr (two_pass(K)) {
          using Q = SqDevOp<T>;
          if (t == 0)
            for (int64_t k = 0; k < un.tlen; k++) c0[k] = acc0[k] / (double)p.count;
#pragma omp barrier
          for (int64_t k = 0; k < un.tlen; k++) acc[k] = Q::init();
          accumulate<Q, T>(xb, un.tlen, acc, b, e, c0);
#pragma omp barrier
          if (t == 0) {
            for (int o = 1; o < nt; o++) {
              const Acc* other = (const Acc*)(scratch + slot_ * o);
              for (int64_t k = 0; k < un.tlen; k++) Q::merge(acc0[k], other[k]);
            }
          }
        }
        if (t == 0)
          for (int64_t k = 0; k < un.tlen; k++) finish<T, K>(out, un.out_off + k * p.vec.o, acc0[k], p.count);
#pragma omp barrier
        if (++tile_idx == p.tiles) {
          tile_idx = 0;
          oc.next();
        }
      }
    }
  }

  TensorDesc in_, out_;
  RK kind_;
  Plan plan_;
  int threads_ = 1;
  size_t slot_ = 0;
};

// ---------------------------------------------------------------------------------------------
// oneDNN: f32 sum/mean/prod over a trailing suffix of a contiguous input, as [M, N] -> [M, 1].

class ReduceDnnlKernel final : public Kernel {
 public:
  ReduceDnnlKernel(dnnl::reduction::primitive_desc pd, int threads)
      : pd_(std::move(pd)), prim_(pd_), threads_(threads), impl_(pd_.impl_info_str()) {}

  size_t scratchpad_bytes() const override { return pd_.scratchpad_desc().get_size(); }
  std::string impl() const override { return "onednn:" + impl_; }

  void run(const void* const* in, void* out, const ExecContext& ctx) override {
    ThreadScope ts(threads_);
    try {
      auto& eng = cpu_engine();
      std::unordered_map<int, dnnl::memory> args{
          {DNNL_ARG_SRC, dnnl::memory(pd_.src_desc(), eng, const_cast<void*>(in[0]))},
          {DNNL_ARG_DST, dnnl::memory(pd_.dst_desc(), eng, out)}};
      if (scratchpad_bytes()) args[DNNL_ARG_SCRATCHPAD] = dnnl::memory(pd_.scratchpad_desc(), eng, ctx.scratchpad);
      dnnl_execute(prim_, args);
    } catch (...) {
      rethrow_dnnl("reduce");
    }
  }

 private:
  dnnl::reduction::primitive_desc pd_;
  dnnl::reduction prim_;
  int threads_;
  std::string impl_;
};

// Longest reduction handed to oneDNN's f32 accumulation (see the top of the file).
constexpr int64_t kMaxDnnlCount = 4096;

std::unique_ptr<Kernel> make_reduce_dnnl(const KernelSpec& s) {
  const TensorDesc& in = s.inputs.at(0);
  dnnl::algorithm alg;
  switch (s.op) {
    case OpCode::Sum: alg = dnnl::algorithm::reduction_sum; break;
    case OpCode::Mean: alg = dnnl::algorithm::reduction_mean; break;
    case OpCode::Prod: alg = dnnl::algorithm::reduction_mul; break;
    default: return nullptr;
  }
  if (in.dtype != DType::F32 || !in.is_contiguous() || in.numel() == 0) return nullptr;
  ReduceAttrs ra = reduce_attrs(s.op, s.attrs, in.ndim());
  std::vector<bool> is_red(in.ndim(), false);
  for (int d : ra.dims) is_red[d] = true;
  // Ignoring size-1 dims, the reduced dims must all come after the kept ones.
  int64_t m = 1, n = 1;
  bool seen_red = false;
  for (int d = 0; d < in.ndim(); d++) {
    if (in.shape[d] == 1) continue;
    if (is_red[d]) {
      seen_red = true;
      n *= in.shape[d];
    } else {
      if (seen_red) return nullptr;
      m *= in.shape[d];
    }
  }
  if (n == 1 || n > kMaxDnnlCount) return nullptr;  // nothing to reduce, or too long for f32 sums
  int threads = pick_threads((double)in.nbytes());
  try {
    ThreadScope ts(threads);
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    using tag = dnnl::memory::format_tag;
    dnnl::memory::desc src({m, n}, dnnl::memory::data_type::f32, tag::ab);
    dnnl::memory::desc dst({m, 1}, dnnl::memory::data_type::f32, tag::ab);
    dnnl::reduction::primitive_desc pd(cpu_engine(), alg, src, dst, 0.f, 0.f, attr, true);
    if (!pd || is_ref_impl(pd.impl_info_str())) return nullptr;
    return std::make_unique<ReduceDnnlKernel>(std::move(pd), threads);
  } catch (...) {
    rethrow_dnnl("reduce");
  }
}

std::unique_ptr<Kernel> make_reduce_loop(const KernelSpec& s) { return std::make_unique<ReduceLoopKernel>(s); }

const std::initializer_list<OpCode> kReduceOps = {OpCode::Sum,  OpCode::Mean, OpCode::Max,    OpCode::Min,
                                                  OpCode::Prod, OpCode::Var,  OpCode::Std,    OpCode::Norm,
                                                  OpCode::Argmax, OpCode::Argmin};
KernelRegistrar reg_dnnl(kReduceOps, &make_reduce_dnnl, 10);
KernelRegistrar reg_loop(kReduceOps, &make_reduce_loop, 0);

}  // namespace

}  // namespace hodu
