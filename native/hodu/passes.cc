// The analysis passes of Plan::compile (order in plan.h) and the PlanBuilder helpers they share.
#include <cstdlib>
#include <cstring>

#include "../core/checked_size.h"
#include "../kernels/fused.h"
#include "plan_builder.h"

namespace hodu {

void* aligned_bytes(size_t n) {
  size_t sz = (std::max<size_t>(n, 1) + 63) / 64 * 64;
  check_alloc_bytes(sz, "a plan buffer");
  void* p = std::aligned_alloc(64, sz);
  if (!p) fail(ErrorCode::INTERNAL, "out of memory allocating ", n, " bytes");
  return p;
}

TensorDesc no_offset(TensorDesc d) {
  d.offset = 0;
  return d;
}

uint32_t PlanBuilder::own_constant(const void* src, size_t bytes) {
  void* p = aligned_bytes(bytes);
  if (bytes) std::memcpy(p, src, bytes);
  m.constants.push_back(p);
  m.constant_sizes.push_back(bytes);
  stats.constant_bytes += bytes;
  return (uint32_t)(m.constants.size() - 1);
}

uint32_t PlanBuilder::append_copy(uint32_t src, Loc loc, uint32_t index) {
  const TensorDesc from = m.slots[src].desc;  // a copy: m.slots grows below
  Slot dst;
  dst.loc = loc;
  dst.index = index;
  dst.base = (uint32_t)m.slots.size();
  dst.desc = TensorDesc(from.dtype, from.shape);
  m.slots.push_back(dst);
  Step st;
  st.kernel = make_kernel(KernelSpec{OpCode::Copy, {}, {no_offset(from)}, dst.desc, {}});
  st.ins = {src};
  st.out = dst.base;
  st.ptrs.resize(1);
  m.steps.push_back(std::move(st));
  return dst.base;
}

bool PlanBuilder::is_ew(uint32_t i) const {
  const Value& v = g.values[i];
  if (v.kind != ValueKind::Op || !live[i] || !opts.fuse) return false;
  const OpFamily f = op_info(v.op).family;
  if (f != OpFamily::Binary && f != OpFamily::UnarySigned && f != OpFamily::UnaryFloat) return false;
  return fused_elementwise_supports(v.op, v.dtype);
}

bool PlanBuilder::nhwc_ok(uint32_t id) const {
  const Value& v = g.values[id];
  if (!opts.channels_last || v.dtype != DType::F32 || v.shape.size() != 4 || output_of.count(id)) return false;
  return spatial_readers[id] == 1;
}

const void* PlanBuilder::constant_ptr(uint32_t id) const {
  const Slot& src = m.slots[id];
  return src.loc == Loc::Constant ? m.const_addr(src) : nullptr;
}

void PlanBuilder::bind_result(uint32_t id) {
  Slot& s = m.slots[id];
  auto it = output_of.find(id);
  if (it != output_of.end() && alias_input[it->second] < 0) {
    s.loc = Loc::Output;
    s.index = it->second;
    output_bound[it->second] = true;
  } else {
    s.loc = Loc::Arena;
  }
}

std::unique_ptr<Kernel> PlanBuilder::try_nhwc_kernel(KernelSpec spec, uint32_t id, TensorDesc* out_desc) const {
  if (spec.op != OpCode::Conv2d || !nhwc_ok(id)) return nullptr;
  const Shape& sh = spec.output.shape;  // [N, C, H, W]
  spec.output.strides = {sh[1] * sh[2] * sh[3], 1, sh[3] * sh[1], sh[1]};
  std::unique_ptr<Kernel> k = try_make_kernel(spec);
  if (!k || !k->writes_strided_output() || (!spec.post_ops.empty() && !k->fused_post_ops())) return nullptr;
  *out_desc = spec.output;
  return k;
}

// Dead-code elimination: keep what the outputs need.
void eliminate_dead_code(PlanBuilder& b) {
  b.live.assign(b.n, false);
  for (const Output& o : b.g.outputs) b.live[o.value] = true;
  for (size_t i = b.n; i-- > 0;)
    if (b.live[i])
      for (uint32_t id : b.g.values[i].inputs) b.live[id] = true;
  for (uint32_t j = 0; j < b.g.outputs.size(); j++) b.output_of.emplace(b.g.outputs[j].value, j);
  b.output_bound.assign(b.g.outputs.size(), false);
}

// Inputs and live constants get their memory first: they have no dependencies, and a fused
// epilogue may read one that was recorded after the op it is fused into.
void bind_inputs_and_constants(PlanBuilder& b) {
  uint32_t input_index = 0;
  for (uint32_t i = 0; i < b.n; i++) {
    const Value& v = b.g.values[i];
    Slot& s = b.m.slots[i];
    if (v.kind == ValueKind::Input) {
      s.loc = Loc::Input;
      s.index = input_index++;
    } else if (v.kind == ValueKind::Constant && b.live[i]) {
      s.loc = Loc::Constant;
      s.index = b.own_constant(b.constants[v.constant].data, b.constants[v.constant].bytes);
    } else {
      continue;
    }
    s.base = i;
    s.desc = TensorDesc(v.dtype, v.shape);
  }
}

// Who reads each value (live ops and outputs), for fusion decisions; an output is never fused away.
void count_readers(PlanBuilder& b) {
  b.readers.assign(b.n, 0);
  b.only_reader.assign(b.n, 0);
  for (uint32_t i = 0; i < b.n; i++)
    if (b.live[i])
      for (uint32_t id : b.g.values[i].inputs) {
        b.readers[id]++;
        b.only_reader[id] = i;
      }
  for (const Output& o : b.g.outputs) b.readers[o.value] += 2;
  b.absorbed.assign(b.n, false);
}

// Elementwise groups: an elementwise op whose only reader is an elementwise op of the same shape
// and dtype is computed inside that reader's fused program ("inner"); constant sub-graphs are left
// to folding. The group's root (an elementwise op that is not inner) becomes one kernel (lower.cc).
void mark_elementwise_groups(PlanBuilder& b) {
  std::vector<bool> const_like(b.n, false);
  for (uint32_t i = 0; i < b.n; i++) {
    const Value& v = b.g.values[i];
    if (v.kind == ValueKind::Constant) const_like[i] = true;
    if (v.kind != ValueKind::Op) continue;
    bool all = b.opts.fold_constants;
    for (uint32_t id : v.inputs) all = all && const_like[id];
    const_like[i] = all;
  }
  b.ew_inner.assign(b.n, false);
  for (uint32_t i = 0; i < b.n; i++) {
    const uint32_t r = b.only_reader[i];
    if (b.is_ew(i) && !const_like[i] && b.readers[i] == 1 && b.is_ew(r) && b.g.values[r].shape == b.g.values[i].shape &&
        b.g.values[r].dtype == b.g.values[i].dtype)
      b.ew_inner[i] = true;
  }
}

// Channels-last intermediates: a 4-D f32 value that only convs and pools read (as their input x)
// may be kept in nhwc order, when the kernel making it can write that (writes_strided_output()).
// oneDNN's convs run on nhwc (brgconv) or blocked layouts, so an nchw value between two convs
// costs a reorder on each side; in nhwc the next conv or pool reads it in place.
void mark_channels_last(PlanBuilder& b) {
  b.spatial_readers.assign(b.n, 0);
  for (uint32_t j = 0; j < b.n; j++) {
    const Value& r = b.g.values[j];
    if (!b.live[j]) continue;
    for (size_t k = 0; k < r.inputs.size(); k++) {
      const bool reads_x = (r.kind == ValueKind::Op && k == 0 &&
                            (r.op == OpCode::Conv2d || r.op == OpCode::MaxPool2d || r.op == OpCode::AvgPool2d)) ||
                           conv_residual_operand(b, j, k);  // fuse_conv.cc
      b.spatial_readers[r.inputs[k]] |= reads_x ? 1 : 2;
    }
  }
}

}  // namespace hodu
