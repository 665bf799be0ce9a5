// Transformer epilogue fusions (see fuse_transformer.h).
#include "fuse_transformer.h"

#include <cmath>

namespace hodu {

namespace {

// The value of a constant with one element (or a broadcast / reshape of one: `x.div(4)` records a
// broadcast of a scalar), as a double; false otherwise.
bool scalar_constant(const PlanBuilder& b, uint32_t id, double* out) {
  // through broadcast / reshape views (recorded after the matmul, they are not lowered yet)
  for (int hops = 0; hops < 8; hops++) {
    const Value& v = b.g.values[id];
    if (v.kind != ValueKind::Op || (v.op != OpCode::BroadcastTo && v.op != OpCode::Reshape) || v.inputs.size() != 1) break;
    id = v.inputs[0];
  }
  const Slot& s = b.m.slots[id];
  if (s.loc != Loc::Constant) return false;
  for (int d = 0; d < s.desc.ndim(); d++)
    if (s.desc.shape[d] != 1 && s.desc.strides[d] != 0) return false;
  const void* p = b.constant_ptr(id);
  if (!p) return false;
  switch (s.desc.dtype) {
    case DType::F32: *out = *(const float*)p; return true;
    case DType::F64: *out = *(const double*)p; return true;
    default: return false;
  }
}

}  // namespace

bool matmul_scale_post_op(const PlanBuilder& b, uint32_t tail, uint32_t c, PostOp* po) {
  const Value& cv = b.g.values[c];
  if (cv.op != OpCode::Mul && cv.op != OpCode::Div) return false;
  const uint32_t x = cv.inputs[0], y = cv.inputs[1];
  double k;
  if (cv.op == OpCode::Mul) {
    if (x == y) return false;
    const uint32_t other = x == tail ? y : x;
    if (!scalar_constant(b, other, &k)) return false;
  } else {
    // tail / k only (k / tail is not linear)
    if (x != tail || y == tail || !scalar_constant(b, y, &k) || k == 0) return false;
    k = 1.0 / k;
  }
  if (!std::isfinite(k)) return false;
  *po = PostOp{OpCode::Mul, {k}, -1};
  return true;
}

}  // namespace hodu
