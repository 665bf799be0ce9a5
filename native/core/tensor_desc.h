// A tensor's metadata: dtype, shape, strides (in elements) and offset (in elements) into its storage.
// Kernels read strided inputs and always write contiguous row-major outputs.
#pragma once
#include <cstdint>
#include <vector>

#include "checked_size.h"
#include "dtype.h"
#include "error.h"

namespace hodu {

using Shape = std::vector<int64_t>;

// Upper bounds that keep every size computation far from int64 overflow.
constexpr int kMaxRank = 16;

inline int64_t numel(const Shape& s) { return sat_numel(s); }

inline Shape contiguous_strides(const Shape& s) {
  Shape st(s.size());
  int64_t acc = 1;
  for (size_t i = s.size(); i-- > 0;) {
    st[i] = acc;
    acc = sat_mul(acc, s[i] > 0 ? s[i] : 1);
  }
  return st;
}

struct TensorDesc {
  DType dtype = DType::F32;
  Shape shape;
  Shape strides;  // empty means contiguous
  int64_t offset = 0;

  TensorDesc() = default;
  TensorDesc(DType t, Shape s) : dtype(t), shape(std::move(s)), strides(contiguous_strides(shape)) {}
  TensorDesc(DType t, Shape s, Shape st, int64_t off)
      : dtype(t), shape(std::move(s)), strides(std::move(st)), offset(off) {
    if (strides.empty()) strides = contiguous_strides(shape);
  }

  int ndim() const { return (int)shape.size(); }
  int64_t numel() const { return hodu::numel(shape); }
  size_t nbytes() const { return sat_bytes(numel(), dtype_size(dtype)); }

  // True when the elements are laid out row-major with no gaps (size-1 dims may have any stride).
  bool is_contiguous() const {
    int64_t acc = 1;
    for (size_t i = shape.size(); i-- > 0;) {
      if (shape[i] == 1) continue;
      if (strides[i] != acc) return false;
      acc *= shape[i];
    }
    return true;
  }
};

// Validates a user-provided shape: rank <= kMaxRank, dims >= 0, element count bounded.
inline void check_shape(const Shape& s, const char* what) {
  if ((int)s.size() > kMaxRank) fail(ErrorCode::INVALID_ARGUMENT, what, ": rank ", s.size(), " exceeds the maximum of ", kMaxRank);
  for (auto d : s)
    if (d < 0) fail(ErrorCode::INVALID_ARGUMENT, what, ": negative dimension ", d, " in shape ", fmt_list(s));
  // Every dim counts, also next to a 0 (an empty [2^40, 0] may not become [2^40, 2^40] by broadcasting).
  if (sat_extent(s) > kMaxElements)
    fail(ErrorCode::INVALID_ARGUMENT, what, ": shape ", fmt_list(s), " has too many elements (the product of its non-zero dims exceeds 2^40)");
}

// Normalises a possibly negative dim against `rank`; INVALID_ARGUMENT names the op and the range.
inline int norm_dim(int64_t d, int rank, const char* op) {
  if (d < -rank || d >= rank) {
    if (rank == 0) fail(ErrorCode::INVALID_ARGUMENT, op, ": dim ", d, " is out of range for a tensor of rank 0");
    fail(ErrorCode::INVALID_ARGUMENT, op, ": dim ", d, " is out of range for a tensor of rank ", rank, " (expected ", -rank,
         "..", rank - 1, ")");
  }
  return (int)(d < 0 ? d + rank : d);
}

}  // namespace hodu
