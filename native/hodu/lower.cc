// Plan::compile's lowering pass: every live value, in graph order, becomes an alias (views), a
// constant (folding), part of another kernel (post-op chains, elementwise groups) or a step.
#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "../kernels/fused.h"
#include "../ops/infer.h"
#include "fuse_transformer.h"
#include "plan_builder.h"

namespace hodu {

namespace {

// A rolled loop: one step running its body; strided inputs are first copied into contiguous blocks
// (the body reads its inputs as contiguous arrays), once per run.
void lower_loop(PlanBuilder& b, uint32_t i) {
  const Value& v = b.g.values[i];
  if (v.index >= b.g.loops.size() || !b.g.loops[v.index]) fail(ErrorCode::INTERNAL, "plan: loop ", v.index, " is missing");
  auto k = std::make_unique<LoopKernel>(*b.g.loops[v.index], b.constants, b.opts);
  b.loop_kernels[i] = k.get();
  Slot& s = b.m.slots[i];
  s.loc = Loc::Fixed;
  s.ptr = (char*)k->result(0);
  s.base = i;
  s.desc = TensorDesc(DType::U8, {0});
  b.stats.loops.push_back({k->trips(), k->body().stats().steps});
  std::vector<uint32_t> ins = v.inputs;
  for (uint32_t& id : ins)
    if (!b.m.slots[id].desc.is_contiguous()) id = b.append_copy(id, Loc::Arena);
  Step st;
  st.kernel = std::move(k);
  st.ins = ins;
  st.out = i;
  st.ptrs.resize(ins.size());
  b.m.steps.push_back(std::move(st));
}

void lower_loop_result(PlanBuilder& b, uint32_t i) {
  const Value& v = b.g.values[i];
  LoopKernel* k = b.loop_kernels.at(v.inputs.at(0));
  Slot& s = b.m.slots[i];
  s.loc = Loc::Fixed;
  s.ptr = (char*)k->result(v.index);
  s.base = i;
  s.desc = TensorDesc(v.dtype, v.shape);
}

// Constant folding: an op on constants only (and not an output) is evaluated now.
bool fold_constant(PlanBuilder& b, uint32_t i, const KernelSpec& spec) {
  const Value& v = b.g.values[i];
  const TensorDesc& out = spec.output;
  size_t bytes = out.nbytes();
  void* tmp = aligned_bytes(bytes);
  try {
    if (out.numel() > 0) {
      auto k = make_kernel(spec);
      std::vector<const void*> ptrs;
      for (uint32_t id : v.inputs) ptrs.push_back(b.m.const_addr(b.m.slots[id]));
      run_once(*k, ptrs.data(), tmp);
    }
  } catch (...) {
    std::free(tmp);
    throw;
  }
  b.m.constants.push_back(tmp);
  b.m.constant_sizes.push_back(bytes);
  b.stats.constant_bytes += bytes;
  Slot& s = b.m.slots[i];
  s.loc = Loc::Constant;
  s.index = (uint32_t)(b.m.constants.size() - 1);
  s.base = i;
  s.desc = out;
  b.stats.folded++;
  return true;
}

// Post-op fusion: matmul / conv2d followed by a bias add and activations become one kernel with
// oneDNN post-ops, when every intermediate has this chain as its only reader. False: not fused.
bool fuse_post_ops(PlanBuilder& b, uint32_t i, const KernelSpec& spec) {
  const Value& v = b.g.values[i];
  if (!b.opts.fuse || (v.op != OpCode::Matmul && v.op != OpCode::Conv2d) || spec.output.dtype != DType::F32) return false;
  KernelSpec fused = spec;
  std::vector<uint32_t> chain, ins = v.inputs;
  uint32_t tail = i;
  for (;;) {
    if (v.op == OpCode::Conv2d) {  // hard-swish / hard-sigmoid patterns (fuse_conv.cc)
      PostOp p{OpCode::Clamp, {}, -1};
      std::vector<uint32_t> ops;
      if (match_conv_epilogue(b, tail, spec.output.shape, &p, &ops, &tail)) {
        fused.post_ops.push_back(p);
        chain.insert(chain.end(), ops.begin(), ops.end());
        continue;
      }
    }
    if (b.readers[tail] != 1) break;
    uint32_t c = b.only_reader[tail];
    const Value& cv = b.g.values[c];
    if (cv.dtype != DType::F32 || cv.shape != spec.output.shape) break;
    const OpFamily fam = op_info(cv.op).family;
    if (cv.op == OpCode::Add) {
      uint32_t other = cv.inputs[0] == tail ? cv.inputs[1] : cv.inputs[0];
      if (other == tail || b.m.slots[other].loc == Loc::None || b.m.slots[other].loc == Loc::Output) break;
      fused.inputs.push_back(no_offset(b.m.slots[other].desc));
      fused.constant_data.push_back(b.constant_ptr(other));
      fused.post_ops.push_back({cv.op, cv.attrs, (int)fused.inputs.size() - 1});
      ins.push_back(other);
    } else if (fam == OpFamily::UnarySigned || fam == OpFamily::UnaryFloat) {
      fused.post_ops.push_back({cv.op, cv.attrs, -1});
    } else if (PostOp po; v.op == OpCode::Matmul && matmul_scale_post_op(b, tail, c, &po)) {
      fused.post_ops.push_back(po);  // attention scores' scale (fuse_transformer.cc)
    } else {
      break;
    }
    chain.push_back(c);
    tail = c;
  }
  // the longest prefix of the chain a kernel takes (oneDNN may refuse a post-op, e.g. a binary
  // operand broadcast it has no jit kernel for): the rest runs as kernels of its own
  std::unique_ptr<Kernel> k;
  while (!chain.empty()) {
    fused.output = TensorDesc(b.g.values[tail].dtype, b.g.values[tail].shape);
    k = b.try_nhwc_kernel(fused, tail, &fused.output);
    if (!k) k = try_make_kernel(fused);
    if (k) break;
    if (fused.post_ops.back().operand >= 0) {  // its operand was appended last
      fused.inputs.pop_back();
      fused.constant_data.pop_back();
      ins.pop_back();
    }
    fused.post_ops.pop_back();
    chain.pop_back();
    tail = chain.empty() ? i : chain.back();
  }
  if (chain.empty()) return false;
  for (uint32_t c : chain) b.absorbed[c] = true;
  // the chain's result lives where the tail would have
  Slot& ts = b.m.slots[tail];
  ts.base = tail;
  ts.desc = fused.output;
  b.bind_result(tail);
  b.m.slots[i].loc = Loc::None;  // the op's own result is never materialised
  Step st;
  st.kernel = std::move(k);
  st.ins = ins;
  st.out = tail;
  st.ptrs.resize(ins.size());
  b.stats.fused += chain.size();
  b.m.steps.push_back(std::move(st));
  return true;
}

// The inner ops of the elementwise group rooted at i, in evaluation order (post-order of the tree).
std::vector<uint32_t> group_order(const PlanBuilder& b, uint32_t i) {
  std::vector<uint32_t> order;
  std::vector<std::pair<uint32_t, size_t>> stack{{i, 0}};
  while (!stack.empty()) {
    auto& [x, k] = stack.back();
    const Value& xv = b.g.values[x];
    if (k < xv.inputs.size()) {
      uint32_t id = xv.inputs[k++];
      if (b.ew_inner[id] && b.m.slots[id].loc == Loc::None && !b.absorbed[id]) stack.push_back({id, 0});
    } else {
      order.push_back(x);
      stack.pop_back();
    }
  }
  return order;
}

// An elementwise group root: one fused pass over its inner ops. False: a group of one (no fusion).
bool fuse_elementwise_group(PlanBuilder& b, uint32_t i, const TensorDesc& out) {
  if (!b.is_ew(i)) return false;
  const std::vector<uint32_t> order = group_order(b, i);
  if (order.size() <= 1) return false;
  std::vector<uint32_t> leaves;
  std::unordered_map<uint32_t, int> reg_of;  // sized by the group, not the graph (linear compile time)
  const std::unordered_set<uint32_t> inner_ids(order.begin(), order.end());
  FusedProgram prog;
  auto reg = [&](uint32_t id) -> int {
    auto it = reg_of.find(id);
    if (inner_ids.count(id)) return it == reg_of.end() ? -1 : it->second;
    if (it == reg_of.end()) {
      it = reg_of.emplace(id, (int)leaves.size()).first;
      leaves.push_back(id);
      prog.inputs.push_back(no_offset(b.m.slots[id].desc));
    }
    return it->second;
  };
  // leaves first (registers 0..L-1), then one register per instruction
  for (uint32_t x : order)
    for (uint32_t id : b.g.values[x].inputs) reg(id);
  int next = (int)leaves.size();
  for (uint32_t x : order) {
    const Value& xv = b.g.values[x];
    prog.instrs.push_back(FusedInstr{xv.op, xv.attrs, reg(xv.inputs[0]), xv.inputs.size() > 1 ? reg(xv.inputs[1]) : -1});
    reg_of[x] = next++;
  }
  prog.output = out;
  std::unique_ptr<Kernel> k = make_fused_elementwise(prog);
  if (!k) fail(ErrorCode::INTERNAL, "plan: the fused elementwise kernel declined a program it declared supported");
  Step st;
  st.kernel = std::move(k);
  st.ins = leaves;
  st.out = i;
  st.ptrs.resize(leaves.size());
  b.stats.fused += order.size() - 1;
  b.m.steps.push_back(std::move(st));
  return true;
}

// One op: a view aliases its input's memory; otherwise fold, fuse, or make its kernel.
void lower_op(PlanBuilder& b, uint32_t i) {
  const Value& v = b.g.values[i];
  Slot& s = b.m.slots[i];
  std::vector<TensorDesc> in_descs;
  bool all_const = true;
  for (uint32_t id : v.inputs) {
    in_descs.push_back(b.m.slots[id].desc);
    all_const = all_const && b.m.slots[id].loc == Loc::Constant;
  }
  InferResult r = infer(v.op, v.attrs, in_descs);
  if (r.is_view) {
    s = b.m.slots[v.inputs[0]];
    s.desc = r.out;
    b.stats.views++;
    return;
  }
  KernelSpec spec{v.op, v.attrs, {}, r.out};
  for (auto& d : in_descs) spec.inputs.push_back(no_offset(d));
  if (b.opts.fold_constants && all_const && b.output_of.count(i) == 0 && fold_constant(b, i, spec)) return;
  s.base = i;
  s.desc = r.out;
  for (uint32_t id : v.inputs) spec.constant_data.push_back(b.constant_ptr(id));
  b.bind_result(i);
  if (r.out.numel() == 0) return;  // nothing to compute
  if (fuse_post_ops(b, i, spec) || fuse_elementwise_group(b, i, r.out)) return;
  Step st;
  st.ins = v.inputs;
  st.out = i;
  st.kernel = s.loc == Loc::Arena ? b.try_nhwc_kernel(spec, i, &s.desc) : nullptr;
  if (!st.kernel) st.kernel = make_kernel(spec);
  st.ptrs.resize(v.inputs.size());
  b.m.steps.push_back(std::move(st));
}

}  // namespace

void lower_values(PlanBuilder& b) {
  for (uint32_t i = 0; i < b.n; i++) {
    const Value& v = b.g.values[i];
    if (!b.live[i]) continue;
    if (v.kind == ValueKind::Loop) {
      lower_loop(b, i);
    } else if (v.kind == ValueKind::LoopResult) {
      lower_loop_result(b, i);
    } else if (v.kind == ValueKind::Op && !b.absorbed[i]) {
      if (b.ew_inner[i]) {  // computed inside its reader's fused program; the root's infer() reads its shape
        b.m.slots[i].desc = TensorDesc(v.dtype, v.shape);
        continue;
      }
      lower_op(b, i);
    }
  }
}

}  // namespace hodu
