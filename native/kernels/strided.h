// N-d strided iteration for hand-written loops over several operands of the same shape.
// Dims are coalesced where the strides allow, so contiguous operands become one long inner loop;
// the callback gets the inner loop's length, per-operand base pointers and per-operand inner strides
// (in elements), and can specialise on stride 1 / stride 0 to let the compiler vectorise.
#pragma once
#include <array>
#include <cstdint>
#include <vector>

#include "../core/tensor_desc.h"

namespace hodu {

template <int N>
struct StridedLoop {
  Shape shape;                          // coalesced shape (rank >= 1)
  std::array<Shape, N> strides;         // per operand, coalesced
  std::array<int64_t, N> elem_size{};   // bytes per element of each operand

  // operand strides must be given for `shape` (broadcast operands use stride 0).
  StridedLoop(const Shape& s, const std::array<Shape, N>& st, const std::array<int64_t, N>& esz) : elem_size(esz) {
    // Drop size-1 dims, then merge dim i into i+1 when every operand is contiguous across them.
    for (size_t d = 0; d < s.size(); d++) {
      if (s[d] == 1) continue;
      if (!shape.empty()) {
        bool merge = true;
        for (int k = 0; k < N; k++)
          if (strides[k].back() != st[k][d] * s[d]) merge = false;
        if (merge) {
          shape.back() *= s[d];
          for (int k = 0; k < N; k++) strides[k].back() = st[k][d];
          continue;
        }
      }
      shape.push_back(s[d]);
      for (int k = 0; k < N; k++) strides[k].push_back(st[k][d]);
    }
    if (shape.empty()) {
      shape.push_back(1);
      for (int k = 0; k < N; k++) strides[k].push_back(0);
    }
  }

  int64_t inner() const { return shape.back(); }
  int64_t outer() const {
    int64_t n = 1;
    for (size_t d = 0; d + 1 < shape.size(); d++) n *= shape[d];
    return n;
  }

  // f(int64_t n, std::array<char*, N> ptrs, std::array<int64_t, N> inner_strides) for outer rows [begin, end).
  template <class F>
  void run_rows(const std::array<char*, N>& base, int64_t begin, int64_t end, F&& f) const {
    const int r = (int)shape.size() - 1;
    std::array<int64_t, N> inner_st;
    for (int k = 0; k < N; k++) inner_st[k] = strides[k][r];
    std::array<int64_t, kMaxRank> idx{};  // no allocation: run() must not allocate
    // position `begin` in the outer index space
    int64_t rem = begin;
    for (int d = r - 1; d >= 0; d--) {
      idx[d] = rem % shape[d];
      rem /= shape[d];
    }
    for (int64_t row = begin; row < end; row++) {
      std::array<char*, N> p;
      for (int k = 0; k < N; k++) {
        int64_t off = 0;
        for (int d = 0; d < r; d++) off += idx[d] * strides[k][d];
        p[k] = base[k] + off * elem_size[k];
      }
      f(shape[r], p, inner_st);
      for (int d = r - 1; d >= 0; d--) {
        if (++idx[d] < shape[d]) break;
        idx[d] = 0;
      }
    }
  }

  template <class F>
  void run(const std::array<char*, N>& base, F&& f) const {
    run_rows(base, 0, outer(), f);
  }
};

// Strides that broadcast a tensor of shape `in` (with strides `st`) to `out` (right-aligned).
inline Shape broadcast_strides(const Shape& in, const Shape& st, const Shape& out) {
  Shape r(out.size(), 0);
  size_t lead = out.size() - in.size();
  for (size_t i = 0; i < in.size(); i++) r[lead + i] = in[i] == 1 ? 0 : st[i];
  return r;
}

}  // namespace hodu
