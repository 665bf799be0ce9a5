// Script variables updated in place (SPEC §5): the output `@var:x` of a script that also reads
// input `@var:x` is the variable's new value, and the plan writes it into input x's memory (the
// variable tensor's own memory, which the run binds as that input), so a run allocates no output
// for it and nothing copies it afterwards. Plan::compile runs these passes (order in plan.h):
//
//   pair_variable_outputs     which output updates which input (same name, dtype and shape);
//                             bind_result then computes such a value in the arena, not in
//                             output memory (passes.cc)
//   write_variables_in_place  after lowering: the step that computes the new value writes it
//                             straight into the input's memory when that is safe, i.e. no step
//                             after it reads the old value (through the input or any view of it)
//                             and, if the step itself reads the old value, its kernel reads each
//                             element before writing it (Kernel::may_write_over_input) at the
//                             same layout. The value's slot (and its views') move to the input.
//   copy_variable_outputs     after the output copies: every other pair (the new value is a loop
//                             state, a view, a constant, read after its step, ...) is copied into
//                             the input's memory by the plan's last steps; a new value that lives
//                             in input memory is first copied aside, so one variable's copy never
//                             reads another's already-updated memory (w1 <- w2, w2 <- w1).
//
// The last steps run after every reader of the inputs, so both ways give what the run would give
// with separate outputs. PlanStats counts variables_in_place (no copy at all) and
// variables_copied (the fallback).
#include "plan_builder.h"

namespace hodu {

namespace {

constexpr const char kVarPrefix[] = "@var:";

bool row_major(const TensorDesc& d) { return d.offset == 0 && d.is_contiguous(); }

bool same_layout(const TensorDesc& a, const TensorDesc& b) {
  return a.dtype == b.dtype && a.shape == b.shape && row_major(a) && row_major(b);
}

// The step that writes value `vid`, or -1 (none, or more than one).
int64_t writer_of(const PlanBuilder& b, uint32_t vid) {
  int64_t found = -1;
  for (size_t t = 0; t < b.m.steps.size(); t++)
    if (b.m.steps[t].out == vid) {
      if (found >= 0) return -1;
      found = (int64_t)t;
    }
  return found;
}

// Whether the step writing `vid` (step tw) may write into input xid's memory.
bool safe_over_input(const PlanBuilder& b, uint32_t xid, uint32_t vid, int64_t tw) {
  const TensorDesc& out = b.m.slots[vid].desc;
  for (size_t t = 0; t < b.m.steps.size(); t++) {
    const Step& st = b.m.steps[t];
    for (size_t k = 0; k < st.ins.size(); k++) {
      const Slot& s = b.m.slots[st.ins[k]];
      if (s.base != xid) continue;  // not the old value (or a view of it)
      if ((int64_t)t < tw) continue;
      if ((int64_t)t > tw) return false;
      if (!same_layout(s.desc, out) || !st.kernel->may_write_over_input(k)) return false;
    }
  }
  // any output reading the old value is copied after every step
  for (const Output& o : b.g.outputs)
    if (b.m.slots[o.value].base == xid && o.value != vid) return false;
  return true;
}

}  // namespace

void pair_variable_outputs(PlanBuilder& b) {
  b.alias_input.assign(b.g.outputs.size(), -1);
  b.variable_written.assign(b.g.outputs.size(), false);
  if (!b.opts.variables_in_place) return;
  for (uint32_t j = 0; j < b.g.outputs.size(); j++) {
    const Output& o = b.g.outputs[j];
    if (o.name.compare(0, sizeof(kVarPrefix) - 1, kVarPrefix) != 0) continue;
    const Value& ov = b.g.values[o.value];
    for (uint32_t k = 0; k < b.g.input_ids.size(); k++) {
      const Value& in = b.g.values[b.g.input_ids[k]];
      if (in.name != o.name) continue;
      if (in.dtype == ov.dtype && in.shape == ov.shape) b.alias_input[j] = (int32_t)b.g.input_ids[k];
      break;
    }
  }
  // two outputs may not update one input (the IR names outputs uniquely; checked anyway)
  for (uint32_t j = 0; j < b.alias_input.size(); j++)
    for (uint32_t k = j + 1; k < b.alias_input.size(); k++)
      if (b.alias_input[j] >= 0 && b.alias_input[k] == b.alias_input[j]) b.alias_input[k] = -1;
}

void write_variables_in_place(PlanBuilder& b) {
  for (uint32_t j = 0; j < b.g.outputs.size(); j++) {
    if (b.alias_input[j] < 0 || b.output_bound[j]) continue;
    const uint32_t xid = (uint32_t)b.alias_input[j], vid = b.g.outputs[j].value;
    const Slot& vs = b.m.slots[vid];
    if (vs.desc.numel() == 0 || (vs.base == xid && same_layout(vs.desc, b.m.slots[xid].desc))) {
      b.variable_written[j] = true;  // nothing to write: empty, or the value is the input unchanged
      b.stats.variables_in_place++;
      continue;
    }
    if (vs.loc != Loc::Arena || vs.base != vid || !row_major(vs.desc)) continue;
    const int64_t tw = writer_of(b, vid);
    if (tw < 0 || !safe_over_input(b, xid, vid, tw)) continue;
    const uint32_t index = b.m.slots[xid].index;
    for (Slot& s : b.m.slots)
      if (s.loc == Loc::Arena && s.base == vid) {
        s.loc = Loc::Input;
        s.index = index;
      }
    b.variable_written[j] = true;
    b.stats.variables_in_place++;
  }
}

void copy_variable_outputs(PlanBuilder& b) {
  std::vector<std::pair<uint32_t, uint32_t>> copies;  // (output, source slot)
  for (uint32_t j = 0; j < b.g.outputs.size(); j++) {
    if (b.alias_input[j] < 0 || b.output_bound[j] || b.variable_written[j]) continue;
    uint32_t src = b.g.outputs[j].value;
    // set aside before any variable's memory is written
    if (b.m.slots[src].loc == Loc::Input) src = b.append_copy(src, Loc::Arena);
    copies.push_back({j, src});
  }
  for (auto [j, src] : copies) {  // into the variable's input memory
    b.append_copy(src, Loc::Input, b.m.slots[(uint32_t)b.alias_input[j]].index);
    b.stats.variables_copied++;
  }
}

}  // namespace hodu
