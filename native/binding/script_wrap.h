// N-API functions for compiled scripts (HODU backend): describe and compile here; run, runAsync,
// stats and release are the shared executable functions (executable_wrap.h).
#pragma once
#include <napi.h>

namespace hodu {

// Adds compilePlan, runPlan, runPlanAsync, planStats, releasePlan, describeIr to `exports`.
void register_script_functions(Napi::Env env, Napi::Object exports);

}  // namespace hodu
