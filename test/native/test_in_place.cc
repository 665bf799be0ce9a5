// Script variables updated in place on HODU (native/hodu/in_place.cc): output `@var:w` is written
// into input `@var:w`'s memory (output_alias), by the kernel computing it when safe, else by a copy
// at the end of the run; the run needs no buffer for that output. Checked against float64 loops.
#include <cstring>
#include <vector>

#include "hodu/plan.h"
#include "test_util.h"
#include "test_xla_util.h"

using namespace hodu;
using hodu_test::GraphBuilder;

namespace {

std::vector<float> ramp(size_t n, float scale) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; i++) v[i] = scale * (float)((int)(i % 17) - 8);
  return v;
}

}  // namespace

HODU_TEST(in_place_sgd_update_writes_the_input) {
  const int64_t n = 1000;
  GraphBuilder gb;
  uint32_t w = gb.input("@var:w", DType::F32, {n});
  uint32_t g = gb.input("g", DType::F32, {n});
  uint32_t lr = gb.f32_constant({}, {0.25f});
  uint32_t w2 = gb.op(OpCode::Sub, {w, gb.op(OpCode::Mul, {g, lr})});
  gb.output("g2", gb.op(OpCode::Mul, {g, g}));
  gb.output("@var:w", w2);
  auto plan = Plan::compile(gb.g, gb.constants(), CompileOptions{});
  CHECK(plan->output_alias(0) == -1);
  CHECK(plan->output_alias(1) == 0);
  CHECK(plan->stats().variables_in_place == 1);
  CHECK(plan->stats().variables_copied == 0);
  std::vector<float> wv = ramp(n, 0.5f), gv = ramp(n, -0.125f), g2(n, -1.f);
  const std::vector<float> w0 = wv;
  for (int run = 0; run < 3; run++) {
    plan->run({wv.data(), gv.data()}, {g2.data(), nullptr});
    for (int64_t i = 0; i < n; i++) {
      double want = (double)w0[i];
      for (int r = 0; r <= run; r++) want -= 0.25 * (double)gv[i];
      CHECK_NEAR(wv[i], want, 1e-5);
      CHECK_NEAR(g2[i], (double)gv[i] * gv[i], 1e-6);
    }
  }
}

HODU_TEST(in_place_old_value_as_output_falls_back_to_a_copy) {
  const int64_t n = 64;
  GraphBuilder gb;
  uint32_t w = gb.input("@var:w", DType::F32, {n});
  uint32_t two = gb.f32_constant({}, {2.f});
  gb.output("old", w);  // read after every step: the update may not overwrite it early
  gb.output("@var:w", gb.op(OpCode::Mul, {w, two}));
  auto plan = Plan::compile(gb.g, gb.constants(), CompileOptions{});
  CHECK(plan->output_alias(1) == 0);
  CHECK(plan->stats().variables_in_place == 0);
  CHECK(plan->stats().variables_copied == 1);
  std::vector<float> wv = ramp(n, 1.f), old(n);
  const std::vector<float> w0 = wv;
  plan->run({wv.data()}, {old.data(), nullptr});
  for (int64_t i = 0; i < n; i++) {
    CHECK(old[i] == w0[i]);
    CHECK(wv[i] == 2 * w0[i]);
  }
}

HODU_TEST(in_place_off_returns_the_output) {
  GraphBuilder gb;
  uint32_t w = gb.input("@var:w", DType::F32, {8});
  gb.output("@var:w", gb.op(OpCode::Add, {w, gb.f32_constant({}, {1.f})}));
  CompileOptions o;
  o.variables_in_place = false;
  auto plan = Plan::compile(gb.g, gb.constants(), o);
  CHECK(plan->output_alias(0) == -1);
  std::vector<float> wv = ramp(8, 1.f), out(8);
  const std::vector<float> w0 = wv;
  plan->run({wv.data()}, {out.data()});
  for (int i = 0; i < 8; i++) {
    CHECK(wv[i] == w0[i]);
    CHECK(out[i] == w0[i] + 1);
  }
}
