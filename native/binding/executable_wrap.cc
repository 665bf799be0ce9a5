#include "executable_wrap.h"

#include <cstring>
#include <new>
#include <string>

#include "../core/error.h"
#include "convert.h"
#include "output_pool.h"

namespace hodu {

namespace {

struct ExecutableHolder {
  std::shared_ptr<Executable> exe;
  const ExecutableKind* kind;  // of the backend that compiled it
};

const ExecutableKind& kind_of(const Napi::CallbackInfo& info) { return *static_cast<const ExecutableKind*>(info.Data()); }

ExecutableHolder* holder_of(const Napi::CallbackInfo& info) {
  const ExecutableKind& k = kind_of(info);
  if (info.Length() < 1 || !info[0].IsExternal()) fail(ErrorCode::INVALID_ARGUMENT, "expected a compiled ", k.what, " handle");
  auto* h = info[0].As<Napi::External<ExecutableHolder>>().Data();
  if (!h || !h->exe) fail(ErrorCode::INVALID_ARGUMENT, "the compiled ", k.what, " was released");
  return h;
}

std::vector<const void*> bind_inputs(const Executable& exe, const Napi::Value& v) {
  if (!v.IsArray()) fail(ErrorCode::INVALID_ARGUMENT, "inputs: expected an array of buffers");
  Napi::Array a = v.As<Napi::Array>();
  if (a.Length() != exe.num_inputs())
    fail(ErrorCode::INVALID_ARGUMENT, "expected ", exe.num_inputs(), " input buffers, got ", a.Length());
  std::vector<const void*> r;
  for (uint32_t i = 0; i < a.Length(); i++) {
    auto b = bytes_of(a.Get(i), "input");
    size_t want = exe.input_desc(i).nbytes();
    if (b.second < want) fail(ErrorCode::SHAPE_MISMATCH, "input ", i, ": ", b.second, " bytes given, ", want, " needed");
    r.push_back(b.first);
  }
  return r;
}

Napi::Array alloc_outputs(Napi::Env env, const Executable& exe, const ExecutableKind& kind, std::vector<void*>& ptrs) {
  Napi::Array outs = Napi::Array::New(env, exe.num_outputs());
  ptrs.reserve(exe.num_outputs());
  for (uint32_t j = 0; j < exe.num_outputs(); j++) {
    if (exe.output_alias(j) >= 0) {  // written into its input's memory: no buffer (undefined)
      ptrs.push_back(nullptr);
      outs.Set(j, env.Undefined());
      continue;
    }
    void* data = nullptr;
    const size_t bytes = exe.output_desc(j).nbytes();
    napi_value small;
    if (bytes > 0 && bytes <= kind.small_output_bytes && napi_create_arraybuffer(env, bytes, &data, &small) == napi_ok) {
      ptrs.push_back(data);
      outs.Set(j, small);
      continue;
    }
    Napi::ArrayBuffer ab = OutputPool::make(env, bytes, &data);
    ptrs.push_back(data);
    outs.Set(j, ab);
  }
  return outs;
}

// Runs exe->run on the libuv pool, keeping the input and output buffers alive meanwhile.
class RunWorker : public CodedRunWorker {
 public:
  RunWorker(Napi::Function cb, std::shared_ptr<Executable> exe, std::vector<const void*> ins, std::vector<void*> outs,
            Napi::Value keep_inputs, Napi::Value keep_outputs, const char* name)
      : CodedRunWorker(cb, name), exe_(std::move(exe)), ins_(std::move(ins)), outs_(std::move(outs)) {
    // The caller may transfer or detach an input's ArrayBuffer (postMessage/structuredClone with
    // transfer) while the run is in flight, which frees its memory however the JS object is held,
    // and N-API cannot pin a V8-owned buffer. So inputs are copied now, on the JS thread (the
    // copies live as long as the worker), except hodu's own pooled blocks (the outputs of earlier
    // runs, fed back): those are pinned instead, which keeps the block from being reused or freed
    // until the worker is destroyed, whatever happens to its ArrayBuffer.
    for (size_t i = 0; i < ins_.size(); i++) {
      size_t n = exe_->input_desc(i).nbytes();
      if (n && OutputPool::pin(ins_[i], n)) {
        pinned_.blocks.push_back(ins_[i]);
        continue;
      }
      std::unique_ptr<char[]> c(new (std::nothrow) char[n ? n : 1]);
      if (!c) fail(ErrorCode::INTERNAL, "out of memory copying input ", i, " (", n, " bytes) for runAsync");
      if (n) std::memcpy(c.get(), ins_[i], n);
      ins_[i] = c.get();
      in_copies_.push_back(std::move(c));
    }
    // An output aliased to an input (a script variable updated in place) is written into that
    // input's copy; OnOK copies it into the caller's memory on the JS thread, if still attached.
    for (size_t j = 0; j < exe_->num_outputs(); j++)
      if (exe_->output_alias(j) >= 0) aliased_.push_back((size_t)exe_->output_alias(j));
    // keep the buffers alive while the worker thread uses them
    keep_in_ = Napi::Persistent(keep_inputs.As<Napi::Object>());
    keep_out_ = Napi::Persistent(keep_outputs.As<Napi::Object>());
  }
  void work() override { exe_->run(ins_, outs_); }
  void OnOK() override {
    Napi::Object in = keep_in_.Value();
    std::string lost;
    for (size_t i : aliased_) {
      const size_t n = exe_->input_desc(i).nbytes();
      auto b = bytes_of(in.Get((uint32_t)i), "input");
      if (b.second < n) {  // transferred or detached while the run was in flight
        lost += (lost.empty() ? "" : ", ") + std::to_string(i);
        continue;
      }
      if (n) std::memcpy(const_cast<uint8_t*>(b.first), in_copies_[i].get(), n);
    }
    if (!lost.empty()) {
      Napi::Error err = Napi::Error::New(Env(), "the memory of input " + lost +
                                                    " (a variable the script updates) was detached or transferred during "
                                                    "runAsync; its update is lost");
      err.Set("code", Napi::String::New(Env(), "DISPOSED"));
      Callback().Call({err.Value()});
      return;
    }
    Callback().Call({Env().Null(), keep_out_.Value()});
  }

 private:
  std::shared_ptr<Executable> exe_;
  std::vector<const void*> ins_;
  std::vector<std::unique_ptr<char[]>> in_copies_;
  // pooled input blocks (OutputPool::pin), unpinned when the worker is destroyed (or its constructor throws)
  struct Pins {
    std::vector<const void*> blocks;
    ~Pins() {
      for (const void* p : blocks) OutputPool::unpin(p);
    }
  } pinned_;
  std::vector<void*> outs_;
  std::vector<size_t> aliased_;  // inputs that aliased outputs were written into
  Napi::ObjectReference keep_in_, keep_out_;
};

// run(handle, inputs[]) -> outputs[] (ArrayBuffers the program wrote into)
Napi::Value Run(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    std::shared_ptr<Executable> exe = holder_of(info)->exe;
    std::vector<const void*> ins = bind_inputs(*exe, info[1]);
    std::vector<void*> outs;
    Napi::Array result = alloc_outputs(env, *exe, kind_of(info), outs);
    exe->run(ins, outs);
    return result;
  });
}

// runAsync(handle, inputs[], callback(err, outputs[])): runs on the libuv thread pool
Napi::Value RunAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    const ExecutableKind& k = kind_of(info);
    std::shared_ptr<Executable> exe = holder_of(info)->exe;
    std::vector<const void*> ins = bind_inputs(*exe, info[1]);
    if (!info[2].IsFunction()) fail(ErrorCode::INVALID_ARGUMENT, k.async_name, ": expected a callback");
    std::vector<void*> outs;
    Napi::Array result = alloc_outputs(env, *exe, k, outs);
    auto* w = new RunWorker(info[2].As<Napi::Function>(), exe, std::move(ins), std::move(outs), info[1], result, k.resource);
    w->Queue();
    return env.Undefined();
  });
}

// info(handle, ...) -> PlanInfo: the common fields, then the compiling backend's own
Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    ExecutableHolder* h = holder_of(info);
    std::shared_ptr<Executable> exe = h->exe;
    ExecutableInfo s = exe->common_info();
    Napi::Object o = Napi::Object::New(env);
    o.Set("steps", (double)s.steps);
    o.Set("arenaBytes", (double)s.arena_bytes);
    o.Set("constantBytes", (double)s.constant_bytes);
    o.Set("scratchBytes", (double)s.scratch_bytes);
    o.Set("folded", (double)s.folded);
    o.Set("views", (double)s.views);
    o.Set("fused", (double)s.fused);
    o.Set("variablesInPlace", (double)s.variables_in_place);
    o.Set("variablesCopied", (double)s.variables_copied);
    Napi::Array kernels = Napi::Array::New(env, s.kernels.size());
    for (uint32_t i = 0; i < s.kernels.size(); i++) kernels.Set(i, s.kernels[i]);
    o.Set("kernels", kernels);
    Napi::Array loops = Napi::Array::New(env, s.loops.size());
    for (uint32_t i = 0; i < s.loops.size(); i++) {
      Napi::Object l = Napi::Object::New(env);
      l.Set("trips", (double)s.loops[i].trips);
      if (s.loop_body_steps) l.Set("bodySteps", (double)s.loops[i].body_steps);
      loops.Set(i, l);
    }
    o.Set("loops", loops);
    if (h->kind->details) h->kind->details(env, *exe, o, info);
    return o;
  });
}

Napi::Value Release(const Napi::CallbackInfo& info) {
  if (info.Length() > 0 && info[0].IsExternal()) {
    auto* h = info[0].As<Napi::External<ExecutableHolder>>().Data();
    if (h) h->exe.reset();  // running async workers hold their own reference
  }
  return info.Env().Undefined();
}

}  // namespace

Napi::Value make_executable_handle(Napi::Env env, std::unique_ptr<Executable> exe, const ExecutableKind& kind) {
  auto* h = new ExecutableHolder{std::shared_ptr<Executable>(std::move(exe)), &kind};
  return Napi::External<ExecutableHolder>::New(env, h, [](Napi::Env, ExecutableHolder* p) { delete p; });
}

std::shared_ptr<Executable> executable_of(const Napi::Value& handle, const ExecutableKind& kind) {
  if (!handle.IsExternal()) fail(ErrorCode::INVALID_ARGUMENT, "expected a compiled ", kind.what, " handle");
  auto* h = handle.As<Napi::External<ExecutableHolder>>().Data();
  if (!h || !h->exe || h->kind != &kind) fail(ErrorCode::INVALID_ARGUMENT, "the compiled ", kind.what, " was released");
  return h->exe;
}

void register_executable_functions(Napi::Env env, Napi::Object exports, const ExecutableKind& kind, const char* run,
                                   const char* run_async, const char* info, const char* release) {
  void* data = const_cast<ExecutableKind*>(&kind);
  exports.Set(run, Napi::Function::New(env, Run, run, data));
  exports.Set(run_async, Napi::Function::New(env, RunAsync, run_async, data));
  exports.Set(info, Napi::Function::New(env, Info, info, data));
  exports.Set(release, Napi::Function::New(env, Release, release, data));
}

namespace {

struct LastGraph {
  std::vector<uint8_t> ir;
  std::vector<size_t> constant_bytes;
  std::shared_ptr<const Graph> graph;
};
thread_local LastGraph last_graph;
constexpr size_t kLastGraphMaxIrBytes = size_t(16) << 20;

}  // namespace

ValidatedGraph validated_graph(const Napi::Value& ir, const Napi::Value& constants) {
  auto b = bytes_of(ir, "ir");
  LastGraph& last = last_graph;
  const bool same_ir = last.graph && last.ir.size() == b.second &&
                       (b.second == 0 || std::memcmp(last.ir.data(), b.first, b.second) == 0);
  std::shared_ptr<const Graph> g;
  if (!same_ir) g = std::make_shared<Graph>(decode_graph(b.first, b.second));  // before the constants, as always
  ValidatedGraph r{nullptr, constants_of(constants)};
  std::vector<size_t> sizes;
  for (const ConstantData& c : r.constants) sizes.push_back(c.bytes);
  if (same_ir && last.constant_bytes == sizes) {
    r.graph = last.graph;
    return r;
  }
  if (!g) g = last.graph;  // the same IR, other constant sizes: validated again
  validate_graph(*g, r.constants);
  r.graph = g;
  last.graph.reset();
  if (b.second <= kLastGraphMaxIrBytes) {
    last.ir.assign(b.first, b.first + b.second);
    last.constant_bytes = std::move(sizes);
    last.graph = g;
  }
  return r;
}

}  // namespace hodu
