#include "script_wrap.h"

#include <memory>

#include "../hodu/plan.h"
#include "../ir/graph.h"
#include "convert.h"
#include "plan_runner.h"

namespace hodu {

namespace {

struct PlanHolder {
  std::shared_ptr<Plan> plan;
};

std::shared_ptr<Plan> plan_of(const Napi::Value& v) {
  if (!v.IsExternal()) fail(ErrorCode::INVALID_ARGUMENT, "expected a compiled plan handle");
  auto* h = v.As<Napi::External<PlanHolder>>().Data();
  if (!h || !h->plan) fail(ErrorCode::INVALID_ARGUMENT, "the compiled plan was released");
  return h->plan;
}

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
    auto b = bytes_of(info[0], "ir");
    Graph g = decode_graph(b.first, b.second);
    validate_graph(g, constants_of(info[1]));
    Napi::Object o = Napi::Object::New(env);
    Napi::Array ins = Napi::Array::New(env), outs = Napi::Array::New(env);
    for (uint32_t k = 0; k < g.input_ids.size(); k++) {
      const Value& v = g.values[g.input_ids[k]];
      ins.Set(k, desc_obj(env, v.name, v.dtype, v.shape));
    }
    for (uint32_t k = 0; k < g.outputs.size(); k++) {
      const Value& v = g.values[g.outputs[k].value];
      outs.Set(k, desc_obj(env, g.outputs[k].name, v.dtype, v.shape));
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
    auto b = bytes_of(info[0], "ir");
    Graph g = decode_graph(b.first, b.second);
    std::vector<ConstantData> constants = constants_of(info[1]);
    validate_graph(g, constants);
    CompileOptions opts;
    if (info.Length() > 2 && info[2].IsObject()) {
      Napi::Object o = info[2].As<Napi::Object>();
      if (o.Has("foldConstants")) opts.fold_constants = o.Get("foldConstants").ToBoolean();
      if (o.Has("fuse")) opts.fuse = o.Get("fuse").ToBoolean();
      if (o.Has("rollLoops")) opts.roll_loops = o.Get("rollLoops").ToBoolean();
      if (o.Has("channelsLast")) opts.channels_last = o.Get("channelsLast").ToBoolean();
    }
    auto* h = new PlanHolder{std::shared_ptr<Plan>(Plan::compile(g, constants, opts))};
    return Napi::External<PlanHolder>::New(env, h, [](Napi::Env, PlanHolder* p) { delete p; });
  });
}



// runPlan(handle, inputs[]) -> outputs[] (ArrayBuffers the kernels wrote into)
Napi::Value RunPlan(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    std::shared_ptr<Plan> plan = plan_of(info[0]);
    std::vector<const void*> ins = bind_inputs(*plan, info[1]);
    std::vector<void*> outs;
    Napi::Array result = alloc_outputs(env, *plan, outs);
    plan->run(ins, outs);
    return result;
  });
}


// runPlanAsync(handle, inputs[], callback(err, outputs[])): runs on the libuv thread pool
Napi::Value RunPlanAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    std::shared_ptr<Plan> plan = plan_of(info[0]);
    std::vector<const void*> ins = bind_inputs(*plan, info[1]);
    if (!info[2].IsFunction()) fail(ErrorCode::INVALID_ARGUMENT, "runPlanAsync: expected a callback");
    std::vector<void*> outs;
    Napi::Array result = alloc_outputs(env, *plan, outs);
    auto* w = new RunWorker<Plan>(info[2].As<Napi::Function>(), plan, std::move(ins), std::move(outs), info[1], result);
    w->Queue();
    return env.Undefined();
  });
}

Napi::Value PlanStatsFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    std::shared_ptr<Plan> plan = plan_of(info[0]);
    const PlanStats& s = plan->stats();
    Napi::Object o = Napi::Object::New(env);
    o.Set("steps", (double)s.steps);
    o.Set("arenaBytes", (double)s.arena_bytes);
    o.Set("constantBytes", (double)s.constant_bytes);
    o.Set("scratchBytes", (double)s.scratch_bytes);
    o.Set("folded", (double)s.folded);
    o.Set("views", (double)s.views);
    o.Set("fused", (double)s.fused);
    Napi::Array impls = Napi::Array::New(env, s.impls.size());
    for (uint32_t i = 0; i < s.impls.size(); i++) impls.Set(i, s.impls[i]);
    o.Set("kernels", impls);
    Napi::Array loops = Napi::Array::New(env, s.loops.size());
    for (uint32_t i = 0; i < s.loops.size(); i++) {
      Napi::Object l = Napi::Object::New(env);
      l.Set("trips", (double)s.loops[i].trips);
      l.Set("bodySteps", (double)s.loops[i].body_steps);
      loops.Set(i, l);
    }
    o.Set("loops", loops);
    o.Set("threads", plan->thread_mode());
    return o;
  });
}

Napi::Value ReleasePlan(const Napi::CallbackInfo& info) {
  if (info[0].IsExternal()) {
    auto* h = info[0].As<Napi::External<PlanHolder>>().Data();
    if (h) h->plan.reset();  // running async workers hold their own reference
  }
  return info.Env().Undefined();
}

}  // namespace

void register_script_functions(Napi::Env env, Napi::Object exports) {
  exports.Set("describeIr", Napi::Function::New(env, DescribeIr, "describeIr"));
  exports.Set("compilePlan", Napi::Function::New(env, CompilePlan, "compilePlan"));
  exports.Set("runPlan", Napi::Function::New(env, RunPlan, "runPlan"));
  exports.Set("runPlanAsync", Napi::Function::New(env, RunPlanAsync, "runPlanAsync"));
  exports.Set("planStats", Napi::Function::New(env, PlanStatsFn, "planStats"));
  exports.Set("releasePlan", Napi::Function::New(env, ReleasePlan, "releasePlan"));
}

}  // namespace hodu
