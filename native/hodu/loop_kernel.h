// A rolled loop on the HODU backend (see native/ir/loop_roll.h): the body is planned once, as its
// own Plan, and run `trips` times. States live in two buffers per state, written alternately
// (iteration i writes set i % 2 and reads the other, or the initial values when i = 0), so a run
// allocates nothing and the final states sit at a place known at compile time.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "../ir/graph.h"
#include "../kernels/kernel.h"
#include "plan.h"

namespace hodu {

class LoopKernel : public Kernel {
 public:
  LoopKernel(const Loop& loop, const std::vector<ConstantData>& constants, const CompileOptions& opts);
  ~LoopKernel() override;

  // inputs: the Loop value's inputs (initial states, invariants, tables); output is unused.
  void run(const void* const* inputs, void* output, const ExecContext& ctx) override;
  std::string impl() const override;

  // Where state q is after a run (fixed for the kernel's life).
  void* result(size_t q) const { return buf_[(trips_ - 1) % 2][q]; }
  uint32_t trips() const { return trips_; }
  const Plan& body() const { return *body_; }

 private:
  std::unique_ptr<Plan> body_;
  uint32_t trips_, num_state_, num_invariant_, num_table_;
  std::vector<size_t> table_row_bytes_;
  std::vector<void*> buf_[2];  // per state
  std::vector<const void*> in_;
  std::vector<void*> out_;
};

}  // namespace hodu
