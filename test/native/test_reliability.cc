// Issue 17: element counts and byte sizes never wrap, and every shape inference produces is bounded
// (native/core/checked_size.h, check_shape at the end of infer()).
#include <cstdint>
#include <limits>

#include "core/checked_size.h"
#include "core/tensor_desc.h"
#include "ops/infer.h"
#include "test_util.h"

using namespace hodu;

HODU_TEST(reliability_saturating_counts) {
  const int64_t big = std::numeric_limits<int64_t>::max();
  CHECK(sat_mul(3, 4) == 12);
  CHECK(sat_mul(int64_t(1) << 40, int64_t(1) << 40) == big);
  // 26563938 * 694428065361 = 2^64 + 2: a plain int64 product is undefined and wraps to 2
  CHECK(sat_numel({26563938, 694428065361}) == big);
  CHECK(sat_numel({26563938, 0, 694428065361}) == 0);
  CHECK(sat_extent({26563938, 0, 694428065361}) == big);
  CHECK(sat_extent({2, 0, 3}) == 6);
  CHECK(sat_bytes(int64_t(1) << 62, 8) == std::numeric_limits<size_t>::max());
  CHECK(sat_bytes(5, 4) == 20);
  CHECK(sat_bytes(0, 8) == 0);
  TensorDesc d(DType::F32, {int64_t(1) << 31, int64_t(1) << 31, 8});  // numel 2^65: saturates, no UB
  CHECK(d.numel() == big);
  CHECK(d.nbytes() == std::numeric_limits<size_t>::max());
  CHECK(max_alloc_bytes() > (size_t(1) << 20));
  CHECK_THROWS_CODE(check_alloc_bytes(std::numeric_limits<size_t>::max(), "test"), ErrorCode::INTERNAL);
}

HODU_TEST(reliability_check_shape_counts_every_dim) {
  // a 0 dim no longer hides the others: [2^40, 0, 2^40] has 0 elements but 2^80 as its stride product
  CHECK_THROWS_CODE(check_shape({int64_t(1) << 40, 0, int64_t(1) << 40}, "t"), ErrorCode::INVALID_ARGUMENT);
  CHECK_THROWS_CODE(check_shape({0, int64_t(1) << 41}, "t"), ErrorCode::INVALID_ARGUMENT);
  check_shape({0, int64_t(1) << 40}, "t");  // at the limit: fine
  check_shape({26563938, 0}, "t");
  check_shape({}, "t");
}

HODU_TEST(reliability_infer_bounds_outputs) {
  // R1: [A,0] @ [0,B] with A*B = 2^64 + 2
  CHECK_THROWS_CODE(infer(OpCode::Matmul, {}, {TensorDesc(DType::F32, {26563938, 0}), TensorDesc(DType::F32, {0, 694428065361})}),
                    ErrorCode::INVALID_ARGUMENT);
  CHECK_THROWS_CODE(infer(OpCode::Matmul, {}, {TensorDesc(DType::F32, {int64_t(1) << 32, 0}), TensorDesc(DType::F32, {0, int64_t(1) << 32})}),
                    ErrorCode::INVALID_ARGUMENT);
  // an honest empty product: [3,0] @ [0,4] -> [3,4]
  auto m = infer(OpCode::Matmul, {}, {TensorDesc(DType::F32, {3, 0}), TensorDesc(DType::F32, {0, 4})});
  CHECK((m.out.shape == Shape{3, 4}));
  // broadcasting two huge broadcasts
  CHECK_THROWS_CODE(infer(OpCode::Add, {}, {TensorDesc(DType::F32, {int64_t(1) << 32, 1}), TensorDesc(DType::F32, {1, int64_t(1) << 32})}),
                    ErrorCode::INVALID_ARGUMENT);
  // R2: conv2d of a 1x1 input with padding 2^30 -> [1,1,2^31+1,2^31+1]
  Attrs conv{1, 1, double(1 << 30), double(1 << 30), 1, 1, 1};
  CHECK_THROWS_CODE(infer(OpCode::Conv2d, conv, {TensorDesc(DType::F32, {1, 1, 1, 1}), TensorDesc(DType::F32, {1, 1, 1, 1})}),
                    ErrorCode::INVALID_ARGUMENT);
  // an empty batch with the same padding: 0 elements, but the spatial dims still count
  CHECK_THROWS_CODE(infer(OpCode::Conv2d, conv, {TensorDesc(DType::F32, {0, 1, 1, 1}), TensorDesc(DType::F32, {1, 1, 1, 1})}),
                    ErrorCode::INVALID_ARGUMENT);
  Attrs small{1, 1, 2, 2, 1, 1, 1};
  auto c = infer(OpCode::Conv2d, small, {TensorDesc(DType::F32, {0, 1, 1, 1}), TensorDesc(DType::F32, {1, 1, 1, 1})});
  CHECK((c.out.shape == Shape{0, 1, 5, 5}));
}
