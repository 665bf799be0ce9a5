// Shape and dtype inference for every op: the single place that defines what an op accepts and
// what it produces. Eager calls, builder recording (via the binding) and IR validation all use it,
// so an invalid combination is rejected the same way everywhere, with a HoduError naming the value.
#pragma once
#include <vector>

#include "../core/op.h"
#include "../core/tensor_desc.h"

namespace hodu {

struct InferResult {
  TensorDesc out;       // for a view: strides and offset index the first input's storage
  bool is_view = false; // the output aliases input 0 (no kernel runs in eager mode)
};

// Validates the attribute list against the op (count, integrality, ranges) and the inputs
// (count, ranks, shapes, dtypes), and returns the output descriptor.
InferResult infer(OpCode op, const Attrs& attrs, const std::vector<TensorDesc>& inputs);

// Numpy broadcasting of two shapes; SHAPE_MISMATCH names both shapes and the op.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

// Helpers shared with kernels: decoded attributes of some op families.
struct ReduceAttrs {
  bool keepdim = false;
  std::vector<int> dims;  // sorted, unique, in range
};
ReduceAttrs reduce_attrs(OpCode op, const Attrs& attrs, int rank);

struct Conv2dAttrs {
  int64_t stride_h, stride_w, pad_h, pad_w, dil_h, dil_w, groups;
};
Conv2dAttrs conv2d_attrs(const Attrs& attrs);

struct Pool2dAttrs {
  int64_t kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w;
};
Pool2dAttrs pool2d_attrs(OpCode op, const Attrs& attrs);

struct SliceAttrs {
  int dim;
  int64_t start, length, step;  // normalised: 0 <= start, length >= 0, step >= 1
};
SliceAttrs slice_attrs(const Attrs& attrs, const Shape& in_shape);

// Reads attrs[i] as an integer; INVALID_ARGUMENT (naming op and attribute) when missing, NaN or fractional.
int64_t attr_int(const Attrs& attrs, size_t i, const char* op, const char* name);

}  // namespace hodu
