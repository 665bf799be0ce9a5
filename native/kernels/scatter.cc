// Scatter-style writes into a copy of a base tensor (the backward ops of gather, index_select and
// slice). The output is contiguous with the base's shape; every input is read through its strides.
//   ScatterAdd(base, index, src) attr dim:  out = base; out[..., index[i, j, k], ...] += src[i, j, k]
//       along dim (PyTorch scatter_add). index and src have the same shape, which may be smaller
//       than the base's in the other dims; any extent along dim.
//   IndexAdd(base, index [K], src) attr dim: out = base; out.select(dim, index[k]) += src.select(dim, k)
//       (PyTorch index_add). src has the base's shape with K along dim.
//   SliceScatter(base, src) attrs dim, start, end, step: out = base with the slice replaced by src.
//
// The two adds share one plan: they iterate over the source's index space S, and the element at
// coordinates c goes to the output position c with c[dim] replaced by t = index[...] (index read at
// c for scatter_add, at c[dim] for index_add: a 1-D index broadcast over the other dims). Output
// positions differ whenever the coordinates outside dim differ, so the work is split over those
// coordinates (no two threads ever add into the same element, and each element receives its adds in
// a fixed order: results are deterministic). S is viewed as [A..., K, B..., J]: the dims before dim
// (A), dim itself (K), the dims after dim (B) and the innermost of those (J, split into blocks). A
// work item is one (A, B, J-block) position and loops over K, then J, so that inner accesses follow
// the innermost dim. Size-1 dims are dropped and neighbours merged where every operand allows.
//
// Indices outside [0, base.shape[dim]) raise INVALID_ARGUMENT naming the first bad index (in
// row-major order), its position, the dim and its size. They are checked before anything is
// written. Integer adds wrap around (two's complement); f16 / bf16 adds round at each add.
//
// The adds run three phases in one OpenMP region (check the indices, copy the base, add), the
// slice scatter two (copy the base, copy src over the slice), split between threads by rows, or
// by columns of the rows when there are fewer rows than threads.
#include <omp.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <limits>
#include <type_traits>

#include "../ops/infer.h"
#include "dnnl_util.h"
#include "elem.h"
#include "kernel.h"
#include "strided.h"

namespace hodu {

namespace {

// Runs thread t's share (of nt) of a strided loop: whole rows when there are enough of them,
// otherwise the same slice of every (long) row, so that even a single contiguous row is split.
template <int N, class F>
void run_share(const StridedLoop<N>& loop, const std::array<char*, size_t(N)>& base, int t, int nt, F&& f) {
  const int64_t rows = loop.outer(), inner = loop.inner();
  if (nt == 1) {
    loop.run(base, f);
  } else if (rows >= nt || inner < 4096) {
    loop.run_rows(base, rows * t / nt, rows * (t + 1) / nt, f);
  } else {
    const int64_t i0 = inner * t / nt, i1 = inner * (t + 1) / nt;
    loop.run_rows(base, 0, rows, [&](int64_t, std::array<char*, N> p, std::array<int64_t, N> s) {
      for (int k = 0; k < N; k++) p[k] += i0 * s[k] * loop.elem_size[k];
      f(i1 - i0, p, s);
    });
  }
}

// A descriptor with its strides filled in (an empty stride list means contiguous).
TensorDesc with_strides(TensorDesc d) {
  if (d.strides.size() != d.shape.size()) d.strides = contiguous_strides(d.shape);
  return d;
}

// Calls f(tag) with a value of the unsigned type as wide as one element of `t`.
template <class F>
void dispatch_size(DType t, F&& f) {
  switch (dtype_size(t)) {
    case 1: f(uint8_t{}); return;
    case 2: f(uint16_t{}); return;
    case 4: f(uint32_t{}); return;
    default: f(uint64_t{}); return;
  }
}

// A strided copy between same-sized elements (the body for StridedLoop<2>: operand 0 is written).
template <class E>
void copy_body(int64_t n, std::array<char*, 2> p, std::array<int64_t, 2> s) {
  E* o = (E*)p[0];
  const E* i = (const E*)p[1];
  if (s[0] == 1 && s[1] == 1) {
    std::memcpy(o, i, (size_t)n * sizeof(E));
  } else {
    for (int64_t k = 0; k < n; k++) o[k * s[0]] = i[k * s[1]];
  }
}

// The copy of the base into the contiguous output: StridedLoop over the base's shape.
StridedLoop<2> base_copy_loop(const TensorDesc& base) {
  const int64_t es = (int64_t)dtype_size(base.dtype);
  return StridedLoop<2>(base.shape, {contiguous_strides(base.shape), base.strides}, {es, es});
}

// a + b in T: wrapping for integers (computed unsigned, so no signed overflow), in the compute
// type for floats.
template <class T>
inline T add_elem(T a, T b) {
  if constexpr (std::is_integral_v<T>) {
    using U = std::make_unsigned_t<T>;
    return (T)(U)((U)a + (U)b);
  } else {
    return store<T>(load(a) + load(b));
  }
}

// ---------------------------------------------------------------------------------------------
// ScatterAdd / IndexAdd.

// A group of iteration dims with the strides of the three operands (0: out, 1: index, 2: src).
struct DimGroup {
  int n = 0;
  std::array<int64_t, kMaxRank> size{};
  std::array<std::array<int64_t, kMaxRank>, 3> st{};

  int64_t numel() const {
    int64_t m = 1;
    for (int i = 0; i < n; i++) m *= size[i];
    return m;
  }
  // Adds a dim, merging it into the previous one when every operand is contiguous across them.
  void push(int64_t sz, const std::array<int64_t, 3>& s) {
    if (sz == 1) return;
    if (n > 0) {
      bool merge = true;
      for (int k = 0; k < 3; k++)
        if (st[k][n - 1] != s[k] * sz) merge = false;
      if (merge) {
        size[n - 1] *= sz;
        for (int k = 0; k < 3; k++) st[k][n - 1] = s[k];
        return;
      }
    }
    size[n] = sz;
    for (int k = 0; k < 3; k++) st[k][n] = s[k];
    n++;
  }
  // Element offsets of the row-major position `flat` in each operand.
  void offsets(int64_t flat, int64_t off[3]) const {
    for (int i = n - 1; i >= 0; i--) {
      const int64_t c = flat % size[i];
      flat /= size[i];
      for (int k = 0; k < 3; k++) off[k] += c * st[k][i];
    }
  }
};

struct ScatterPlan {
  const char* name = "";
  int dim = 0;
  int64_t dim_size = 0;  // base.shape[dim]: the valid index range is [0, dim_size)
  DType dtype = DType::F32, index_dtype = DType::I64;
  // Index checking: the index tensor on its own.
  Shape idx_shape, idx_strides;
  // The add: S = [A..., K, B..., J].
  DimGroup a, b;
  int64_t K = 0, kst[3] = {0, 0, 0};  // kst[0] is unused: along dim the output moves by t * out_td
  int64_t J = 1, jst[3] = {0, 0, 0};
  int64_t out_td = 0;     // output stride of dim
  int64_t jblock = 1, n_jblocks = 0, items = 0;
  int threads = 1;
};

class ScatterAddKernel final : public Kernel {
 public:
  ScatterAddKernel(ScatterPlan p, StridedLoop<2> copy) : p_(std::move(p)), copy_(std::move(copy)) {}

  void run(const void* const* in, void* out, const ExecContext&) override {
    dispatch_dtype(p_.dtype, [&](auto tag) {
      using T = decltype(tag);
      if (p_.index_dtype == DType::I32) run_typed<T, int32_t>(in, out);
      else run_typed<T, int64_t>(in, out);
    });
  }

  std::string impl() const override { return std::string("loop:") + p_.name; }

 private:
  template <class T, class I>
  void run_typed(const void* const* in, void* out) const {
    const T* base = (const T*)in[0];
    const I* idx = (const I*)in[1];
    const T* src = (const T*)in[2];
    T* o = (T*)out;
    // Flat position (row-major in the index tensor) of the first bad index, or kNone.
    constexpr int64_t kNone = std::numeric_limits<int64_t>::max();
    int64_t first_bad = kNone;
    if (p_.threads > 1) {
      ThreadScope ts(p_.threads);
      std::atomic<int64_t> bad_all{kNone};
#pragma omp parallel
      {
        const int nt = omp_get_num_threads(), t = omp_get_thread_num();
        const int64_t bad = first_bad_index(idx, t, nt);
        int64_t cur = bad_all.load();
        while (bad < cur && !bad_all.compare_exchange_weak(cur, bad)) {
        }
#pragma omp barrier
        if (bad_all.load() == kNone) {  // the same decision in every thread: the barrier is reached by all
          run_share(copy_, {(char*)o, (char*)base}, t, nt, copy_body<T>);
#pragma omp barrier
          add_share(o, idx, src, t, nt);
        }
      }
      first_bad = bad_all.load();
    } else {
      first_bad = first_bad_index(idx, 0, 1);
      if (first_bad == kNone) {
        copy_.run({(char*)o, (char*)base}, copy_body<T>);
        add_share(o, idx, src, 0, 1);
      }
    }
    if (first_bad != kNone) report(idx, first_bad);
  }

  // Element offset of the row-major position `flat` of the index tensor.
  int64_t index_offset(int64_t flat) const {
    int64_t off = 0;
    for (size_t d = p_.idx_shape.size(); d-- > 0;) {
      off += (flat % p_.idx_shape[d]) * p_.idx_strides[d];
      flat /= p_.idx_shape[d];
    }
    return off;
  }

  // Thread t's share of the index check: the first flat position in its range whose index is
  // outside [0, dim_size), or INT64_MAX.
  template <class I>
  int64_t first_bad_index(const I* idx, int t, int nt) const {
    const int64_t n = numel(p_.idx_shape), lo = n * t / nt, hi = n * (t + 1) / nt;
    if (lo >= hi) return std::numeric_limits<int64_t>::max();
    const int r = (int)p_.idx_shape.size();
    std::array<int64_t, kMaxRank> c{};
    int64_t rem = lo, off = 0;
    for (int d = r - 1; d >= 0; d--) {
      c[d] = rem % p_.idx_shape[d];
      rem /= p_.idx_shape[d];
      off += c[d] * p_.idx_strides[d];
    }
    const int64_t inner = r > 0 ? p_.idx_shape[r - 1] : 1, ist = r > 0 ? p_.idx_strides[r - 1] : 0;
    for (int64_t f = lo; f < hi;) {
      // the rest of the current innermost row, then carry into the outer dims
      const int64_t c_in = r > 0 ? c[r - 1] : 0, m = std::min(hi - f, inner - c_in);
      for (int64_t j = 0; j < m; j++) {
        const int64_t v = (int64_t)idx[off + j * ist];
        if (v < 0 || v >= p_.dim_size) return f + j;
      }
      f += m;
      if (r == 0) break;
      off += (m - 1) * ist;
      c[r - 1] += m - 1;
      for (int d = r - 1; d >= 0; d--) {  // advance by one element
        if (++c[d] < p_.idx_shape[d]) {
          off += p_.idx_strides[d];
          break;
        }
        off -= c[d] * p_.idx_strides[d] - p_.idx_strides[d];
        c[d] = 0;
      }
    }
    return std::numeric_limits<int64_t>::max();
  }

  template <class I>
  [[noreturn]] void report(const I* idx, int64_t flat) const {
    const int64_t v = (int64_t)idx[index_offset(flat)];
    Shape pos(p_.idx_shape.size());
    for (size_t d = pos.size(); d-- > 0;) {
      pos[d] = flat % p_.idx_shape[d];
      flat /= p_.idx_shape[d];
    }
    fail(ErrorCode::INVALID_ARGUMENT, p_.name, ": index ", v, " at position ", fmt_list(pos), " is out of range for dim ",
         p_.dim, " of size ", p_.dim_size, " (expected 0..", p_.dim_size - 1, ")");
  }

  // Thread t's share of the work items: out[pos(c) with c[dim] = t] += src[c] over items' positions.
  template <class T, class I>
  void add_share(T* out, const I* idx, const T* src, int t, int nt) const {
    const ScatterPlan& p = p_;
    const int64_t lo = p.items * t / nt, hi = p.items * (t + 1) / nt;
    const int64_t nb = p.b.numel() * p.n_jblocks;
    for (int64_t item = lo; item < hi; item++) {
      const int64_t ia = item / nb, rest = item % nb, ib = rest / p.n_jblocks, jb = rest % p.n_jblocks;
      int64_t off[3] = {0, 0, 0};
      p.a.offsets(ia, off);
      p.b.offsets(ib, off);
      const int64_t j0 = jb * p.jblock, j1 = std::min(p.J, j0 + p.jblock);
      for (int k = 0; k < 3; k++) off[k] += j0 * p.jst[k];
      T* ob = out + off[0];
      const int64_t n = j1 - j0, js0 = p.jst[0], js1 = p.jst[1], js2 = p.jst[2];
      for (int64_t kk = 0; kk < p.K; kk++) {
        const I* ik = idx + off[1] + kk * p.kst[1];
        const T* sk = src + off[2] + kk * p.kst[2];
        if (js1 == 0) {  // one index for the whole block (index_add, or a broadcast index)
          T* ot = ob + (int64_t)ik[0] * p.out_td;
          for (int64_t j = 0; j < n; j++) ot[j * js0] = add_elem(ot[j * js0], sk[j * js2]);
        } else {
          for (int64_t j = 0; j < n; j++) {
            T* e = ob + (int64_t)ik[j * js1] * p.out_td + j * js0;
            *e = add_elem(*e, sk[j * js2]);
          }
        }
      }
    }
  }

  ScatterPlan p_;
  StridedLoop<2> copy_;
};

std::unique_ptr<Kernel> make_scatter_add(const KernelSpec& s) {
  const TensorDesc base = with_strides(s.inputs.at(0)), idx = with_strides(s.inputs.at(1)),
                   src = with_strides(s.inputs.at(2));
  const bool scatter = s.op == OpCode::ScatterAdd;
  ScatterPlan p;
  p.name = op_info(s.op).name;
  p.dim = norm_dim(attr_int(s.attrs, 0, p.name, "dim"), base.ndim(), p.name);
  p.dim_size = base.shape[p.dim];
  p.dtype = base.dtype;
  p.index_dtype = idx.dtype;
  p.idx_shape = idx.shape;
  p.idx_strides = idx.strides;

  // Strides of the three operands over S = src.shape (index_add's index varies along dim only).
  const int r = src.ndim(), d = p.dim;
  const Shape out_st = contiguous_strides(base.shape);
  auto strides_at = [&](int i) -> std::array<int64_t, 3> {
    const int64_t is = scatter ? idx.strides[i] : (i == d ? idx.strides[0] : 0);
    return {out_st[i], is, src.strides[i]};
  };
  p.out_td = out_st[d];
  p.K = src.shape[d];
  const std::array<int64_t, 3> ks = strides_at(d);
  for (int k = 1; k < 3; k++) p.kst[k] = ks[k];
  for (int i = 0; i < d; i++) p.a.push(src.shape[i], strides_at(i));
  for (int i = d + 1; i < r; i++) p.b.push(src.shape[i], strides_at(i));
  if (p.b.n > 0) {  // the innermost remaining dim becomes J
    p.b.n--;
    p.J = p.b.size[p.b.n];
    for (int k = 0; k < 3; k++) p.jst[k] = p.b.st[k][p.b.n];
  }
  for (int i = 0; i < r; i++)
    if (src.shape[i] == 0) p.J = 0;  // empty source: nothing to add
  p.jblock = std::max<int64_t>(1, std::min<int64_t>(p.J, 1024));
  p.n_jblocks = p.J == 0 ? 0 : (p.J + p.jblock - 1) / p.jblock;
  p.items = p.a.numel() * p.b.numel() * p.n_jblocks;

  const double esz = (double)dtype_size(base.dtype);
  p.threads = pick_threads(2 * esz * (double)base.numel() + (esz + (double)dtype_size(idx.dtype)) * (double)src.numel());
  return std::make_unique<ScatterAddKernel>(std::move(p), base_copy_loop(base));
}

// ---------------------------------------------------------------------------------------------
// SliceScatter.

class SliceScatterKernel final : public Kernel {
 public:
  SliceScatterKernel(DType t, StridedLoop<2> copy, StridedLoop<2> put, int64_t put_offset, int threads)
      : dtype_(t), copy_(std::move(copy)), put_(std::move(put)), put_offset_(put_offset), threads_(threads) {}

  void run(const void* const* in, void* out, const ExecContext&) override {
    dispatch_size(dtype_, [&](auto tag) {
      using E = decltype(tag);
      const std::array<char*, 2> copy_base{(char*)out, (char*)in[0]};
      const std::array<char*, 2> put_base{(char*)out + put_offset_ * (int64_t)sizeof(E), (char*)in[1]};
      if (threads_ > 1) {
        ThreadScope ts(threads_);
#pragma omp parallel
        {
          const int nt = omp_get_num_threads(), t = omp_get_thread_num();
          run_share(copy_, copy_base, t, nt, copy_body<E>);
#pragma omp barrier
          run_share(put_, put_base, t, nt, copy_body<E>);
        }
      } else {
        copy_.run(copy_base, copy_body<E>);
        put_.run(put_base, copy_body<E>);
      }
    });
  }

  std::string impl() const override { return "loop:slice_scatter"; }

 private:
  DType dtype_;
  StridedLoop<2> copy_, put_;  // base -> out, then src -> the slice of out
  int64_t put_offset_;         // element offset of the slice's first element in out
  int threads_;
};

std::unique_ptr<Kernel> make_slice_scatter(const KernelSpec& s) {
  const TensorDesc base = with_strides(s.inputs.at(0)), src = with_strides(s.inputs.at(1));
  const SliceAttrs sa = slice_attrs(s.attrs, base.shape);
  const int64_t es = (int64_t)dtype_size(base.dtype);
  // The slice of the contiguous output: the output's strides, dim's scaled by step.
  Shape slice_st = contiguous_strides(base.shape);
  const int64_t put_offset = sa.start * slice_st[sa.dim];
  slice_st[sa.dim] *= sa.step;
  StridedLoop<2> put(src.shape, {slice_st, src.strides}, {es, es});
  const int threads = pick_threads((double)es * (2.0 * (double)base.numel() + 2.0 * (double)src.numel()));
  return std::make_unique<SliceScatterKernel>(base.dtype, base_copy_loop(base), std::move(put), put_offset,
                                              threads);
}

KernelRegistrar reg_add({OpCode::ScatterAdd, OpCode::IndexAdd}, &make_scatter_add);
KernelRegistrar reg_slice({OpCode::SliceScatter}, &make_slice_scatter);

}  // namespace

}  // namespace hodu
