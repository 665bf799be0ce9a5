// Elementwise kernels (unary.cc, binary.cc, where.cc) against float64 references written here:
// every op family on contiguous, transposed, sliced and broadcast inputs, small and large (threaded,
// oneDNN) sizes, f32/f64/f16/bf16 and integer dtypes, integer edge cases, NaN/inf semantics, and
// the conformance values of the spec.
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "kernels/elem.h"
#include "kernels/kernel.h"
#include "ops/infer.h"
#include "test_util.h"

using namespace hodu;

namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();
const double kInf = std::numeric_limits<double>::infinity();

// ---- typed storage access -----------------------------------------------------------------------

double get_elem(DType t, const void* base, int64_t off) {
  return dispatch_dtype(t, [&](auto tag) {
    using T = decltype(tag);
    return convert_value<double>(load(static_cast<const T*>(base)[off]));
  });
}

void put_elem(DType t, void* base, int64_t off, double v) {
  dispatch_dtype(t, [&](auto tag) {
    using T = decltype(tag);
    static_cast<T*>(base)[off] = store<T>(convert_value<compute_t<T>>(v));
  });
}

// ---- strided views ------------------------------------------------------------------------------

enum class Layout { Contig, Transposed, Sliced, Expanded };
const Layout kLayouts[] = {Layout::Contig, Layout::Transposed, Layout::Sliced, Layout::Expanded};

const char* layout_name(Layout l) {
  switch (l) {
    case Layout::Contig: return "contig";
    case Layout::Transposed: return "transposed";
    case Layout::Sliced: return "sliced";
    default: return "expanded";
  }
}

// A tensor view over its own storage: `desc` as a kernel sees it (offset 0).
struct View {
  TensorDesc desc;
  std::vector<uint64_t> storage;  // 8-byte aligned

  const void* data() const { return storage.data(); }
  double at(const Shape& out_idx) const {  // value at an output index (broadcast, right-aligned)
    int64_t off = 0;
    const size_t lead = out_idx.size() - desc.shape.size();
    for (size_t d = 0; d < desc.shape.size(); d++)
      if (desc.shape[d] != 1) off += out_idx[lead + d] * desc.strides[d];
    return get_elem(desc.dtype, storage.data(), off);
  }
};

// A view of `shape` with the given layout; element values gen(k) in row-major order of the view
// (stored in the dtype, so the reference reads back what the kernel reads).
View make_view(DType t, const Shape& shape, Layout layout, const std::function<double(int64_t)>& gen) {
  const size_t r = shape.size();
  Shape storage_shape = shape, strides;
  switch (layout) {
    case Layout::Contig:
      strides = contiguous_strides(shape);
      break;
    case Layout::Transposed: {  // storage has the last two dims swapped
      if (r < 2) {
        strides = contiguous_strides(shape);
        break;
      }
      std::swap(storage_shape[r - 1], storage_shape[r - 2]);
      Shape st = contiguous_strides(storage_shape);
      strides = st;
      std::swap(strides[r - 1], strides[r - 2]);
      break;
    }
    case Layout::Sliced: {  // every other element of a twice as wide inner dim
      if (r == 0) {
        strides = {};
        break;
      }
      storage_shape[r - 1] *= 2;
      strides = contiguous_strides(storage_shape);
      strides[r - 1] = 2;
      break;
    }
    case Layout::Expanded: {  // the leading dim is a broadcast (stride 0) of one row
      if (r == 0) {
        strides = {};
        break;
      }
      storage_shape[0] = 1;
      strides = contiguous_strides(storage_shape);
      strides[0] = 0;
      break;
    }
  }
  View v;
  v.desc = TensorDesc(t, shape, strides, 0);
  const int64_t nstore = std::max<int64_t>(numel(storage_shape), 1);
  v.storage.assign((size_t)((nstore * (int64_t)dtype_size(t) + 7) / 8), 0);
  // write every logical element (expanded views write row 0 repeatedly with row-0 values)
  const int64_t n = numel(shape);
  Shape idx(r, 0);
  for (int64_t k = 0; k < n; k++) {
    int64_t off = 0;
    for (size_t d = 0; d < r; d++) off += idx[d] * strides[d];
    put_elem(t, v.storage.data(), off, gen(k));  // an expanded view keeps the last row written
    for (size_t d = r; d-- > 0;) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
  return v;
}

View contig(DType t, const Shape& shape, const std::function<double(int64_t)>& gen) {
  return make_view(t, shape, Layout::Contig, gen);
}

// ---- running kernels ----------------------------------------------------------------------------

struct Result {
  TensorDesc desc;
  std::vector<uint64_t> data;
  std::string impl;
  double at(int64_t k) const { return get_elem(desc.dtype, data.data(), k); }
};

Result run_op(OpCode op, const Attrs& attrs, const std::vector<const View*>& ins) {
  std::vector<TensorDesc> descs;
  std::vector<const void*> ptrs;
  for (const View* v : ins) {
    descs.push_back(v->desc);
    ptrs.push_back(v->data());
  }
  InferResult inf = infer(op, attrs, descs);
  KernelSpec spec{op, attrs, descs, inf.out, {}};
  auto k = make_kernel(spec);
  Result r;
  r.desc = inf.out;
  r.impl = k->impl();
  r.data.assign((inf.out.nbytes() + 7) / 8 + 1, 0);
  if (inf.out.numel() > 0) run_once(*k, ptrs.data(), r.data.data());
  return r;
}

void next_index(Shape& idx, const Shape& shape) {
  for (size_t d = shape.size(); d-- > 0;) {
    if (++idx[d] < shape[d]) return;
    idx[d] = 0;
  }
}

// Tolerance of a float result: relative plus absolute, by dtype.
double tol_for(DType t, double ref) {
  switch (t) {
    case DType::F64: return 1e-12 * std::fabs(ref) + 1e-13;
    case DType::F32: return 2e-6 * std::fabs(ref) + 2e-7;
    case DType::F16: return 1e-3 * std::fabs(ref) + 1e-4;
    case DType::BF16: return 1e-2 * std::fabs(ref) + 1e-3;
    default: return 0;
  }
}

// Integer results wrap to the dtype's width; float references are rounded to the dtype.
double wrap_to(DType t, double v) {
  if (is_float(t)) {
    uint64_t tmp = 0;
    put_elem(t, &tmp, 0, v);
    return get_elem(t, &tmp, 0);
  }
  if (!is_int(t)) return v;
  const int bits = (int)dtype_size(t) * 8;
  if (bits == 64) return t == DType::U64 && v < 0 ? v + 18446744073709551616.0 : v;  // tests stay in range
  const int64_t m = int64_t(1) << bits;
  int64_t x = (int64_t)v % m;
  if (x < 0) x += m;
  if (is_signed_int(t) && x >= m / 2) x -= m;
  return (double)x;
}

bool same(double got, double want, DType t) {
  if (std::isnan(want)) return std::isnan(got);
  if (std::isinf(want)) return got == want;
  if (is_float(t)) return std::fabs(got - want) <= tol_for(t, want);
  return got == want;
}

// Compares every output element with ref(values of the inputs at that index); reports the first
// few mismatches.
void check_against(const Result& r, const std::vector<const View*>& ins,
                   const std::function<double(const std::vector<double>&)>& ref, const std::string& what) {
  const Shape& shape = r.desc.shape;
  Shape idx(shape.size(), 0);
  int bad = 0;
  std::vector<double> vals(ins.size());
  for (int64_t k = 0; k < r.desc.numel(); k++, next_index(idx, shape)) {
    for (size_t i = 0; i < ins.size(); i++) vals[i] = ins[i]->at(idx);
    const double want = wrap_to(r.desc.dtype, ref(vals));
    const double got = r.at(k);
    if (!same(got, want, r.desc.dtype)) {
      if (bad < 3)
        std::printf("  %s [%s]: element %lld: got %.9g, want %.9g (inputs %g%s%g)\n", what.c_str(), r.impl.c_str(),
                    (long long)k, got, want, vals[0], vals.size() > 1 ? ", " : "", vals.size() > 1 ? vals[1] : 0.0);
      bad++;
    }
  }
  if (bad) {
    std::printf("  %s: %d mismatches of %lld\n", what.c_str(), bad, (long long)r.desc.numel());
    hodu_test::g_failures++;
  }
}

std::string describe(OpCode op, DType t, const std::string& extra) {
  return std::string(op_info(op).name) + " " + dtype_name(t) + " " + extra;
}

// ---- references ---------------------------------------------------------------------------------

double sigmoid_ref(double x) { return x >= 0 ? 1 / (1 + std::exp(-x)) : std::exp(x) / (1 + std::exp(x)); }

double unary_ref(OpCode op, const Attrs& a, double x) {
  switch (op) {
    case OpCode::Neg: return -x;
    case OpCode::Abs: return std::fabs(x);
    case OpCode::Sign: return std::isnan(x) ? x : (double)((x > 0) - (x < 0));  // NaN stays NaN (PyTorch)
    case OpCode::Square: return x * x;
    case OpCode::Relu: return std::isnan(x) ? x : x > 0 ? x : 0;
    case OpCode::Clamp: return std::min(std::max(x, a[0]), a[1]);
    case OpCode::Sqrt: return std::sqrt(x);
    case OpCode::Recip: return 1 / x;
    case OpCode::Sigmoid: return sigmoid_ref(x);
    case OpCode::Tanh: return std::tanh(x);
    case OpCode::Gelu: {
      // 0.5·x·(1 + tanh(u)) = x·sigmoid(2u); the second form keeps double's accuracy for u < -19
      const double u = 0.7978845608028654 * (x + 0.044715 * x * x * x);
      return x * sigmoid_ref(2 * u);
    }
    case OpCode::Softplus: return std::max(x, 0.0) + std::log1p(std::exp(-std::fabs(x)));
    case OpCode::Sin: return std::sin(x);
    case OpCode::Cos: return std::cos(x);
    case OpCode::Tan: return std::tan(x);
    case OpCode::Exp: return std::exp(x);
    case OpCode::Exp2: return std::exp2(x);
    case OpCode::Exp10: return std::pow(10.0, x);
    case OpCode::Ln: return std::log(x);
    case OpCode::Log2: return std::log2(x);
    case OpCode::Log10: return std::log10(x);
    case OpCode::LeakyRelu: return x > 0 ? x : a[0] * x;
    case OpCode::Elu: return x > 0 ? x : a[0] * (std::exp(x) - 1);
    case OpCode::Silu: return x * sigmoid_ref(x);
    case OpCode::LogicalNot: return x == 0 ? 1 : 0;
    default: return kNaN;
  }
}

// Integer clamp: the double formula, then the conversion into the dtype (truncate, saturate).
double int_clamp_ref(DType t, double x, double lo, double hi) {
  const double r = std::trunc(std::min(std::max(x, lo), hi));
  double mn = 0, mx = 0;
  dispatch_dtype(t, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_integral_v<T>) {
      mn = (double)std::numeric_limits<T>::min();
      mx = (double)std::numeric_limits<T>::max();
    }
  });
  return std::min(std::max(r, mn), mx);
}

double binary_ref(OpCode op, DType t, double a, double b) {
  const bool integral = is_int(t);
  switch (op) {
    case OpCode::Add: return a + b;
    case OpCode::Sub: return a - b;
    case OpCode::Mul: return a * b;
    case OpCode::Div:
      if (integral) return b == 0 ? 0 : std::trunc(a / b);
      return a / b;
    case OpCode::Pow: {
      if (!integral) return std::pow(a, b);
      if (b < 0) return a == 1 ? 1 : a == -1 ? ((int64_t)b % 2 ? -1 : 1) : 0;
      double r = 1;
      for (int64_t i = 0; i < (int64_t)b; i++) r = wrap_to(t, r * a);
      return r;
    }
    case OpCode::Maximum: return std::isnan(a) || std::isnan(b) ? kNaN : a < b ? b : a;
    case OpCode::Minimum: return std::isnan(a) || std::isnan(b) ? kNaN : a > b ? b : a;
    case OpCode::LogicalAnd: return (a != 0) && (b != 0);
    case OpCode::LogicalOr: return (a != 0) || (b != 0);
    case OpCode::LogicalXor: return (a != 0) != (b != 0);
    case OpCode::Eq: return a == b;
    case OpCode::Ne: return a != b;
    case OpCode::Lt: return a < b;
    case OpCode::Le: return a <= b;
    case OpCode::Gt: return a > b;
    case OpCode::Ge: return a >= b;
    default: return kNaN;
  }
}

const DType kAllNumeric[] = {DType::U8, DType::I8, DType::I16, DType::I32, DType::I64, DType::U16, DType::U32,
                             DType::U64, DType::F16, DType::BF16, DType::F32, DType::F64};
const DType kFloats[] = {DType::F16, DType::BF16, DType::F32, DType::F64};

// Input values for a float unary op: inside its domain, away from poles.
double unary_input(OpCode op, int64_t k) {
  const double u = std::sin(0.37 * (double)k + 0.1);  // in [-1, 1], irregular
  switch (op) {
    case OpCode::Sqrt: case OpCode::Ln: case OpCode::Log2: case OpCode::Log10:
      return 0.05 + 5 * (u + 1);
    case OpCode::Recip: return (u >= 0 ? 0.2 : -0.2) + 3 * u;
    case OpCode::Tan: return 1.3 * u;
    case OpCode::Exp: case OpCode::Exp2: case OpCode::Exp10: return 6 * u;
    default: return 7 * u;
  }
}

Attrs unary_attrs(OpCode op) {
  if (op == OpCode::Clamp) return {-1.5, 2.25};
  if (op == OpCode::LeakyRelu) return {0.1};
  if (op == OpCode::Elu) return {0.7};
  return {};
}

const OpCode kUnaryFloatOps[] = {OpCode::Sqrt, OpCode::Recip, OpCode::Sigmoid, OpCode::Tanh, OpCode::Gelu,
                                 OpCode::Softplus, OpCode::Sin, OpCode::Cos, OpCode::Tan, OpCode::Exp,
                                 OpCode::Exp2, OpCode::Exp10, OpCode::Ln, OpCode::Log2, OpCode::Log10,
                                 OpCode::LeakyRelu, OpCode::Elu, OpCode::Silu};
const OpCode kUnarySignedOps[] = {OpCode::Neg, OpCode::Abs, OpCode::Sign, OpCode::Square, OpCode::Relu,
                                  OpCode::Clamp};
const OpCode kArithOps[] = {OpCode::Add, OpCode::Sub, OpCode::Mul, OpCode::Div, OpCode::Pow, OpCode::Maximum,
                            OpCode::Minimum};
const OpCode kCompareOps[] = {OpCode::Eq, OpCode::Ne, OpCode::Lt, OpCode::Le, OpCode::Gt, OpCode::Ge};
const OpCode kLogicalOps[] = {OpCode::LogicalAnd, OpCode::LogicalOr, OpCode::LogicalXor};

void check_unary(OpCode op, DType t, const Shape& shape, Layout layout, const std::function<double(int64_t)>& gen) {
  const Attrs attrs = unary_attrs(op);
  View x = make_view(t, shape, layout, gen);
  Result r = run_op(op, attrs, {&x});
  const bool int_clamp = op == OpCode::Clamp && is_int(t);
  check_against(
      r, {&x},
      [&](const std::vector<double>& v) {
        return int_clamp ? int_clamp_ref(t, v[0], attrs[0], attrs[1]) : unary_ref(op, attrs, v[0]);
      },
      describe(op, t, layout_name(layout)));
}

}  // namespace

// ---- unary --------------------------------------------------------------------------------------

HODU_TEST(elementwise_unary_float_ops_all_layouts) {
  for (OpCode op : kUnaryFloatOps)
    for (DType t : kFloats)
      for (Layout l : kLayouts) check_unary(op, t, {5, 7}, l, [&](int64_t k) { return unary_input(op, k); });
}

HODU_TEST(elementwise_unary_signed_ops_all_dtypes) {
  for (OpCode op : kUnarySignedOps)
    for (DType t : kAllNumeric)
      for (Layout l : kLayouts)
        check_unary(op, t, {4, 9}, l, [&](int64_t k) {
          const double u = std::sin(0.37 * (double)k + 0.1);
          if (is_float(t)) return 4 * u;
          if (is_unsigned_int(t)) return std::floor(15 * (u + 1));
          return std::floor(100 * u);
        });
}

HODU_TEST(elementwise_unary_large_threaded) {
  // 600 x 512 = 307200 elements: above the threading threshold, oneDNN where it applies.
  const Shape big = {600, 512};
  const OpCode ops[] = {OpCode::Relu, OpCode::Tanh, OpCode::Sigmoid, OpCode::Exp, OpCode::Gelu, OpCode::Softplus,
                        OpCode::Sqrt, OpCode::Ln, OpCode::Silu, OpCode::Elu, OpCode::Neg, OpCode::Clamp,
                        OpCode::Recip, OpCode::Square, OpCode::Abs, OpCode::LeakyRelu, OpCode::Sin};
  for (OpCode op : ops)
    for (DType t : {DType::F32, DType::BF16, DType::F64})
      for (Layout l : {Layout::Contig, Layout::Transposed}) {
        if (t == DType::F64 && l == Layout::Transposed) continue;
        check_unary(op, t, big, l, [&](int64_t k) { return unary_input(op, k); });
      }
  for (DType t : {DType::I32, DType::U8, DType::I64})
    check_unary(OpCode::Abs, t, big, Layout::Sliced, [](int64_t k) { return (double)(k % 200) - (k % 3 ? 0 : 50); });
}

HODU_TEST(elementwise_unary_rank0_and_size1) {
  View s = contig(DType::F32, {}, [](int64_t) { return -2.0; });
  Result r = run_op(OpCode::Relu, {}, {&s});
  CHECK(r.desc.shape.empty());
  CHECK(r.at(0) == 0);
  r = run_op(OpCode::Exp, {}, {&s});
  CHECK_NEAR(r.at(0), std::exp(-2.0), 1e-7);
  View one = contig(DType::I32, {1, 1, 1}, [](int64_t) { return -7.0; });
  CHECK(run_op(OpCode::Abs, {}, {&one}).at(0) == 7);
}

HODU_TEST(elementwise_unary_conformance_f32) {
  // The spec's conformance values, f32, 1e-6 relative, at a small and a large (threaded) size.
  struct Case {
    OpCode op;
    Attrs attrs;
    std::vector<double> x, want;
  };
  const std::vector<double> x5 = {-2, -1, 0, 1, 2}, x3 = {-1, 0.5, 2};
  const Case cases[] = {
      {OpCode::Relu, {}, x5, {0, 0, 0, 1, 2}},
      {OpCode::Sigmoid, {}, x5, {0.1192029, 0.2689414, 0.5, 0.7310586, 0.8807970}},
      {OpCode::Softplus, {}, x5, {0.126928, 0.3132616, 0.6931472, 1.3132617, 2.1269280}},
      {OpCode::Gelu, {}, x5, {-0.0454023, -0.1588080, 0, 0.8411920, 1.9545977}},
      {OpCode::Elu, {1}, x3, {-0.6321206, 0.5, 2}},
      {OpCode::LeakyRelu, {0.1}, x3, {-0.1, 0.5, 2}},
      {OpCode::Exp2, {}, x3, {0.5, 1.4142135, 4}},
      {OpCode::Exp10, {}, x3, {0.1, 3.1622777, 100}},
  };
  for (const Case& c : cases) {
    for (int64_t reps : {int64_t(1), int64_t(70001)}) {
      const int64_t n = (int64_t)c.x.size() * reps;
      View x = contig(DType::F32, {n}, [&](int64_t k) { return c.x[k % c.x.size()]; });
      Result r = run_op(c.op, c.attrs, {&x});
      int bad = 0;
      for (int64_t k = 0; k < n; k++) {
        const double want = c.want[k % c.want.size()];
        if (!(std::fabs(r.at(k) - want) <= 1e-6 * std::fabs(want))) {
          if (bad++ < 3)
            std::printf("  %s(%g) = %.9g, want %.9g [%s]\n", op_info(c.op).name, c.x[k % c.x.size()], r.at(k), want,
                        r.impl.c_str());
        }
      }
      CHECK(bad == 0);
    }
  }
  // sigmoid(0) is 0.5 exactly and softplus(0) is ln 2, at both sizes
  for (int64_t n : {int64_t(3), int64_t(300000)}) {
    View z = contig(DType::F32, {n}, [](int64_t) { return 0.0; });
    CHECK(run_op(OpCode::Sigmoid, {}, {&z}).at(n - 1) == 0.5);
    CHECK_NEAR(run_op(OpCode::Softplus, {}, {&z}).at(n - 1), std::log(2.0), 1e-7);
  }
}

HODU_TEST(elementwise_unary_special_values) {
  const std::vector<double> xs = {kNaN, kInf, -kInf, 0.0, -0.0, 100, -100, 1e-30, -1e-30, 88.5, -88.5, 1e-4, -1e-4};
  for (DType t : {DType::F32, DType::F64}) {
    for (int64_t reps : {int64_t(1), int64_t(30000)}) {  // small (loop) and large (oneDNN / threads)
      const int64_t n = (int64_t)xs.size() * reps;
      View x = contig(t, {n}, [&](int64_t k) { return xs[k % xs.size()]; });
      auto at = [&](OpCode op, double v, const Attrs& a = {}) {
        Result r = run_op(op, a, {&x});
        for (size_t i = 0; i < xs.size(); i++)
          if (std::memcmp(&xs[i], &v, sizeof v) == 0 || (std::isnan(v) && std::isnan(xs[i]))) return r.at((int64_t)i);
        return kNaN;
      };
      // NaN handling: PyTorch's rule (README): relu and sign keep NaN
      CHECK(std::isnan(at(OpCode::Relu, kNaN)));
      CHECK(std::isnan(at(OpCode::Sign, kNaN)));
      CHECK(std::isnan(at(OpCode::Exp, kNaN)));
      CHECK(std::isnan(at(OpCode::Exp2, kNaN)));
      CHECK(std::isnan(at(OpCode::Ln, kNaN)));
      CHECK(std::isnan(at(OpCode::Sigmoid, kNaN)));
      CHECK(std::isnan(at(OpCode::Tanh, kNaN)));
      CHECK(std::isnan(at(OpCode::Softplus, kNaN)));
      CHECK(std::isnan(at(OpCode::Clamp, kNaN, {-1, 1})));
      CHECK(std::isnan(at(OpCode::LeakyRelu, kNaN, {0.1})));
      CHECK(std::isnan(at(OpCode::Abs, kNaN)));
      CHECK(std::isnan(at(OpCode::Sqrt, -kInf)));
      // infinities and zeros
      CHECK(at(OpCode::Exp, kInf) == kInf);
      CHECK(at(OpCode::Exp, -kInf) == 0);
      CHECK(at(OpCode::Exp, -100) > 0);  // 3.7e-44: a subnormal in f32, not flushed
      CHECK(at(OpCode::Tanh, kInf) == 1);
      CHECK(at(OpCode::Tanh, -kInf) == -1);
      CHECK(at(OpCode::Sigmoid, 100) == 1);
      CHECK(at(OpCode::Sigmoid, -100) >= 0 && at(OpCode::Sigmoid, -100) < 1e-40);
      CHECK(at(OpCode::Softplus, 100) == 100);
      CHECK(at(OpCode::Softplus, -100) >= 0 && at(OpCode::Softplus, -100) < 1e-40);
      CHECK(at(OpCode::Softplus, kInf) == kInf);
      CHECK(at(OpCode::Softplus, -kInf) == 0);
      CHECK(at(OpCode::Ln, 0.0) == -kInf);
      CHECK(at(OpCode::Ln, -0.0) == -kInf);
      CHECK(at(OpCode::Ln, kInf) == kInf);
      CHECK(std::isnan(at(OpCode::Ln, -100)));
      CHECK(std::isnan(at(OpCode::Log2, -kInf)));
      CHECK(at(OpCode::Recip, kInf) == 0);
      CHECK(at(OpCode::Clamp, kInf, {-kInf, 5}) == 5);
      CHECK(at(OpCode::Clamp, -kInf, {-kInf, 5}) == -kInf);
      CHECK(at(OpCode::Relu, -kInf) == 0);
      CHECK(at(OpCode::Sign, -kInf) == -1);
      CHECK(std::signbit(at(OpCode::Neg, 0.0)));
      CHECK(!std::signbit(at(OpCode::Neg, -0.0)));
      CHECK(!std::signbit(at(OpCode::Relu, -0.0)));
      // accuracy near 0 and at the edges of the float range
      const double tol = t == DType::F32 ? 4e-7 : 1e-14;
      auto rel = [](double got, double want) { return std::fabs(got - want) / std::fabs(want); };
      CHECK(rel(at(OpCode::Elu, -1e-4, {1}), std::expm1(-1e-4)) < 1e-5);
      CHECK(rel(at(OpCode::Tanh, -1e-4), std::tanh(-1e-4)) < tol);
      CHECK(rel(at(OpCode::Tanh, 1e-30), 1e-30) < tol);
      CHECK(rel(at(OpCode::Exp, 88.5), std::exp(88.5)) < tol);
      // f32: 3.9e-39 is subnormal; oneDNN (large sizes) flushes it to 0, the loop keeps it
      CHECK(std::fabs(at(OpCode::Sigmoid, -88.5) - sigmoid_ref(-88.5)) < (t == DType::F32 ? 1e-38 : 1e-52));
      CHECK(rel(at(OpCode::Ln, 1e-30), std::log(1e-30)) < tol);
      CHECK(rel(at(OpCode::Softplus, -1e-4), std::log1p(std::exp(-1e-4))) < tol);
    }
  }
  // f32 exp/log over the whole range, including subnormal inputs and outputs
  {
    const int64_t n = 200001;
    View x = contig(DType::F32, {n}, [&](int64_t k) { return -104.0 + 193.0 * (double)k / (double)(n - 1); });
    Result r = run_op(OpCode::Exp, {}, {&x});
    double worst = 0;
    for (int64_t k = 0; k < n; k++) {
      const double xv = x.at({k}), want = std::exp(xv);
      if (want > 1.2e-38 && want < 3.4e38) worst = std::max(worst, std::fabs(r.at(k) - want) / want);
      else if (want < 1.2e-38) CHECK(std::fabs(r.at(k) - (double)(float)want) <= 1.5e-45);
    }
    CHECK(worst < 3e-7);
    View y = contig(DType::F32, {n},
                    [&](int64_t k) { return std::ldexp(1.0 + (double)(k % 977) / 977.0, (int)(k % 276) - 149); });
    for (OpCode op : {OpCode::Ln, OpCode::Log2, OpCode::Log10}) {
      Result l = run_op(op, {}, {&y});
      double werr = 0;
      for (int64_t k = 0; k < n; k++) {
        const double want = unary_ref(op, {}, y.at({k}));
        werr = std::max(werr, std::fabs(l.at(k) - want) / std::max(std::fabs(want), 1e-30));
      }
      if (!(werr < 3e-7)) std::printf("  %s worst relative error %g\n", op_info(op).name, werr);
      CHECK(werr < 3e-7);
    }
  }
}

HODU_TEST(elementwise_unary_f32_loop_math_accuracy) {
  // The vectorised float math of the loop (a sliced input keeps oneDNN out) over whole input
  // ranges, subnormal results included: a few ulp relative, one subnormal step absolute.
  struct Sweep {
    OpCode op;
    Attrs attrs;
    double lo, hi, max_rel;
    double tiny = 1.2e-38, max_abs = 3e-45;  // below `tiny`, compare absolutely
  };
  // silu and gelu multiply a subnormal sigmoid by x: relative accuracy stops at ~1e-30. gelu's
  // tail is ill-conditioned in float: the rounding of u = 0.798(x + 0.045x^3) alone moves
  // x·sigmoid(2u) by ~|2u|·6e-8 relative (1e-5 at x = -9).
  const Sweep sweeps[] = {
      {OpCode::Exp, {}, -104, 88.7, 3e-7},        {OpCode::Exp2, {}, -150, 127.9, 3e-7},
      {OpCode::Exp10, {}, -45.1, 38.5, 4e-7},     {OpCode::Tanh, {}, -12, 12, 4e-7},
      {OpCode::Sigmoid, {}, -103, 40, 4e-7},      {OpCode::Silu, {}, -100, 40, 4e-7, 1e-30, 1e-36},
      {OpCode::Gelu, {}, -9, 12, 2e-5, 1e-30, 1e-34},       {OpCode::Gelu, {}, -2.5, 12, 1e-6},
      {OpCode::Softplus, {}, -100, 100, 4e-7},    {OpCode::Elu, {1.0}, -20, 5, 4e-7},
      {OpCode::Ln, {}, 1e-3, 1e3, 3e-7},          {OpCode::Tanh, {}, -1e-3, 1e-3, 4e-7},
      {OpCode::Elu, {0.5}, -1e-3, 1e-3, 4e-7},
  };
  const int64_t n = 40000;
  for (const Sweep& sw : sweeps) {
    View x = make_view(DType::F32, {n}, Layout::Sliced,
                       [&](int64_t k) { return sw.lo + (sw.hi - sw.lo) * (double)k / (double)(n - 1); });
    Result r = run_op(sw.op, sw.attrs, {&x});
    CHECK(r.impl.rfind("loop:", 0) == 0);
    double worst = 0;
    int bad_abs = 0;
    for (int64_t k = 0; k < n; k++) {
      const double want = unary_ref(sw.op, sw.attrs, x.at({k})), got = r.at(k);
      if (std::fabs(want) >= sw.tiny) worst = std::max(worst, std::fabs(got - want) / std::fabs(want));
      else if (!(std::fabs(got - want) <= sw.max_abs)) bad_abs++;
    }
    if (!(worst <= sw.max_rel) || bad_abs)
      std::printf("  %s on [%g, %g]: worst relative error %.3g, %d subnormal misses\n", op_info(sw.op).name, sw.lo,
                  sw.hi, worst, bad_abs);
    CHECK(worst <= sw.max_rel);
    CHECK(bad_abs == 0);
  }
}

HODU_TEST(elementwise_unary_integer_edges) {
  // neg/abs/square wrap around; clamp picks x exactly for 64-bit values and converts bounds.
  {
    std::vector<int32_t> v = {std::numeric_limits<int32_t>::min(), -1, 0, 46341, std::numeric_limits<int32_t>::max()};
    View x = contig(DType::I32, {5}, [&](int64_t k) { return (double)v[k]; });
    Result neg = run_op(OpCode::Neg, {}, {&x}), ab = run_op(OpCode::Abs, {}, {&x});
    Result sq = run_op(OpCode::Square, {}, {&x});
    const int32_t* pn = reinterpret_cast<const int32_t*>(neg.data.data());
    const int32_t* pa = reinterpret_cast<const int32_t*>(ab.data.data());
    const int32_t* ps = reinterpret_cast<const int32_t*>(sq.data.data());
    CHECK(pn[0] == std::numeric_limits<int32_t>::min());
    CHECK(pn[4] == -std::numeric_limits<int32_t>::max());
    CHECK(pa[0] == std::numeric_limits<int32_t>::min());
    CHECK(pa[1] == 1);
    CHECK(ps[3] == (int32_t)(uint32_t)(46341u * 46341u));
    CHECK(ps[1] == 1);
  }
  {
    View x = contig(DType::U8, {3}, [](int64_t k) { return (double)k; });
    Result neg = run_op(OpCode::Neg, {}, {&x});
    CHECK(neg.at(1) == 255 && neg.at(2) == 254 && neg.at(0) == 0);
  }
  {
    const int64_t big = (int64_t(1) << 62) + 1;
    TensorDesc d(DType::I64, {3});
    std::vector<int64_t> v = {big, -big, 5};
    View x;
    x.desc = d;
    x.storage.assign(3, 0);
    std::memcpy(x.storage.data(), v.data(), 24);
    auto run = [&](double lo, double hi) {
      Result r = run_op(OpCode::Clamp, {lo, hi}, {&x});
      std::vector<int64_t> out(3);
      std::memcpy(out.data(), r.data.data(), 24);
      return out;
    };
    CHECK((run(-kInf, kInf) == std::vector<int64_t>{big, -big, 5}));
    CHECK((run(-1e300, 1e300) == std::vector<int64_t>{big, -big, 5}));
    CHECK((run(0, kInf) == std::vector<int64_t>{big, 0, 5}));
    CHECK((run(-2.5, 2.5) == std::vector<int64_t>{2, -2, 2}));
    CHECK((run(1e30, kInf) == std::vector<int64_t>{INT64_MAX, INT64_MAX, INT64_MAX}));
    CHECK((run(-kInf, -1e30) == std::vector<int64_t>{INT64_MIN, INT64_MIN, INT64_MIN}));
    CHECK((run(3, 1) == std::vector<int64_t>{1, 1, 1}));  // lo > hi: hi wins
  }
  {
    View x = contig(DType::U8, {4}, [](int64_t k) { return (double)(k * 80); });  // 0 80 160 240
    Result r = run_op(OpCode::Clamp, {-5, 200.7}, {&x});
    CHECK(r.at(0) == 0 && r.at(1) == 80 && r.at(2) == 160 && r.at(3) == 200);
    r = run_op(OpCode::Clamp, {100.5, 1000}, {&x});
    CHECK(r.at(0) == 100 && r.at(1) == 100 && r.at(2) == 160 && r.at(3) == 240);
  }
}

HODU_TEST(elementwise_logical_not_all_dtypes) {
  for (DType t : {DType::Bool, DType::U8, DType::I32, DType::I64, DType::F16, DType::BF16, DType::F32, DType::F64})
    for (Layout l : kLayouts)
      for (const Shape& shape : {Shape{3, 5}, Shape{700, 500}}) {
        View x = make_view(t, shape, l, [&](int64_t k) {
          return (double)(k % 3 == 0 ? 0 : (k % 3) * (t == DType::Bool ? 1 : -1));
        });
        Result r = run_op(OpCode::LogicalNot, {}, {&x});
        CHECK(r.desc.dtype == DType::Bool);
        check_against(r, {&x}, [](const std::vector<double>& v) { return v[0] == 0 ? 1.0 : 0.0; },
                      describe(OpCode::LogicalNot, t, layout_name(l)));
      }
  View n = contig(DType::F32, {2}, [](int64_t k) { return k ? kNaN : -0.0; });
  Result r = run_op(OpCode::LogicalNot, {}, {&n});
  CHECK(r.at(0) == 1 && r.at(1) == 0);  // -0 is false, NaN is true
}

// ---- binary -------------------------------------------------------------------------------------

namespace {

double binary_input(OpCode op, DType t, int64_t k, bool rhs) {
  const double u = std::sin((rhs ? 0.53 : 0.37) * (double)k + (rhs ? 0.7 : 0.1));
  const bool cmp = op == OpCode::Eq || op == OpCode::Ne || op == OpCode::Lt || op == OpCode::Le || op == OpCode::Gt ||
                   op == OpCode::Ge || op == OpCode::LogicalAnd || op == OpCode::LogicalOr ||
                   op == OpCode::LogicalXor || op == OpCode::Maximum || op == OpCode::Minimum;
  if (t == DType::Bool) return u > 0 ? 1 : 0;
  if (cmp) return std::round(2 * u) * (is_unsigned_int(t) ? (u < 0 ? -1 : 1) : 1);  // few values: ties happen
  if (op == OpCode::Pow) {
    if (is_int(t)) return rhs ? std::round(is_unsigned_int(t) ? 2 + 2 * u : 1.5 + 4.5 * u)
                             : std::round(is_unsigned_int(t) ? 2 + 2 * u : 3 * u);
    return rhs ? 2 * u : 0.5 + 1.25 * (u + 1);
  }
  if (op == OpCode::Div && !is_int(t) && rhs) return (u >= 0 ? 0.25 : -0.25) + 3 * u;
  if (is_unsigned_int(t)) return std::floor(8 * (u + 1));
  if (is_int(t)) return std::floor(50 * u);
  return 4 * u;
}

void check_binary(OpCode op, DType t, const View& a, const View& b, const std::string& what) {
  Result r = run_op(op, {}, {&a, &b});
  check_against(r, {&a, &b}, [&](const std::vector<double>& v) { return binary_ref(op, t, v[0], v[1]); },
                describe(op, t, what + " " + r.impl));
}

// Every layout pairing and broadcast pattern; `quick` keeps one of each kind (large sizes).
void binary_suite(OpCode op, DType t, const Shape& shape, bool quick = false) {
  auto ga = [&](int64_t k) { return binary_input(op, t, k, false); };
  auto gb = [&](int64_t k) { return binary_input(op, t, k, true); };
  // the same layout on both sides, and mixed layouts
  for (Layout la : kLayouts)
    for (Layout lb : {Layout::Contig, la}) {
      if (quick && lb != Layout::Contig && la != Layout::Sliced) continue;
      View a = make_view(t, shape, la, ga), b = make_view(t, shape, lb, gb);
      check_binary(op, t, a, b, std::string(layout_name(la)) + "/" + layout_name(lb));
    }
  // numpy broadcasting: a row, a column, a scalar, on either side, and both sides at once
  const Shape row = {shape.back()}, col = {shape[0], 1};
  View full = contig(t, shape, ga), fullb = contig(t, shape, gb);
  View r = contig(t, row, gb), c = contig(t, col, gb), s = contig(t, {}, [&](int64_t) { return gb(3); });
  View ra = contig(t, row, ga), ca = contig(t, col, ga), sa = contig(t, {}, [&](int64_t) { return ga(5); });
  check_binary(op, t, full, r, "full+row");
  check_binary(op, t, ra, fullb, "row+full");
  check_binary(op, t, ca, r, "col+row");
  check_binary(op, t, full, s, "full+scalar");
  if (quick) return;
  check_binary(op, t, full, c, "full+col");
  check_binary(op, t, ca, fullb, "col+full");
  check_binary(op, t, sa, fullb, "scalar+full");
  check_binary(op, t, ra, c, "row+col");
  check_binary(op, t, sa, s, "scalar+scalar");
}

}  // namespace

HODU_TEST(elementwise_binary_arith_all_dtypes) {
  for (OpCode op : kArithOps)
    for (DType t : kAllNumeric) binary_suite(op, t, {6, 11});
}

HODU_TEST(elementwise_binary_compare_logical_all_dtypes) {
  std::vector<DType> all(std::begin(kAllNumeric), std::end(kAllNumeric));
  all.push_back(DType::Bool);
  for (DType t : all) {
    for (OpCode op : kCompareOps) binary_suite(op, t, {5, 9});
    for (OpCode op : kLogicalOps) binary_suite(op, t, {5, 9});
  }
}

HODU_TEST(elementwise_binary_large_threaded) {
  const Shape big = {640, 480};  // 307200 elements
  for (OpCode op : {OpCode::Add, OpCode::Sub, OpCode::Mul, OpCode::Div, OpCode::Maximum, OpCode::Minimum})
    binary_suite(op, DType::F32, big, true);
  for (OpCode op : {OpCode::Add, OpCode::Maximum}) binary_suite(op, DType::BF16, big, true);
  binary_suite(OpCode::Div, DType::F64, big, true);
  binary_suite(OpCode::Mul, DType::I32, big, true);
  binary_suite(OpCode::Pow, DType::F32, big, true);
  binary_suite(OpCode::Lt, DType::F32, big, true);
  binary_suite(OpCode::LogicalXor, DType::U8, big, true);
  binary_suite(OpCode::Eq, DType::I64, big, true);
  // a long inner dim, many short rows, a high rank
  for (const Shape& s : {Shape{3, 200000}, Shape{100000, 3}, Shape{2, 3, 4, 5, 6, 7, 8, 9}}) {
    binary_suite(OpCode::Add, DType::F32, s, true);
    binary_suite(OpCode::Sub, DType::I16, s, true);
  }
}

HODU_TEST(elementwise_binary_integer_div_and_pow_edges) {
  // Never SIGFPE: x/0 -> 0 and MIN/-1 -> MIN, for every signed width and in the vectorised and
  // broadcast paths.
  {
    std::vector<int32_t> a = {7, -7, std::numeric_limits<int32_t>::min(), 5, -9, 0};
    std::vector<int32_t> b = {0, 2, -1, -1, 4, 0};
    View va = contig(DType::I32, {6}, [&](int64_t k) { return (double)a[k]; });
    View vb = contig(DType::I32, {6}, [&](int64_t k) { return (double)b[k]; });
    Result r = run_op(OpCode::Div, {}, {&va, &vb});
    const int32_t* p = reinterpret_cast<const int32_t*>(r.data.data());
    CHECK(p[0] == 0);
    CHECK(p[1] == -3);
    CHECK(p[2] == std::numeric_limits<int32_t>::min());
    CHECK(p[3] == -5);
    CHECK(p[4] == -2);
    CHECK(p[5] == 0);
  }
  for (DType t : {DType::I8, DType::I16, DType::I32, DType::I64, DType::U8, DType::U64}) {
    View a = contig(t, {4, 300}, [&](int64_t k) { return is_signed_int(t) ? (double)(k % 7) - 3 : (double)(k % 7); });
    View zero = contig(t, {}, [](int64_t) { return 0.0; });
    Result r = run_op(OpCode::Div, {}, {&a, &zero});
    for (int64_t k = 0; k < 1200; k++) CHECK(r.at(k) == 0);
    if (is_signed_int(t)) {
      View mn = contig(t, {3}, [&](int64_t) { return -1e300; });  // saturates to MIN
      View m1 = contig(t, {3}, [](int64_t) { return -1.0; });
      Result q = run_op(OpCode::Div, {}, {&mn, &m1});
      CHECK(q.at(0) == mn.at({0}));
      Result w = run_op(OpCode::Mul, {}, {&mn, &m1});  // wraps too
      CHECK(w.at(0) == mn.at({0}));
    }
  }
  {
    // pow: negative exponents, bases 0, 1, -1, wrap-around
    std::vector<double> base = {2, 2, 1, -1, -1, 0, 0, 3, -2, 7};
    std::vector<double> ex = {-1, 10, -5, -3, -4, -2, 0, 40, 63, 1};
    View vb = contig(DType::I64, {10}, [&](int64_t k) { return base[k]; });
    View ve = contig(DType::I64, {10}, [&](int64_t k) { return ex[k]; });
    Result r = run_op(OpCode::Pow, {}, {&vb, &ve});
    std::vector<int64_t> got(10);
    std::memcpy(got.data(), r.data.data(), 80);
    uint64_t p3 = 1;
    for (int i = 0; i < 40; i++) p3 *= 3;
    CHECK((got == std::vector<int64_t>{0, 1024, 1, -1, 1, 0, 1, (int64_t)p3, INT64_MIN, 7}));
    View b8 = contig(DType::I8, {2}, [](int64_t k) { return k ? -2.0 : 3.0; });
    View e8 = contig(DType::I8, {2}, [](int64_t k) { return k ? 7.0 : 5.0; });
    Result r8 = run_op(OpCode::Pow, {}, {&b8, &e8});
    CHECK(r8.at(0) == (double)(int8_t)(uint8_t)243);  // 3^5 = 243 wraps to -13
    CHECK(r8.at(1) == -128);
  }
  {
    // add/sub wrap
    View a = contig(DType::U8, {2}, [](int64_t k) { return k ? 0.0 : 250.0; });
    View b = contig(DType::U8, {2}, [](int64_t k) { return k ? 1.0 : 10.0; });
    CHECK(run_op(OpCode::Add, {}, {&a, &b}).at(0) == 4);
    CHECK(run_op(OpCode::Sub, {}, {&a, &b}).at(1) == 255);
  }
}

HODU_TEST(elementwise_binary_float_special_values) {
  // Maximum/Minimum propagate a NaN from either side (PyTorch); ties keep a, so maximum(-0, +0)
  // is -0. Checked at a small and a large (threaded; oneDNN for bf16 add/div) size.
  const std::vector<double> av = {kNaN, 1, -0.0, 0.0, 1, kNaN, -kInf, 3};
  const std::vector<double> bv = {1, kNaN, 0.0, -0.0, 1, kNaN, 2, kInf};
  for (DType t : {DType::F32, DType::F64, DType::BF16, DType::F16})
    for (int64_t reps : {int64_t(1), int64_t(40000)}) {
      const int64_t n = (int64_t)av.size() * reps;
      View a = contig(t, {n}, [&](int64_t k) { return av[k % av.size()]; });
      View b = contig(t, {n}, [&](int64_t k) { return bv[k % bv.size()]; });
      Result mx = run_op(OpCode::Maximum, {}, {&a, &b}), mn = run_op(OpCode::Minimum, {}, {&a, &b});
      for (int64_t k : {int64_t(0), n - (int64_t)av.size()}) {
        for (int64_t i : {0, 1, 5}) CHECK(std::isnan(mx.at(k + i)) && std::isnan(mn.at(k + i)));
        CHECK(std::signbit(mx.at(k + 2)));
        CHECK(!std::signbit(mx.at(k + 3)));
        CHECK(mx.at(k + 4) == 1);
        CHECK(mx.at(k + 6) == 2);
        CHECK(mx.at(k + 7) == kInf);
        CHECK(std::signbit(mn.at(k + 2)));
        CHECK(!std::signbit(mn.at(k + 3)));
        CHECK(mn.at(k + 6) == -kInf);
        CHECK(mn.at(k + 7) == 3);
      }
      Result d = run_op(OpCode::Div, {}, {&a, &b});
      CHECK(std::isnan(d.at(2)));  // -0 / 0
      CHECK(d.at(7) == 0);         // 3 / inf
      Result s = run_op(OpCode::Add, {}, {&a, &b});
      CHECK(std::isnan(s.at(0)) && s.at(6) == -kInf && s.at(7) == kInf);
      Result lt = run_op(OpCode::Lt, {}, {&a, &b}), ne = run_op(OpCode::Ne, {}, {&a, &b});
      CHECK(lt.at(0) == 0 && ne.at(0) == 1 && ne.at(5) == 1 && ne.at(2) == 0);
      Result land = run_op(OpCode::LogicalAnd, {}, {&a, &b});
      CHECK(land.at(0) == 1 && land.at(2) == 0);  // NaN is true, -0 is false
    }
  // maximum(x, scalar) and maximum(scalar, x) keep the semantics on the broadcast paths
  View x = contig(DType::F32, {4, 100000}, [](int64_t k) { return k % 3 == 0 ? kNaN : (double)(k % 5) - 2; });
  View zero = contig(DType::F32, {}, [](int64_t) { return 0.0; });
  Result m1 = run_op(OpCode::Maximum, {}, {&x, &zero}), m2 = run_op(OpCode::Maximum, {}, {&zero, &x});
  CHECK(std::isnan(m1.at(0)) && std::isnan(m2.at(0)));
  CHECK(m1.at(1) == 0 && m1.at(4) == 2 && m2.at(4) == 2);
}

// ---- where --------------------------------------------------------------------------------------

HODU_TEST(elementwise_where_all_dtypes_and_broadcasts) {
  std::vector<DType> all(std::begin(kAllNumeric), std::end(kAllNumeric));
  all.push_back(DType::Bool);
  for (const Shape& shape : {Shape{4, 7}, Shape{600, 520}}) {
    const Shape row = {shape[1]}, col = {shape[0], 1};
    auto gc = [](int64_t k) { return (double)((k * 7 + k / 5) % 3 == 0); };
    for (DType t : all) {
      const bool large_dtype =
          t == DType::F32 || t == DType::U8 || t == DType::F16 || t == DType::I64 || t == DType::Bool;
      if (shape[0] > 4 && !large_dtype) continue;  // large: one dtype per element size
      auto ga = [&](int64_t k) {
        return t == DType::Bool ? (double)(k % 2) : (double)(k % 17) - (is_unsigned_int(t) ? 0 : 8);
      };
      auto gb = [&](int64_t k) { return t == DType::Bool ? (double)(k % 3 == 0) : (double)(k % 13) + 1; };
      struct Combo {
        Shape c, a, b;
        Layout lc, la, lb;
      };
      const Combo combos[] = {
          {shape, shape, shape, Layout::Contig, Layout::Contig, Layout::Contig},
          {shape, shape, shape, Layout::Transposed, Layout::Sliced, Layout::Expanded},
          {shape, shape, shape, Layout::Sliced, Layout::Transposed, Layout::Contig},
          {shape, row, {}, Layout::Contig, Layout::Contig, Layout::Contig},
          {col, shape, row, Layout::Contig, Layout::Contig, Layout::Contig},
          {row, col, shape, Layout::Contig, Layout::Contig, Layout::Sliced},
          {{}, shape, shape, Layout::Contig, Layout::Contig, Layout::Contig},
          {col, row, {}, Layout::Contig, Layout::Contig, Layout::Contig},
      };
      for (const Combo& cb : combos) {
        View c = make_view(DType::Bool, cb.c, cb.lc, gc), a = make_view(t, cb.a, cb.la, ga),
             b = make_view(t, cb.b, cb.lb, gb);
        Result r = run_op(OpCode::Where, {}, {&c, &a, &b});
        CHECK(r.desc.dtype == t);
        CHECK(r.desc.shape == shape);
        check_against(r, {&c, &a, &b}, [](const std::vector<double>& v) { return v[0] != 0 ? v[1] : v[2]; },
                      std::string("where ") + dtype_name(t));
      }
    }
  }
  // bit patterns are moved, not values: NaN and -0 survive
  View c = contig(DType::Bool, {2}, [](int64_t k) { return (double)(k == 0); });
  View a = contig(DType::F32, {2}, [](int64_t) { return -0.0; });
  View b = contig(DType::F32, {2}, [](int64_t) { return kNaN; });
  Result r = run_op(OpCode::Where, {}, {&c, &a, &b});
  CHECK(std::signbit(r.at(0)) && r.at(0) == 0);
  CHECK(std::isnan(r.at(1)));
}

// ---- implementations ----------------------------------------------------------------------------

HODU_TEST(elementwise_f32_contiguous_kernels_are_not_ref) {
  for (int64_t n : {int64_t(16), int64_t(1) << 20}) {
    TensorDesc d(DType::F32, {n});
    for (OpCode op : {OpCode::Add, OpCode::Mul, OpCode::Relu, OpCode::Tanh, OpCode::Sigmoid, OpCode::Exp}) {
      std::vector<TensorDesc> ins(op_info(op).arity, d);
      KernelSpec spec{op, {}, ins, infer(op, {}, ins).out, {}};
      const std::string impl = make_kernel(spec)->impl();
      if (impl.find("ref") != std::string::npos) std::printf("  %s uses %s\n", op_info(op).name, impl.c_str());
      CHECK(impl.find("ref") == std::string::npos);
      CHECK(impl.rfind("onednn:", 0) == 0 || impl.rfind("loop:", 0) == 0);
    }
  }
  // a broadcast first operand must not reach oneDNN's ref:any (Add swaps, Sub declines); maximum
  // and minimum never use oneDNN
  for (DType t : {DType::F32, DType::BF16})
    for (OpCode op : {OpCode::Add, OpCode::Sub, OpCode::Maximum, OpCode::Minimum}) {
      for (int side = 0; side < 2; side++) {
        std::vector<TensorDesc> ins = {TensorDesc(t, {1024, 1}), TensorDesc(t, {1024, 1024})};
        if (side) std::swap(ins[0], ins[1]);
        KernelSpec spec{op, {}, ins, infer(op, {}, ins).out, {}};
        CHECK(make_kernel(spec)->impl().find("ref") == std::string::npos);
      }
    }
}
