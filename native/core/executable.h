// One compiled program, whichever backend compiled it (the HODU Plan, hodu/plan.h, or the XLA
// XlaPlan, xla/xla_plan.h): what the single N-API wrap (native/binding/executable_wrap.h) needs
// to check and bind inputs, allocate outputs, run on the JS thread or off it, and report the
// fields every backend's PlanInfo shares. Backend details are added by the backend's wrap.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "tensor_desc.h"

namespace hodu {

struct ExecutableLoop {
  uint32_t trips = 0;
  size_t body_steps = 0;  // kernel executions per iteration, where the backend knows it
};

// The common part of PlanInfo (lib/script.ts).
struct ExecutableInfo {
  size_t steps = 0, arena_bytes = 0, constant_bytes = 0, scratch_bytes = 0, folded = 0, views = 0, fused = 0;
  std::vector<std::string> kernels;
  std::vector<ExecutableLoop> loops;
  bool loop_body_steps = false;  // loops[i].body_steps is reported
  // outputs written into their input's memory (output_alias()): by the kernel computing them, or
  // by a copy step at the end of the run
  size_t variables_in_place = 0, variables_copied = 0;
};

class Executable {
 public:
  virtual ~Executable() = default;

  // graph input i / output j: dtype and shape (contiguous)
  size_t num_inputs() const { return input_descs_.size(); }
  size_t num_outputs() const { return output_descs_.size(); }
  const TensorDesc& input_desc(size_t i) const { return input_descs_[i]; }
  const TensorDesc& output_desc(size_t i) const { return output_descs_[i]; }
  // The input whose memory output j is written into (a script variable updated in place: the
  // output `@var:x` of input `@var:x`), or -1. Such an output needs no buffer: run() ignores
  // outputs[j] and, when it returns, input i's memory holds the output.
  int32_t output_alias(size_t j) const { return j < output_aliases_.size() ? output_aliases_[j] : -1; }

  // inputs[i]: data of graph input i (graph.input_ids order), contiguous, of the recorded dtype/shape.
  // outputs[j]: contiguous memory for graph output j, written by the run (except an aliased one,
  // see output_alias(), whose input memory is written). HoduError on failure.
  virtual void run(const std::vector<const void*>& inputs, const std::vector<void*>& outputs) = 0;

  virtual ExecutableInfo common_info() const = 0;

 protected:
  std::vector<TensorDesc> input_descs_, output_descs_;  // set by the backend's compile
  std::vector<int32_t> output_aliases_;  // per output (or empty): see output_alias()
};

}  // namespace hodu
