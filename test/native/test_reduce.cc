// Reductions (sum, mean, max, min, prod, var, std, norm, argmax, argmin) against float64 reference
// math, on contiguous, transposed, sliced and broadcast inputs.
#include <algorithm>
#include <cmath>
#include <limits>

#include "kernel_views.h"

using namespace hodu;
using namespace hodu_test;

namespace {

Attrs reduce_args(bool keepdim, const std::vector<int>& dims) {
  Attrs a{keepdim ? 1.0 : 0.0};
  for (int d : dims) a.push_back(d);
  return a;
}

// Wraps an integer result to the dtype, as the kernel stores it.
double wrap_int(DType t, uint64_t v) {
  switch (t) {
    case DType::I8: return (int8_t)v;
    case DType::I16: return (int16_t)v;
    case DType::I32: return (int32_t)v;
    case DType::I64: return (double)(int64_t)v;
    case DType::U8: return (uint8_t)v;
    case DType::U16: return (uint16_t)v;
    case DType::U32: return (uint32_t)v;
    default: return (double)v;
  }
}

struct Ref {
  std::vector<double> vals;
  std::vector<double> scale;  // magnitude the rounding error scales with (Σ|x| for sums)
};

// float64 reference: every output walks its reduced sub-block in row-major order.
Ref ref_reduce(OpCode op, DType t, const std::vector<double>& x, const Shape& shape, const std::vector<int>& dims) {
  const int r = (int)shape.size();
  std::vector<bool> is_red(r, false);
  for (int d : dims) is_red[d] = true;
  Shape kshape, rshape;
  for (int d = 0; d < r; d++) (is_red[d] ? rshape : kshape).push_back(shape[d]);
  const int64_t nout = numel(kshape), n = numel(rshape);
  Shape in_st = contiguous_strides(shape);
  Ref ref;
  for (int64_t o = 0; o < nout; o++) {
    std::vector<double> v;
    for (int64_t j = 0; j < n; j++) {
      int64_t ko = o, rj = j, off = 0;
      for (int d = r - 1; d >= 0; d--) {
        int64_t& rem = is_red[d] ? rj : ko;
        off += (rem % shape[d]) * in_st[d];
        rem /= shape[d];
      }
      v.push_back(x[off]);
    }
    double res = 0, mag = 0;
    for (double e : v) mag += std::fabs(e);
    const bool fl = is_float(t);
    switch (op) {
      case OpCode::Sum:
      case OpCode::Mean: {
        if (fl) {
          for (double e : v) res += e;
        } else {
          uint64_t s = 0;
          for (double e : v) s += (uint64_t)(int64_t)e;
          res = wrap_int(t, s);
        }
        if (op == OpCode::Mean) {
          res = n ? res / n : std::nan("");
          mag = n ? mag / n : 0;
        }
        break;
      }
      case OpCode::Prod: {
        if (fl) {
          res = 1;
          for (double e : v) res *= e;
        } else {
          uint64_t p = 1;
          for (double e : v) p *= (uint64_t)(int64_t)e;
          res = wrap_int(t, p);
        }
        mag = std::fabs(res);
        break;
      }
      case OpCode::Max:
      case OpCode::Min: {
        res = v[0];
        for (double e : v) {
          if (std::isnan(e) || std::isnan(res)) res = std::nan("");
          else res = op == OpCode::Max ? std::max(res, e) : std::min(res, e);
        }
        mag = std::fabs(res);
        break;
      }
      case OpCode::Var:
      case OpCode::Std: {
        double m = 0;
        for (double e : v) m += e;
        m /= n;
        for (double e : v) res += (e - m) * (e - m);
        res /= n;
        if (op == OpCode::Std) res = std::sqrt(res);
        mag = res;
        break;
      }
      case OpCode::Norm: {
        for (double e : v) res += e * e;
        res = std::sqrt(res);
        mag = res;
        break;
      }
      case OpCode::Argmax:
      case OpCode::Argmin: {
        int64_t best = 0;
        for (int64_t j = 1; j < n; j++) {
          double b = v[best], e = v[j];
          if (std::isnan(b)) break;
          if (std::isnan(e) || (op == OpCode::Argmax ? e > b : e < b)) best = j;
        }
        res = (double)best;
        break;
      }
      default: break;
    }
    ref.vals.push_back(res);
    ref.scale.push_back(mag);
  }
  return ref;
}

// Relative tolerance for a dtype (applied to Ref::scale).
double tol_for(DType t, bool onednn) {
  switch (t) {
    case DType::F64: return 1e-12;
    case DType::F32: return onednn ? 1e-5 : 2e-6;
    case DType::F16: return 2e-3;
    case DType::BF16: return 1.6e-2;
    default: return 0;
  }
}

bool is_arg(OpCode op) { return op == OpCode::Argmax || op == OpCode::Argmin; }
bool float_only(OpCode op) { return op == OpCode::Mean || op == OpCode::Var || op == OpCode::Std || op == OpCode::Norm; }

// Runs op over `dims` of x and compares with the reference; returns the impl used.
std::string check_reduce(OpCode op, const View& x, const std::vector<int>& dims, bool keepdim, const std::string& what) {
  Result res = run_op(op, reduce_args(keepdim, dims), x);
  // Expected output shape.
  Shape want_shape;
  for (int d = 0; d < x.desc.ndim(); d++) {
    bool red = std::find(dims.begin(), dims.end(), d) != dims.end();
    if (!red) want_shape.push_back(x.desc.shape[d]);
    else if (keepdim) want_shape.push_back(1);
  }
  std::string label = std::string(op_info(op).name) + " " + dtype_name(x.desc.dtype) + " " + what + " dims " +
                      fmt_list(dims) + (keepdim ? " keepdim" : "") + " [" + res.impl + "]";
  if (res.out.shape != want_shape) {
    std::printf("  %s: shape %s, expected %s\n", label.c_str(), fmt_list(res.out.shape).c_str(), fmt_list(want_shape).c_str());
    g_failures++;
  }
  CHECK(res.out.dtype == (is_arg(op) ? DType::I64 : x.desc.dtype));
  CHECK(res.impl.find("ref") == std::string::npos);
  Ref ref = ref_reduce(op, x.desc.dtype, x.vals, x.desc.shape, dims);
  double rt = is_arg(op) ? 0 : tol_for(x.desc.dtype, res.impl.rfind("onednn", 0) == 0);
  // Per-element tolerance (rt × the reference's magnitude): values within it compare equal.
  std::vector<double> got = res.vals, want = ref.vals;
  for (size_t i = 0; i < got.size() && i < want.size(); i++) {
    double tol = rt * ref.scale[i] + (rt ? 1e-30 : 0);
    if (std::fabs(got[i] - want[i]) <= tol) got[i] = want[i];
  }
  check_close(got, want, 0, 0, label);
  return res.impl;
}

const OpCode kAllReduce[] = {OpCode::Sum, OpCode::Mean, OpCode::Max, OpCode::Min,    OpCode::Prod,
                             OpCode::Var, OpCode::Std,  OpCode::Norm, OpCode::Argmax, OpCode::Argmin};

// Values for a dtype and op: products stay near 1, integers small enough to produce ties.
double gen_value(Rng& rng, DType t, OpCode op) {
  if (op == OpCode::Prod) return is_float(t) ? rng.uniform(0.8, 1.25) : (double)(rng.integer(0, 1) ? 1 : -1) * rng.integer(1, 2);
  return is_float(t) ? rng.uniform(-1, 1) : rng.integer(-20, 20);
}

}  // namespace

HODU_TEST(reduce_conformance_values) {
  View a = make_values(DType::F32, {2, 3}, {1, 2, 3, 4, 5, 6});
  auto one = [&](OpCode op, std::vector<int> dims, Shape shape, std::vector<double> want) {
    Result r = run_op(op, reduce_args(false, dims), a);
    CHECK(r.out.shape == shape);
    check_close(r.vals, want, 1e-6, 0, op_info(op).name + std::string(" ") + fmt_list(dims));
  };
  one(OpCode::Sum, {0, 1}, {}, {21});
  one(OpCode::Sum, {0}, {3}, {5, 7, 9});
  one(OpCode::Sum, {1}, {2}, {6, 15});
  one(OpCode::Mean, {0, 1}, {}, {3.5});
  one(OpCode::Var, {0, 1}, {}, {2.9166667});
  one(OpCode::Std, {0, 1}, {}, {1.7078252});
  one(OpCode::Var, {1}, {2}, {0.6666667, 0.6666667});
  one(OpCode::Std, {1}, {2}, {0.8164966, 0.8164966});
  one(OpCode::Norm, {0, 1}, {}, {9.539392});
  one(OpCode::Norm, {1}, {2}, {3.7416575, 8.774964});
  one(OpCode::Prod, {0, 1}, {}, {720});
  one(OpCode::Prod, {1}, {2}, {6, 120});
  one(OpCode::Max, {0}, {3}, {4, 5, 6});
  one(OpCode::Min, {1}, {2}, {1, 4});
  one(OpCode::Argmax, {1}, {2}, {2, 2});
  one(OpCode::Argmin, {0}, {3}, {0, 0, 0});
  one(OpCode::Argmax, {0, 1}, {}, {5});
  Result k = run_op(OpCode::Sum, reduce_args(true, {1}), a);
  CHECK((k.out.shape == Shape{2, 1}));
  check_close(k.vals, {6, 15}, 0, 0, "sum keepdim");
}

// Every op × dtype × layout × dim set × keepdim on a small 3-D tensor.
HODU_TEST(reduce_matrix_3d) {
  const std::vector<std::vector<int>> dim_sets = {{0}, {1}, {2}, {0, 1}, {0, 2}, {1, 2}, {0, 1, 2}, {}};
  const DType dtypes[] = {DType::F32, DType::F64, DType::F16, DType::BF16, DType::I32, DType::I64, DType::U8, DType::I16};
  Rng rng(1);
  for (OpCode op : kAllReduce) {
    for (DType t : dtypes) {
      if (float_only(op) && !is_float(t)) continue;
      for (Layout l : kAllLayouts) {
        View x = make_view(t, {5, 6, 7}, l, [&] {
          double v = gen_value(rng, t, op);
          return is_unsigned_int(t) ? std::fabs(v) : v;
        });
        for (const auto& dims : dim_sets)
          for (bool kd : {false, true}) check_reduce(op, x, dims, kd, layout_name(l));
      }
    }
  }
}

// 4-D with interleaved kept/reduced dims, and a permutation that is neither identity nor reversal.
HODU_TEST(reduce_4d_interleaved) {
  Rng rng(2);
  for (OpCode op : kAllReduce) {
    for (DType t : {DType::F32, DType::F64, DType::I64}) {
      if (float_only(op) && !is_float(t)) continue;
      for (Layout l : kAllLayouts) {
        View x = make_view(t, {3, 4, 5, 6}, l, [&] { return gen_value(rng, t, op); });
        for (const std::vector<int>& dims : {std::vector<int>{1, 3}, {0, 2}, {0, 3}, {1, 2}, {0, 1, 3}})
          check_reduce(op, x, dims, false, layout_name(l));
      }
      // permute [3,4,5,6] storage as dims (2, 0, 3, 1)
      View x = make_view(t, {5, 3, 6, 4}, Layout::Contiguous, [&] { return gen_value(rng, t, op); });
      Shape st = x.desc.strides;  // strides of [5,3,6,4]: logical [3,4,5,6] = phys dims (1, 3, 0, 2)
      x.desc = TensorDesc(t, {3, 4, 5, 6}, {st[1], st[3], st[0], st[2]}, 0);
      x.refresh();
      for (const std::vector<int>& dims : {std::vector<int>{1, 3}, {0, 2}, {2}, {0, 1, 2, 3}})
        check_reduce(op, x, dims, true, "permuted");
    }
  }
}

HODU_TEST(reduce_edge_shapes) {
  // rank 0: identity (a reduction over one element)
  View s = make_values(DType::F32, {}, {2.5});
  for (OpCode op : kAllReduce) {
    Result r = run_op(op, reduce_args(false, {}), s);
    CHECK(r.out.shape.empty());
    double want = op == OpCode::Var || op == OpCode::Std || is_arg(op) ? 0 : 2.5;
    check_close(r.vals, {want}, 0, 0, std::string("rank0 ") + op_info(op).name);
  }
  // no dims: element-wise identity (one element per reduction)
  View m = make_values(DType::I32, {2, 2}, {1, -2, 3, 4});
  check_close(run_op(OpCode::Sum, reduce_args(false, {}), m).vals, {1, -2, 3, 4}, 0, 0, "sum no dims");
  check_close(run_op(OpCode::Argmax, reduce_args(true, {}), m).vals, {0, 0, 0, 0}, 0, 0, "argmax no dims");
  // size-1 dims only
  View one = make_values(DType::F64, {1, 3, 1}, {1, 2, 3});
  check_close(run_op(OpCode::Sum, reduce_args(false, {0, 2}), one).vals, {1, 2, 3}, 0, 0, "sum over size-1 dims");
  // reductions over zero elements: identities, NaN for mean/var
  View z = make_view(DType::F32, {3, 0, 2}, Layout::Contiguous, [] { return 1.0; });
  check_close(run_op(OpCode::Sum, reduce_args(false, {1}), z).vals, std::vector<double>(6, 0), 0, 0, "sum empty");
  check_close(run_op(OpCode::Prod, reduce_args(false, {1}), z).vals, std::vector<double>(6, 1), 0, 0, "prod empty");
  check_close(run_op(OpCode::Norm, reduce_args(false, {1}), z).vals, std::vector<double>(6, 0), 0, 0, "norm empty");
  check_close(run_op(OpCode::Mean, reduce_args(true, {0, 1}), z).vals, std::vector<double>(2, std::nan("")), 0, 0, "mean empty");
  check_close(run_op(OpCode::Var, reduce_args(false, {1, 2}), z).vals, std::vector<double>(3, std::nan("")), 0, 0, "var empty");
  View zi = make_view(DType::I64, {0, 4}, Layout::Contiguous, [] { return 1.0; });
  check_close(run_op(OpCode::Sum, reduce_args(false, {0}), zi).vals, std::vector<double>(4, 0), 0, 0, "i64 sum empty");
  // a zero-element input with nothing reduced produces no output and runs no kernel
  CHECK(run_op(OpCode::Sum, reduce_args(false, {1}), View(zi)).vals.empty());
}

HODU_TEST(reduce_nan_and_ties) {
  const double nan = std::nan("");
  View x = make_values(DType::F32, {3, 4}, {1, 3, 3, 2,  //
                                            nan, 5, nan, 9,  //
                                            -1, -1, -4, -4});
  check_close(run_op(OpCode::Argmax, reduce_args(false, {1}), x).vals, {1, 0, 0}, 0, 0, "argmax ties/nan");
  check_close(run_op(OpCode::Argmin, reduce_args(false, {1}), x).vals, {0, 0, 2}, 0, 0, "argmin ties/nan");
  check_close(run_op(OpCode::Argmax, reduce_args(false, {0, 1}), x).vals, {4}, 0, 0, "argmax all nan");
  check_close(run_op(OpCode::Max, reduce_args(false, {1}), x).vals, {3, nan, -1}, 0, 0, "max nan");
  check_close(run_op(OpCode::Min, reduce_args(false, {0}), x).vals, {nan, -1, nan, -4}, 0, 0, "min nan");
  check_close(run_op(OpCode::Sum, reduce_args(false, {1}), x).vals, {9, nan, -10}, 0, 0, "sum nan");
  // argmax over several dims: the flat index within the reduced block [3, 4]
  View y = make_values(DType::F64, {2, 3, 4}, {});
  for (int i = 0; i < 24; i++) y.set(i, i % 7);
  check_close(run_op(OpCode::Argmax, reduce_args(false, {0, 2}), y).vals, {5, 2, 4}, 0, 0, "argmax dims {0,2}");
  // infinities
  View inf = make_values(DType::F32, {4}, {-INFINITY, -INFINITY, -INFINITY, -INFINITY});
  check_close(run_op(OpCode::Argmax, reduce_args(false, {0}), inf).vals, {0}, 0, 0, "argmax -inf");
  check_close(run_op(OpCode::Max, reduce_args(false, {0}), inf).vals, {-INFINITY}, 0, 0, "max -inf");
}

HODU_TEST(reduce_integer_wrap) {
  View x = make_values(DType::I32, {3}, {2000000000, 2000000000, 1});
  check_close(run_op(OpCode::Sum, reduce_args(false, {0}), x).vals, {(double)(int32_t)(uint32_t)4000000001u}, 0, 0, "i32 sum wraps");
  View u = make_values(DType::U8, {4}, {200, 100, 3, 1});
  check_close(run_op(OpCode::Sum, reduce_args(false, {0}), u).vals, {48}, 0, 0, "u8 sum wraps");
  check_close(run_op(OpCode::Max, reduce_args(false, {0}), u).vals, {200}, 0, 0, "u8 max");
  View big = make_values(DType::I64, {2}, {4611686018427387904.0, 4.0});
  check_close(run_op(OpCode::Prod, reduce_args(false, {0}), big).vals, {0}, 0, 0, "i64 prod wraps");
}

// Large inputs: threaded loops (split by output tiles and split within one reduction) and oneDNN.
HODU_TEST(reduce_large) {
  Rng rng(3);
  View x = make_view(DType::F32, {1024, 1024}, Layout::Contiguous, [&] { return rng.uniform(-1, 1); });
  std::string i1 = check_reduce(OpCode::Sum, x, {1}, false, "1024x1024");
  CHECK(i1.rfind("onednn:", 0) == 0);  // trailing suffix of a contiguous f32 tensor: oneDNN, not ref
  CHECK(i1.find("ref") == std::string::npos);
  // a million-element reduction is too long for oneDNN's f32 accumulation: the double loop
  CHECK(check_reduce(OpCode::Sum, x, {0, 1}, false, "1024x1024") == "loop:reduce_inner");
  CHECK(check_reduce(OpCode::Mean, x, {1}, true, "1024x1024").rfind("onednn:", 0) == 0);
  CHECK(check_reduce(OpCode::Sum, x, {0}, false, "1024x1024") == "loop:reduce_outer");
  check_reduce(OpCode::Max, x, {1}, false, "1024x1024");
  check_reduce(OpCode::Var, x, {0}, false, "1024x1024");
  check_reduce(OpCode::Std, x, {1}, false, "1024x1024");
  check_reduce(OpCode::Var, x, {0, 1}, false, "1024x1024");
  check_reduce(OpCode::Argmax, x, {0, 1}, false, "1024x1024");
  check_reduce(OpCode::Argmin, x, {0}, false, "1024x1024");
  check_reduce(OpCode::Norm, x, {0, 1}, false, "1024x1024");

  View d = make_view(DType::F64, {640, 520}, Layout::Transposed, [&] { return rng.uniform(-1, 1); });
  for (const std::vector<int>& dims : {std::vector<int>{0}, {1}, {0, 1}}) {
    check_reduce(OpCode::Sum, d, dims, false, "transposed 640x520");
    check_reduce(OpCode::Var, d, dims, false, "transposed 640x520");
    check_reduce(OpCode::Argmax, d, dims, false, "transposed 640x520");
  }
  View s = make_view(DType::I32, {700, 600}, Layout::Sliced, [&] { return rng.integer(-1000, 1000); });
  for (const std::vector<int>& dims : {std::vector<int>{0}, {1}, {0, 1}}) {
    check_reduce(OpCode::Sum, s, dims, true, "sliced 700x600");
    check_reduce(OpCode::Min, s, dims, true, "sliced 700x600");
  }
  // one long reduction with a short kept row (outer shape, split within the reduction)
  View tall = make_view(DType::F64, {300000, 2}, Layout::Contiguous, [&] { return rng.uniform(-1, 1); });
  check_reduce(OpCode::Sum, tall, {0}, false, "300000x2");
  check_reduce(OpCode::Var, tall, {0}, false, "300000x2");
  check_reduce(OpCode::Argmin, tall, {0}, false, "300000x2");
  View b = make_view(DType::F32, {600, 700}, Layout::Broadcast, [&] { return rng.uniform(-1, 1); });
  check_reduce(OpCode::Sum, b, {0}, false, "broadcast 600x700");
  check_reduce(OpCode::Mean, b, {0, 1}, false, "broadcast 600x700");
  View h = make_view(DType::F16, {512, 640}, Layout::Contiguous, [&] { return rng.uniform(-1, 1); });
  check_reduce(OpCode::Sum, h, {0}, false, "f16 512x640");
  check_reduce(OpCode::Mean, h, {0, 1}, false, "f16 512x640");
}

// Long f32 sums stay accurate (double accumulation; oneDNN only gets short rows).
HODU_TEST(reduce_f32_long_sums_accurate) {
  const float tenth = 0.1f;
  for (const Shape& shape : {Shape{100000}, Shape{4, 50000}, Shape{3000000}}) {
    View x = make_view(DType::F32, shape, Layout::Contiguous, [] { return 0.1; });
    const int64_t row = shape.back();
    Result r = run_op(OpCode::Sum, reduce_args(false, {(int)shape.size() - 1}), x);
    for (double v : r.vals) CHECK_NEAR(v, row * (double)tenth, 1e-6 * row * (double)tenth);
    Result all = run_op(OpCode::Mean, reduce_args(false, shape.size() == 2 ? std::vector<int>{0, 1} : std::vector<int>{0}), x);
    CHECK_NEAR(all.vals[0], (double)tenth, 1e-7);
  }
  // the longest row still given to oneDNN
  View x = make_view(DType::F32, {16, 4096}, Layout::Contiguous, [] { return 0.1; });
  Result r = run_op(OpCode::Sum, reduce_args(false, {1}), x);
  CHECK(r.impl.rfind("onednn:", 0) == 0);
  for (double v : r.vals) CHECK_NEAR(v, 4096 * (double)tenth, 5e-6 * 4096 * (double)tenth);
}

// The kernel may run on several threads at once (each with its own scratchpad).
HODU_TEST(reduce_concurrent_runs) {
  Rng rng(4);
  View x = make_view(DType::F64, {512, 1024}, Layout::Contiguous, [&] { return rng.uniform(-1, 1); });
  Attrs a = reduce_args(false, {0});
  auto k = kernel_for(OpCode::Var, a, {x.desc});
  Ref ref = ref_reduce(OpCode::Var, DType::F64, x.vals, x.desc.shape, {0});
  std::vector<std::vector<double>> outs(4, std::vector<double>(1024));
  std::vector<std::vector<char>> scratch(4, std::vector<char>(k->scratchpad_bytes() + 64));
#pragma omp parallel for num_threads(4)
  for (int i = 0; i < 4; i++) {
    ExecContext ctx;
    ctx.scratchpad = (void*)(((uintptr_t)scratch[i].data() + 63) / 64 * 64);
    const void* in[] = {x.ptr()};
    k->run(in, outs[i].data(), ctx);
  }
  for (int i = 0; i < 4; i++) check_close(outs[i], ref.vals, 1e-12, 0, "concurrent var");
}
