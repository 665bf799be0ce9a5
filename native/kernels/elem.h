// Element types for hand-written loops: C++ storage type per DType, compute type, conversions and
// a dispatcher that instantiates a generic lambda for each dtype.
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "../core/dtype.h"
#include "../core/error.h"
#include "../core/half.h"

namespace hodu {

struct bool_t {
  uint8_t v;
};

template <DType D> struct storage_of;
template <> struct storage_of<DType::Bool> { using type = bool_t; };
template <> struct storage_of<DType::U8> { using type = uint8_t; };
template <> struct storage_of<DType::I8> { using type = int8_t; };
template <> struct storage_of<DType::I16> { using type = int16_t; };
template <> struct storage_of<DType::I32> { using type = int32_t; };
template <> struct storage_of<DType::I64> { using type = int64_t; };
template <> struct storage_of<DType::U16> { using type = uint16_t; };
template <> struct storage_of<DType::U32> { using type = uint32_t; };
template <> struct storage_of<DType::U64> { using type = uint64_t; };
template <> struct storage_of<DType::F16> { using type = f16_t; };
template <> struct storage_of<DType::BF16> { using type = bf16_t; };
template <> struct storage_of<DType::F32> { using type = float; };
template <> struct storage_of<DType::F64> { using type = double; };

// The type arithmetic happens in: float for the 16-bit floats, bool for bool, else the type itself.
template <class T> struct compute_of { using type = T; };
template <> struct compute_of<f16_t> { using type = float; };
template <> struct compute_of<bf16_t> { using type = float; };
template <> struct compute_of<bool_t> { using type = bool; };
template <class T> using compute_t = typename compute_of<T>::type;

template <class T> inline compute_t<T> load(T v) { return v; }
template <> inline float load(f16_t v) { return f16_to_f32(v.bits); }
template <> inline float load(bf16_t v) { return bf16_to_f32(v.bits); }
template <> inline bool load(bool_t v) { return v.v != 0; }

template <class T> inline T store(compute_t<T> v) { return v; }
template <> inline f16_t store<f16_t>(float v) { return f16_t{f32_to_f16(v)}; }
template <> inline bf16_t store<bf16_t>(float v) { return bf16_t{f32_to_bf16(v)}; }
template <> inline bool_t store<bool_t>(bool v) { return bool_t{(uint8_t)(v ? 1 : 0)}; }

// Value conversion between compute types with Rust `as` semantics: float -> int truncates toward
// zero and saturates, NaN -> 0; anything -> bool is `!= 0`; bool -> number is 0 or 1.
template <class To, class From>
inline To convert_value(From v) {
  if constexpr (std::is_same_v<To, bool>) {
    return v != From(0);
  } else if constexpr (std::is_same_v<From, bool>) {
    return v ? To(1) : To(0);
  } else if constexpr (std::is_integral_v<To> && std::is_floating_point_v<From>) {
    if (std::isnan(v)) return To(0);
    if (v <= (From)std::numeric_limits<To>::lowest()) return std::numeric_limits<To>::lowest();
    if (v >= (From)std::numeric_limits<To>::max()) return std::numeric_limits<To>::max();
    return (To)v;
  } else {
    return (To)v;
  }
}

// Calls f(tag) where tag is a value of the storage type for `t` (use decltype(tag)).
template <class F>
auto dispatch_dtype(DType t, F&& f) {
  switch (t) {
    case DType::Bool: return f(bool_t{});
    case DType::U8: return f(uint8_t{});
    case DType::I8: return f(int8_t{});
    case DType::I16: return f(int16_t{});
    case DType::I32: return f(int32_t{});
    case DType::I64: return f(int64_t{});
    case DType::U16: return f(uint16_t{});
    case DType::U32: return f(uint32_t{});
    case DType::U64: return f(uint64_t{});
    case DType::F16: return f(f16_t{});
    case DType::BF16: return f(bf16_t{});
    case DType::F32: return f(float{});
    case DType::F64: return f(double{});
  }
  fail(ErrorCode::INTERNAL, "bad dtype ", (int)t);
}

}  // namespace hodu
