// The XLA backend's N-API surface (the run/runAsync/info/release functions are the shared ones of
// executable_wrap.h, registered under XLA's names):
//   xlaAvailable() -> bool                        this build has the PJRT client
//   xlaCompile(target, ir, constants[], {optLevel?}) -> handle  target = {plugin, platform: 'cpu'|'cuda', device}
//   xlaRun(handle, inputs[]) -> ArrayBuffer[]      outputs in graph order
//   xlaRunAsync(handle, inputs[], cb(err, outs))   on the libuv thread pool
//   xlaRelease(handle), xlaInfo(handle) -> stats, xlaClientInfo(plugin, platform) -> client/devices,
//   xlaEmit(ir, constants[], {rollLoops}) -> StableHLO text (no plugin needed),
//   xlaCompileText(target, text) -> output count (compiles raw StableHLO; tests and debugging),
//   xlaCacheCounters() -> the persistent compile cache's counters in this process
#include "xla_wrap.h"

#include <memory>

#include "../ir/graph.h"
#include "../ir/loop_roll.h"
#include "../xla/xla_plan.h"
#include "convert.h"
#include "executable_wrap.h"

namespace hodu {

void register_xla_resident_functions(Napi::Env env, Napi::Object exports, const ExecutableKind& kind);

namespace {

xla::Platform platform_of(const Napi::Value& v) {
  std::string p = v.IsString() ? v.As<Napi::String>().Utf8Value() : "";
  if (p == "cpu") return xla::Platform::CPU;
  if (p == "cuda") return xla::Platform::CUDA;
  fail(ErrorCode::INVALID_ARGUMENT, "xla: platform must be 'cpu' or 'cuda'");
}

xla::Target target_of(const Napi::Value& v) {
  if (!v.IsObject()) fail(ErrorCode::INVALID_ARGUMENT, "xla: expected a target {plugin, platform, device}");
  Napi::Object o = v.As<Napi::Object>();
  xla::Target t;
  Napi::Value plugin = o.Get("plugin");
  if (!plugin.IsString()) fail(ErrorCode::INVALID_ARGUMENT, "xla: target.plugin must be a path");
  t.plugin_path = plugin.As<Napi::String>().Utf8Value();
  t.platform = platform_of(o.Get("platform"));
  Napi::Value dev = o.Get("device");
  t.device = dev.IsNumber() ? dev.As<Napi::Number>().Int32Value() : 0;
  Napi::Value devs = o.Get("devices");  // several devices (SPMD), optional
  if (devs.IsArray()) {
    Napi::Array a = devs.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++) {
      Napi::Value d = a.Get(i);
      if (!d.IsNumber()) fail(ErrorCode::INVALID_ARGUMENT, "xla: target.devices must hold device indices");
      t.devices.push_back(d.As<Napi::Number>().Int32Value());
    }
  }
  return t;
}

// The compile cache ({cacheDir, cacheMaxBytes, cacheSalt}) and SPMD ({split: {input: axis}}) compile options.
void read_cache_and_split_options(const Napi::Object& o, xla::XlaCompileOptions& opts) {
  Napi::Value dir = o.Get("cacheDir");
  if (dir.IsString()) opts.cache.dir = dir.As<Napi::String>().Utf8Value();
  Napi::Value max = o.Get("cacheMaxBytes");
  if (max.IsNumber() && max.As<Napi::Number>().DoubleValue() >= 0) opts.cache.max_bytes = (uint64_t)max.As<Napi::Number>().DoubleValue();
  Napi::Value salt = o.Get("cacheSalt");
  if (salt.IsString()) opts.cache_salt = salt.As<Napi::String>().Utf8Value();
  Napi::Value split = o.Get("split");  // {inputName: axis}
  if (split.IsObject()) {
    Napi::Object m = split.As<Napi::Object>();
    Napi::Array names = m.GetPropertyNames();
    opts.split_given = true;
    for (uint32_t i = 0; i < names.Length(); i++) {
      std::string name = names.Get(i).ToString().Utf8Value();
      opts.split.emplace_back(name, m.Get(name).ToNumber().Int32Value());
    }
  }
}

// xlaInfo(handle, withText?): PlanInfo's common fields, then XLA's own
void xla_details(Napi::Env, Executable& exe, Napi::Object& o, const Napi::CallbackInfo& info) {
  const xla::XlaPlan& plan = static_cast<xla::XlaPlan&>(exe);
  const xla::XlaStats& s = plan.stats();
  o.Set("backend", "xla");
  o.Set("plugin", s.plugin);
  o.Set("apiVersion", s.api_version);
  o.Set("platform", s.platform);
  o.Set("device", s.device);
  o.Set("emitMs", s.emit_ms);
  o.Set("compileMs", s.compile_ms);
  o.Set("constantsMs", s.constants_ms);
  o.Set("textBytes", (double)s.text_bytes);
  o.Set("ops", (double)s.ops);
  o.Set("params", (double)s.params);
  o.Set("constantParams", (double)s.constant_params);
  o.Set("inlinedConstants", (double)s.inlined_constants);
  o.Set("cache", s.cache);
  o.Set("cacheMs", s.cache_ms);
  o.Set("numDevices", (double)s.num_devices);
  if (info.Length() > 1 && info[1].ToBoolean()) o.Set("text", plan.program_text());
}

const ExecutableKind kXlaKind{"XLA executable", "xlaRunAsync", "hodu.xlaRunAsync", xla_details, 4096};

// xlaCacheCounters() -> {hits, misses, writes, evictions, rejected, errors} (this process)
Napi::Value XlaCacheCounters(const Napi::CallbackInfo& info) {
  xla::CacheCounters c = xla::cache_counters();
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("hits", (double)c.hits);
  o.Set("misses", (double)c.misses);
  o.Set("writes", (double)c.writes);
  o.Set("evictions", (double)c.evictions);
  o.Set("rejected", (double)c.rejected);
  o.Set("errors", (double)c.errors);
  return o;
}

// xlaCompile(target, irBytes, constants[], {optLevel?, rollLoops?, debugOptions?, cacheDir?, cacheMaxBytes?, cacheSalt?, split?}) -> handle
Napi::Value XlaCompile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    xla::Target target = target_of(info[0]);
    ValidatedGraph v = validated_graph(info[1], info[2]);
    xla::XlaCompileOptions opts;
    if (info.Length() > 3 && info[3].IsObject()) {
      Napi::Object o = info[3].As<Napi::Object>();
      Napi::Value lvl = o.Get("optLevel");
      if (lvl.IsNumber()) opts.debug_options.emplace_back("xla_backend_optimization_level", lvl.As<Napi::Number>().Int64Value());
      if (o.Has("rollLoops")) opts.roll_loops = o.Get("rollLoops").ToBoolean();
      Napi::Value dbg = o.Get("debugOptions");  // {xla_debug_option_name: integer}: DebugOptions overrides
      if (dbg.IsObject()) {
        Napi::Object m = dbg.As<Napi::Object>();
        Napi::Array names = m.GetPropertyNames();
        for (uint32_t i = 0; i < names.Length(); i++) {
          std::string name = names.Get(i).ToString().Utf8Value();
          Napi::Value val = m.Get(name);
          if (!val.IsNumber() || name.rfind("xla_", 0) != 0)
            fail(ErrorCode::INVALID_ARGUMENT, "xlaCompile: debugOptions.", name, " must be an xla_* name with an integer value");
          opts.debug_options.emplace_back(name, val.As<Napi::Number>().Int64Value());
        }
      }
      read_cache_and_split_options(o, opts);
    }
    return make_executable_handle(env, xla::XlaPlan::compile(*v.graph, v.constants, target, opts), kXlaKind);
  });
}

Napi::Value XlaClientInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    if (!info[0].IsString()) fail(ErrorCode::INVALID_ARGUMENT, "xlaClientInfo: expected a plugin path");
    xla::ClientInfo c = xla::client_info(info[0].As<Napi::String>().Utf8Value(), platform_of(info[1]));
    Napi::Object o = Napi::Object::New(env);
    o.Set("plugin", c.plugin);
    o.Set("apiVersion", c.api_version);
    o.Set("platform", c.platform);
    o.Set("platformVersion", c.platform_version);
    o.Set("paddedArgs", c.padded_args);
    Napi::Array d = Napi::Array::New(env, c.devices.size());
    for (uint32_t i = 0; i < c.devices.size(); i++) d.Set(i, c.devices[i]);
    o.Set("devices", d);
    Napi::Object attrs = Napi::Object::New(env);
    for (auto& kv : c.attributes) attrs.Set(kv.first, kv.second);
    o.Set("attributes", attrs);
    return o;
  });
}

Napi::Value XlaEmit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    ValidatedGraph v = validated_graph(info[0], info[1]);
    const Graph& g = *v.graph;
    const std::vector<ConstantData>& constants = v.constants;
    bool roll = !(info.Length() > 2 && info[2].IsObject() && info[2].As<Napi::Object>().Has("rollLoops") &&
                  !info[2].As<Napi::Object>().Get("rollLoops").ToBoolean());
    if (roll) {
      RolledGraph r = roll_loops(g, constants);
      return Napi::String::New(env, xla::emit_stablehlo(r.graph, r.constants).text);
    }
    return Napi::String::New(env, xla::emit_stablehlo(g, constants).text);
  });
}

// xlaCompileText(target, text) -> number of outputs (compiles raw StableHLO and discards it)
Napi::Value XlaCompileText(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    xla::Target target = target_of(info[0]);
    if (!info[1].IsString()) fail(ErrorCode::INVALID_ARGUMENT, "xlaCompileText: expected the program text");
    return Napi::Number::New(env, (double)xla::compile_program_text(target, info[1].As<Napi::String>().Utf8Value()));
  });
}

Napi::Value XlaAvailable(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), xla::built_with_pjrt()); }

}  // namespace

void register_xla_functions(Napi::Env env, Napi::Object exports) {
  exports.Set("xlaAvailable", Napi::Function::New(env, XlaAvailable, "xlaAvailable"));
  exports.Set("xlaCompile", Napi::Function::New(env, XlaCompile, "xlaCompile"));
  register_executable_functions(env, exports, kXlaKind, "xlaRun", "xlaRunAsync", "xlaInfo", "xlaRelease");
  exports.Set("xlaClientInfo", Napi::Function::New(env, XlaClientInfo, "xlaClientInfo"));
  exports.Set("xlaEmit", Napi::Function::New(env, XlaEmit, "xlaEmit"));
  exports.Set("xlaCompileText", Napi::Function::New(env, XlaCompileText, "xlaCompileText"));
  exports.Set("xlaCacheCounters", Napi::Function::New(env, XlaCacheCounters, "xlaCacheCounters"));
  register_xla_resident_functions(env, exports, kXlaKind);  // xla_resident_wrap.cc
}

}  // namespace hodu
