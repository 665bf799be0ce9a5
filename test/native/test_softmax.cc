// Softmax / log-softmax against float64 reference math on every layout, dim and float dtype.
#include <algorithm>
#include <cmath>
#include <limits>

#include "kernel_views.h"

using namespace hodu;
using namespace hodu_test;

namespace {

// float64 softmax (or log-softmax) of logical values x of `shape` along `dim`.
std::vector<double> ref_softmax(const std::vector<double>& x, const Shape& shape, int dim, bool log) {
  int64_t n = shape[dim], inner = 1, outer = 1;
  for (int d = dim + 1; d < (int)shape.size(); d++) inner *= shape[d];
  for (int d = 0; d < dim; d++) outer *= shape[d];
  std::vector<double> y(x.size());
  for (int64_t o = 0; o < outer; o++) {
    for (int64_t i = 0; i < inner; i++) {
      auto at = [&](int64_t j) { return (o * n + j) * inner + i; };
      double m = -INFINITY;
      for (int64_t j = 0; j < n; j++) m = std::isnan(x[at(j)]) || std::isnan(m) ? NAN : std::max(m, x[at(j)]);
      double s = 0;
      for (int64_t j = 0; j < n; j++) s += std::exp(x[at(j)] - m);
      for (int64_t j = 0; j < n; j++) y[at(j)] = log ? (x[at(j)] - m) - std::log(s) : std::exp(x[at(j)] - m) / s;
    }
  }
  return y;
}

double softmax_tol(DType t) {
  switch (t) {
    case DType::F64: return 1e-13;
    case DType::F32: return 2e-6;
    case DType::F16: return 2e-3;
    default: return 1.6e-2;  // bf16
  }
}

std::string check_softmax(OpCode op, const View& x, int dim, const std::string& what, double scale_tol = 1) {
  Result r = run_op(op, {(double)dim}, x);
  const int nd = dim < 0 ? dim + x.desc.ndim() : dim;
  std::string label = std::string(op_info(op).name) + " " + dtype_name(x.desc.dtype) + " " + what + " " +
                      fmt_list(x.desc.shape) + " dim " + std::to_string(dim) + " [" + r.impl + "]";
  CHECK(r.out.shape == x.desc.shape);
  CHECK(r.out.dtype == x.desc.dtype);
  CHECK(r.impl.find("ref") == std::string::npos);
  double tol = softmax_tol(x.desc.dtype) * scale_tol;
  // oneDNN's log_softmax uses its own log approximation: about 50 ulp in f32.
  if (op == OpCode::LogSoftmax && r.impl.rfind("onednn:", 0) == 0) tol = std::max(tol, 2e-5);
  check_close(r.vals, ref_softmax(x.vals, x.desc.shape, nd, op == OpCode::LogSoftmax), tol, tol, label);
  return r.impl;
}

}  // namespace

HODU_TEST(softmax_matrix) {
  Rng rng(7);
  for (DType t : {DType::F32, DType::F64, DType::F16, DType::BF16}) {
    for (Layout l : kAllLayouts) {
      View x = make_view(t, {5, 6, 7}, l, [&] { return rng.uniform(-4, 4); });
      for (int dim : {0, 1, 2, -1})
        for (OpCode op : {OpCode::Softmax, OpCode::LogSoftmax}) check_softmax(op, x, dim, layout_name(l));
    }
    View v = make_view(t, {9}, Layout::Sliced, [&] { return rng.uniform(-4, 4); });
    check_softmax(OpCode::Softmax, v, 0, "1-D sliced");
    check_softmax(OpCode::LogSoftmax, v, 0, "1-D sliced");
  }
  // 4-D permuted storage: the dims after the softmax dim do not merge, so some become batch dims
  View x = make_view(DType::F32, {4, 3, 5, 6}, Layout::Contiguous, [&] { return rng.uniform(-3, 3); });
  Shape st = x.desc.strides;
  x.desc = TensorDesc(DType::F32, {3, 6, 4, 5}, {st[1], st[3], st[0], st[2]}, 0);
  x.refresh();
  for (int dim : {0, 1, 2, 3}) {
    check_softmax(OpCode::Softmax, x, dim, "permuted");
    check_softmax(OpCode::LogSoftmax, x, dim, "permuted");
  }
  // size-1 dims around the softmax dim
  View y = make_view(DType::F64, {1, 8, 1}, Layout::Contiguous, [&] { return rng.uniform(-3, 3); });
  check_softmax(OpCode::Softmax, y, 1, "size-1 neighbours");
  check_softmax(OpCode::Softmax, y, 0, "size-1 dim");
}

HODU_TEST(softmax_properties) {
  // rows sum to 1 and log_softmax = log(softmax)
  Rng rng(8);
  View x = make_view(DType::F32, {37, 129}, Layout::Contiguous, [&] { return rng.uniform(-10, 10); });
  for (int dim : {0, 1}) {
    Result s = run_op(OpCode::Softmax, {(double)dim}, x);
    Result l = run_op(OpCode::LogSoftmax, {(double)dim}, x);
    int64_t rows = dim == 1 ? 37 : 129, n = dim == 1 ? 129 : 37;
    for (int64_t r = 0; r < rows; r++) {
      double sum = 0;
      for (int64_t j = 0; j < n; j++) sum += s.vals[dim == 1 ? r * 129 + j : j * 129 + r];
      CHECK_NEAR(sum, 1.0, 1e-5);
    }
    for (size_t i = 0; i < s.vals.size(); i++) CHECK_NEAR(l.vals[i], std::log(s.vals[i]), 1e-5);
  }
  // no overflow for large logits, on every path
  for (DType t : {DType::F32, DType::F64, DType::F16}) {
    View big = make_values(t, {2}, {1000, 1000});
    check_close(run_op(OpCode::Softmax, {0}, big).vals, {0.5, 0.5}, 0, 0, std::string("softmax [1000, 1000] ") + dtype_name(t));
    check_close(run_op(OpCode::LogSoftmax, {0}, big).vals, {-std::log(2.0), -std::log(2.0)}, 1e-3, 0,
                std::string("log_softmax [1000, 1000] ") + dtype_name(t));
    View col = make_values(t, {2, 1}, {1000, 1000});
    check_close(run_op(OpCode::Softmax, {0}, col).vals, {0.5, 0.5}, 0, 0, std::string("softmax column ") + dtype_name(t));
  }
  // masked (-inf) entries give exactly 0; a single finite entry gives 1
  View mask = make_values(DType::F64, {2, 3}, {0, -INFINITY, 1, -INFINITY, 5, -INFINITY});
  check_close(run_op(OpCode::Softmax, {1}, mask).vals, {1 / (1 + std::exp(1.0)), 0, std::exp(1.0) / (1 + std::exp(1.0)), 0, 1, 0},
              1e-15, 0, "softmax masked");
  View maskf = make_view(DType::F32, {3, 2}, Layout::Transposed, [] { return 0.0; });
  maskf.set(1, -INFINITY);
  check_close(run_op(OpCode::Softmax, {1}, maskf).vals, {1, 0, 0.5, 0.5, 0.5, 0.5}, 0, 0, "softmax masked f32 loop");
  // NaN spreads over its row in the loop
  View nan = make_values(DType::F64, {2, 2}, {1, NAN, 1, 2});
  Result r = run_op(OpCode::Softmax, {1}, nan);
  CHECK(std::isnan(r.vals[0]) && std::isnan(r.vals[1]));
  CHECK_NEAR(r.vals[3], 1 / (1 + std::exp(-1.0)), 1e-15);
}

// The vectorised float exp over its whole range (|x - max| up to 100, including underflow).
HODU_TEST(softmax_f32_loop_accuracy) {
  Rng rng(9);
  View x = make_view(DType::F32, {200, 64}, Layout::Transposed, [&] { return rng.uniform(-100, 0); });
  for (int dim : {0, 1}) {
    CHECK(check_softmax(OpCode::Softmax, x, dim, "wide range").rfind("loop:", 0) == 0);
    check_softmax(OpCode::LogSoftmax, x, dim, "wide range", 30);  // |log p| up to 100: relative
  }
}

HODU_TEST(softmax_large) {
  Rng rng(10);
  View x = make_view(DType::F32, {1024, 1024}, Layout::Contiguous, [&] { return rng.uniform(-5, 5); });
  std::string impl = check_softmax(OpCode::Softmax, x, 1, "1024x1024");
  CHECK(impl.rfind("onednn:", 0) == 0);
  CHECK(check_softmax(OpCode::LogSoftmax, x, -1, "1024x1024").rfind("onednn:", 0) == 0);
  CHECK(check_softmax(OpCode::Softmax, x, 0, "1024x1024") == "loop:softmax_lanes");
  check_softmax(OpCode::LogSoftmax, x, 0, "1024x1024");
  View t = make_view(DType::F32, {768, 512}, Layout::Transposed, [&] { return rng.uniform(-5, 5); });
  // the last dim of a transposed view: lanes along the other dim (contiguous in memory)
  CHECK(check_softmax(OpCode::Softmax, t, 1, "transposed 768x512") == "loop:softmax_lanes");
  View rows = make_view(DType::F32, {300, 1100}, Layout::Sliced, [&] { return rng.uniform(-5, 5); });
  CHECK(check_softmax(OpCode::Softmax, rows, 1, "sliced 300x1100") == "loop:softmax_rows");
  check_softmax(OpCode::LogSoftmax, rows, 1, "sliced 300x1100");
  check_softmax(OpCode::Softmax, t, 0, "transposed 768x512");
  View d = make_view(DType::F64, {96, 64, 64}, Layout::Sliced, [&] { return rng.uniform(-5, 5); });
  for (int dim : {0, 1, 2}) check_softmax(OpCode::Softmax, d, dim, "sliced");
  View b = make_view(DType::BF16, {600, 600}, Layout::Contiguous, [&] { return rng.uniform(-5, 5); });
  check_softmax(OpCode::Softmax, b, 1, "bf16");
  View h = make_view(DType::F16, {600, 600}, Layout::Broadcast, [&] { return rng.uniform(-5, 5); });
  check_softmax(OpCode::LogSoftmax, h, 0, "f16 broadcast");
  // a softmax dim too long to stage a block of lanes: strided rows instead
  View tall = make_view(DType::F32, {300000, 5}, Layout::Contiguous, [&] { return rng.uniform(-5, 5); });
  CHECK(check_softmax(OpCode::Softmax, tall, 0, "300000x5") == "loop:softmax_rows");
  View wide = make_view(DType::F32, {70000, 5}, Layout::Contiguous, [&] { return rng.uniform(-5, 5); });
  CHECK(check_softmax(OpCode::LogSoftmax, wide, 0, "70000x5") == "loop:softmax_lanes");
}
