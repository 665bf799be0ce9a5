// HoduError: the one exception type of the C++ core. Codes are the public error codes of the
// TypeScript API (lib/errors.ts); the binding turns a HoduError into a JS HoduError with `.code`.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace hodu {

#define HODU_ERROR_CODES(X)                                                                       \
  X(BUILDER_INACTIVE) X(BUILDER_ALREADY_ACTIVE) X(BUILDER_ENDED) X(DUPLICATE_NAME) X(INPUT_MISSING) \
  X(INPUT_UNKNOWN) X(SHAPE_MISMATCH) X(DTYPE_MISMATCH) X(INVALID_ARGUMENT) X(GRADIENT_NOT_COMPUTED) \
  X(DISPOSED) X(INVALID_FILE) X(BACKEND_UNAVAILABLE) X(DEVICE_UNAVAILABLE) X(COMPILE_FAILED) X(UNSUPPORTED_OP) X(INTERNAL)

enum class ErrorCode {
#define HODU_X(name) name,
  HODU_ERROR_CODES(HODU_X)
#undef HODU_X
};

inline const char* error_code_name(ErrorCode c) {
  switch (c) {
#define HODU_X(name) case ErrorCode::name: return #name;
    HODU_ERROR_CODES(HODU_X)
#undef HODU_X
  }
  return "INTERNAL";
}

class HoduError : public std::runtime_error {
 public:
  HoduError(ErrorCode code, const std::string& msg) : std::runtime_error(msg), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

namespace detail {
inline void cat(std::ostringstream&) {}
template <class T, class... R>
void cat(std::ostringstream& os, const T& v, const R&... rest) {
  os << v;
  cat(os, rest...);
}
}  // namespace detail

// fail(ErrorCode::SHAPE_MISMATCH, "matmul: inner dims ", k1, " and ", k2, " differ")
template <class... A>
[[noreturn]] void fail(ErrorCode code, const A&... parts) {
  std::ostringstream os;
  detail::cat(os, parts...);
  throw HoduError(code, os.str());
}

// "[2, 3]"
template <class V>
std::string fmt_list(const V& v) {
  std::ostringstream os;
  os << '[';
  bool first = true;
  for (auto x : v) {
    if (!first) os << ", ";
    os << x;
    first = false;
  }
  os << ']';
  return os.str();
}

}  // namespace hodu
