// Reading descriptors and attributes from JS values, and turning C++ errors into JS errors.
#pragma once
#include <napi.h>

#include <utility>
#include <vector>

#include "../core/op.h"
#include "../ir/graph.h"
#include "../core/tensor_desc.h"

namespace hodu {

Shape read_shape(const Napi::Value& v, const char* what);
Attrs read_attrs(const Napi::Value& v);
// [dtype, shape, strides, offset] starting at element `first` of a JS array.
TensorDesc read_desc(const Napi::Array& a, uint32_t first);
Napi::Array shape_to_js(Napi::Env env, const Shape& s);

// The bytes of an ArrayBuffer or of a typed array's window (INVALID_ARGUMENT otherwise).
std::pair<const uint8_t*, size_t> bytes_of(const Napi::Value& v, const char* what);
// An array of ArrayBuffers / typed arrays as constant buffers for the IR.
std::vector<ConstantData> constants_of(const Napi::Value& v);

// Throws a JS Error with `.code` set (HoduError codes; INTERNAL for anything else).
[[noreturn]] void throw_js(Napi::Env env, const std::exception& e);

// Runs f(), translating every C++ exception into a JS exception with a code.
template <class F>
auto guarded(Napi::Env env, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    throw_js(env, e);
  }
}

}  // namespace hodu
