// Concat against a reference built from the inputs' logical values, on every layout and dtype.
#include "kernel_views.h"

using namespace hodu;
using namespace hodu_test;

namespace {

// Reference: the logical values of the inputs joined along dim.
std::vector<double> ref_concat(const std::vector<const View*>& ins, int dim) {
  const Shape& s0 = ins[0]->desc.shape;
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < dim; d++) outer *= s0[d];
  for (int d = dim + 1; d < (int)s0.size(); d++) inner *= s0[d];
  std::vector<double> out;
  for (int64_t o = 0; o < outer; o++)
    for (const View* v : ins) {
      int64_t block = v->desc.shape[dim] * inner;
      out.insert(out.end(), v->vals.begin() + o * block, v->vals.begin() + (o + 1) * block);
    }
  return out;
}

void check_concat(const std::vector<const View*>& ins, int dim, const std::string& what) {
  Result r = run_op(OpCode::Concat, {(double)dim}, ins);
  const int nd = dim < 0 ? dim + ins[0]->desc.ndim() : dim;
  Shape want = ins[0]->desc.shape;
  want[nd] = 0;
  for (const View* v : ins) want[nd] += v->desc.shape[nd];
  std::string label = std::string("concat ") + dtype_name(ins[0]->desc.dtype) + " " + what + " dim " + std::to_string(dim);
  CHECK(r.out.shape == want);
  CHECK(r.out.dtype == ins[0]->desc.dtype);
  check_close(r.vals, ref_concat(ins, nd), 0, 0, label);
}

Shape with_dim(Shape s, int dim, int64_t n) {
  s[dim] = n;
  return s;
}

}  // namespace

HODU_TEST(concat_matrix) {
  Rng rng(11);
  const DType dtypes[] = {DType::F32, DType::F64, DType::F16, DType::BF16, DType::I32, DType::I64, DType::U8, DType::Bool};
  const Shape base = {4, 5, 6};
  for (DType t : dtypes) {
    auto gen = [&] { return t == DType::Bool ? rng.integer(0, 1) : rng.value(t, -100, 100); };
    for (int dim : {0, 1, 2, -1}) {
      const int nd = dim < 0 ? dim + 3 : dim;
      for (Layout la : kAllLayouts) {
        for (Layout lb : {Layout::Contiguous, Layout::Transposed, Layout::Sliced}) {
          View a = make_view(t, with_dim(base, nd, 3), la, gen);
          View b = make_view(t, with_dim(base, nd, 2), lb, gen);
          View c = make_view(t, with_dim(base, nd, 4), Layout::Sliced, gen);
          check_concat({&a, &b, &c}, dim, std::string(layout_name(la)) + "+" + layout_name(lb) + "+sliced");
        }
      }
    }
  }
}

HODU_TEST(concat_edge_cases) {
  Rng rng(12);
  // one input: a copy
  View a = make_view(DType::F32, {3, 4}, Layout::Transposed, [&] { return rng.uniform(-1, 1); });
  check_concat({&a}, 1, "single transposed");
  // zero-size inputs among others
  View e = make_view(DType::F32, {3, 0}, Layout::Contiguous, [] { return 0.0; });
  check_concat({&e, &a, &e}, 1, "with empty");
  // 1-D
  View v = make_values(DType::I64, {3}, {1, 2, 3});
  View w = make_values(DType::I64, {2}, {-4, 5});
  check_concat({&v, &w, &v}, 0, "1-D");
  check_concat({&w, &v}, -1, "1-D negative dim");
  // size-1 dims with odd strides
  View s = make_view(DType::F64, {1, 5, 1}, Layout::Transposed, [&] { return rng.uniform(-1, 1); });
  check_concat({&s, &s}, 0, "size-1 dims");
  check_concat({&s, &s}, 2, "size-1 dims");
}

HODU_TEST(concat_large) {
  Rng rng(13);
  auto gen = [&] { return rng.uniform(-1, 1); };
  View a = make_view(DType::F32, {600, 700}, Layout::Contiguous, gen);
  View b = make_view(DType::F32, {400, 700}, Layout::Transposed, gen);
  check_concat({&a, &b}, 0, "600x700 + 400x700");
  View c = make_view(DType::F32, {600, 300}, Layout::Sliced, gen);
  check_concat({&a, &c, &a}, 1, "600x700 + 600x300 + 600x700");
  // single long rows: the threads split elements
  View l1 = make_view(DType::F64, {300000}, Layout::Contiguous, gen);
  View l2 = make_view(DType::F64, {200000}, Layout::Contiguous, gen);
  check_concat({&l1, &l2}, 0, "long 1-D");
  View i = make_view(DType::I32, {2, 400000}, Layout::Broadcast, [&] { return rng.integer(-9, 9); });
  check_concat({&i, &i}, 0, "broadcast 2x400000");
}
