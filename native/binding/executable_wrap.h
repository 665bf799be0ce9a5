// The one N-API wrap of a compiled program (core/executable.h), shared by both backends: handle,
// input checking and binding, output allocation (output_pool.h), synchronous and libuv-pool runs
// (inputs copied for async runs, hodu's pooled output blocks pinned instead), PlanInfo's common fields, release, and the IR decode/validation
// that precedes every compile. Each backend's wrap (script_wrap.cc, xla_wrap.cc) adds its own
// compile function and registers these functions under its JS names with its ExecutableKind.
#pragma once
#include <napi.h>

#include <memory>
#include <string>
#include <vector>

#include "../core/error.h"
#include "../core/executable.h"
#include "../ir/graph.h"

namespace hodu {

// A backend's words for the shared functions, and the PlanInfo fields only it has.
struct ExecutableKind {
  const char* what;         // in messages: "plan" -> "expected a compiled plan handle"
  const char* async_name;   // the runAsync function's JS name, in its messages
  const char* resource;     // the async resource name of its runs
  // Adds the backend's own PlanInfo fields after the common ones; `exe` is of this kind's type.
  // info: the info call's arguments (info[0] is the handle).
  void (*details)(Napi::Env env, Executable& exe, Napi::Object& out, const Napi::CallbackInfo& info);
  // Outputs of at most this many bytes are plain V8 ArrayBuffers (napi_create_arraybuffer: one
  // allocation, no finalizer) rather than pooled 64-byte-aligned blocks (output_pool.h), which cost
  // several µs per output through napi_create_external_arraybuffer. Only for a backend that does not
  // need aligned output memory (XLA copies results out with PJRT_Buffer_ToHostBuffer). 0: none.
  size_t small_output_bytes = 0;
};

// A handle (External) owning `exe`; released by release() or by the garbage collector, while
// running async workers keep their own reference.
Napi::Value make_executable_handle(Napi::Env env, std::unique_ptr<Executable> exe, const ExecutableKind& kind);

// Registers run(handle, inputs[]) -> ArrayBuffer[], runAsync(handle, inputs[], cb(err, outs)),
// info(handle, ...) -> PlanInfo and release(handle) under the given names.
// The executable behind a handle of make_executable_handle (INVALID_ARGUMENT when released or not one).
std::shared_ptr<Executable> executable_of(const Napi::Value& handle, const ExecutableKind& kind);

void register_executable_functions(Napi::Env env, Napi::Object exports, const ExecutableKind& kind, const char* run,
                                   const char* run_async, const char* info, const char* release);

// The IR (bytes) and constants (ArrayBuffer[]) of a compile/describe/emit call, decoded and
// validated. The last graph validated on this thread is kept by its IR bytes and constant sizes
// (all that validation reads): describeIr then a compile of the same IR (a traced script, a
// recorded one without symbolic dims) decode and validate it once.
struct ValidatedGraph {
  std::shared_ptr<const Graph> graph;
  std::vector<ConstantData> constants;
};
ValidatedGraph validated_graph(const Napi::Value& ir, const Napi::Value& constants);

// An AsyncWorker for one run on the libuv pool: Execute() runs work() and keeps a HoduError's
// code; OnError calls back with an error carrying it (INTERNAL for any other exception).
class CodedRunWorker : public Napi::AsyncWorker {
 protected:
  CodedRunWorker(Napi::Function cb, const char* name) : Napi::AsyncWorker(cb, name) {}
  virtual void work() = 0;
  void Execute() final {
    try {
      work();
    } catch (const HoduError& e) {
      code_ = error_code_name(e.code());
      SetError(e.what());
    } catch (const std::exception& e) {
      code_ = "INTERNAL";
      SetError(e.what());
    }
  }
  void OnError(const Napi::Error& e) final {
    Napi::Error err = Napi::Error::New(Env(), e.Message());
    err.Set("code", Napi::String::New(Env(), code_));
    Callback().Call({err.Value()});
  }

 private:
  std::string code_ = "INTERNAL";
};

}  // namespace hodu
