// The HODU backend's N-API surface: describeIr, compilePlan, and the shared executable functions
// (executable_wrap.h) under its names runPlan, runPlanAsync, planStats, releasePlan.
#include "script_wrap.h"

#include <memory>

#include "../hodu/plan.h"
#include "../ir/graph.h"
#include "convert.h"
#include "executable_wrap.h"

namespace hodu {

namespace {

// planStats: PlanInfo's common fields, then the thread mode
void plan_details(Napi::Env, Executable& exe, Napi::Object& o, const Napi::CallbackInfo&) {
  o.Set("threads", static_cast<Plan&>(exe).thread_mode());
}

const ExecutableKind kPlanKind{"plan", "runPlanAsync", "hodu.runAsync", plan_details};

Napi::Object desc_obj(Napi::Env env, const std::string& name, DType t, const Shape& s) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("name", name);
  o.Set("dtype", (double)t);
  o.Set("shape", shape_to_js(env, s));
  return o;
}

// describeIr(bytes, constants) -> { inputs: [{name, dtype, shape}], outputs: [...] } after full validation
Napi::Value DescribeIr(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    ValidatedGraph v = validated_graph(info[0], info[1]);
    const Graph& g = *v.graph;
    Napi::Object o = Napi::Object::New(env);
    Napi::Array ins = Napi::Array::New(env), outs = Napi::Array::New(env);
    for (uint32_t k = 0; k < g.input_ids.size(); k++) {
      const Value& x = g.values[g.input_ids[k]];
      ins.Set(k, desc_obj(env, x.name, x.dtype, x.shape));
    }
    for (uint32_t k = 0; k < g.outputs.size(); k++) {
      const Value& x = g.values[g.outputs[k].value];
      outs.Set(k, desc_obj(env, g.outputs[k].name, x.dtype, x.shape));
    }
    o.Set("inputs", ins);
    o.Set("outputs", outs);
    o.Set("values", (double)g.values.size());
    return o;
  });
}

// compilePlan(irBytes, constants[], {foldConstants, fuse, rollLoops, channelsLast}) -> handle
Napi::Value CompilePlan(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    ValidatedGraph v = validated_graph(info[0], info[1]);
    CompileOptions opts;
    if (info.Length() > 2 && info[2].IsObject()) {
      Napi::Object o = info[2].As<Napi::Object>();
      if (o.Has("foldConstants")) opts.fold_constants = o.Get("foldConstants").ToBoolean();
      if (o.Has("fuse")) opts.fuse = o.Get("fuse").ToBoolean();
      if (o.Has("rollLoops")) opts.roll_loops = o.Get("rollLoops").ToBoolean();
      if (o.Has("channelsLast")) opts.channels_last = o.Get("channelsLast").ToBoolean();
      if (o.Has("variablesInPlace")) opts.variables_in_place = o.Get("variablesInPlace").ToBoolean();
    }
    return make_executable_handle(env, Plan::compile(*v.graph, v.constants, opts), kPlanKind);
  });
}

}  // namespace

void register_script_functions(Napi::Env env, Napi::Object exports) {
  exports.Set("describeIr", Napi::Function::New(env, DescribeIr, "describeIr"));
  exports.Set("compilePlan", Napi::Function::New(env, CompilePlan, "compilePlan"));
  register_executable_functions(env, exports, kPlanKind, "runPlan", "runPlanAsync", "planStats", "releasePlan");
}

}  // namespace hodu
