#include "thread_policy.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "../kernels/dnnl_util.h"
#include "plan_builder.h"

namespace hodu {

int forced_thread_mode() {
  static const int m = [] {
    const char* e = std::getenv("HODU_THREADS");
    if (e && std::strcmp(e, "all") == 0) return 0;
    if (e && std::strcmp(e, "one") == 0) return 1;
    return -1;
  }();
  return m;
}

namespace {
double bytes_of(const TensorDesc& d) { return (double)d.numel() * (double)dtype_size(d.dtype); }

// The work of one step in pick_threads' unit: bytes read and written, or for the compute-bound ops
// flops / 4 (as matmul.cc and conv2d.cc estimate theirs), whichever is larger.
double step_work(const PlanBuilder& b, const Step& st) {
  double w = bytes_of(b.m.slots[st.out].desc);
  for (uint32_t id : st.ins) w += bytes_of(b.m.slots[id].desc);
  if (st.out >= b.n) return w;  // an output copy
  const Value& v = b.g.values[st.out];
  if (v.kind == ValueKind::Loop) return 1e300;  // a rolled loop runs many steps: never "tiny"
  if (v.kind != ValueKind::Op) return w;
  const double out_n = (double)numel(v.shape);
  if (v.op == OpCode::Matmul && !v.inputs.empty()) {
    const Shape& a = b.g.values[v.inputs[0]].shape;
    const double k = a.empty() ? 1 : (double)a.back();
    w = std::max(w, 2.0 * out_n * k / 4);
  } else if ((v.op == OpCode::Conv2d || v.op == OpCode::Conv2dGradInput || v.op == OpCode::Conv2dGradWeight) &&
             v.inputs.size() >= 2) {
    // every output element sums over (a weight's or an input's) channels x kernel window: bound it
    // by the larger operand's elements per output channel
    const Shape& x = b.g.values[v.inputs[0]].shape;
    const Shape& wt = b.g.values[v.inputs[1]].shape;
    double per_out = 1;
    for (size_t i = 1; i < wt.size(); i++) per_out *= (double)wt[i];
    double per_out_x = 1;
    for (size_t i = 1; i < x.size(); i++) per_out_x *= (double)x[i];
    w = std::max(w, 2.0 * out_n * std::max(per_out, v.op == OpCode::Conv2dGradWeight ? per_out_x : 1.0) / 4);
  }
  return w;
}
}  // namespace

void ThreadPolicy::decide(const PlanBuilder& b) {
  max_work_ = 0;
  for (const Step& st : b.m.steps) max_work_ = std::max(max_work_, step_work(b, st));
  // tiny: no step that a kernel would give more than one thread
  one_ = pick_threads(max_work_) <= 1;
}

int ThreadPolicy::cap() const {
  const int f = forced_thread_mode();
  if (f >= 0) return f == 1 ? 1 : 0;
  return one_ ? 1 : 0;
}

const char* ThreadPolicy::mode() const {
  const int f = forced_thread_mode();
  if (f >= 0) return f == 1 ? "one" : "all";
  return one_ && max_threads() > 1 ? "one" : "all";
}

}  // namespace hodu
