// Transformer-specific epilogue fusions for Plan::compile's post-op chains (lower.cc): the steps of
// an attention score (q·kᵀ · scale + mask) that a oneDNN matmul can run as post-ops.
#pragma once
#include <cstdint>

#include "../kernels/kernel.h"
#include "plan_builder.h"

namespace hodu {

// Whether value `c` (the only reader of `tail`, in a chain headed by a matmul) multiplies or divides
// `tail` by a constant scalar; then `*po` is PostOp{Mul, {scale}} (oneDNN eltwise_linear).
bool matmul_scale_post_op(const PlanBuilder& b, uint32_t tail, uint32_t c, PostOp* po);

}  // namespace hodu
