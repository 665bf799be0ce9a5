// Loading a PJRT plugin: dlopen at run time (the plugin is never linked), GetPjrtApi, version and
// struct-size checks, PJRT_Plugin_Initialize once per plugin per process, attributes.
// Internal to native/xla: only compiled when the build found pjrt_c_api.h (HODU_HAVE_PJRT_HEADER).
//
// Args structs: every *_Args (and PJRT_Program, PJRT_ExecuteOptions) we hand to the plugin lives in
// a zeroed 512-byte block. With a plugin newer than our header (e.g. the 0.115 CUDA plugin against
// the 0.81 header of the CPU wheel) struct_size is set to the block's size: the plugin checks
// struct_size >= its own size and reads zeros (= "not set") for the fields our header lacks.
// Otherwise struct_size is the header's exact size. HODU_PJRT_PAD_ARGS=1 forces padding (tests).
#pragma once
#ifdef HODU_HAVE_PJRT_HEADER
#include <pjrt_c_api.h>

#include <cstddef>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "../core/error.h"

static_assert(PJRT_API_MAJOR == 0, "hodu's PJRT client is written for PJRT C API major version 0");

namespace hodu {
namespace xla {

constexpr size_t kPaddedArgsSize = 512;

class PjrtPlugin {
 public:
  // Loads the plugin at `path` once per process (keyed by its canonical path) and initializes it.
  // BACKEND_UNAVAILABLE, naming the path and the reason, when the file is missing, is not a shared
  // library, does not export GetPjrtApi, or speaks another PJRT major version.
  static PjrtPlugin& load(const std::string& path);

  std::string path;  // canonical
  const PJRT_Api* api = nullptr;
  size_t api_size = 0;  // the plugin's PJRT_Api.struct_size
  int major = 0, minor = 0;
  bool pad_args = false;
  std::vector<std::pair<std::string, std::string>> attributes;  // PJRT_Plugin_Attributes, printed

  // The function in PJRT_Api slot `offset`; BACKEND_UNAVAILABLE if the plugin's table is too short.
  template <class F>
  F* fn(size_t offset, const char* name) const {
    if (offset + sizeof(void*) > api_size)
      fail(ErrorCode::BACKEND_UNAVAILABLE, "the PJRT plugin ", path, " (API ", major, ".", minor, ") has no ", name);
    F* f = nullptr;
    std::memcpy(&f, reinterpret_cast<const char*>(api) + offset, sizeof f);
    if (!f) fail(ErrorCode::BACKEND_UNAVAILABLE, "the PJRT plugin ", path, " does not implement ", name);
    return f;
  }

  // Turns a PJRT_Error into a HoduError(code, "<what>: <plugin message>") and destroys it; no-op for null.
  void check(PJRT_Error* err, ErrorCode code, const std::string& what) const;
  // The error's message and PJRT code (the error is destroyed).
  std::pair<std::string, int> take_error(PJRT_Error* err) const;

  std::string version() const { return std::to_string(major) + "." + std::to_string(minor); }
};

// PJRT_FN(plugin, PJRT_Client_Create)(&args)
#define HODU_PJRT_FN(plugin, Name) (plugin).fn<::Name>(offsetof(PJRT_Api, Name), #Name)

template <class T>
class PjrtArgs {
 public:
  PjrtArgs(const PjrtPlugin& p, size_t exact_size) {
    static_assert(sizeof(T) <= kPaddedArgsSize, "args struct larger than the padding block");
    std::memset(buf_, 0, sizeof buf_);
    get()->struct_size = p.pad_args ? kPaddedArgsSize : exact_size;
  }
  T* get() { return reinterpret_cast<T*>(buf_); }
  T* operator->() { return get(); }

 private:
  alignas(16) unsigned char buf_[kPaddedArgsSize];
};

// HODU_PJRT_ARGS(plugin, PJRT_Client_Create_Args, args); args->client = ...
#define HODU_PJRT_ARGS(plugin, T, var) ::hodu::xla::PjrtArgs<T> var((plugin), T##_STRUCT_SIZE)

const char* pjrt_error_code_name(int code);

}  // namespace xla
}  // namespace hodu

#endif  // HODU_HAVE_PJRT_HEADER
