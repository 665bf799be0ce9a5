#include "plan.h"

#include "../core/checked_size.h"

#include <chrono>
#include <cstdlib>

#include "../ir/loop_roll.h"
#include "../kernels/dnnl_util.h"
#include "plan_builder.h"

namespace hodu {

Plan::Impl::~Impl() {
  for (void* p : constants) std::free(p);
  std::free(arena);
  std::free(scratch);
}

char* Plan::Impl::base_of(const Slot& s) const {
  switch (s.loc) {
    case Loc::Input: return (char*)(*in)[s.index];
    case Loc::Constant: return (char*)constants[s.index];
    case Loc::Arena: return (char*)arena + s.offset;
    case Loc::Output: return (char*)(*out)[s.index];
    case Loc::Fixed: return s.ptr;
    case Loc::None: break;
  }
  fail(ErrorCode::INTERNAL, "plan: value without memory");
}

char* Plan::Impl::addr(const Slot& s) const {
  char* b = base_of(s);
  return b ? b + (size_t)s.desc.offset * dtype_size(s.desc.dtype) : nullptr;  // null: a freed constant
}

char* Plan::Impl::const_addr(const Slot& s) const {
  return (char*)constants[s.index] + (size_t)s.desc.offset * dtype_size(s.desc.dtype);
}

Plan::~Plan() = default;

std::unique_ptr<Plan> Plan::compile(const Graph& g, const std::vector<ConstantData>& constants, const CompileOptions& opts) {
  if (opts.roll_loops) {
    RolledGraph rolled = roll_loops(g, constants);
    if (!rolled.graph.loops.empty()) {
      CompileOptions o = opts;
      o.roll_loops = false;
      return compile(rolled.graph, rolled.constants, o);  // the plan copies what it keeps
    }
  }
  std::unique_ptr<Plan> plan(new Plan());
  plan->adaptive_threads_ = opts.adaptive_threads;
  plan->impl_ = std::make_unique<Impl>();
  for (uint32_t id : g.input_ids) plan->input_descs_.emplace_back(g.values[id].dtype, g.values[id].shape);
  for (const Output& o : g.outputs) plan->output_descs_.emplace_back(g.values[o.value].dtype, g.values[o.value].shape);
  for (const TensorDesc& d : plan->output_descs_) check_alloc_bytes(d.nbytes(), "an output of this script");
  PlanBuilder b(g, constants, opts, *plan, *plan->impl_, plan->stats_);
  b.m.slots.resize(b.n);
  // The passes, in the order plan.h documents.
  eliminate_dead_code(b);
  pair_variable_outputs(b);
  bind_inputs_and_constants(b);
  count_readers(b);
  mark_elementwise_groups(b);
  mark_channels_last(b);
  lower_values(b);
  write_variables_in_place(b);
  copy_unbound_outputs(b);
  copy_variable_outputs(b);
  free_unread_constants(b);
  plan_arena(b);
  finish_stats(b);
  plan->output_aliases_.assign(g.outputs.size(), -1);
  for (size_t j = 0; j < g.outputs.size(); j++)
    if (b.alias_input[j] >= 0) plan->output_aliases_[j] = (int32_t)b.m.slots[(uint32_t)b.alias_input[j]].index;
  plan->threads_.decide(b);
  return plan;
}

void Plan::run(const std::vector<const void*>& inputs, const std::vector<void*>& outputs) {
  std::lock_guard<std::mutex> lock(mu_);
  Impl& m = *impl_;
  if (inputs.size() != input_descs_.size() || outputs.size() != output_descs_.size())
    fail(ErrorCode::INTERNAL, "plan: bound ", inputs.size(), " inputs and ", outputs.size(), " outputs, expected ",
         input_descs_.size(), " and ", output_descs_.size());
  m.in = &inputs;
  m.out = &outputs;
  ExecContext ctx;
  ctx.scratchpad = m.scratch;
  // the thread cap of this run (restored on exit, also when a kernel throws)
  struct Cap {
    int prev;
    explicit Cap(int n) : prev(thread_cap()) { set_thread_cap(n); }
    ~Cap() { set_thread_cap(prev); }
  };
  const int cap = adaptive_threads_ ? threads_.cap() : thread_cap();
  Cap scope(cap);
  ThreadScope ambient(cap > 0 ? cap : max_threads());  // kernels without their own scope
  for (auto& st : m.steps) {
    for (size_t k = 0; k < st.ins.size(); k++) st.ptrs[k] = m.addr(m.slots[st.ins[k]]);
    st.kernel->run(st.ptrs.data(), m.addr(m.slots[st.out]), ctx);
  }
  m.in = nullptr;
  m.out = nullptr;
}

}  // namespace hodu
