// Fusion kernels: the fused elementwise kernel (fused_elementwise.cc) against the separate loop
// kernels it replaces (bit for bit where those run the loop) and a float64 reference written here
// (broadcast, periodic, gathered and scalar leaves, odd sizes, 0-d, threaded sizes, NaN, register
// reuse), and conv2d with oneDNN post-ops (conv2d.cc) against conv2d followed by the separate ops.
#include <array>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "kernel_views.h"
#include "kernels/fused.h"

using namespace hodu;
using namespace hodu_test;

namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();

// ---- programs ------------------------------------------------------------------------------------

struct Prog {
  std::vector<View> leaves;
  FusedProgram p;

  int leaf(View v) {
    leaves.push_back(std::move(v));
    p.inputs.push_back(leaves.back().desc);
    return (int)leaves.size() - 1;
  }
  // Appends an instruction; returns its register.
  int op(OpCode code, int a, int b = -1, Attrs attrs = {}) {
    p.instrs.push_back(FusedInstr{code, std::move(attrs), a, b});
    return (int)p.inputs.size() + (int)p.instrs.size() - 1;
  }
  std::vector<const void*> ptrs() const {
    std::vector<const void*> v;
    for (const View& l : leaves) v.push_back(l.ptr());
    return v;
  }
};

// Runs a kernel into a guarded buffer; returns the floats (and checks nothing was written past them).
std::vector<float> run_guarded(Kernel& k, const std::vector<const void*>& ptrs, int64_t n) {
  const int64_t guard = 16;
  std::vector<float> buf((size_t)(n + guard), -12345.f);
  if (n > 0) run_once(k, ptrs.data(), buf.data());
  for (int64_t i = n; i < n + guard; i++)
    if (buf[i] != -12345.f) {
      std::printf("  kernel wrote past its output (element %lld)\n", (long long)i);
      g_failures++;
      break;
    }
  buf.resize((size_t)n);
  return buf;
}

struct Fused {
  std::vector<float> out;
  std::string impl;
};

Fused run_fused(Prog& pr, const Shape& shape) {
  pr.p.output = TensorDesc(DType::F32, shape);
  auto k = make_fused_elementwise(pr.p);
  Fused f;
  if (!k) {
    std::printf("  the fused kernel declined the program\n");
    g_failures++;
    return f;
  }
  f.impl = k->impl();
  f.out = run_guarded(*k, pr.ptrs(), numel(shape));
  return f;
}

// The program run as separate kernels (make_kernel per instruction), as the planner would without
// fusion. Also reports whether every step ran the hand-written loop (then results must be equal).
std::vector<float> run_unfused(Prog& pr, const Shape& shape, bool* all_loop) {
  const int nleaf = (int)pr.leaves.size();
  const int64_t n = numel(shape);
  std::vector<std::vector<float>> regs(pr.p.instrs.size());
  *all_loop = true;
  for (size_t k = 0; k < pr.p.instrs.size(); k++) {
    const FusedInstr& fi = pr.p.instrs[k];
    KernelSpec spec;
    spec.op = fi.op;
    spec.attrs = fi.attrs;
    std::vector<const void*> ptrs;
    for (int r : {fi.a, fi.b}) {
      if (r < 0) continue;
      if (r < nleaf) {
        spec.inputs.push_back(pr.leaves[r].desc);
        ptrs.push_back(pr.leaves[r].ptr());
      } else {
        spec.inputs.push_back(TensorDesc(DType::F32, shape));
        ptrs.push_back(regs[r - nleaf].data());
      }
    }
    spec.output = TensorDesc(DType::F32, shape);
    auto kern = make_kernel(spec);
    if (kern->impl().rfind("loop:", 0) != 0) *all_loop = false;
    regs[k] = run_guarded(*kern, ptrs, n);
  }
  return regs.back();
}

// Float64 semantics of each op (intermediates rounded to float, as they are stored).
double ref_unary(OpCode op, const Attrs& at, double x) {
  switch (op) {
    case OpCode::Neg: return -x;
    case OpCode::Abs: return std::fabs(x);
    case OpCode::Sign: return x > 0 ? 1 : x < 0 ? -1 : 0;
    case OpCode::Square: return x * x;
    case OpCode::Relu: return x > 0 ? x : 0;
    case OpCode::Clamp: {
      if (std::isnan(x)) return x;
      double r = x < at[0] ? at[0] : x;
      return r > at[1] ? at[1] : r;
    }
    case OpCode::Sqrt: return std::sqrt(x);
    case OpCode::Recip: return 1 / x;
    case OpCode::Sigmoid: return 1 / (1 + std::exp(-x));
    case OpCode::Tanh: return std::tanh(x);
    case OpCode::Gelu: return 0.5 * x * (1 + std::tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
    case OpCode::Softplus: return std::log1p(std::exp(-std::fabs(x))) + std::max(x, 0.0);
    case OpCode::Sin: return std::sin(x);
    case OpCode::Cos: return std::cos(x);
    case OpCode::Tan: return std::tan(x);
    case OpCode::Exp: return std::exp(x);
    case OpCode::Exp2: return std::exp2(x);
    case OpCode::Exp10: return std::pow(10.0, x);
    case OpCode::Ln: return std::log(x);
    case OpCode::Log2: return std::log2(x);
    case OpCode::Log10: return std::log10(x);
    case OpCode::LeakyRelu: return x > 0 ? x : at[0] * x;
    case OpCode::Elu: return x > 0 ? x : at[0] * std::expm1(x);
    case OpCode::Silu: return x / (1 + std::exp(-x));
    default: break;
  }
  std::printf("  ref_unary: op %s\n", op_info(op).name);
  g_failures++;
  return 0;
}

double ref_binary(OpCode op, double a, double b) {
  switch (op) {
    case OpCode::Add: return a + b;
    case OpCode::Sub: return a - b;
    case OpCode::Mul: return a * b;
    case OpCode::Div: return a / b;
    case OpCode::Pow: return std::pow(a, b);
    case OpCode::Maximum: return std::isnan(a) || std::isnan(b) ? kNaN : std::max(a, b);
    case OpCode::Minimum: return std::isnan(a) || std::isnan(b) ? kNaN : std::min(a, b);
    default: break;
  }
  std::printf("  ref_binary: op %s\n", op_info(op).name);
  g_failures++;
  return 0;
}

// Value of a leaf at an output multi-index (right-aligned broadcast).
double leaf_at(const View& v, const Shape& out_shape, const Shape& idx) {
  const size_t lead = out_shape.size() - v.desc.shape.size();
  int64_t flat = 0;
  for (size_t d = 0; d < v.desc.shape.size(); d++)
    flat = flat * v.desc.shape[d] + (v.desc.shape[d] == 1 ? 0 : idx[lead + d]);
  return v.vals[(size_t)flat];
}

std::vector<double> run_reference(const Prog& pr, const Shape& shape) {
  const int nleaf = (int)pr.leaves.size();
  const int64_t n = numel(shape);
  std::vector<double> out((size_t)n);
  std::vector<double> reg(nleaf + pr.p.instrs.size());
  Shape idx(shape.size());
  for (int64_t i = 0; i < n; i++) {
    int64_t rem = i;
    for (int d = (int)shape.size() - 1; d >= 0; d--) {
      idx[d] = rem % shape[d];
      rem /= shape[d];
    }
    for (int l = 0; l < nleaf; l++) reg[l] = leaf_at(pr.leaves[l], shape, idx);
    for (size_t k = 0; k < pr.p.instrs.size(); k++) {
      const FusedInstr& fi = pr.p.instrs[k];
      double v = fi.b < 0 ? ref_unary(fi.op, fi.attrs, reg[fi.a]) : ref_binary(fi.op, reg[fi.a], reg[fi.b]);
      reg[nleaf + k] = (double)(float)v;
    }
    out[(size_t)i] = reg.back();
  }
  return out;
}

std::vector<double> as_double(const std::vector<float>& v) { return std::vector<double>(v.begin(), v.end()); }

bool bit_equal(const std::vector<float>& a, const std::vector<float>& b, const std::string& label) {
  if (a.size() != b.size()) {
    std::printf("  %s: %zu values vs %zu\n", label.c_str(), a.size(), b.size());
    g_failures++;
    return false;
  }
  int bad = 0;
  for (size_t i = 0; i < a.size(); i++) {
    const bool same = std::memcmp(&a[i], &b[i], 4) == 0 || (std::isnan(a[i]) && std::isnan(b[i]));
    if (!same && bad++ < 3) std::printf("  %s: [%zu] fused %.9g, separate %.9g\n", label.c_str(), i, a[i], b[i]);
  }
  if (bad) g_failures++;
  return bad == 0;
}

// Checks a program three ways: against the separate kernels (bit-equal when they all run the loop,
// else within rtol_sep), and against the float64 reference (within rtol/atol).
void check_program(Prog& pr, const Shape& shape, const std::string& label, double rtol = 2e-5, double atol = 1e-6,
                   double rtol_sep = 1e-5) {
  Fused f = run_fused(pr, shape);
  if (f.out.size() != (size_t)numel(shape)) return;
  bool all_loop = false;
  std::vector<float> sep = run_unfused(pr, shape, &all_loop);
  if (all_loop) bit_equal(f.out, sep, label + " (vs separate loop kernels)");
  else check_close(as_double(f.out), as_double(sep), rtol_sep, atol, label + " (vs separate kernels)");
  check_close(as_double(f.out), run_reference(pr, shape), rtol, atol, label + " (vs float64)");
}

std::function<double()> uniform(Rng& rng, double lo, double hi) {
  return [&rng, lo, hi] { return rng.uniform(lo, hi); };
}

// tanh(x*2+1)*sigmoid(x): the benchmark's chain, with 0-d constants.
Prog bench_chain(const Shape& shape, Layout layout, Rng& rng) {
  Prog pr;
  const int x = pr.leaf(make_view(DType::F32, shape, layout, uniform(rng, -4, 4)));
  const int two = pr.leaf(make_values(DType::F32, {}, {2.0}));
  const int one = pr.leaf(make_values(DType::F32, {1}, {1.0}));
  const int m = pr.op(OpCode::Mul, x, two);
  const int a = pr.op(OpCode::Add, m, one);
  const int t = pr.op(OpCode::Tanh, a);
  const int s = pr.op(OpCode::Sigmoid, x);
  pr.op(OpCode::Mul, t, s);
  return pr;
}

}  // namespace

HODU_TEST(fused_supports) {
  CHECK(fused_elementwise_supports(OpCode::Add, DType::F32));
  CHECK(fused_elementwise_supports(OpCode::Tanh, DType::F32));
  CHECK(fused_elementwise_supports(OpCode::Clamp, DType::F32));
  CHECK(fused_elementwise_supports(OpCode::Pow, DType::F32));
  CHECK(!fused_elementwise_supports(OpCode::Add, DType::F64));
  CHECK(!fused_elementwise_supports(OpCode::Add, DType::I32));
  CHECK(!fused_elementwise_supports(OpCode::Lt, DType::F32));
  CHECK(!fused_elementwise_supports(OpCode::LogicalNot, DType::F32));
  CHECK(!fused_elementwise_supports(OpCode::Matmul, DType::F32));
}

HODU_TEST(fused_bench_chain_sizes) {
  // odd sizes around the vector width and the block, threaded sizes, and a 2-D transposed input
  Rng rng(1);
  for (int64_t n : {1, 2, 7, 15, 16, 17, 31, 33, 255, 511, 512, 513, 1000, 1025, 4099, 70001, 300007}) {
    Prog pr = bench_chain({n}, Layout::Contiguous, rng);
    check_program(pr, {n}, "n=" + std::to_string(n));
    Fused f = run_fused(pr, {n});
    CHECK(f.impl.find("loop:fused[mul,add,tanh,sigmoid,mul]") == 0);
  }
  for (Layout l : kAllLayouts) {
    Prog pr = bench_chain({37, 61}, l, rng);
    check_program(pr, {37, 61}, std::string("37x61 ") + layout_name(l));
  }
}

HODU_TEST(fused_every_op) {
  // each op inside a two-instruction program, operands from every leaf kind
  Rng rng(2);
  const Shape shape{3, 5, 67};
  struct U {
    OpCode op;
    Attrs attrs;
    double lo, hi;
  };
  const U unary[] = {{OpCode::Neg, {}, -3, 3},        {OpCode::Abs, {}, -3, 3},       {OpCode::Sign, {}, -3, 3},
                     {OpCode::Square, {}, -3, 3},     {OpCode::Relu, {}, -3, 3},      {OpCode::Clamp, {-0.5, 0.75}, -3, 3},
                     {OpCode::Sqrt, {}, 0, 9},        {OpCode::Recip, {}, 0.5, 3},    {OpCode::Sigmoid, {}, -20, 20},
                     {OpCode::Tanh, {}, -9, 9},       {OpCode::Gelu, {}, -6, 6},      {OpCode::Softplus, {}, -20, 20},
                     {OpCode::Sin, {}, -6, 6},        {OpCode::Cos, {}, -6, 6},       {OpCode::Tan, {}, -1.2, 1.2},
                     {OpCode::Exp, {}, -20, 20},      {OpCode::Exp2, {}, -20, 20},    {OpCode::Exp10, {}, -8, 8},
                     {OpCode::Ln, {}, 0.01, 100},     {OpCode::Log2, {}, 0.01, 100},  {OpCode::Log10, {}, 0.01, 100},
                     {OpCode::LeakyRelu, {0.1}, -3, 3}, {OpCode::Elu, {1.5}, -3, 3}, {OpCode::Silu, {}, -9, 9}};
  for (const U& u : unary) {
    for (Layout l : kAllLayouts) {
      Prog pr;
      const int x = pr.leaf(make_view(DType::F32, shape, l, uniform(rng, u.lo, u.hi)));
      const int y = pr.leaf(make_view(DType::F32, {67}, Layout::Contiguous, uniform(rng, -1, 1)));
      const int r = pr.op(u.op, x, -1, u.attrs);
      pr.op(OpCode::Add, r, y);
      check_program(pr, shape, std::string(op_info(u.op).name) + " " + layout_name(l), 2e-5, 1e-6);
    }
  }
  const OpCode binary[] = {OpCode::Add, OpCode::Sub, OpCode::Mul, OpCode::Div, OpCode::Pow, OpCode::Maximum, OpCode::Minimum};
  for (OpCode op : binary) {
    const double lo = op == OpCode::Pow ? 0.1 : -2;
    // vector-vector, vector-scalar, scalar-vector, periodic and gathered operands
    for (int form = 0; form < 5; form++) {
      Prog pr;
      const int x = pr.leaf(make_view(DType::F32, shape, Layout::Contiguous, uniform(rng, lo, 2)));
      int y;
      switch (form) {
        case 0: y = pr.leaf(make_view(DType::F32, shape, Layout::Sliced, uniform(rng, 0.5, 2))); break;
        case 1: y = pr.leaf(make_values(DType::F32, {}, {1.75})); break;
        case 2: y = pr.leaf(make_values(DType::F32, {1, 1}, {0.625})); break;
        case 3: y = pr.leaf(make_view(DType::F32, {67}, Layout::Contiguous, uniform(rng, 0.5, 2))); break;
        default: y = pr.leaf(make_view(DType::F32, {5, 1}, Layout::Contiguous, uniform(rng, 0.5, 2))); break;
      }
      const int e = pr.op(OpCode::Abs, x);  // an instruction operand, so both operand orders are covered
      if (form == 2) pr.op(op, y, e);
      else pr.op(op, e, y);
      check_program(pr, shape, std::string(op_info(op).name) + " form " + std::to_string(form));
    }
  }
}

HODU_TEST(fused_broadcast_leaves) {
  // scalar (0-d and [1]), periodic ([W], [H, W]), gathered ([C, 1], [N, 1, W], transposed, sliced,
  // broadcast views) leaves in one program, on odd sizes
  Rng rng(3);
  for (Shape shape : {Shape{5, 37, 19}, Shape{2, 3, 600}, Shape{4, 1, 3}, Shape{1, 1, 1}}) {
    const int64_t N = shape[0], C = shape[1], W = shape[2];
    Prog pr;
    const int a = pr.leaf(make_view(DType::F32, shape, Layout::Transposed, uniform(rng, -1, 1)));
    const int b = pr.leaf(make_values(DType::F32, {}, {0.5}));
    const int c = pr.leaf(make_view(DType::F32, {W}, Layout::Contiguous, uniform(rng, -1, 1)));
    const int d = pr.leaf(make_view(DType::F32, {C, 1}, Layout::Contiguous, uniform(rng, -1, 1)));
    const int e = pr.leaf(make_view(DType::F32, {N, 1, W}, Layout::Sliced, uniform(rng, -1, 1)));
    const int f = pr.leaf(make_view(DType::F32, shape, Layout::Broadcast, uniform(rng, -1, 1)));
    const int g = pr.leaf(make_view(DType::F32, {C, W}, Layout::Contiguous, uniform(rng, -1, 1)));
    const int h = pr.leaf(make_values(DType::F32, {1}, {-0.25}));
    int r = pr.op(OpCode::Mul, a, b);
    r = pr.op(OpCode::Add, r, c);
    r = pr.op(OpCode::Sub, d, r);
    r = pr.op(OpCode::Mul, r, e);
    r = pr.op(OpCode::Maximum, f, r);
    r = pr.op(OpCode::Add, r, g);
    r = pr.op(OpCode::Mul, h, r);
    pr.op(OpCode::Tanh, r);
    std::string label = "shape";
    for (int64_t s : shape) label += " " + std::to_string(s);
    check_program(pr, shape, label);
  }
  // a large periodic leaf ([C] longer than the block) and a large gathered one, threaded
  {
    Prog pr;
    const Shape shape{300, 4097};
    const int x = pr.leaf(make_view(DType::F32, shape, Layout::Contiguous, uniform(rng, -1, 1)));
    const int bias = pr.leaf(make_view(DType::F32, {4097}, Layout::Contiguous, uniform(rng, -1, 1)));
    const int col = pr.leaf(make_view(DType::F32, {300, 1}, Layout::Contiguous, uniform(rng, -1, 1)));
    const int r = pr.op(OpCode::Add, x, bias);
    const int q = pr.op(OpCode::Mul, r, col);
    pr.op(OpCode::Relu, q);
    check_program(pr, shape, "300x4097 bias/col");
  }
}

HODU_TEST(fused_scalar_programs) {
  Rng rng(4);
  // an instruction on scalars only is folded once per run; the rest reads it as a scalar
  {
    Prog pr;
    const int x = pr.leaf(make_view(DType::F32, {1000}, Layout::Contiguous, uniform(rng, -1, 1)));
    const int c1 = pr.leaf(make_values(DType::F32, {}, {3.0}));
    const int c2 = pr.leaf(make_values(DType::F32, {1}, {0.5}));
    const int k = pr.op(OpCode::Mul, c1, c2);
    const int e = pr.op(OpCode::Exp, k);
    const int y = pr.op(OpCode::Sub, e, x);
    pr.op(OpCode::Div, y, k);
    check_program(pr, {1000}, "scalar folding");
  }
  // everything scalar: the output is filled with one value
  for (Shape shape : {Shape{}, Shape{1}, Shape{3, 5}}) {
    Prog pr;
    const int a = pr.leaf(make_values(DType::F32, {}, {0.3}));
    const int b = pr.leaf(make_values(DType::F32, shape.empty() ? Shape{} : Shape{1}, {-2.0}));
    const int r = pr.op(OpCode::Mul, a, b);
    pr.op(OpCode::Sigmoid, r);
    check_program(pr, shape, "all scalar, rank " + std::to_string(shape.size()));
  }
  // 0-d output with 0-d leaves that are not constants
  {
    Prog pr;
    const int a = pr.leaf(make_values(DType::F32, {}, {1.5}));
    const int r = pr.op(OpCode::Square, a);
    pr.op(OpCode::Ln, r);
    check_program(pr, {}, "0-d");
  }
}

HODU_TEST(fused_nan_semantics) {
  // maximum / minimum propagate NaN from either side; relu(NaN) = 0, clamp(NaN) = NaN, as the
  // separate kernels do
  std::vector<double> xs, ys;
  for (int i = 0; i < 1037; i++) {
    xs.push_back(i % 3 == 0 ? kNaN : (i % 7) - 3.0);
    ys.push_back(i % 5 == 0 ? kNaN : (i % 4) - 1.5);
  }
  for (OpCode op : {OpCode::Maximum, OpCode::Minimum, OpCode::Add, OpCode::Pow}) {
    Prog pr;
    const int x = pr.leaf(make_values(DType::F32, {1037}, xs));
    const int y = pr.leaf(make_values(DType::F32, {1037}, ys));
    const int n = pr.op(OpCode::Neg, x);
    pr.op(op, n, y);
    check_program(pr, {1037}, std::string("nan ") + op_info(op).name);
    Fused f = run_fused(pr, {1037});
    if (op != OpCode::Pow)
      for (size_t i = 0; i < f.out.size(); i++)
        if (std::isnan(xs[i]) || std::isnan(ys[i])) CHECK(std::isnan(f.out[i]));
  }
  for (OpCode op : {OpCode::Relu, OpCode::Clamp, OpCode::Sigmoid, OpCode::Tanh, OpCode::Exp, OpCode::Sqrt}) {
    Prog pr;
    const int x = pr.leaf(make_values(DType::F32, {1037}, xs));
    const int s = pr.leaf(make_values(DType::F32, {}, {kNaN}));
    const int a = pr.op(op, x, -1, op == OpCode::Clamp ? Attrs{-1, 1} : Attrs{});
    const int m = pr.op(OpCode::Maximum, a, s);  // a NaN scalar operand
    pr.op(OpCode::Minimum, a, m);
    check_program(pr, {1037}, std::string("nan unary ") + op_info(op).name);
  }
}

HODU_TEST(fused_register_reuse) {
  Rng rng(5);
  // a long chain (one live register) and a balanced tree (several live registers)
  {
    Prog pr;
    const int x = pr.leaf(make_view(DType::F32, {2053}, Layout::Contiguous, uniform(rng, -1, 1)));
    const int c = pr.leaf(make_values(DType::F32, {}, {0.999}));
    int r = x;
    for (int i = 0; i < 40; i++) r = pr.op(i % 2 ? OpCode::Mul : OpCode::Tanh, r, i % 2 ? c : -1);
    check_program(pr, {2053}, "chain of 40");
  }
  {
    Prog pr;
    std::vector<int> level;
    for (int i = 0; i < 16; i++)
      level.push_back(pr.leaf(make_view(DType::F32, {3, 701}, i % 3 ? Layout::Contiguous : Layout::Transposed,
                                        uniform(rng, -1, 1))));
    while (level.size() > 1) {
      std::vector<int> next;
      for (size_t i = 0; i < level.size(); i += 2) {
        const int s = pr.op(OpCode::Sin, level[i]);
        next.push_back(pr.op(i % 4 ? OpCode::Mul : OpCode::Add, s, level[i + 1]));
      }
      level = next;
    }
    check_program(pr, {3, 701}, "tree of 16 leaves");
  }
  // a leaf read by several instructions, and an instruction reading the same register twice
  {
    Prog pr;
    const int x = pr.leaf(make_view(DType::F32, {777}, Layout::Sliced, uniform(rng, -2, 2)));
    const int a = pr.op(OpCode::Mul, x, x);
    const int b = pr.op(OpCode::Add, a, a);
    const int c = pr.op(OpCode::Sub, b, x);
    pr.op(OpCode::Mul, c, x);
    check_program(pr, {777}, "shared registers");
  }
}

HODU_TEST(fused_declines_bad_programs) {
  FusedProgram p;
  p.inputs.push_back(TensorDesc(DType::F32, {4}));
  p.output = TensorDesc(DType::F32, {4});
  CHECK(!make_fused_elementwise(p));  // no instructions
  p.instrs.push_back(FusedInstr{OpCode::Lt, {}, 0, 0});
  CHECK(!make_fused_elementwise(p));  // not a supported op
  p.instrs[0] = FusedInstr{OpCode::Add, {}, 0, 1};
  CHECK(!make_fused_elementwise(p));  // reads a register that is not defined yet
  p.instrs[0] = FusedInstr{OpCode::Neg, {}, 0, -1};
  CHECK(make_fused_elementwise(p) != nullptr);
  p.inputs[0] = TensorDesc(DType::F32, {3});
  CHECK(!make_fused_elementwise(p));  // a leaf that does not broadcast to the output
}

// ---- conv2d with post-ops ----------------------------------------------------------------------

namespace {

struct ConvCase {
  int64_t N, C, H, W, O, K, pad;
  bool bias;
};

struct PostSpec {
  OpCode op;
  Attrs attrs;
  Shape operand;  // for an add: the operand's shape ({} = none)
  Layout layout = Layout::Contiguous;
};

// conv2d with the post-ops fused (through the registry, as the planner asks for it) against
// conv2d followed by the separate kernels. Returns the fused kernel's impl ("" when declined).
std::string check_conv_post_ops(const ConvCase& c, const std::vector<PostSpec>& posts, bool expect_fused,
                                const std::string& label) {
  Rng rng(7);
  auto gen = [&] { return rng.uniform(-1, 1); };
  View x = make_view(DType::F32, {c.N, c.C, c.H, c.W}, Layout::Contiguous, gen);
  View w = make_view(DType::F32, {c.O, c.C, c.K, c.K}, Layout::Contiguous, gen);
  View b = make_view(DType::F32, {c.O}, Layout::Contiguous, gen);
  const Attrs attrs{1, 1, (double)c.pad, (double)c.pad, 1, 1, 1};
  KernelSpec conv;
  conv.op = OpCode::Conv2d;
  conv.attrs = attrs;
  conv.inputs = {x.desc, w.desc};
  std::vector<const void*> ptrs{x.ptr(), w.ptr()};
  if (c.bias) {
    conv.inputs.push_back(b.desc);
    ptrs.push_back(b.ptr());
  }
  conv.output = infer(OpCode::Conv2d, attrs, conv.inputs).out;
  const Shape& ys = conv.output.shape;
  const int64_t n = numel(ys);

  // separate: conv, then each post-op as its own kernel
  auto ck = make_kernel(conv);
  std::vector<float> want = run_guarded(*ck, ptrs, n);
  std::vector<View> operands;
  operands.reserve(posts.size());
  KernelSpec fused = conv;
  std::vector<const void*> fptrs = ptrs;
  for (const PostSpec& ps : posts) {
    KernelSpec sp;
    sp.op = ps.op;
    sp.attrs = ps.attrs;
    sp.inputs = {TensorDesc(DType::F32, ys)};
    sp.output = TensorDesc(DType::F32, ys);
    std::vector<const void*> in{want.data()};
    PostOp po{ps.op, ps.attrs, -1};
    if (!ps.operand.empty() || ps.op == OpCode::Add) {
      operands.push_back(make_view(DType::F32, ps.operand, ps.layout, gen));
      sp.inputs.push_back(operands.back().desc);
      in.push_back(operands.back().ptr());
      fused.inputs.push_back(operands.back().desc);
      fptrs.push_back(operands.back().ptr());
      po.operand = (int)fused.inputs.size() - 1;
    }
    fused.post_ops.push_back(po);
    auto k = make_kernel(sp);
    want = run_guarded(*k, in, n);
  }

  auto fk = try_make_kernel(fused);
  if (!expect_fused) {
    if (fk) {
      std::printf("  %s: fused although it should decline (%s)\n", label.c_str(), fk->impl().c_str());
      g_failures++;
    }
    return "";
  }
  if (!fk) {
    std::printf("  %s: declined\n", label.c_str());
    g_failures++;
    return "";
  }
  CHECK(fk->fused_post_ops());
  const std::string impl = fk->impl();
  if (impl.find("ref") != std::string::npos) {
    std::printf("  %s: reference implementation: %s\n", label.c_str(), impl.c_str());
    g_failures++;
  }
  std::vector<float> got = run_guarded(*fk, fptrs, n);
  check_close(as_double(got), as_double(want), 1e-5, 1e-5, label);
  return impl;
}

}  // namespace

HODU_TEST(fused_conv_post_ops) {
  const ConvCase cases[] = {{2, 3, 9, 11, 8, 3, 1, true}, {2, 4, 10, 10, 5, 3, 0, true}, {1, 1, 28, 28, 32, 3, 0, true},
                            {3, 16, 7, 7, 16, 1, 0, false}};
  for (const ConvCase& c : cases) {
    const int64_t OH = c.H + 2 * c.pad - c.K + 1, OW = c.W + 2 * c.pad - c.K + 1;
    const std::string tag = "conv " + std::to_string(c.C) + "->" + std::to_string(c.O) + (c.bias ? " +bias" : "");
    std::string impl = check_conv_post_ops(c, {{OpCode::Relu, {}, {}}}, true, tag + " relu");
    CHECK(impl.find(" +relu") != std::string::npos);
    check_conv_post_ops(c, {{OpCode::Add, {}, {1, c.O, 1, 1}}, {OpCode::Relu, {}, {}}}, true, tag + " add [1,O,1,1] relu");
    check_conv_post_ops(c, {{OpCode::Add, {}, {c.O, 1, 1}}, {OpCode::Tanh, {}, {}}}, true, tag + " add [O,1,1] tanh");
    check_conv_post_ops(c, {{OpCode::Add, {}, {1}}, {OpCode::Sigmoid, {}, {}}}, true, tag + " add [1] sigmoid");
    impl = check_conv_post_ops(c, {{OpCode::Add, {}, {c.N, c.O, OH, OW}}, {OpCode::Relu, {}, {}}}, true,
                               tag + " add full relu");
    CHECK(impl.find(" +add +relu") != std::string::npos);
    check_conv_post_ops(c, {{OpCode::Add, {}, {c.N, c.O, OH, OW}, Layout::Transposed}}, true, tag + " add full transposed");
    check_conv_post_ops(c, {{OpCode::LeakyRelu, {0.1}, {}}, {OpCode::Add, {}, {c.O, 1, 1}}, {OpCode::Gelu, {}, {}}},
                        true, tag + " leaky add gelu");
    check_conv_post_ops(c, {{OpCode::Silu, {}, {}}, {OpCode::Abs, {}, {}}, {OpCode::Square, {}, {}}}, true,
                        tag + " silu abs square");
    // declined: ops whose oneDNN forms differ from ours, and other broadcasts
    check_conv_post_ops(c, {{OpCode::Exp, {}, {}}}, false, tag + " exp");
    check_conv_post_ops(c, {{OpCode::Relu, {}, {}}, {OpCode::Clamp, {0, 6}, {}}}, false, tag + " clamp");
    check_conv_post_ops(c, {{OpCode::Add, {}, {OH, OW}}}, false, tag + " add [OH,OW]");
    if (c.N > 1)
      check_conv_post_ops(c, {{OpCode::Add, {}, {c.N, c.O, OH, OW}, Layout::Broadcast}}, false, tag + " add broadcast view");
  }
}

HODU_TEST(fused_bench) {
  if (!std::getenv("HODU_BENCH")) return;
  Rng rng(6);
  const int64_t n = 1 << 20;
  Prog pr = bench_chain({n}, Layout::Contiguous, rng);
  pr.p.output = TensorDesc(DType::F32, {n});
  auto k = make_fused_elementwise(pr.p);
  std::vector<float> out(n);
  auto ptrs = pr.ptrs();
  auto time = [&](const std::function<void()>& f) {
    for (int i = 0; i < 3; i++) f();
    double best = 1e30;
    for (int rep = 0; rep < 7; rep++) {
      auto t0 = std::chrono::steady_clock::now();
      for (int i = 0; i < 20; i++) f();
      best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / 20);
    }
    return best * 1e6;
  };
  std::printf("  fused tanh(x*2+1)*sigmoid(x), 1M f32: %.1f us (%s, scratchpad %zu B)\n",
              time([&] { run_once(*k, ptrs.data(), out.data()); }), k->impl().c_str(), k->scratchpad_bytes());
  // the same program as separate kernels (what the planner ran before)
  std::vector<std::unique_ptr<Kernel>> ks;
  std::vector<std::vector<float>> regs(pr.p.instrs.size(), std::vector<float>(n));
  const int nleaf = (int)pr.leaves.size();
  for (const FusedInstr& fi : pr.p.instrs) {
    KernelSpec spec;
    spec.op = fi.op;
    for (int r : {fi.a, fi.b})
      if (r >= 0) spec.inputs.push_back(r < nleaf ? pr.leaves[r].desc : TensorDesc(DType::F32, {n}));
    spec.output = TensorDesc(DType::F32, {n});
    ks.push_back(make_kernel(spec));
  }
  std::printf("  the same as separate kernels: %.1f us\n", time([&] {
                for (size_t i = 0; i < ks.size(); i++) {
                  const FusedInstr& fi = pr.p.instrs[i];
                  std::vector<const void*> in;
                  for (int r : {fi.a, fi.b})
                    if (r >= 0) in.push_back(r < nleaf ? pr.leaves[r].ptr() : (const void*)regs[r - nleaf].data());
                  run_once(*ks[i], in.data(), regs[i].data());
                }
              }));
  // one op: the loop math (a one-instruction fused program) against the separate kernel
  // (oneDNN's eltwise for tanh, sigmoid, silu and gelu at this size)
  View x = make_view(DType::F32, {n}, Layout::Contiguous, uniform(rng, -4, 4));
  for (OpCode op : {OpCode::Tanh, OpCode::Sigmoid, OpCode::Silu, OpCode::Gelu, OpCode::Exp}) {
    FusedProgram p;
    p.inputs = {x.desc};
    p.instrs = {FusedInstr{op, {}, 0, -1}};
    p.output = TensorDesc(DType::F32, {n});
    auto fk = make_fused_elementwise(p);
    auto sk = kernel_for(op, {}, {x.desc});
    const void* in[] = {x.ptr()};
    const double tf = time([&] { run_once(*fk, in, out.data()); });
    const double ts = time([&] { run_once(*sk, in, out.data()); });
    std::printf("  %-8s loop math %.1f us, separate kernel %.1f us (%s)\n", op_info(op).name, tf, ts, sk->impl().c_str());
  }
  // conv2d + bias + relu (the benchmark CNN's layers): relu as a post-op against a separate relu
  for (auto [N, C, H, O] : {std::array<int64_t, 4>{1, 1, 28, 32}, {1, 32, 26, 64}, {32, 1, 28, 32}, {32, 32, 26, 64}}) {
    View cx = make_view(DType::F32, {N, C, H, H}, Layout::Contiguous, uniform(rng, -1, 1));
    View cw = make_view(DType::F32, {O, C, 3, 3}, Layout::Contiguous, uniform(rng, -0.3, 0.3));
    View cb = make_view(DType::F32, {O}, Layout::Contiguous, uniform(rng, -0.1, 0.1));
    KernelSpec conv;
    conv.op = OpCode::Conv2d;
    conv.attrs = {1, 1, 0, 0, 1, 1, 1};
    conv.inputs = {cx.desc, cw.desc, cb.desc};
    conv.output = infer(OpCode::Conv2d, conv.attrs, conv.inputs).out;
    KernelSpec fused = conv;
    fused.post_ops = {PostOp{OpCode::Relu, {}, -1}};
    auto ck = make_kernel(conv), fk = make_kernel(fused), rk = kernel_for(OpCode::Relu, {}, {conv.output});
    std::vector<float> y(conv.output.numel()), z(conv.output.numel());
    const void* in[] = {cx.ptr(), cw.ptr(), cb.ptr()};
    const void* rin[] = {y.data()};
    const double tf = time([&] { run_once(*fk, in, y.data()); });
    const double ts = time([&] {
      run_once(*ck, in, y.data());
      run_once(*rk, rin, z.data());
    });
    std::printf("  conv N=%lld %lld->%lld %lldx%lld 3x3 + bias + relu: fused %.1f us, conv then relu %.1f us (%s)\n",
                (long long)N, (long long)C, (long long)O, (long long)H, (long long)H, tf, ts, fk->impl().c_str());
  }
}
