#include "loop_kernel.h"

#include <cstdlib>
#include <cstring>

namespace hodu {

namespace {
void* zeroed(size_t n) {
  size_t sz = (std::max<size_t>(n, 1) + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, sz);
  if (!p) fail(ErrorCode::INTERNAL, "out of memory allocating ", n, " bytes for a loop state");
  std::memset(p, 0, sz);  // first touch at compile, not in the first run
  return p;
}
}  // namespace

LoopKernel::LoopKernel(const Loop& loop, const std::vector<ConstantData>& constants, const CompileOptions& opts)
    : trips_(loop.trips), num_state_(loop.num_state), num_invariant_(loop.num_invariant), num_table_(loop.num_table) {
  const Graph& b = loop.body;
  if (trips_ == 0 || b.input_ids.size() != (size_t)num_state_ + num_invariant_ + num_table_ || b.outputs.size() != num_state_)
    fail(ErrorCode::INTERNAL, "loop: malformed body (", b.input_ids.size(), " inputs, ", b.outputs.size(), " outputs)");
  CompileOptions o = opts;
  o.roll_loops = false;
  o.adaptive_threads = false;  // the enclosing plan's run decides
  o.variables_in_place = false;  // the body's outputs go to the loop's state buffers
  body_ = Plan::compile(b, constants, o);
  try {
    for (int k = 0; k < 2; k++)
      for (uint32_t q = 0; q < num_state_; q++) buf_[k].push_back(zeroed(body_->output_desc(q).nbytes()));
  } catch (...) {
    for (auto& v : buf_)
      for (void* p : v) std::free(p);
    throw;
  }
  for (uint32_t t = 0; t < num_table_; t++) table_row_bytes_.push_back(body_->input_desc(num_state_ + num_invariant_ + t).nbytes());
  in_.assign(b.input_ids.size(), nullptr);
  out_.assign(num_state_, nullptr);
}

LoopKernel::~LoopKernel() {
  for (auto& v : buf_)
    for (void* p : v) std::free(p);
}

void LoopKernel::run(const void* const* inputs, void*, const ExecContext&) {
  const uint32_t fixed = num_state_;
  for (uint32_t k = 0; k < num_invariant_; k++) in_[fixed + k] = inputs[fixed + k];
  for (uint32_t i = 0; i < trips_; i++) {
    for (uint32_t q = 0; q < num_state_; q++) {
      in_[q] = i == 0 ? inputs[q] : buf_[(i - 1) % 2][q];
      out_[q] = buf_[i % 2][q];
    }
    for (uint32_t t = 0; t < num_table_; t++) {
      const uint32_t at = num_state_ + num_invariant_ + t;
      in_[at] = (const char*)inputs[at] + (size_t)i * table_row_bytes_[t];
    }
    body_->run(in_, out_);
  }
}

std::string LoopKernel::impl() const {
  return "loop:x" + std::to_string(trips_) + "[" + std::to_string(body_->stats().steps) + " steps]";
}

}  // namespace hodu
