// Binding inputs, allocating outputs and running off the JS thread: shared by every compiled
// plan type (the HODU Plan and the XLA plan) that offers num_inputs/input_desc/num_outputs/
// output_desc/run.
#pragma once
#include <napi.h>

#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "../core/error.h"
#include "convert.h"
#include "output_pool.h"

namespace hodu {

template <class P>
std::vector<const void*> bind_inputs(const P& plan, const Napi::Value& v) {
  if (!v.IsArray()) fail(ErrorCode::INVALID_ARGUMENT, "inputs: expected an array of buffers");
  Napi::Array a = v.As<Napi::Array>();
  if (a.Length() != plan.num_inputs())
    fail(ErrorCode::INVALID_ARGUMENT, "expected ", plan.num_inputs(), " input buffers, got ", a.Length());
  std::vector<const void*> r;
  for (uint32_t i = 0; i < a.Length(); i++) {
    auto b = bytes_of(a.Get(i), "input");
    size_t want = plan.input_desc(i).nbytes();
    if (b.second < want) fail(ErrorCode::SHAPE_MISMATCH, "input ", i, ": ", b.second, " bytes given, ", want, " needed");
    r.push_back(b.first);
  }
  return r;
}

template <class P>
Napi::Array alloc_outputs(Napi::Env env, const P& plan, std::vector<void*>& ptrs) {
  Napi::Array outs = Napi::Array::New(env, plan.num_outputs());
  for (uint32_t j = 0; j < plan.num_outputs(); j++) {
    void* data = nullptr;
    Napi::ArrayBuffer ab = OutputPool::make(env, plan.output_desc(j).nbytes(), &data);
    ptrs.push_back(data);
    outs.Set(j, ab);
  }
  return outs;
}

// Runs plan->run on the libuv pool, keeping the input and output buffers alive meanwhile.
template <class P>
class RunWorker : public Napi::AsyncWorker {
 public:
  RunWorker(Napi::Function cb, std::shared_ptr<P> plan, std::vector<const void*> ins, std::vector<void*> outs,
            Napi::Value keep_inputs, Napi::Value keep_outputs, const char* name = "hodu.runAsync")
      : Napi::AsyncWorker(cb, name), plan_(std::move(plan)), ins_(std::move(ins)), outs_(std::move(outs)) {
    // Inputs are copied now, on the JS thread: the caller may transfer or detach an input's
    // ArrayBuffer (postMessage/structuredClone with transfer) while the run is in flight, which frees
    // its memory however the JS object is held. The copies live as long as the worker.
    for (size_t i = 0; i < ins_.size(); i++) {
      size_t n = plan_->input_desc(i).nbytes();
      std::unique_ptr<char[]> c(new (std::nothrow) char[n ? n : 1]);
      if (!c) fail(ErrorCode::INTERNAL, "out of memory copying input ", i, " (", n, " bytes) for runAsync");
      if (n) std::memcpy(c.get(), ins_[i], n);
      ins_[i] = c.get();
      in_copies_.push_back(std::move(c));
    }
    // keep the buffers alive while the worker thread uses them
    keep_in_ = Napi::Persistent(keep_inputs.As<Napi::Object>());
    keep_out_ = Napi::Persistent(keep_outputs.As<Napi::Object>());
  }
  void Execute() override {
    try {
      plan_->run(ins_, outs_);
    } catch (const HoduError& e) {
      code_ = error_code_name(e.code());
      SetError(e.what());
    } catch (const std::exception& e) {
      code_ = "INTERNAL";
      SetError(e.what());
    }
  }
  void OnOK() override { Callback().Call({Env().Null(), keep_out_.Value()}); }
  void OnError(const Napi::Error& e) override {
    Napi::Error err = Napi::Error::New(Env(), e.Message());
    err.Set("code", Napi::String::New(Env(), code_));
    Callback().Call({err.Value()});
  }

 private:
  std::shared_ptr<P> plan_;
  std::vector<const void*> ins_;
  std::vector<std::unique_ptr<char[]>> in_copies_;
  std::vector<void*> outs_;
  Napi::ObjectReference keep_in_, keep_out_;
  std::string code_ = "INTERNAL";
};

}  // namespace hodu
