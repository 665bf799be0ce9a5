// Element types. The numeric codes are part of the IR and the .hoduscript format: never renumber.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace hodu {

enum class DType : uint8_t {
  Bool = 0, U8 = 1, I8 = 2, I16 = 3, I32 = 4, I64 = 5, U16 = 6, U32 = 7, U64 = 8,
  F16 = 9, BF16 = 10, F32 = 11, F64 = 12,
};
constexpr int kNumDTypes = 13;

inline bool dtype_valid(int code) { return code >= 0 && code < kNumDTypes; }

inline size_t dtype_size(DType t) {
  switch (t) {
    case DType::Bool: case DType::U8: case DType::I8: return 1;
    case DType::I16: case DType::U16: case DType::F16: case DType::BF16: return 2;
    case DType::I32: case DType::U32: case DType::F32: return 4;
    case DType::I64: case DType::U64: case DType::F64: return 8;
  }
  return 0;
}

inline const char* dtype_name(DType t) {
  switch (t) {
    case DType::Bool: return "bool"; case DType::U8: return "u8"; case DType::I8: return "i8";
    case DType::I16: return "i16"; case DType::I32: return "i32"; case DType::I64: return "i64";
    case DType::U16: return "u16"; case DType::U32: return "u32"; case DType::U64: return "u64";
    case DType::F16: return "f16"; case DType::BF16: return "bf16"; case DType::F32: return "f32";
    case DType::F64: return "f64";
  }
  return "?";
}

inline bool is_float(DType t) { return t == DType::F16 || t == DType::BF16 || t == DType::F32 || t == DType::F64; }
inline bool is_signed_int(DType t) { return t == DType::I8 || t == DType::I16 || t == DType::I32 || t == DType::I64; }
inline bool is_unsigned_int(DType t) { return t == DType::U8 || t == DType::U16 || t == DType::U32 || t == DType::U64; }
inline bool is_int(DType t) { return is_signed_int(t) || is_unsigned_int(t); }
inline bool is_bool(DType t) { return t == DType::Bool; }

// f16 and bf16 are stored as raw 16-bit patterns; compute happens in float.
struct f16_t { uint16_t bits; };
struct bf16_t { uint16_t bits; };

}  // namespace hodu
