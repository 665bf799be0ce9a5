// N-API functions of the XLA backend (lib/xla.ts): xlaAvailable, xlaCompile, xlaRun, xlaRunAsync,
// xlaRelease, xlaInfo, xlaClientInfo, xlaEmit (run/runAsync/info/release: executable_wrap.h).
#pragma once
#include <napi.h>

namespace hodu {

void register_xla_functions(Napi::Env env, Napi::Object exports);

}  // namespace hodu
