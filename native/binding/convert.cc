#include "convert.h"

#include <cmath>
#include <new>

#include "../core/error.h"

namespace hodu {

static int64_t to_int(const Napi::Value& v, const char* what) {
  if (!v.IsNumber()) fail(ErrorCode::INVALID_ARGUMENT, what, ": expected a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d != std::floor(d) || std::fabs(d) > 9007199254740992.0)
    fail(ErrorCode::INVALID_ARGUMENT, what, ": expected an integer, got ", d);
  return (int64_t)d;
}

Shape read_shape(const Napi::Value& v, const char* what) {
  if (!v.IsArray()) fail(ErrorCode::INVALID_ARGUMENT, what, ": expected an array");
  Napi::Array a = v.As<Napi::Array>();
  uint32_t n = a.Length();
  if (n > (uint32_t)kMaxRank) fail(ErrorCode::INVALID_ARGUMENT, what, ": rank ", n, " exceeds the maximum of ", kMaxRank);
  Shape s(n);
  for (uint32_t i = 0; i < n; i++) s[i] = to_int(a.Get(i), what);
  return s;
}

Attrs read_attrs(const Napi::Value& v) {
  if (v.IsUndefined() || v.IsNull()) return {};
  if (v.IsTypedArray()) {
    auto ta = v.As<Napi::TypedArray>();
    if (ta.TypedArrayType() == napi_float64_array) {
      auto f = v.As<Napi::Float64Array>();
      return Attrs(f.Data(), f.Data() + f.ElementLength());
    }
  }
  if (!v.IsArray()) fail(ErrorCode::INVALID_ARGUMENT, "attributes: expected an array of numbers");
  Napi::Array a = v.As<Napi::Array>();
  uint32_t n = a.Length();
  if (n > 4096) fail(ErrorCode::INVALID_ARGUMENT, "attributes: too many (", n, ")");
  Attrs r(n);
  for (uint32_t i = 0; i < n; i++) {
    Napi::Value e = a.Get(i);
    if (!e.IsNumber()) fail(ErrorCode::INVALID_ARGUMENT, "attributes: element ", i, " is not a number");
    r[i] = e.As<Napi::Number>().DoubleValue();
  }
  return r;
}

TensorDesc read_desc(const Napi::Array& a, uint32_t first) {
  int64_t code = to_int(a.Get(first), "dtype");
  if (!dtype_valid((int)code) || code < 0) fail(ErrorCode::INVALID_ARGUMENT, "unknown dtype code ", code);
  Shape shape = read_shape(a.Get(first + 1), "shape");
  check_shape(shape, "tensor");
  Shape strides = read_shape(a.Get(first + 2), "strides");
  if (strides.size() != shape.size())
    fail(ErrorCode::INVALID_ARGUMENT, "strides ", fmt_list(strides), " do not match shape ", fmt_list(shape));
  int64_t offset = to_int(a.Get(first + 3), "offset");
  if (offset < 0) fail(ErrorCode::INVALID_ARGUMENT, "negative offset ", offset);
  return TensorDesc((DType)code, shape, strides, offset);
}

std::pair<const uint8_t*, size_t> bytes_of(const Napi::Value& v, const char* what) {
  if (v.IsArrayBuffer()) {
    auto ab = v.As<Napi::ArrayBuffer>();
    return {(const uint8_t*)ab.Data(), ab.ByteLength()};
  }
  if (v.IsTypedArray()) {
    auto ta = v.As<Napi::TypedArray>();
    auto ab = ta.ArrayBuffer();
    return {(const uint8_t*)ab.Data() + ta.ByteOffset(), ta.ByteLength()};
  }
  fail(ErrorCode::INVALID_ARGUMENT, what, ": expected an ArrayBuffer or a typed array");
}

std::vector<ConstantData> constants_of(const Napi::Value& v) {
  if (!v.IsArray()) fail(ErrorCode::INVALID_ARGUMENT, "constants: expected an array");
  Napi::Array a = v.As<Napi::Array>();
  std::vector<ConstantData> r;
  for (uint32_t i = 0; i < a.Length(); i++) {
    auto b = bytes_of(a.Get(i), "constant");
    r.push_back({b.first, b.second});
  }
  return r;
}

Napi::Array shape_to_js(Napi::Env env, const Shape& s) {
  Napi::Array a = Napi::Array::New(env, s.size());
  for (size_t i = 0; i < s.size(); i++) a.Set((uint32_t)i, Napi::Number::New(env, (double)s[i]));
  return a;
}

void throw_js(Napi::Env env, const std::exception& e) {
  const char* code = "INTERNAL";
  if (auto* h = dynamic_cast<const HoduError*>(&e)) code = error_code_name(h->code());
  else if (dynamic_cast<const std::bad_alloc*>(&e)) code = "INTERNAL";
  Napi::Error err = Napi::Error::New(env, e.what());
  err.Set("code", Napi::String::New(env, code));
  throw err;
}

}  // namespace hodu
