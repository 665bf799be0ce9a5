// The HODU backend: compiles a validated graph into a Plan of oneDNN-backed kernels over a
// pre-planned arena, then runs it many times.
//
// compile: loop rolling (native/ir/loop_roll.h), then these passes over one PlanBuilder
//          (plan_builder.h), in this order:
//   1. eliminate_dead_code        keep what the outputs need                        (passes.cc)
//      pair_variable_outputs      output `@var:x` updates input `@var:x` in place   (in_place.cc)
//   2. bind_inputs_and_constants  inputs and live constants get their memory        (passes.cc)
//   3. count_readers              live readers per value, for the fusion decisions  (passes.cc)
//   4. mark_elementwise_groups    elementwise ops computed inside their reader      (passes.cc)
//   5. mark_channels_last         4-D values only convs/pools read may stay nhwc    (passes.cc)
//   6. lower_values               per live value, in graph order: a rolled loop; a view (a
//                                 strided alias, no copy); constant folding; post-op fusion
//                                 (matmul/conv + bias + activations, oneDNN post-ops); an
//                                 elementwise group (one fused kernel); else its kernel (lower.cc)
//      write_variables_in_place   a variable's new value computed in its own memory (in_place.cc)
//   7. copy_unbound_outputs       outputs that are inputs, constants, views or repeated (memory.cc)
//      copy_variable_outputs      other variable updates copied into their memory last (in_place.cc)
//   8. free_unread_constants      weights every reader packed, inputs of folded ops (memory.cc)
//   9. plan_arena                 arena offsets reused by liveness; scratchpad      (memory.cc)
//  10. finish_stats               step count and per-step implementations           (memory.cc)
// run:     bind input and output pointers, execute the kernels in order. No allocation.
#pragma once
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "../core/executable.h"
#include "../ir/graph.h"
#include "../kernels/kernel.h"
#include "thread_policy.h"

namespace hodu {

struct CompileOptions {
  bool fold_constants = true;
  bool fuse = true;  // bias/activation epilogues into matmul/conv (oneDNN post-ops)
  bool roll_loops = true;  // repeated steps become one loop (native/ir/loop_roll.h)
  bool adaptive_threads = true;  // the plan sets its runs' thread cap (thread_policy.h); false: the caller's cap
  bool channels_last = true;  // conv results read only by convs and pools are kept in nhwc order
  bool variables_in_place = true;  // output `@var:x` is written into input `@var:x` (in_place.cc)
};

struct LoopStats {
  uint32_t trips = 0;
  size_t body_steps = 0;  // kernel executions per iteration
};

struct PlanStats {
  size_t steps = 0;          // kernel executions per run
  size_t arena_bytes = 0;    // intermediate memory
  size_t constant_bytes = 0; // owned constants (incl. folded)
  size_t scratch_bytes = 0;
  size_t folded = 0;         // ops evaluated at compile time
  size_t views = 0;          // ops resolved to aliases
  size_t fused = 0;          // ops folded into another kernel's epilogue
  size_t variables_in_place = 0;  // variable outputs computed straight into the input's memory
  size_t variables_copied = 0;    // variable outputs copied into the input's memory by a last step
  std::vector<std::string> impls;  // per step: op name and kernel implementation
  std::vector<LoopStats> loops;    // rolled loops, in execution order
};

class Plan : public Executable {
 public:
  // Constants are copied: the plan owns its data and does not depend on the caller's buffers.
  static std::unique_ptr<Plan> compile(const Graph& g, const std::vector<ConstantData>& constants,
                                       const CompileOptions& opts);
  ~Plan() override;

  // inputs[i]: data of graph input i (graph.input_ids order), contiguous, of the recorded dtype/shape.
  // outputs[j]: contiguous memory for graph output j, written by the run.
  // Runs of one plan are serialised (they share the arena); different plans run concurrently.
  void run(const std::vector<const void*>& inputs, const std::vector<void*>& outputs) override;

  const PlanStats& stats() const { return stats_; }
  // The thread mode the plan's runs use ("all" or "one"; decided at compile, see thread_policy.h).
  const char* thread_mode() const { return adaptive_threads_ ? threads_.mode() : "all"; }
  ExecutableInfo common_info() const override {
    ExecutableInfo r;
    r.steps = stats_.steps;
    r.arena_bytes = stats_.arena_bytes;
    r.constant_bytes = stats_.constant_bytes;
    r.scratch_bytes = stats_.scratch_bytes;
    r.folded = stats_.folded;
    r.views = stats_.views;
    r.fused = stats_.fused;
    r.variables_in_place = stats_.variables_in_place;
    r.variables_copied = stats_.variables_copied;
    r.kernels = stats_.impls;
    for (const LoopStats& l : stats_.loops) r.loops.push_back({l.trips, l.body_steps});
    r.loop_body_steps = true;
    return r;
  }

  struct Impl;

 private:
  Plan() = default;
  std::unique_ptr<Impl> impl_;
  PlanStats stats_;
  std::mutex mu_;
  bool adaptive_threads_ = true;
  ThreadPolicy threads_;
};

}  // namespace hodu
