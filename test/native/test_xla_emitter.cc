// The StableHLO emitter (native/xla/stablehlo_emitter.cc): golden text of small graphs, one
// lowering per op of ops.def, parameters vs inlined constants. Needs no PJRT plugin.
#include <chrono>
#include <string>

#include "test_util.h"
#include "test_xla_util.h"
#include "xla/stablehlo_emitter.h"

using namespace hodu;
using hodu_test::GraphBuilder;

namespace {

// Prints both texts when they differ (the golden strings are meant to be updated by hand, after
// checking the new text compiles: run the driver's xla_cpu_* tests).
bool same_text(const std::string& got, const std::string& want) {
  if (got == want) return true;
  std::printf("  --- expected ---\n%s  --- got ---\n%s", want.c_str(), got.c_str());
  return false;
}

}  // namespace

HODU_TEST(xla_emit_every_op_has_a_lowering) {
  for (int i = 0; i < kNumOps; i++) {
    bool ok = xla::has_lowering((OpCode)i);
    if (!ok) std::printf("  no XLA lowering for op '%s'\n", op_info((OpCode)i).name);
    CHECK(ok);
  }
}

HODU_TEST(xla_emit_element_types) {
  CHECK(std::string(xla::stablehlo_element_type(DType::Bool)) == "i1");
  CHECK(std::string(xla::stablehlo_element_type(DType::U8)) == "ui8");
  CHECK(std::string(xla::stablehlo_element_type(DType::I8)) == "i8");
  CHECK(std::string(xla::stablehlo_element_type(DType::U64)) == "ui64");
  CHECK(std::string(xla::stablehlo_element_type(DType::I64)) == "i64");
  CHECK(std::string(xla::stablehlo_element_type(DType::F16)) == "f16");
  CHECK(std::string(xla::stablehlo_element_type(DType::BF16)) == "bf16");
  CHECK(std::string(xla::stablehlo_element_type(DType::F64)) == "f64");
}

HODU_TEST(xla_emit_golden_matmul_add_relu) {
  // the seed example plus a scalar constant and an activation: relu(x @ y + 1)
  GraphBuilder b;
  uint32_t x = b.input("x", DType::F32, {2, 3});
  uint32_t y = b.input("y", DType::F32, {3, 4});
  uint32_t one = b.f32_constant({}, {1.0f});
  uint32_t mm = b.op(OpCode::Matmul, {x, y});
  uint32_t r = b.op(OpCode::Relu, {b.op(OpCode::Add, {mm, one})});
  b.output("result", r);
  xla::EmitResult e = xla::emit_stablehlo(b.g, b.constants());
  const char* want =
      "module @hodu attributes {mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32} {\n"
      "  func.func public @main(%arg0: tensor<2x3xf32>, %arg1: tensor<3x4xf32>) -> (tensor<2x4xf32>) {\n"
      "    %k0 = \"stablehlo.constant\"() {value = dense<0x3F800000> : tensor<f32>} : () -> tensor<f32>\n"
      "    // matmul -> %v3\n"
      "    %t1 = \"stablehlo.dot_general\"(%arg0, %arg1) {dot_dimension_numbers = #stablehlo.dot<lhs_contracting_dimensions = [1], "
      "rhs_contracting_dimensions = [0]>, precision_config = [#stablehlo<precision HIGHEST>, #stablehlo<precision HIGHEST>]} : "
      "(tensor<2x3xf32>, tensor<3x4xf32>) -> tensor<2x4xf32>\n"
      "    // add -> %v4\n"
      "    %t2 = \"stablehlo.broadcast_in_dim\"(%k0) {broadcast_dimensions = array<i64>} : (tensor<f32>) -> tensor<2x4xf32>\n"
      "    %t3 = \"stablehlo.add\"(%t1, %t2) : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>\n"
      "    // relu -> %v5\n"
      "    %k4 = \"stablehlo.constant\"() {value = dense<0x00000000> : tensor<f32>} : () -> tensor<f32>\n"
      "    %t5 = \"stablehlo.broadcast_in_dim\"(%k4) {broadcast_dimensions = array<i64>} : (tensor<f32>) -> tensor<2x4xf32>\n"
      "    %t6 = \"stablehlo.compare\"(%t3, %t5) {comparison_direction = #stablehlo<comparison_direction LE>, "
      "compare_type = #stablehlo<comparison_type FLOAT>} : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xi1>\n"
      "    %t7 = \"stablehlo.select\"(%t6, %t5, %t3) : (tensor<2x4xi1>, tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>\n"
      "    \"func.return\"(%t7) : (tensor<2x4xf32>) -> ()\n"
      "  }\n"
      "}\n";
  CHECK(same_text(e.text, want));
  CHECK(e.params.size() == 2);
  CHECK(e.ops == 3);
  CHECK(e.inlined_constants == 1);
}

HODU_TEST(xla_emit_golden_argmax_and_int_division) {
  // argmax over dim 1 (variadic reduce; NaN first, ties to the smallest index) and i32 division
  // that never traps (x / 0 = 0, MIN / -1 = MIN)
  GraphBuilder b;
  uint32_t x = b.input("x", DType::F32, {2, 3});
  uint32_t p = b.input("p", DType::I32, {4});
  uint32_t q = b.input("q", DType::I32, {4});
  b.output("am", b.op(OpCode::Argmax, {x}, {0, 1}));
  b.output("div", b.op(OpCode::Div, {p, q}));
  xla::EmitResult e = xla::emit_stablehlo(b.g, b.constants());
  const char* want =
      "module @hodu attributes {mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32} {\n"
      "  func.func public @main(%arg0: tensor<2x3xf32>, %arg1: tensor<4xi32>, %arg2: tensor<4xi32>) -> (tensor<2xi64>, tensor<4xi32>) {\n"
      "    // argmax -> %v3\n"
      "    %t0 = \"stablehlo.iota\"() {iota_dimension = 1 : i64} : () -> tensor<2x3xi64>\n"
      "    %k1 = \"stablehlo.constant\"() {value = dense<0xFF800000> : tensor<f32>} : () -> tensor<f32>\n"
      "    %k2 = \"stablehlo.constant\"() {value = dense<9223372036854775807> : tensor<i64>} : () -> tensor<i64>\n"
      "    %r20:2 = \"stablehlo.reduce\"(%arg0, %t0, %k1, %k2) ({\n"
      "    ^bb0(%a3: tensor<f32>, %a4: tensor<i64>, %b5: tensor<f32>, %b6: tensor<i64>):\n"
      "      %t7 = \"stablehlo.compare\"(%a3, %b5) {comparison_direction = #stablehlo<comparison_direction GT>, compare_type = #stablehlo<comparison_type FLOAT>} : (tensor<f32>, tensor<f32>) -> tensor<i1>\n"
      "      %t8 = \"stablehlo.compare\"(%a3, %b5) {comparison_direction = #stablehlo<comparison_direction EQ>, compare_type = #stablehlo<comparison_type FLOAT>} : (tensor<f32>, tensor<f32>) -> tensor<i1>\n"
      "      %t9 = \"stablehlo.compare\"(%a4, %b6) {comparison_direction = #stablehlo<comparison_direction LT>, compare_type = #stablehlo<comparison_type SIGNED>} : (tensor<i64>, tensor<i64>) -> tensor<i1>\n"
      "      %t10 = \"stablehlo.and\"(%t8, %t9) : (tensor<i1>, tensor<i1>) -> tensor<i1>\n"
      "      %t11 = \"stablehlo.or\"(%t7, %t10) : (tensor<i1>, tensor<i1>) -> tensor<i1>\n"
      "      %t12 = \"stablehlo.compare\"(%a3, %a3) {comparison_direction = #stablehlo<comparison_direction NE>, compare_type = #stablehlo<comparison_type FLOAT>} : (tensor<f32>, tensor<f32>) -> tensor<i1>\n"
      "      %t13 = \"stablehlo.compare\"(%b5, %b5) {comparison_direction = #stablehlo<comparison_direction NE>, compare_type = #stablehlo<comparison_type FLOAT>} : (tensor<f32>, tensor<f32>) -> tensor<i1>\n"
      "      %t14 = \"stablehlo.not\"(%t13) : (tensor<i1>) -> tensor<i1>\n"
      "      %t15 = \"stablehlo.and\"(%t14, %t11) : (tensor<i1>, tensor<i1>) -> tensor<i1>\n"
      "      %t16 = \"stablehlo.or\"(%t14, %t9) : (tensor<i1>, tensor<i1>) -> tensor<i1>\n"
      "      %t17 = \"stablehlo.select\"(%t12, %t16, %t15) : (tensor<i1>, tensor<i1>, tensor<i1>) -> tensor<i1>\n"
      "      %t18 = \"stablehlo.select\"(%t17, %a3, %b5) : (tensor<i1>, tensor<f32>, tensor<f32>) -> tensor<f32>\n"
      "      %t19 = \"stablehlo.select\"(%t17, %a4, %b6) : (tensor<i1>, tensor<i64>, tensor<i64>) -> tensor<i64>\n"
      "      \"stablehlo.return\"(%t18, %t19) : (tensor<f32>, tensor<i64>) -> ()\n"
      "    }) {dimensions = array<i64: 1>} : (tensor<2x3xf32>, tensor<2x3xi64>, tensor<f32>, tensor<i64>) -> (tensor<2xf32>, tensor<2xi64>)\n"
      "    // div -> %v4\n"
      "    %k21 = \"stablehlo.constant\"() {value = dense<0> : tensor<i32>} : () -> tensor<i32>\n"
      "    %t22 = \"stablehlo.broadcast_in_dim\"(%k21) {broadcast_dimensions = array<i64>} : (tensor<i32>) -> tensor<4xi32>\n"
      "    %k23 = \"stablehlo.constant\"() {value = dense<1> : tensor<i32>} : () -> tensor<i32>\n"
      "    %t24 = \"stablehlo.broadcast_in_dim\"(%k23) {broadcast_dimensions = array<i64>} : (tensor<i32>) -> tensor<4xi32>\n"
      "    %t25 = \"stablehlo.compare\"(%arg2, %t22) {comparison_direction = #stablehlo<comparison_direction EQ>, compare_type = #stablehlo<comparison_type SIGNED>} : (tensor<4xi32>, tensor<4xi32>) -> tensor<4xi1>\n"
      "    %t26 = \"stablehlo.select\"(%t25, %t24, %arg2) : (tensor<4xi1>, tensor<4xi32>, tensor<4xi32>) -> tensor<4xi32>\n"
      "    %t27 = \"stablehlo.divide\"(%arg1, %t26) : (tensor<4xi32>, tensor<4xi32>) -> tensor<4xi32>\n"
      "    %k28 = \"stablehlo.constant\"() {value = dense<-1> : tensor<i32>} : () -> tensor<i32>\n"
      "    %t29 = \"stablehlo.broadcast_in_dim\"(%k28) {broadcast_dimensions = array<i64>} : (tensor<i32>) -> tensor<4xi32>\n"
      "    %t30 = \"stablehlo.subtract\"(%t22, %arg1) : (tensor<4xi32>, tensor<4xi32>) -> tensor<4xi32>\n"
      "    %t31 = \"stablehlo.compare\"(%arg2, %t29) {comparison_direction = #stablehlo<comparison_direction EQ>, compare_type = #stablehlo<comparison_type SIGNED>} : (tensor<4xi32>, tensor<4xi32>) -> tensor<4xi1>\n"
      "    %t32 = \"stablehlo.select\"(%t31, %t30, %t27) : (tensor<4xi1>, tensor<4xi32>, tensor<4xi32>) -> tensor<4xi32>\n"
      "    %t33 = \"stablehlo.select\"(%t25, %t22, %t32) : (tensor<4xi1>, tensor<4xi32>, tensor<4xi32>) -> tensor<4xi32>\n"
      "    \"func.return\"(%r20#1, %t33) : (tensor<2xi64>, tensor<4xi32>) -> ()\n"
      "  }\n"
      "}\n";
  CHECK(same_text(e.text, want));
  CHECK(e.params.size() == 3);
}

HODU_TEST(xla_emit_constants_become_parameters) {
  // a 64x64 weight is a parameter (uploaded once at compile), not a literal in the text
  GraphBuilder b;
  uint32_t x = b.input("x", DType::F32, {1, 64});
  uint32_t w = b.f32_constant({64, 64}, hodu_test::test_floats(64 * 64, 1));
  b.output("y", b.op(OpCode::Matmul, {x, w}));
  xla::EmitResult e = xla::emit_stablehlo(b.g, b.constants());
  CHECK(e.params.size() == 2);
  CHECK(e.params[0].kind == xla::Param::Kind::Input);
  CHECK(e.params[1].kind == xla::Param::Kind::Constant && e.params[1].index == 0);
  CHECK(e.text.size() < 2000);
  CHECK(e.text.find("%arg1: tensor<64x64xf32>") != std::string::npos);
}

HODU_TEST(xla_emit_dead_code_and_unused_inputs) {
  // dead ops are not emitted; every input stays a parameter (run passes all of them)
  GraphBuilder b;
  uint32_t x = b.input("x", DType::F32, {3});
  uint32_t unused = b.input("unused", DType::I32, {2});
  (void)unused;
  b.op(OpCode::Exp, {x});  // dead
  b.output("y", b.op(OpCode::Neg, {x}));
  xla::EmitResult e = xla::emit_stablehlo(b.g, b.constants());
  CHECK(e.params.size() == 2);
  CHECK(e.ops == 1);
  CHECK(e.text.find("exponential") == std::string::npos);
}

HODU_TEST(xla_emit_1000_op_graph_is_linear) {
  GraphBuilder b;
  uint32_t x = b.input("x", DType::F32, {16, 16});
  uint32_t v = x;
  for (int i = 0; i < 1000; i++) v = b.op(i % 3 == 0 ? OpCode::Tanh : i % 3 == 1 ? OpCode::Add : OpCode::Mul, i % 3 ? std::vector<uint32_t>{v, x} : std::vector<uint32_t>{v});
  b.output("y", v);
  auto t0 = std::chrono::steady_clock::now();
  xla::EmitResult e = xla::emit_stablehlo(b.g, b.constants());
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  CHECK(e.ops == 1000);
  CHECK(ms < 1000);
  CHECK(e.text.size() < 1000 * 400);
}
