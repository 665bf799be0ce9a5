// Conv epilogue patterns that become one oneDNN eltwise post-op (called from fuse_post_ops in
// lower.cc, before its generic bias/activation step):
//
//   hard-swish    x · s·clamp(a·x + b, 0, hi) · s2   with s·s2·hi = 1  -> eltwise_hardswish(a/hi, b/hi)
//                 (ONNX's x·clip(x+3, 0, 6)/6 of MobileNetV3 / PP-OCR, and HardSwish as
//                 x·clamp(x/6 + 0.5, 0, 1)); x is read twice (the gate and the product).
//
// Not hard-sigmoid (s·clamp(a·x + b, 0, hi)): oneDNN's eltwise_hardsigmoid maps NaN to a bound
// (hodu's clamp keeps NaN, README's NaN rule), and no chain of NaN-keeping post-ops builds a clamp
// (the relu post-op with alpha 0 maps NaN to 0 as well). Its mul/add/clamp run as one fused
// elementwise kernel instead; in MobileNetV3 they act on [N, C, 1, 1] gates, so that is cheap.
//
// a·x + b is any run of single-reader adds, subs, muls and divs by a scalar f32 constant; s and s2
// are runs of muls / divs by one. Every intermediate must have exactly the readers the pattern
// names (no output, no other reader), so nothing computed here is needed elsewhere.
//
// NaN: hodu's clamp passes NaN through, and oneDNN's hardswish gives NaN for NaN too (x · gate);
// on every other input it agrees with the composed ops up to float rounding (≤ a few ulp).
#include <cmath>

#include "plan_builder.h"

namespace hodu {

namespace {

// The f32 scalar constant `id` holds (a one-element constant of any rank ≤ 4).
bool scalar_constant(const PlanBuilder& b, uint32_t id, double* v) {
  const Slot& s = b.m.slots[id];
  if (s.loc != Loc::Constant || s.desc.dtype != DType::F32 || s.desc.numel() != 1 || s.desc.ndim() > 4) return false;
  *v = (double)*(const float*)b.m.const_addr(s);
  return true;
}

// Value `c` is a binary op of `x` and a scalar constant: returns the op, the constant, and
// whether x is the first operand.
bool binary_with_scalar(const PlanBuilder& b, uint32_t c, uint32_t x, OpCode* op, double* k, bool* x_first) {
  const Value& v = b.g.values[c];
  if (v.kind != ValueKind::Op || v.inputs.size() != 2 || op_info(v.op).family != OpFamily::Binary) return false;
  if (v.inputs[0] == x && v.inputs[1] != x && scalar_constant(b, v.inputs[1], k)) *x_first = true;
  else if (v.inputs[1] == x && v.inputs[0] != x && scalar_constant(b, v.inputs[0], k)) *x_first = false;
  else return false;
  *op = v.op;
  return true;
}

// A value of the conv's output shape and dtype, live, read exactly once and not an output.
bool single_use(const PlanBuilder& b, uint32_t id, const Shape& shape) {
  const Value& v = b.g.values[id];
  return b.live[id] && v.dtype == DType::F32 && v.shape == shape && b.readers[id] == 1;
}

struct Walk {
  uint32_t at;
  std::vector<uint32_t> ops;  // values passed, in order
};

// From `w.at`, follows single readers that are f32 ops of the same shape applying y = a·y + b with
// a scalar constant (add, sub with y first, mul, div with y first), while `affine` allows adds.
void walk_affine(const PlanBuilder& b, Walk& w, const Shape& shape, double* a, double* c, bool adds) {
  while (b.readers[w.at] == 1) {
    const uint32_t r = b.only_reader[w.at];
    const Value& rv = b.g.values[r];
    if (!b.live[r] || rv.dtype != DType::F32 || rv.shape != shape) return;
    OpCode op;
    double k;
    bool first;
    if (!binary_with_scalar(b, r, w.at, &op, &k, &first)) return;
    if (op == OpCode::Mul) {
      *a *= k, *c *= k;
    } else if (op == OpCode::Div && first && k != 0) {
      *a /= k, *c /= k;
    } else if (adds && op == OpCode::Add) {
      *c += k;
    } else if (adds && op == OpCode::Sub && first) {
      *c -= k;
    } else {
      return;
    }
    w.ops.push_back(r);
    w.at = r;
  }
}

}  // namespace

bool conv_residual_operand(const PlanBuilder& b, uint32_t add, size_t k) {
  const Value& a = b.g.values[add];
  if (!b.opts.fuse || a.kind != ValueKind::Op || a.op != OpCode::Add || a.inputs.size() != 2 || k > 1 || a.dtype != DType::F32)
    return false;
  const uint32_t x = a.inputs[k], other = a.inputs[1 - k];
  if (x == other) return false;
  const Value& o = b.g.values[other];
  const Value& xv = b.g.values[x];
  return o.kind == ValueKind::Op && o.op == OpCode::Conv2d && o.dtype == DType::F32 && b.readers[other] == 1 &&
         o.shape == a.shape && xv.shape == a.shape && xv.dtype == DType::F32;
}

bool match_conv_epilogue(const PlanBuilder& b, uint32_t tail, const Shape& shape, PostOp* post, std::vector<uint32_t>* absorbed,
                         uint32_t* new_tail) {
  if (!b.opts.fuse || b.g.values[tail].dtype != DType::F32) return false;
  if (b.readers[tail] != 2) return false;  // hard-swish: the gate and the product read x
  // the two readers of tail
  uint32_t rs[2], nr = 0;
  for (uint32_t j = tail + 1; j < b.n && nr < 2; j++) {
    if (!b.live[j]) continue;
    for (uint32_t id : b.g.values[j].inputs)
      if (id == tail) {
        if (nr < 2) rs[nr] = j;
        nr++;
        break;
      }
  }
  if (nr != 2) return false;  // one reader reads x twice (x·x): not this pattern
  for (int pick = 0; pick < 2; pick++) {
    const uint32_t prod = rs[1 - pick];  // the product x · gate (the later reader of the two)
    const Value& pv = b.g.values[prod];
    if (pv.kind != ValueKind::Op || pv.op != OpCode::Mul || pv.inputs.size() != 2 || pv.dtype != DType::F32 || pv.shape != shape)
      continue;
    // the gate: tail -> g0 -> ... -> clamp -> ..., with prod = tail · gate
    Walk w{tail, {}};
    double a = 1, c = 0;
    // the first step of the gate is rs[pick] (tail has two readers, so walk_affine cannot start there)
    OpCode op;
    double k;
    bool first;
    const uint32_t g0 = rs[pick];
    if (!binary_with_scalar(b, g0, tail, &op, &k, &first) || !single_use(b, g0, shape)) continue;
    if (op == OpCode::Mul) a *= k, c *= k;
    else if (op == OpCode::Div && first && k != 0) a /= k, c /= k;
    else if (op == OpCode::Add) c += k;
    else if (op == OpCode::Sub && first) c -= k;
    else continue;
    w.ops.push_back(g0);
    w.at = g0;
    walk_affine(b, w, shape, &a, &c, true);
    if (b.readers[w.at] != 1) continue;
    const uint32_t cl = b.only_reader[w.at];
    const Value& cv = b.g.values[cl];
    if (!b.live[cl] || cv.kind != ValueKind::Op || cv.op != OpCode::Clamp || cv.dtype != DType::F32 || cv.shape != shape ||
        cv.attrs.size() != 2 || cv.attrs[0] != 0.0 || !(cv.attrs[1] > 0) || !std::isfinite(cv.attrs[1]))
      continue;
    const double hi = cv.attrs[1];
    w.ops.push_back(cl);
    w.at = cl;
    double s = 1, zero = 0;
    walk_affine(b, w, shape, &s, &zero, false);
    if (b.readers[w.at] != 1 || b.only_reader[w.at] != prod) continue;
    const uint32_t other = pv.inputs[0] == tail ? pv.inputs[1] : pv.inputs[0];
    if (other != w.at || pv.inputs[0] == pv.inputs[1]) continue;
    w.ops.push_back(prod);
    w.at = prod;
    if (b.readers[prod] == 1) walk_affine(b, w, shape, &s, &zero, false);
    if (std::fabs(s * hi - 1) > 1e-6) continue;
    *post = PostOp{OpCode::Clamp, {a / hi, c / hi}, -1};
    post->pattern = PostPattern::HardSwish;
    *absorbed = w.ops;
    *new_tail = w.at;
    return true;
  }
  return false;
}

}  // namespace hodu
