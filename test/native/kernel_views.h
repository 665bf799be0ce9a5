// Helpers for kernel tests: strided input views (contiguous, transposed, sliced, broadcast) with
// their logical values as doubles, and a runner that makes a kernel through the registry, runs it
// and reads the output back (checking that nothing was written past its end).
#pragma once
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/elem.h"
#include "kernels/kernel.h"
#include "ops/infer.h"
#include "test_util.h"

namespace hodu_test {

using namespace hodu;

inline double read_elem(DType t, const void* base, int64_t i) {
  return dispatch_dtype(t, [&](auto tag) -> double {
    using T = decltype(tag);
    return (double)load(((const T*)base)[i]);
  });
}

// Stores v rounded/truncated to the dtype (integers: toward zero).
inline void write_elem(DType t, void* base, int64_t i, double v) {
  dispatch_dtype(t, [&](auto tag) {
    using T = decltype(tag);
    using C = compute_t<T>;
    ((T*)base)[i] = store<T>(convert_value<C>(v));
  });
}

enum class Layout { Contiguous, Transposed, Sliced, Broadcast };
inline const char* layout_name(Layout l) {
  switch (l) {
    case Layout::Contiguous: return "contiguous";
    case Layout::Transposed: return "transposed";
    case Layout::Sliced: return "sliced";
    case Layout::Broadcast: return "broadcast";
  }
  return "?";
}
constexpr Layout kAllLayouts[] = {Layout::Contiguous, Layout::Transposed, Layout::Sliced, Layout::Broadcast};

// An input tensor as a kernel sees it: a descriptor with strides and a pointer to element 0.
struct View {
  TensorDesc desc;
  std::vector<uint64_t> storage;  // 8-byte aligned backing store
  int64_t first = 0;              // element offset of element 0 in storage
  std::vector<double> vals;       // logical values, row-major over desc.shape

  const void* ptr() const { return (const char*)storage.data() + first * (int64_t)dtype_size(desc.dtype); }
  int64_t offset_of(int64_t flat) const {  // element offset (relative to ptr()) of a logical index
    int64_t off = 0;
    for (int d = desc.ndim() - 1; d >= 0; d--) {
      off += (flat % desc.shape[d]) * desc.strides[d];
      flat /= desc.shape[d];
    }
    return off;
  }
  void set(int64_t flat, double v) {  // writes one logical element (and every alias of it)
    write_elem(desc.dtype, const_cast<void*>(ptr()), offset_of(flat), v);
    refresh();
  }
  void refresh() {
    int64_t n = desc.numel();
    vals.resize(n);
    for (int64_t i = 0; i < n; i++) vals[i] = read_elem(desc.dtype, ptr(), offset_of(i));
  }
};

// Fills a view of `shape` in the given layout with gen() values (stored in the dtype, so `vals`
// holds exactly what the kernel reads).
template <class Gen>
View make_view(DType t, const Shape& shape, Layout layout, Gen&& gen) {
  View v;
  const int r = (int)shape.size();
  Shape phys = shape, st;
  switch (layout) {
    case Layout::Contiguous:
      st = contiguous_strides(shape);
      break;
    case Layout::Transposed: {  // storage holds the reversed shape; the view permutes it back
      Shape rev(shape.rbegin(), shape.rend());
      phys = rev;
      Shape cs = contiguous_strides(rev);
      st.resize(r);
      for (int d = 0; d < r; d++) st[d] = cs[r - 1 - d];
      break;
    }
    case Layout::Sliced: {  // a window at (1, 1, ...) of a larger tensor, step 2 in the last dim
      for (int d = 0; d < r; d++) phys[d] = d == r - 1 ? shape[d] * 2 + 1 : shape[d] + 2;
      Shape cs = contiguous_strides(phys);
      st.resize(r);
      for (int d = 0; d < r; d++) {
        st[d] = d == r - 1 ? cs[d] * 2 : cs[d];
        v.first += cs[d];
      }
      break;
    }
    case Layout::Broadcast: {  // dim 0 repeats one slice (stride 0)
      if (r > 0) phys[0] = 1;
      st = contiguous_strides(phys);
      if (r > 0) st[0] = 0;
      break;
    }
  }
  int64_t n = numel(phys) + v.first;
  v.storage.assign(((size_t)n * dtype_size(t) + 7) / 8 + 1, 0);
  for (int64_t i = 0; i < n; i++) write_elem(t, v.storage.data(), i, gen());
  v.desc = TensorDesc(t, shape, st, 0);
  v.refresh();
  return v;
}

// A contiguous view holding the given values.
inline View make_values(DType t, const Shape& shape, const std::vector<double>& vals) {
  size_t i = 0;
  return make_view(t, shape, Layout::Contiguous, [&] { return i < vals.size() ? vals[i++] : 0.0; });
}

// Uniform random values; integers for integer dtypes.
struct Rng {
  std::mt19937_64 g;
  explicit Rng(uint64_t seed = 42) : g(seed) {}
  double uniform(double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(g); }
  double integer(int lo, int hi) { return (double)std::uniform_int_distribution<int>(lo, hi)(g); }
  double value(DType t, double lo = -1, double hi = 1) { return is_float(t) ? uniform(lo, hi) : integer((int)lo, (int)hi); }
};

struct Result {
  TensorDesc out;
  std::vector<double> vals;
  std::string impl;
};

// infer() + make_kernel() + run_once(); checks the bytes after the output stay untouched.
inline Result run_op(OpCode op, const Attrs& attrs, const std::vector<const View*>& ins) {
  std::vector<TensorDesc> descs;
  std::vector<const void*> ptrs;
  for (const View* v : ins) {
    descs.push_back(v->desc);
    ptrs.push_back(v->ptr());
  }
  Result res;
  res.out = infer(op, attrs, descs).out;
  KernelSpec spec;
  spec.op = op;
  spec.attrs = attrs;
  spec.inputs = descs;
  spec.output = res.out;
  auto k = make_kernel(spec);
  res.impl = k->impl();
  const size_t nbytes = res.out.nbytes();
  if (res.out.numel() == 0) return res;
  const size_t guard = 64;
  std::vector<uint64_t> buf((nbytes + guard + 7) / 8, 0x5a5a5a5a5a5a5a5aull);
  run_once(*k, ptrs.data(), buf.data());
  const uint8_t* tail = (const uint8_t*)buf.data() + nbytes;
  for (size_t i = 0; i < guard; i++) {
    if (tail[i] != 0x5a) {
      std::printf("  %s wrote past its output (byte %zu after the end)\n", op_info(op).name, i);
      g_failures++;
      break;
    }
  }
  res.vals.resize(res.out.numel());
  for (int64_t i = 0; i < res.out.numel(); i++) res.vals[i] = read_elem(res.out.dtype, buf.data(), i);
  return res;
}

inline Result run_op(OpCode op, const Attrs& attrs, const View& in) { return run_op(op, attrs, std::vector<const View*>{&in}); }

// The kernel the registry makes for op on these inputs.
inline std::unique_ptr<Kernel> kernel_for(OpCode op, const Attrs& attrs, const std::vector<TensorDesc>& inputs) {
  KernelSpec spec;
  spec.op = op;
  spec.attrs = attrs;
  spec.inputs = inputs;
  spec.output = infer(op, attrs, inputs).out;
  return make_kernel(spec);
}

// Element-wise comparison with |a - b| <= atol + rtol * |b|; NaNs must match. Reports the first
// few mismatches with a label.
inline bool check_close(const std::vector<double>& got, const std::vector<double>& want, double rtol, double atol,
                        const std::string& label) {
  if (got.size() != want.size()) {
    std::printf("  %s: %zu values, expected %zu\n", label.c_str(), got.size(), want.size());
    g_failures++;
    return false;
  }
  int bad = 0;
  for (size_t i = 0; i < got.size(); i++) {
    double a = got[i], b = want[i];
    bool ok = (std::isnan(a) && std::isnan(b)) || a == b || std::fabs(a - b) <= atol + rtol * std::fabs(b);
    if (!ok && bad++ < 3) std::printf("  %s: [%zu] got %.10g, expected %.10g\n", label.c_str(), i, a, b);
  }
  if (bad) g_failures++;
  return bad == 0;
}

}  // namespace hodu_test
