// Loop rolling (native/ir/loop_roll.h): which graphs roll and into what, and that a rolled graph
// gives the unrolled graph's results on HODU (within f32 tolerance) and on XLA-CPU (bit-identical
// with PJRT_NPROC=1), when the CPU plugin is available.
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "hodu/plan.h"
#include "ir/loop_roll.h"
#include "test_util.h"
#include "test_xla_util.h"
#include "xla/stablehlo_emitter.h"
#include "xla/xla_plan.h"

using namespace hodu;
using hodu_test::GraphBuilder;

namespace {

using Buffers = std::vector<std::vector<uint8_t>>;

Buffers inputs_for(const Graph& g, uint32_t seed) {
  Buffers r;
  for (uint32_t id : g.input_ids) {
    const Value& v = g.values[id];
    std::vector<float> f = hodu_test::test_floats((size_t)numel(v.shape), seed++);
    std::vector<uint8_t> b(f.size() * 4);
    std::memcpy(b.data(), f.data(), b.size());
    r.push_back(std::move(b));
  }
  return r;
}

template <class P>
Buffers run(P& plan, const Graph& g, const Buffers& in) {
  Buffers out;
  std::vector<const void*> ip;
  std::vector<void*> op;
  for (auto& b : in) ip.push_back(b.data());
  for (const Output& o : g.outputs) out.emplace_back(std::max<size_t>(1, (size_t)numel(g.values[o.value].shape) * 4));
  for (auto& b : out) op.push_back(b.data());
  plan.run(ip, op);
  return out;
}

double max_rel(const Buffers& a, const Buffers& b) {
  double m = 0;
  for (size_t j = 0; j < a.size(); j++)
    for (size_t i = 0; i + 4 <= a[j].size(); i += 4) {
      float x, y;
      std::memcpy(&x, &a[j][i], 4);
      std::memcpy(&y, &b[j][i], 4);
      double d = std::fabs((double)x - y) / (1 + std::fabs((double)y));
      if (!(d <= m)) m = d;
    }
  return m;
}

size_t count_loops(const Graph& g, uint32_t* trips = nullptr) {
  size_t n = 0;
  for (const Value& v : g.values)
    if (v.kind == ValueKind::Loop) {
      n++;
      if (trips) *trips = g.loops[v.index]->trips;
    }
  return n;
}

std::string cpu_plugin() {
  if (!xla::built_with_pjrt()) return "";
  setenv("HODU_PJRT_PAD_ARGS", "1", 0);
  setenv("PJRT_NPROC", "1", 0);
  setenv("TF_CPP_MIN_LOG_LEVEL", "2", 0);
  return hodu_test::find_cpu_plugin();
}

// Runs g rolled and unrolled on HODU and (when possible) XLA-CPU; checks the results agree (on XLA
// bit for bit when xla_tol is 0).
void rolled_equals_unrolled(const char* name, GraphBuilder& b, double hodu_tol, double xla_tol = 0) {
  const Graph& g = b.g;
  auto consts = b.constants();
  validate_graph(g, consts);
  Buffers in = inputs_for(g, 7);
  CompileOptions rolled, unrolled;
  unrolled.roll_loops = false;
  auto pr = Plan::compile(g, consts, rolled);
  auto pu = Plan::compile(g, consts, unrolled);
  CHECK(pu->stats().loops.empty());
  Buffers hr = run(*pr, g, in), hu = run(*pu, g, in);
  double d = max_rel(hr, hu);
  if (!(d <= hodu_tol)) std::printf("  %s: HODU rolled vs unrolled differ by %g\n", name, d);
  CHECK(d <= hodu_tol);
  // a second run gives the same (the states start from the initial values again)
  CHECK(max_rel(run(*pr, g, in), hr) == 0);
  const std::string plugin = cpu_plugin();
  if (plugin.empty()) {
    std::printf("  SKIP %s on XLA: no CPU plugin\n", name);
    return;
  }
  xla::XlaCompileOptions xr, xu;
  xu.roll_loops = false;
  auto xp = xla::XlaPlan::compile(g, consts, xla::Target{plugin, xla::Platform::CPU, 0}, xr);
  auto xq = xla::XlaPlan::compile(g, consts, xla::Target{plugin, xla::Platform::CPU, 0}, xu);
  CHECK(xq->stats().loop_trips.empty());
  Buffers a = run(*xp, g, in), c = run(*xq, g, in);
  double dx = max_rel(a, c);
  if (dx > xla_tol) std::printf("  %s: XLA rolled vs unrolled differ by %g\n", name, dx);
  CHECK(dx <= xla_tol);
  CHECK(max_rel(a, hr) <= 1e-4);
}

// The seed's linear regression (x [100,3], t [100,1]), one SGD step per epoch, as a tracer records
// it: every step re-creates its scalar constants and computes a loss only the last one's is read.
GraphBuilder seed_training(int epochs, uint32_t* w_out = nullptr) {
  GraphBuilder b;
  uint32_t x = b.input("x", DType::F32, {100, 3}), t = b.input("t", DType::F32, {100, 1});
  uint32_t w = b.f32_constant({3, 1}, {0.3f, -0.2f, 0.1f}), bias = b.f32_constant({1}, {0.05f});
  uint32_t loss = 0;
  for (int step = 0; step < epochs; step++) {
    uint32_t d = b.op(OpCode::Sub, {b.op(OpCode::Add, {b.op(OpCode::Matmul, {x, w}), bias}), t});
    loss = b.op(OpCode::Mean, {b.op(OpCode::Square, {d})}, {0, 0, 1});
    uint32_t gd = b.op(OpCode::Mul, {d, b.f32_constant({}, {2.f / 100.f})});
    uint32_t gw = b.op(OpCode::Matmul, {b.op(OpCode::Permute, {x}, {1, 0}), gd});
    uint32_t gb = b.op(OpCode::Sum, {gd}, {0, 0});
    uint32_t lr = b.f32_constant({}, {0.01f});
    w = b.op(OpCode::Sub, {w, b.op(OpCode::Mul, {gw, lr})});
    bias = b.op(OpCode::Sub, {bias, b.op(OpCode::Mul, {gb, lr})});
  }
  b.output("loss", loss);
  b.output("w", w);
  b.output("b", bias);
  if (w_out) *w_out = w;
  return b;
}

}  // namespace

HODU_TEST(loop_roll_seed_rolls_whole) {
  GraphBuilder b = seed_training(1000);
  auto consts = b.constants();
  validate_graph(b.g, consts);
  RolledGraph r = roll_loops(b.g, consts);
  uint32_t trips = 0;
  CHECK(count_loops(r.graph, &trips) == 1);
  CHECK(trips == 1000);
  // the outer graph is small: inputs, initial values, the loop, its results, the outputs
  CHECK(r.graph.values.size() < 30);
  CHECK(r.graph.outputs.size() == 3);
  CHECK(r.graph.input_ids.size() == 2);
  const Loop& L = *r.graph.loops[0];
  CHECK(L.num_state == 3);  // w, b and the last loss
  CHECK(L.num_table == 0);  // every step's constants are equal
  // the plan reports it
  auto plan = Plan::compile(b.g, consts, CompileOptions{});
  CHECK(plan->stats().loops.size() == 1);
  CHECK(plan->stats().loops.at(0).trips == 1000);
}

HODU_TEST(loop_roll_seed_results) {
  GraphBuilder b = seed_training(200);
  rolled_equals_unrolled("seed x200", b, 1e-5);
}

HODU_TEST(loop_roll_varying_constants_become_a_table) {
  // Adam-like: each step scales by its own bias correction 1 - 0.9^t
  GraphBuilder b;
  uint32_t x = b.input("x", DType::F32, {4, 4});
  uint32_t m = b.f32_constant({4, 4}, std::vector<float>(16, 0.f));
  uint32_t p = b.f32_constant({4, 4}, hodu_test::test_floats(16, 3));
  for (int step = 1; step <= 12; step++) {
    uint32_t g = b.op(OpCode::Mul, {b.op(OpCode::Matmul, {p, x}), b.f32_constant({}, {0.5f})});
    m = b.op(OpCode::Add, {b.op(OpCode::Mul, {m, b.f32_constant({}, {0.9f})}), b.op(OpCode::Mul, {g, b.f32_constant({}, {0.1f})})});
    uint32_t mhat = b.op(OpCode::Div, {m, b.f32_constant({}, {(float)(1 - std::pow(0.9, step))})});
    p = b.op(OpCode::Sub, {p, b.op(OpCode::Mul, {b.op(OpCode::Tanh, {mhat}), b.f32_constant({}, {0.01f})})});
  }
  b.output("p", p);
  b.output("m", m);
  auto consts = b.constants();
  validate_graph(b.g, consts);
  RolledGraph r = roll_loops(b.g, consts);
  uint32_t trips = 0;
  CHECK(count_loops(r.graph, &trips) == 1);
  CHECK(trips == 12);
  CHECK(r.graph.loops.at(0)->num_table == 1);
  // XLA compiles a while body and straight-line steps with different kernels for these tiny dots
  // (and different fusions), so the last bits may differ: measured 2-7e-8 relative
  rolled_equals_unrolled("varying constants", b, 1e-6, 1e-6);
}

HODU_TEST(loop_roll_steps_that_differ) {
  // step 5 uses a different activation: the loop may only cover the steps that repeat
  GraphBuilder b;
  uint32_t x = b.input("x", DType::F32, {8});
  uint32_t h = x;
  for (int step = 0; step < 12; step++) {
    uint32_t a = b.op(OpCode::Mul, {h, b.f32_constant({}, {0.9f})});
    uint32_t c = b.op(step == 5 ? OpCode::Sigmoid : OpCode::Tanh, {a});
    h = b.op(OpCode::Add, {c, x});
  }
  b.output("h", h);
  auto consts = b.constants();
  validate_graph(b.g, consts);
  RolledGraph r = roll_loops(b.g, consts);
  // steps 6..11 repeat (6 trips); 0..4 too (5 trips): the larger rolls first, then the other
  size_t loops = count_loops(r.graph);
  CHECK(loops >= 1);
  for (const auto& L : r.graph.loops) CHECK(L->trips <= 6);
  rolled_equals_unrolled("steps that differ", b, 1e-6);

  // every step different: nothing rolls
  GraphBuilder d;
  uint32_t y = d.input("y", DType::F32, {8});
  const OpCode ops[] = {OpCode::Tanh, OpCode::Sigmoid, OpCode::Exp, OpCode::Sin, OpCode::Cos, OpCode::Abs};
  for (OpCode op : ops) y = d.op(OpCode::Add, {d.op(op, {y}), d.f32_constant({}, {0.5f})});
  d.output("y", y);
  auto dc = d.constants();
  CHECK(count_loops(roll_loops(d.g, dc).graph) == 0);
}

HODU_TEST(loop_roll_value_read_after_the_loop_ends_it) {
  // the value of step 3 is an output: the loop stops after step 3 and the rest rolls again
  GraphBuilder b;
  uint32_t x = b.input("x", DType::F32, {16});
  uint32_t h = x, kept = 0;
  for (int step = 0; step < 10; step++) {
    h = b.op(OpCode::Add, {b.op(OpCode::Tanh, {b.op(OpCode::Mul, {h, b.f32_constant({}, {1.1f})})}), x});
    if (step == 3) kept = h;
  }
  b.output("step3", kept);
  b.output("h", h);
  auto consts = b.constants();
  validate_graph(b.g, consts);
  RolledGraph r = roll_loops(b.g, consts);
  for (const auto& L : r.graph.loops) CHECK(L->trips <= 6);
  rolled_equals_unrolled("value read after the loop", b, 1e-6);
}

HODU_TEST(loop_roll_xla_text_is_a_while) {
  GraphBuilder b = seed_training(1000);
  auto consts = b.constants();
  RolledGraph r = roll_loops(b.g, consts);
  xla::EmitResult em = xla::emit_stablehlo(r.graph, r.constants);
  CHECK(em.loops == 1);
  CHECK(em.text.find("stablehlo.while") != std::string::npos);
  CHECK(em.text.size() < 20000);  // one step, not a thousand
  const std::string plugin = cpu_plugin();
  if (plugin.empty()) return;
  auto xp = xla::XlaPlan::compile(b.g, consts, xla::Target{plugin, xla::Platform::CPU, 0});
  CHECK(xp->stats().loop_trips.size() == 1 && xp->stats().loop_trips[0] == 1000);
  CHECK(xp->stats().compile_ms < 5000);
}

HODU_TEST(loop_roll_index_check_inside_a_loop) {
  // an index_select in every step with an index out of range: both backends report it
  GraphBuilder b;
  uint32_t x = b.input("x", DType::F32, {5, 3});
  uint32_t idx = b.i64_constant({2}, {1, 7});
  uint32_t h = x;
  for (int step = 0; step < 6; step++) {
    uint32_t rows = b.op(OpCode::IndexSelect, {h, idx}, {0});
    uint32_t s = b.op(OpCode::Sum, {rows}, {0, 0});
    h = b.op(OpCode::Add, {h, b.op(OpCode::Mul, {s, b.f32_constant({}, {0.1f})})});
  }
  b.output("h", h);
  auto consts = b.constants();
  validate_graph(b.g, consts);
  CHECK(count_loops(roll_loops(b.g, consts).graph) == 1);
  Buffers in = inputs_for(b.g, 3);
  auto plan = Plan::compile(b.g, consts, CompileOptions{});
  CHECK_THROWS_CODE(run(*plan, b.g, in), ErrorCode::INVALID_ARGUMENT);
  const std::string plugin = cpu_plugin();
  if (plugin.empty()) return;
  auto xp = xla::XlaPlan::compile(b.g, consts, xla::Target{plugin, xla::Platform::CPU, 0});
  CHECK_THROWS_CODE(run(*xp, b.g, in), ErrorCode::INVALID_ARGUMENT);
}

HODU_TEST(loop_roll_shared_values_outside_the_steps) {
  // constants and a transpose made once before the loop, read by every step (invariants)
  GraphBuilder b;
  uint32_t x = b.input("x", DType::F32, {100, 3}), t = b.input("t", DType::F32, {100, 1});
  uint32_t w = b.f32_constant({3, 1}, {0.3f, -0.2f, 0.1f}), bias = b.f32_constant({1}, {0.05f});
  uint32_t lr = b.f32_constant({}, {0.01f}), two_n = b.f32_constant({}, {2.f / 100.f});
  uint32_t xt = b.op(OpCode::Permute, {x}, {1, 0});
  uint32_t loss = 0;
  for (int step = 0; step < 50; step++) {
    uint32_t d = b.op(OpCode::Sub, {b.op(OpCode::Add, {b.op(OpCode::Matmul, {x, w}), bias}), t});
    loss = b.op(OpCode::Mean, {b.op(OpCode::Square, {d})}, {0, 0, 1});
    uint32_t gd = b.op(OpCode::Mul, {d, two_n});
    uint32_t gw = b.op(OpCode::Matmul, {xt, gd});
    uint32_t gb = b.op(OpCode::Sum, {gd}, {0, 0});
    w = b.op(OpCode::Sub, {w, b.op(OpCode::Mul, {gw, lr})});
    bias = b.op(OpCode::Sub, {bias, b.op(OpCode::Mul, {gb, lr})});
  }
  b.output("loss", loss);
  b.output("w", w);
  b.output("b", bias);
  rolled_equals_unrolled("shared values", b, 1e-5, 1e-6);  // XLA: see "varying constants"
}
