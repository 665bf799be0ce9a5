// Dense test views shared by the matmul and conv/pool kernel tests: typed element access, strided
// views over owned memory (contiguous, permuted, sliced, broadcast) and a one-call kernel runner.
// Included inside an anonymous namespace with `using namespace hodu;` in effect.
#pragma once

double read_elem(DType t, const void* base, int64_t i) {
  return dispatch_dtype(t, [&](auto tag) -> double {
    using T = decltype(tag);
    return (double)load(((const T*)base)[i]);
  });
}

void write_elem(DType t, void* base, int64_t i, double v) {
  dispatch_dtype(t, [&](auto tag) {
    using T = decltype(tag);
    ((T*)base)[i] = store<T>(convert_value<compute_t<T>>(v));
  });
}

// A strided input view over its own storage, with its logical values (row-major) as doubles.
//   perm:  storage order of the logical dims (perm[i] = logical dim stored at position i), so
//          perm {1, 0} of a 2-D shape is a transposed view;
//   step:  the innermost storage dim is sliced with this step (a gap between elements);
//   bcast: logical dims given stride 0 (a broadcast view: every index reads the same element).
struct View {
  TensorDesc desc;
  std::vector<uint64_t> storage;
  int64_t first = 0;
  std::vector<double> vals;
  const void* ptr() const { return (const char*)storage.data() + first * (int64_t)dtype_size(desc.dtype); }
};

View make_view(DType t, const Shape& shape, uint32_t seed, std::vector<int> perm = {}, int64_t step = 1,
               std::vector<int> bcast = {}) {
  const int r = (int)shape.size();
  if (perm.empty())
    for (int i = 0; i < r; i++) perm.push_back(i);
  std::vector<bool> is_bc(r, false);
  for (int d : bcast) is_bc[d] = true;
  // storage dims in storage order (broadcast dims stored once)
  Shape sdims(r);
  for (int i = 0; i < r; i++) sdims[i] = is_bc[perm[i]] ? 1 : shape[perm[i]];
  if (r > 0) sdims[r - 1] *= step;
  Shape sst = contiguous_strides(sdims);
  View v;
  v.desc = TensorDesc(t, shape);
  for (int i = 0; i < r; i++) v.desc.strides[perm[i]] = is_bc[perm[i]] ? 0 : sst[i] * (i == r - 1 ? step : 1);
  v.first = step > 1 ? 1 : 0;  // sliced views also start one element into their storage
  const int64_t n_storage = numel(sdims) + v.first + 1;
  v.storage.assign((size_t)((n_storage * (int64_t)dtype_size(t) + 7) / 8 + 1), 0);
  std::mt19937 rng(seed);
  const bool integral = !is_float(t);
  char* base = (char*)v.storage.data();
  for (int64_t i = 0; i < n_storage; i++) {
    double x = integral ? (double)((int)(rng() % 7) - 3) : std::uniform_real_distribution<double>(-1, 1)(rng);
    write_elem(t, base, i, x);
  }
  const int64_t n = v.desc.numel();
  v.vals.resize(n);
  for (int64_t i = 0; i < n; i++) {
    int64_t off = 0, rem = i;
    for (int d = r - 1; d >= 0; d--) {
      off += (rem % shape[d]) * v.desc.strides[d];
      rem /= shape[d];
    }
    v.vals[i] = read_elem(t, v.ptr(), off);
  }
  return v;
}

struct Result {
  TensorDesc out;
  std::vector<double> vals;
  std::string impl;
};

// Makes the kernel through the registry, runs it once and reads the output back, checking that
// nothing is written past the output's end.
Result run_op(OpCode op, const Attrs& attrs, const std::vector<const View*>& ins) {
  KernelSpec spec;
  spec.op = op;
  spec.attrs = attrs;
  std::vector<const void*> ptrs;
  for (const View* v : ins) {
    spec.inputs.push_back(v->desc);
    ptrs.push_back(v->ptr());
  }
  spec.output = infer(op, attrs, spec.inputs).out;
  auto k = make_kernel(spec);
  Result r;
  r.out = spec.output;
  r.impl = k->impl();
  const size_t nb = spec.output.nbytes();
  std::vector<unsigned char> mem(nb + 64, 0xA5);
  run_once(*k, ptrs.data(), mem.data());
  for (size_t i = nb; i < mem.size(); i++)
    if (mem[i] != 0xA5) {
      std::printf("  %s wrote past the end of its output\n", r.impl.c_str());
      hodu_test::g_failures++;
      break;
    }
  r.vals.resize(spec.output.numel());
  for (int64_t i = 0; i < spec.output.numel(); i++) r.vals[i] = read_elem(spec.output.dtype, mem.data(), i);
  return r;
