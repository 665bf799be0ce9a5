// IndexSelect and Gather against references on logical values, strided inputs and indices, and
// the out-of-range index errors.
#include "kernel_views.h"

using namespace hodu;
using namespace hodu_test;

namespace {

// Row-major position -> multi-index and back.
std::vector<int64_t> unravel(int64_t flat, const Shape& s) {
  std::vector<int64_t> ix(s.size());
  for (size_t d = s.size(); d-- > 0;) {
    ix[d] = flat % s[d];
    flat /= s[d];
  }
  return ix;
}
int64_t ravel(const std::vector<int64_t>& ix, const Shape& s) {
  int64_t flat = 0;
  for (size_t d = 0; d < s.size(); d++) flat = flat * s[d] + ix[d];
  return flat;
}

std::vector<double> ref_index_select(const View& x, const View& idx, int dim) {
  Shape os = x.desc.shape;
  os[dim] = idx.desc.shape[0];
  std::vector<double> out(numel(os));
  for (int64_t p = 0; p < (int64_t)out.size(); p++) {
    auto ix = unravel(p, os);
    ix[dim] = (int64_t)idx.vals[ix[dim]];
    out[p] = x.vals[ravel(ix, x.desc.shape)];
  }
  return out;
}

std::vector<double> ref_gather(const View& x, const View& idx, int dim) {
  std::vector<double> out(idx.vals.size());
  for (int64_t p = 0; p < (int64_t)out.size(); p++) {
    auto ix = unravel(p, idx.desc.shape);
    ix[dim] = (int64_t)idx.vals[p];
    out[p] = x.vals[ravel(ix, x.desc.shape)];
  }
  return out;
}

void check_index(OpCode op, const View& x, const View& idx, int dim, const std::string& what) {
  Result r = run_op(op, {(double)dim}, {&x, &idx});
  std::string label = std::string(op_info(op).name) + " " + dtype_name(x.desc.dtype) + "/" + dtype_name(idx.desc.dtype) +
                      " " + what + " dim " + std::to_string(dim);
  CHECK(r.out.dtype == x.desc.dtype);
  check_close(r.vals, op == OpCode::Gather ? ref_gather(x, idx, dim) : ref_index_select(x, idx, dim), 0, 0, label);
}

// Runs op and expects INVALID_ARGUMENT whose message names the index, the dim and the size.
void check_bad_index(OpCode op, const View& x, const View& idx, int dim, int64_t bad) {
  const std::string d = std::to_string(dim), n = std::to_string(x.desc.shape[dim]), b = std::to_string(bad);
  try {
    run_op(op, {(double)dim}, {&x, &idx});
    std::printf("  %s with index %s did not throw\n", op_info(op).name, b.c_str());
    g_failures++;
  } catch (const HoduError& e) {
    std::string msg = e.what();
    bool ok = e.code() == ErrorCode::INVALID_ARGUMENT && msg.find("index " + b) != std::string::npos &&
              msg.find("dim " + d) != std::string::npos && msg.find("size " + n) != std::string::npos;
    if (!ok) {
      std::printf("  unexpected error: %s\n", msg.c_str());
      g_failures++;
    }
  }
}

}  // namespace

HODU_TEST(index_select_matrix) {
  Rng rng(21);
  const Shape xs = {5, 6, 7};
  for (DType t : {DType::F32, DType::F64, DType::F16, DType::I64, DType::U8, DType::Bool}) {
    auto gen = [&] { return t == DType::Bool ? rng.integer(0, 1) : rng.value(t, -100, 100); };
    for (Layout lx : kAllLayouts) {
      View x = make_view(t, xs, lx, gen);
      for (int dim : {0, 1, 2}) {
        for (DType it : {DType::I32, DType::I64}) {
          for (Layout li : {Layout::Contiguous, Layout::Sliced, Layout::Broadcast}) {
            // repeated and out-of-order indices
            View idx = make_view(it, {8}, li, [&] { return rng.integer(0, (int)xs[dim] - 1); });
            check_index(OpCode::IndexSelect, x, idx, dim, std::string(layout_name(lx)) + " idx " + layout_name(li));
          }
        }
      }
    }
  }
  // 4-D permuted input: inner dims that do not merge
  View p = make_view(DType::F32, {4, 3, 5, 6}, Layout::Contiguous, [&] { return rng.uniform(-1, 1); });
  Shape st = p.desc.strides;
  p.desc = TensorDesc(DType::F32, {3, 6, 4, 5}, {st[1], st[3], st[0], st[2]}, 0);
  p.refresh();
  View idx = make_values(DType::I64, {3}, {2, 0, 2});
  for (int dim : {0, 1}) check_index(OpCode::IndexSelect, p, idx, dim, "permuted");
}

HODU_TEST(gather_matrix) {
  Rng rng(22);
  const Shape xs = {5, 6, 7};
  for (DType t : {DType::F32, DType::F64, DType::BF16, DType::I32, DType::I64, DType::Bool}) {
    auto gen = [&] { return t == DType::Bool ? rng.integer(0, 1) : rng.value(t, -100, 100); };
    for (Layout lx : kAllLayouts) {
      View x = make_view(t, xs, lx, gen);
      for (int dim : {0, 1, 2}) {
        Shape is = {4, 3, 5};  // within x outside dim; any length along dim
        is[dim] = 9;
        for (DType it : {DType::I32, DType::I64}) {
          for (Layout li : {Layout::Contiguous, Layout::Transposed, Layout::Broadcast}) {
            View idx = make_view(it, is, li, [&] { return rng.integer(0, (int)xs[dim] - 1); });
            check_index(OpCode::Gather, x, idx, dim, std::string(layout_name(lx)) + " idx " + layout_name(li));
          }
        }
      }
    }
  }
  // PyTorch's example: gather(t, 1, [[0, 0], [1, 0]]) of [[1, 2], [3, 4]] = [[1, 1], [4, 3]]
  View t = make_values(DType::F32, {2, 2}, {1, 2, 3, 4});
  View i = make_values(DType::I64, {2, 2}, {0, 0, 1, 0});
  check_close(run_op(OpCode::Gather, {1}, {&t, &i}).vals, {1, 1, 4, 3}, 0, 0, "gather example");
  check_close(run_op(OpCode::Gather, {-1}, {&t, &i}).vals, {1, 1, 4, 3}, 0, 0, "gather dim -1");
}

HODU_TEST(index_out_of_range) {
  View x = make_view(DType::F32, {3, 4}, Layout::Contiguous, [] { return 1.0; });
  for (DType it : {DType::I32, DType::I64}) {
    check_bad_index(OpCode::IndexSelect, x, make_values(it, {3}, {0, 3, 1}), 0, 3);
    check_bad_index(OpCode::IndexSelect, x, make_values(it, {2}, {-1, 0}), 1, -1);
    check_bad_index(OpCode::IndexSelect, x, make_values(it, {1}, {4}), 1, 4);
    check_bad_index(OpCode::Gather, x, make_values(it, {2, 2}, {0, 1, 2, 4}), 1, 4);
    check_bad_index(OpCode::Gather, x, make_values(it, {1, 4}, {0, -2, 1, 2}), 0, -2);
  }
  // a huge i64 index
  check_bad_index(OpCode::IndexSelect, x, make_values(DType::I64, {1}, {1e15}), 0, 1000000000000000LL);
  // an empty dim: every index is out of range
  View e = make_view(DType::F32, {0, 4}, Layout::Contiguous, [] { return 0.0; });
  check_bad_index(OpCode::IndexSelect, e, make_values(DType::I32, {1}, {0}), 0, 0);
  // many threads meeting bad indices at once
  Rng rng(23);
  View big = make_view(DType::F32, {600, 600}, Layout::Contiguous, [&] { return rng.uniform(-1, 1); });
  View bad = make_view(DType::I64, {600, 600}, Layout::Contiguous, [&] { return rng.integer(0, 599); });
  bad.set(1234, 600);
  bad.set(300000, 600);
  check_bad_index(OpCode::Gather, big, bad, 1, 600);
  // and no error once they are fixed (the kernel holds no state from the failed run)
  bad.set(1234, 0);
  bad.set(300000, 599);
  check_index(OpCode::Gather, big, bad, 1, "after errors");
}

HODU_TEST(index_large) {
  Rng rng(24);
  View x = make_view(DType::F32, {1000, 512}, Layout::Contiguous, [&] { return rng.uniform(-1, 1); });
  View rows = make_view(DType::I64, {700}, Layout::Contiguous, [&] { return rng.integer(0, 999); });
  check_index(OpCode::IndexSelect, x, rows, 0, "1000x512 rows");
  View cols = make_view(DType::I32, {400}, Layout::Contiguous, [&] { return rng.integer(0, 511); });
  check_index(OpCode::IndexSelect, x, cols, 1, "1000x512 cols");
  View xt = make_view(DType::F64, {800, 600}, Layout::Transposed, [&] { return rng.uniform(-1, 1); });
  View gi = make_view(DType::I64, {800, 500}, Layout::Contiguous, [&] { return rng.integer(0, 599); });
  check_index(OpCode::Gather, xt, gi, 1, "800x600 transposed");
  View gj = make_view(DType::I32, {700, 600}, Layout::Transposed, [&] { return rng.integer(0, 799); });
  check_index(OpCode::Gather, xt, gj, 0, "800x600 transposed, dim 0");
}
