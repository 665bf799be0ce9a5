// The XLA backend through a real PJRT plugin, without Node: each graph runs on the HODU backend
// (hodu::Plan) and on XLA, and the results must agree. Skipped, with a message, when this build
// has no PJRT header or no CPU plugin is found.
//
//   CPU plugin:  $HODU_PJRT_PLUGIN_CPU, else .cache/pjrt-cpu/xla_cpu_pjrt.so (repo root or a build folder)
//   CUDA plugin: $HODU_PJRT_PLUGIN_CUDA (optional; docs/xla.md says how to run this on a GPU machine)
//
// The args structs are zero-padded here (HODU_PJRT_PAD_ARGS=1 unless set), the mode a plugin newer
// than the 0.81 header (the 0.115 CUDA plugin) always uses. PJRT_NPROC=1 unless set (bit-stable).
#include <chrono>
#include <cmath>
#include <cstring>
#include <tuple>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "hodu/plan.h"
#include "test_util.h"
#include "test_xla_util.h"
#include "xla/xla_plan.h"

using namespace hodu;
using hodu_test::GraphBuilder;

namespace {

struct Env {
  std::string cpu, cuda, why_not;
};

const Env& env() {
  static Env e = [] {
    Env r;
    setenv("HODU_PJRT_PAD_ARGS", "1", 0);
    setenv("PJRT_NPROC", "1", 0);
    setenv("TF_CPP_MIN_LOG_LEVEL", "2", 0);
    if (!xla::built_with_pjrt()) {
      r.why_not = "this build has no PJRT header (configure with -DHODU_PJRT_INCLUDE=<dir of pjrt_c_api.h>)";
      return r;
    }
    r.cpu = hodu_test::find_cpu_plugin();
    r.cuda = hodu_test::find_cuda_plugin();
    if (r.cpu.empty() && r.cuda.empty())
      r.why_not = "no PJRT plugin (node scripts/deps.js --pjrt, or set HODU_PJRT_PLUGIN_CPU / HODU_PJRT_PLUGIN_CUDA)";
    return r;
  }();
  return e;
}

bool skip(const char* name) {
  if (env().why_not.empty()) return false;
  std::printf("  SKIP %s: %s\n", name, env().why_not.c_str());
  return true;
}

using Buffers = std::vector<std::vector<uint8_t>>;

// Input buffers for a graph: floats in [-1, 1) (ints: small values), deterministic.
Buffers make_inputs(const Graph& g, uint32_t seed) {
  Buffers r;
  for (uint32_t id : g.input_ids) {
    const Value& v = g.values[id];
    size_t n = (size_t)numel(v.shape);
    std::vector<float> f = hodu_test::test_floats(n, seed++);
    std::vector<uint8_t> b(n * dtype_size(v.dtype));
    for (size_t i = 0; i < n; i++) {
      switch (v.dtype) {
        case DType::F32: std::memcpy(&b[i * 4], &f[i], 4); break;
        case DType::F64: { double d = f[i]; std::memcpy(&b[i * 8], &d, 8); break; }
        case DType::I64: { int64_t d = (int64_t)std::floor(f[i] * 4); std::memcpy(&b[i * 8], &d, 8); break; }
        case DType::I32: { int32_t d = (int32_t)std::floor(f[i] * 4); std::memcpy(&b[i * 4], &d, 4); break; }
        case DType::Bool: b[i] = f[i] > 0; break;
        default: fail(ErrorCode::INTERNAL, "make_inputs: dtype not supported by the test");
      }
    }
    r.push_back(std::move(b));
  }
  return r;
}

template <class P>
Buffers run_plan(P& plan, const Graph& g, const Buffers& in) {
  Buffers out;
  std::vector<const void*> ip;
  std::vector<void*> op;
  for (auto& b : in) ip.push_back(b.data());
  for (const Output& o : g.outputs) {
    const Value& v = g.values[o.value];
    out.emplace_back(std::max<size_t>(1, (size_t)numel(v.shape) * dtype_size(v.dtype)));
  }
  for (auto& b : out) op.push_back(b.data());
  plan.run(ip, op);
  return out;
}

double as_double(DType t, const uint8_t* p) {
  switch (t) {
    case DType::F32: { float f; std::memcpy(&f, p, 4); return f; }
    case DType::F64: { double d; std::memcpy(&d, p, 8); return d; }
    case DType::I64: { int64_t d; std::memcpy(&d, p, 8); return (double)d; }
    case DType::I32: { int32_t d; std::memcpy(&d, p, 4); return (double)d; }
    case DType::Bool: return p[0];
    default: return NAN;
  }
}

// max |a - b| / (1 + |b|) over every output
double max_rel_diff(const Graph& g, const Buffers& a, const Buffers& b) {
  double m = 0;
  for (size_t j = 0; j < g.outputs.size(); j++) {
    const Value& v = g.values[g.outputs[j].value];
    size_t es = dtype_size(v.dtype), n = (size_t)numel(v.shape);
    for (size_t i = 0; i < n; i++) {
      double x = as_double(v.dtype, &a[j][i * es]), y = as_double(v.dtype, &b[j][i * es]);
      if (std::isnan(x) && std::isnan(y)) continue;
      double d = std::fabs(x - y) / (1 + std::fabs(y));
      if (!(d <= m)) m = d;  // NaN against a number counts as infinite
    }
  }
  return m;
}

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// Runs `g` on HODU (when it has kernels for every op), XLA-CPU and XLA-CUDA (when plugins exist),
// and checks every pair against the first result within rtol.
void differential(const char* name, GraphBuilder& b, double rtol) {
  const Graph& g = b.g;
  std::vector<ConstantData> consts = b.constants();
  validate_graph(g, consts);
  Buffers in = make_inputs(g, 11);
  std::vector<std::pair<std::string, Buffers>> results;
  try {
    auto plan = Plan::compile(g, consts, CompileOptions{});
    results.emplace_back("hodu", run_plan(*plan, g, in));
  } catch (const HoduError& e) {
    std::printf("  note %s: HODU cannot run it (%s); comparing XLA platforms only\n", name, e.what());
  }
  for (auto [label, path, platform] : {std::tuple<const char*, std::string, xla::Platform>{"xla-cpu", env().cpu, xla::Platform::CPU},
                                       {"xla-cuda", env().cuda, xla::Platform::CUDA}}) {
    if (path.empty()) continue;
    auto t0 = std::chrono::steady_clock::now();
    auto plan = xla::XlaPlan::compile(g, consts, xla::Target{path, platform, 0});
    double compile_ms = ms_since(t0);
    Buffers out = run_plan(*plan, g, in);  // first run (warm-up)
    t0 = std::chrono::steady_clock::now();
    int reps = 0;
    while (reps < 3 || (ms_since(t0) < 200 && reps < 1000)) {
      out = run_plan(*plan, g, in);
      reps++;
    }
    double run_us = ms_since(t0) * 1000 / reps;
    std::printf("  %-22s %-8s compile %8.1f ms, run %10.1f us (%s)\n", name, label, compile_ms, run_us,
                plan->stats().device.c_str());
    results.emplace_back(label, std::move(out));
  }
  for (size_t k = 1; k < results.size(); k++) {
    double d = max_rel_diff(g, results[k].second, results[0].second);
    if (!(d <= rtol))
      std::printf("  %s: %s vs %s differ by %.3g (rtol %.3g)\n", name, results[k].first.c_str(), results[0].first.c_str(), d, rtol);
    CHECK(d <= rtol);
  }
}

// ---- graphs

void mlp(GraphBuilder& b, int64_t batch, int64_t in, int64_t hidden, int64_t out) {
  uint32_t x = b.input("x", DType::F32, {batch, in});
  uint32_t w1 = b.f32_constant({in, hidden}, hodu_test::test_floats((size_t)(in * hidden), 1));
  uint32_t b1 = b.f32_constant({hidden}, hodu_test::test_floats((size_t)hidden, 2));
  uint32_t w2 = b.f32_constant({hidden, out}, hodu_test::test_floats((size_t)(hidden * out), 3));
  uint32_t h = b.op(OpCode::Relu, {b.op(OpCode::Add, {b.op(OpCode::Matmul, {x, w1}), b1})});
  b.output("y", b.op(OpCode::Softmax, {b.op(OpCode::Matmul, {h, w2})}, {1}));
}

}  // namespace

HODU_TEST(xla_cpu_client) {
  if (skip("xla_cpu_client") || env().cpu.empty()) return;
  xla::ClientInfo c = xla::client_info(env().cpu, xla::Platform::CPU);
  std::printf("  plugin %s: PJRT %s, platform %s, padded args %d, devices %zu\n", c.plugin.c_str(), c.api_version.c_str(),
              c.platform.c_str(), (int)c.padded_args, c.devices.size());
  CHECK(c.platform == "cpu");
  CHECK(c.devices.size() == 1);  // cpu_device_count = 1
  CHECK(c.api_version.rfind("0.", 0) == 0);
}

HODU_TEST(xla_cuda_client) {
  if (skip("xla_cuda_client")) return;
  if (env().cuda.empty()) {
    std::printf("  SKIP xla_cuda_client: HODU_PJRT_PLUGIN_CUDA is not set\n");
    return;
  }
  xla::ClientInfo c = xla::client_info(env().cuda, xla::Platform::CUDA);
  std::printf("  plugin %s: PJRT %s, platform %s %s, padded args %d\n", c.plugin.c_str(), c.api_version.c_str(),
              c.platform.c_str(), c.platform_version.c_str(), (int)c.padded_args);
  for (auto& d : c.devices) std::printf("    device %s\n", d.c_str());
  for (auto& kv : c.attributes) std::printf("    %s = %s\n", kv.first.c_str(), kv.second.c_str());
  CHECK(!c.devices.empty());
}

HODU_TEST(xla_run_matmul_seed) {
  if (skip("xla_run_matmul_seed")) return;
  GraphBuilder b;
  uint32_t x = b.input("x", DType::F32, {2, 3}), y = b.input("y", DType::F32, {3, 4});
  b.output("result", b.op(OpCode::Matmul, {x, y}));
  differential("matmul 2x3x4", b, 1e-6);
}

HODU_TEST(xla_run_matmul_1024) {
  if (skip("xla_run_matmul_1024")) return;
  GraphBuilder b;
  uint32_t x = b.input("a", DType::F32, {1024, 1024}), y = b.input("b", DType::F32, {1024, 1024});
  b.output("y", b.op(OpCode::Matmul, {x, y}));
  differential("matmul 1024^3", b, 1e-4);  // |y| ~ 20: f32 sums of 1024 products in different orders
}

HODU_TEST(xla_run_mlp) {
  if (skip("xla_run_mlp")) return;
  for (int64_t batch : {1, 64}) {
    GraphBuilder b;
    mlp(b, batch, 784, 512, 10);
    differential(batch == 1 ? "mlp 784-512-10 b1" : "mlp 784-512-10 b64", b, 1e-5);
  }
}

HODU_TEST(xla_run_cnn_ops) {
  if (skip("xla_run_cnn_ops")) return;
  GraphBuilder b;
  uint32_t x = b.input("x", DType::F32, {2, 3, 12, 12});
  uint32_t w = b.f32_constant({8, 3, 3, 3}, hodu_test::test_floats(8 * 27, 5));
  uint32_t bias = b.f32_constant({8}, hodu_test::test_floats(8, 6));
  uint32_t c = b.op(OpCode::Relu, {b.op(OpCode::Conv2d, {x, w, bias}, {1, 1, 1, 1, 1, 1, 1})});
  uint32_t p = b.op(OpCode::MaxPool2d, {c}, {2, 2, 2, 2, 0, 0});
  uint32_t a = b.op(OpCode::AvgPool2d, {c}, {3, 3, 2, 2, 1, 1});
  b.output("max", p);
  b.output("avg", a);
  differential("conv+pool", b, 1e-5);
}

HODU_TEST(xla_run_reductions_casts) {
  if (skip("xla_run_reductions_casts")) return;
  GraphBuilder b;
  uint32_t x = b.input("x", DType::F32, {4, 5, 6});
  b.output("sum", b.op(OpCode::Sum, {x}, {0, 0, 2}));
  b.output("var", b.op(OpCode::Var, {x}, {1, 1}));
  b.output("argmin", b.op(OpCode::Argmin, {x}, {0, 1, 2}));
  b.output("lsm", b.op(OpCode::LogSoftmax, {x}, {-1}));
  b.output("i32", b.op(OpCode::Cast, {b.op(OpCode::Mul, {x, b.f32_constant({}, {100.f})})}, {(double)DType::I32}));
  b.output("f64", b.op(OpCode::Cast, {x}, {(double)DType::F64}));
  differential("reductions/casts", b, 1e-5);
}

HODU_TEST(xla_run_gradient_ops) {
  if (skip("xla_run_gradient_ops")) return;
  GraphBuilder b;
  uint32_t x = b.input("x", DType::F32, {2, 4, 7, 7});
  uint32_t w = b.input("w", DType::F32, {6, 2, 3, 3});
  uint32_t g = b.input("g", DType::F32, {2, 6, 4, 4});  // conv2d(x, w) stride 2 pad 1 groups 2
  b.output("dx", b.op(OpCode::Conv2dGradInput, {g, w}, {2, 2, 1, 1, 1, 1, 2, 7, 7}));
  b.output("dw", b.op(OpCode::Conv2dGradWeight, {x, g}, {2, 2, 1, 1, 1, 1, 2, 3, 3}));
  uint32_t pg4 = b.input("pg4", DType::F32, {2, 4, 4, 4});  // pooling 3x3 stride 2 pad 1 of 7x7: 4x4
  b.output("maxpool_dx", b.op(OpCode::MaxPool2dGrad, {x, pg4}, {3, 3, 2, 2, 1, 1}));
  b.output("avgpool_dx", b.op(OpCode::AvgPool2dGrad, {pg4}, {3, 3, 2, 2, 1, 1, 7, 7}));
  uint32_t idx = b.i64_constant({2, 4, 2, 7}, std::vector<int64_t>(2 * 4 * 2 * 7, 3));
  uint32_t src = b.op(OpCode::Slice, {x}, {2, 0, 2, 1});
  b.output("scatter_add", b.op(OpCode::ScatterAdd, {x, idx, src}, {2}));
  uint32_t rows = b.i64_constant({3}, {0, 6, 0});
  uint32_t add_src = b.input("add_src", DType::F32, {2, 4, 7, 3});
  b.output("index_add", b.op(OpCode::IndexAdd, {x, rows, add_src}, {3}));
  b.output("slice_scatter", b.op(OpCode::SliceScatter, {x, b.op(OpCode::Slice, {x}, {3, 1, 7, 3})}, {3, 1, 7, 3}));
  differential("gradient ops", b, 1e-5);
}

HODU_TEST(xla_run_training_steps) {
  // the seed's linear regression, unrolled: forward, MSE gradient, SGD update (50 steps)
  if (skip("xla_run_training_steps")) return;
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
  differential("linear training x50", b, 1e-4);
}

HODU_TEST(xla_errors) {
  if (skip("xla_errors") || env().cpu.empty()) return;
  GraphBuilder b;
  uint32_t x = b.input("x", DType::F32, {2});
  b.output("y", b.op(OpCode::Exp, {x}));
  // a missing file and a file that is not a PJRT plugin: BACKEND_UNAVAILABLE, the process lives on
  CHECK_THROWS_CODE(xla::XlaPlan::compile(b.g, {}, xla::Target{"/nonexistent/plugin.so", xla::Platform::CPU, 0}),
                    ErrorCode::BACKEND_UNAVAILABLE);
  CHECK_THROWS_CODE(xla::XlaPlan::compile(b.g, {}, xla::Target{"/etc/passwd", xla::Platform::CPU, 0}),
                    ErrorCode::BACKEND_UNAVAILABLE);
  // a device that does not exist
  CHECK_THROWS_CODE(xla::XlaPlan::compile(b.g, {}, xla::Target{env().cpu, xla::Platform::CPU, 3}), ErrorCode::DEVICE_UNAVAILABLE);
  // a program XLA rejects: COMPILE_FAILED with the parser's message
  bool got = false;
  try {
    xla::compile_program_text(xla::Target{env().cpu, xla::Platform::CPU, 0}, "module { this is not mlir }");
  } catch (const HoduError& e) {
    got = e.code() == ErrorCode::COMPILE_FAILED && std::string(e.what()).find("custom op 'this' is unknown") != std::string::npos;
    if (!got) std::printf("  got %s: %s\n", error_code_name(e.code()), e.what());
  }
  CHECK(got);
  CHECK_THROWS_CODE(xla::compile_program_text(xla::Target{env().cpu, xla::Platform::CPU, 0},
                                               "func.func @main(%a: tensor<2xf32>, %b: tensor<3xf32>) -> tensor<2xf32> {\n"
                                               "  %c = stablehlo.add %a, %b : (tensor<2xf32>, tensor<3xf32>) -> tensor<2xf32>\n"
                                               "  return %c : tensor<2xf32>\n}\n"),
                    ErrorCode::COMPILE_FAILED);
  // still usable afterwards
  auto plan = xla::XlaPlan::compile(b.g, {}, xla::Target{env().cpu, xla::Platform::CPU, 0});
  float in[2] = {0.f, 1.f}, out[2] = {0, 0};
  plan->run({in}, {out});
  CHECK_NEAR(out[1], std::exp(1.0), 1e-6);
  // CUDA on a machine without a GPU: DEVICE_UNAVAILABLE
  if (!hodu_test::file_exists("/dev/nvidiactl"))
    CHECK_THROWS_CODE(xla::XlaPlan::compile(b.g, {}, xla::Target{env().cpu, xla::Platform::CUDA, 0}), ErrorCode::DEVICE_UNAVAILABLE);
}
