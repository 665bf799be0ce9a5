// Device-resident script variables on XLA (lib/device-state.ts): runs whose inputs may be values
// kept on the device and whose outputs may stay there, and the handles of those values.
//   xlaRunResident(handle, inputs[], keepUploads[], keepOutputs[], donate = true) -> {outputs, uploaded, h2d, d2h, donated}
//     inputs[i]: an ArrayBufferView (host data) or a device value handle; keepUploads[i]: keep the
//     upload of host input i as a device value (uploaded[i]); keepOutputs[j]: leave output j on the
//     device (outputs[j] is then a device value handle, else an ArrayBuffer). A synchronous run may
//     donate the resident inputs of updated variables (they are dead afterwards: xlaValueDonated).
//   xlaRunResidentAsync(handle, inputs[], keepUploads[], keepOutputs[], cb(err, result)): the same on
//     the libuv thread pool, never donating (another run may read the same values meanwhile).
//   xlaValueRead(value, dst): copies a device value into dst (exactly its size);
//   xlaValueFree(value): drops this handle's reference now (the buffers go with the last one);
//   xlaValueDonated(value) -> bool; xlaValueBytes(value) -> number.
#include <cstring>
#include <memory>
#include <new>

#include "../core/error.h"
#include "../xla/xla_plan.h"
#include "convert.h"
#include "executable_wrap.h"
#include "output_pool.h"

namespace hodu {

namespace {

struct ValueHolder {
  xla::ResidentRef v;
  int64_t accounted = 0;  // bytes reported to V8 as external memory (so that GC weighs unreleased handles)
};

Napi::Value wrap_value(Napi::Env env, xla::ResidentRef v) {
  auto* h = new ValueHolder{std::move(v), 0};
  h->accounted = (int64_t)xla::resident_bytes(*h->v);
  if (h->accounted) Napi::MemoryManagement::AdjustExternalMemory(env, h->accounted);
  return Napi::External<ValueHolder>::New(env, h, [](Napi::Env e, ValueHolder* p) {
    if (p->accounted) Napi::MemoryManagement::AdjustExternalMemory(e, -p->accounted);
    delete p;
  });
}

ValueHolder* holder_of(const Napi::Value& v) {
  if (!v.IsExternal()) fail(ErrorCode::INVALID_ARGUMENT, "expected an XLA device value handle");
  return v.As<Napi::External<ValueHolder>>().Data();
}

xla::ResidentRef value_of(const Napi::Value& v) {
  ValueHolder* h = holder_of(v);
  if (!h || !h->v) fail(ErrorCode::INVALID_ARGUMENT, "the XLA device value was freed");
  return h->v;
}

std::vector<char> flags_of(const Napi::Value& v, size_t n, const char* what) {
  if (!v.IsArray()) fail(ErrorCode::INVALID_ARGUMENT, what, ": expected an array of booleans");
  Napi::Array a = v.As<Napi::Array>();
  if (a.Length() != n) fail(ErrorCode::INVALID_ARGUMENT, what, ": expected ", n, " flags, got ", a.Length());
  std::vector<char> r(n);
  for (uint32_t i = 0; i < n; i++) r[i] = a.Get(i).ToBoolean() ? 1 : 0;
  return r;
}

// The run's arguments; host data is copied when `copy` (async runs: the caller may detach it).
struct Bound {
  std::vector<xla::ResidentArg> args;
  std::vector<std::unique_ptr<char[]>> copies;
  std::vector<void*> outs;
  std::vector<char> keep_out;
};

Bound bind(Napi::Env env, const xla::XlaPlan& plan, const Napi::CallbackInfo& info, bool copy, Napi::Array* outputs) {
  Bound b;
  if (!info[1].IsArray()) fail(ErrorCode::INVALID_ARGUMENT, "inputs: expected an array");
  Napi::Array ins = info[1].As<Napi::Array>();
  if (ins.Length() != plan.num_inputs()) fail(ErrorCode::INVALID_ARGUMENT, "expected ", plan.num_inputs(), " inputs, got ", ins.Length());
  std::vector<char> keep_in = flags_of(info[2], plan.num_inputs(), "keepUploads");
  b.keep_out = flags_of(info[3], plan.num_outputs(), "keepOutputs");
  for (uint32_t i = 0; i < ins.Length(); i++) {
    Napi::Value v = ins.Get(i);
    xla::ResidentArg a;
    if (v.IsExternal()) {
      a.dev = value_of(v);
    } else {
      auto bytes = bytes_of(v, "input");
      size_t want = plan.input_desc(i).nbytes();
      if (bytes.second < want) fail(ErrorCode::SHAPE_MISMATCH, "input ", i, ": ", bytes.second, " bytes given, ", want, " needed");
      a.host = bytes.first;
      if (copy) {
        std::unique_ptr<char[]> c(new (std::nothrow) char[want ? want : 1]);
        if (!c) fail(ErrorCode::INTERNAL, "out of memory copying input ", i, " (", want, " bytes) for runAsync");
        if (want) std::memcpy(c.get(), a.host, want);
        a.host = c.get();
        b.copies.push_back(std::move(c));
      }
      a.keep = keep_in[i] != 0;
    }
    b.args.push_back(std::move(a));
  }
  *outputs = Napi::Array::New(env, plan.num_outputs());
  for (uint32_t j = 0; j < plan.num_outputs(); j++) {
    void* data = nullptr;
    if (!b.keep_out[j]) outputs->Set(j, OutputPool::make(env, plan.output_desc(j).nbytes(), &data));
    b.outs.push_back(data);
  }
  return b;
}

Napi::Object result_of(Napi::Env env, Napi::Array outputs, xla::ResidentRun& r) {
  for (uint32_t j = 0; j < r.kept.size(); j++)
    if (r.kept[j]) outputs.Set(j, wrap_value(env, std::move(r.kept[j])));
  Napi::Array up = Napi::Array::New(env, r.uploaded.size());
  for (uint32_t i = 0; i < r.uploaded.size(); i++) up.Set(i, r.uploaded[i] ? wrap_value(env, std::move(r.uploaded[i])) : env.Null());
  Napi::Object o = Napi::Object::New(env);
  o.Set("outputs", outputs);
  o.Set("uploaded", up);
  o.Set("h2d", (double)r.h2d_bytes);
  o.Set("d2h", (double)r.d2h_bytes);
  o.Set("donated", (double)r.donated);
  return o;
}

const ExecutableKind* xla_kind = nullptr;

std::shared_ptr<xla::XlaPlan> plan_of(const Napi::CallbackInfo& info) {
  std::shared_ptr<Executable> e = executable_of(info[0], *xla_kind);
  return std::static_pointer_cast<xla::XlaPlan>(e);
}

Napi::Value RunResident(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    std::shared_ptr<xla::XlaPlan> plan = plan_of(info);
    Napi::Array outputs;
    Bound b = bind(env, *plan, info, false, &outputs);
    xla::ResidentRun r;
    const bool donate = !(info.Length() > 4 && info[4].IsBoolean() && !info[4].As<Napi::Boolean>().Value());
    plan->run_resident(b.args, b.keep_out, b.outs, donate, r);
    return result_of(env, outputs, r);
  });
}

class ResidentWorker : public CodedRunWorker {
 public:
  ResidentWorker(Napi::Function cb, std::shared_ptr<xla::XlaPlan> plan, Bound b, Napi::Array outputs)
      : CodedRunWorker(cb, "hodu.xlaRunResidentAsync"), plan_(std::move(plan)), b_(std::move(b)) {
    keep_out_ = Napi::Persistent(outputs.As<Napi::Object>());
  }
  void work() override { plan_->run_resident(b_.args, b_.keep_out, b_.outs, false, r_); }
  void OnOK() override {
    Napi::Env env = Env();
    Napi::Object o = result_of(env, keep_out_.Value().As<Napi::Array>(), r_);
    Callback().Call({env.Null(), o});
  }

 private:
  std::shared_ptr<xla::XlaPlan> plan_;
  Bound b_;
  xla::ResidentRun r_;
  Napi::ObjectReference keep_out_;
};

Napi::Value RunResidentAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    std::shared_ptr<xla::XlaPlan> plan = plan_of(info);
    if (!info[4].IsFunction()) fail(ErrorCode::INVALID_ARGUMENT, "xlaRunResidentAsync: expected a callback");
    Napi::Array outputs;
    Bound b = bind(env, *plan, info, true, &outputs);
    auto* w = new ResidentWorker(info[4].As<Napi::Function>(), plan, std::move(b), outputs);
    w->Queue();
    return env.Undefined();
  });
}

Napi::Value ValueRead(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    xla::ResidentRef v = value_of(info[0]);
    if (!info[1].IsTypedArray() && !info[1].IsDataView()) fail(ErrorCode::INVALID_ARGUMENT, "xlaValueRead: expected a destination view");
    auto dst = bytes_of(info[1], "destination");
    xla::resident_read(*v, const_cast<uint8_t*>(dst.first), dst.second);
    return env.Undefined();
  });
}

Napi::Value ValueFree(const Napi::CallbackInfo& info) {
  if (info.Length() > 0 && info[0].IsExternal()) {
    ValueHolder* h = info[0].As<Napi::External<ValueHolder>>().Data();
    if (h) {
      h->v.reset();
      if (h->accounted) Napi::MemoryManagement::AdjustExternalMemory(info.Env(), -h->accounted);
      h->accounted = 0;
    }
  }
  return info.Env().Undefined();
}

Napi::Value ValueDonated(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value { return Napi::Boolean::New(env, xla::resident_donated(*value_of(info[0]))); });
}

Napi::Value ValueBytes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value { return Napi::Number::New(env, (double)xla::resident_bytes(*value_of(info[0]))); });
}

}  // namespace

void register_xla_resident_functions(Napi::Env env, Napi::Object exports, const ExecutableKind& kind) {
  xla_kind = &kind;
  exports.Set("xlaRunResident", Napi::Function::New(env, RunResident, "xlaRunResident"));
  exports.Set("xlaRunResidentAsync", Napi::Function::New(env, RunResidentAsync, "xlaRunResidentAsync"));
  exports.Set("xlaValueRead", Napi::Function::New(env, ValueRead, "xlaValueRead"));
  exports.Set("xlaValueFree", Napi::Function::New(env, ValueFree, "xlaValueFree"));
  exports.Set("xlaValueDonated", Napi::Function::New(env, ValueDonated, "xlaValueDonated"));
  exports.Set("xlaValueBytes", Napi::Function::New(env, ValueBytes, "xlaValueBytes"));
}

}  // namespace hodu
