// N-API functions for compiled scripts (HODU backend): compile, run, runAsync, stats, describe.
#pragma once
#include <napi.h>

namespace hodu {

// Adds compilePlan, runPlan, runPlanAsync, planStats, releasePlan, describeIr to `exports`.
void register_script_functions(Napi::Env env, Napi::Object exports);

}  // namespace hodu
