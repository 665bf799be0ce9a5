#include "ops/infer.h"
#include "test_util.h"

using namespace hodu;

HODU_TEST(infer_broadcast_binary) {
  auto r = infer(OpCode::Add, {}, {TensorDesc(DType::F32, {2, 1, 3}), TensorDesc(DType::F32, {4, 1})});
  CHECK((r.out.shape == Shape{2, 4, 3}));
  CHECK(r.out.dtype == DType::F32);
  CHECK_THROWS_CODE(infer(OpCode::Add, {}, {TensorDesc(DType::F32, {2, 3}), TensorDesc(DType::F32, {4})}),
                    ErrorCode::SHAPE_MISMATCH);
  CHECK_THROWS_CODE(infer(OpCode::Add, {}, {TensorDesc(DType::F32, {2}), TensorDesc(DType::F64, {2})}),
                    ErrorCode::DTYPE_MISMATCH);
}

HODU_TEST(infer_views) {
  TensorDesc x(DType::F32, {2, 3, 4});
  auto p = infer(OpCode::Permute, {2, 0, 1}, {x});
  CHECK(p.is_view);
  CHECK((p.out.shape == Shape{4, 2, 3}));
  CHECK((p.out.strides == Shape{1, 12, 4}));
  auto s = infer(OpCode::Slice, {1, 1, 100, 2}, {x});
  CHECK((s.out.shape == Shape{2, 1, 4}));
  CHECK(s.out.offset == 4);
  CHECK_THROWS_CODE(infer(OpCode::Permute, {0, 0, 1}, {x}), ErrorCode::INVALID_ARGUMENT);
  CHECK_THROWS_CODE(infer(OpCode::Reshape, {5, 5}, {x}), ErrorCode::SHAPE_MISMATCH);
  auto r2 = infer(OpCode::Reshape, {6, 4}, {p.out});  // non-contiguous: not a view
  CHECK(!r2.is_view);
}

HODU_TEST(infer_matmul_and_reduce) {
  auto m = infer(OpCode::Matmul, {}, {TensorDesc(DType::F32, {5, 1, 2, 3}), TensorDesc(DType::F32, {4, 3, 7})});
  CHECK((m.out.shape == Shape{5, 4, 2, 7}));
  CHECK_THROWS_CODE(infer(OpCode::Matmul, {}, {TensorDesc(DType::F32, {2, 3}), TensorDesc(DType::F32, {4, 3})}),
                    ErrorCode::SHAPE_MISMATCH);
  auto s = infer(OpCode::Sum, {0, 0, 1}, {TensorDesc(DType::F32, {2, 3})});
  CHECK(s.out.shape.empty());
  CHECK_THROWS_CODE(infer(OpCode::Mean, {0, 0}, {TensorDesc(DType::I32, {2, 3})}), ErrorCode::DTYPE_MISMATCH);
  CHECK_THROWS_CODE(infer(OpCode::Sum, {0, 2}, {TensorDesc(DType::F32, {2, 3})}), ErrorCode::INVALID_ARGUMENT);
  CHECK_THROWS_CODE(infer(OpCode::Sum, {0, 0.5}, {TensorDesc(DType::F32, {2, 3})}), ErrorCode::INVALID_ARGUMENT);
}
