// The N-API surface of the C++ core. Context-aware: no global JS handles; per-environment state
// lives in the Addon instance, so the module loads in several worker_threads at once.
#include <napi.h>

#include <oneapi/dnnl/dnnl.hpp>

#include "../core/random.h"
#include "../core/roofline.h"
#include "../kernels/dnnl_util.h"
#include "../kernels/kernel.h"
#include "../kernels/kernel_cache.h"
#include "../ops/infer.h"
#include "convert.h"
#include "output_pool.h"
#include "script_wrap.h"
#include "xla_wrap.h"

namespace hodu {

namespace {

Napi::Array desc_to_js(Napi::Env env, const TensorDesc& d) {
  Napi::Array a = Napi::Array::New(env, 4);
  a.Set(0u, Napi::Number::New(env, (double)d.dtype));
  a.Set(1u, shape_to_js(env, d.shape));
  a.Set(2u, shape_to_js(env, d.strides));
  a.Set(3u, Napi::Number::New(env, (double)d.offset));
  return a;
}

struct BoundInput {
  TensorDesc desc;
  const char* data;  // points at element `desc.offset`
};

// input = [ArrayBuffer, dtype, shape, strides, offset]; checks that every reachable element lies
// inside the buffer, so a malformed descriptor can never read out of bounds.
BoundInput read_bound_input(const Napi::Value& v, size_t index) {
  if (!v.IsArray()) fail(ErrorCode::INVALID_ARGUMENT, "input ", index, ": expected [buffer, dtype, shape, strides, offset]");
  Napi::Array a = v.As<Napi::Array>();
  Napi::Value b = a.Get(0u);
  if (!b.IsArrayBuffer()) fail(ErrorCode::INVALID_ARGUMENT, "input ", index, ": expected an ArrayBuffer");
  Napi::ArrayBuffer ab = b.As<Napi::ArrayBuffer>();
  BoundInput r{read_desc(a, 1), nullptr};
  size_t es = dtype_size(r.desc.dtype);
  if (r.desc.numel() > 0) {
    int64_t last = r.desc.offset;
    for (int i = 0; i < r.desc.ndim(); i++) {
      if (r.desc.strides[i] < 0) fail(ErrorCode::INVALID_ARGUMENT, "input ", index, ": negative stride");
      last += (r.desc.shape[i] - 1) * r.desc.strides[i];
    }
    if ((uint64_t)(last + 1) * es > ab.ByteLength())
      fail(ErrorCode::INVALID_ARGUMENT, "input ", index, ": descriptor reaches past the end of its buffer (a disposed tensor?)");
  }
  r.data = (const char*)ab.Data() + (size_t)r.desc.offset * es;
  return r;
}

// An eager op's output: V8-owned memory the kernel writes in full (see uninitialized_buffer).
Napi::ArrayBuffer new_buffer(Napi::Env env, size_t bytes) {
  void* data = nullptr;
  return uninitialized_buffer(env, bytes, &data);
}

class Addon : public Napi::Addon<Addon> {
 public:
  Addon(Napi::Env env, Napi::Object exports) {
    DefineAddon(exports, {
                             InstanceMethod("opTable", &Addon::OpTable),
                             InstanceMethod("infer", &Addon::Infer),
                             InstanceMethod("exec", &Addon::Exec),
                             InstanceMethod("kernelImpl", &Addon::KernelImpl),
                             InstanceMethod("fillRandom", &Addon::FillRandom),
                             InstanceMethod("detach", &Addon::Detach),
                             InstanceMethod("info", &Addon::Info),
                             InstanceMethod("roofline", &Addon::Roofline),
                             InstanceMethod("kernelCache", &Addon::KernelCacheInfo),
                         });
    register_script_functions(env, exports);
    register_xla_functions(env, exports);
  }

 private:
  Napi::Value OpTable(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Array a = Napi::Array::New(env, kNumOps);
    for (int i = 0; i < kNumOps; i++) {
      const OpInfo& o = op_info((OpCode)i);
      Napi::Object e = Napi::Object::New(env);
      e.Set("name", o.name);
      e.Set("arity", o.arity);
      e.Set("attrs", o.attrs);
      e.Set("family", family_name(o.family));
      e.Set("grad", grad_name(o.grad));
      e.Set("attrCount", o.attr_count);
      e.Set("attrVariadic", o.attr_variadic);
      a.Set((uint32_t)i, e);
    }
    return a;
  }

  static OpCode read_op(const Napi::Value& v) {
    if (!v.IsNumber()) fail(ErrorCode::INVALID_ARGUMENT, "opcode must be a number");
    int code = v.As<Napi::Number>().Int32Value();
    if (!opcode_valid(code)) fail(ErrorCode::INVALID_ARGUMENT, "unknown opcode ", code);
    return (OpCode)code;
  }

  static std::vector<TensorDesc> read_descs(const Napi::Value& v) {
    if (!v.IsArray()) fail(ErrorCode::INVALID_ARGUMENT, "inputs: expected an array");
    Napi::Array a = v.As<Napi::Array>();
    std::vector<TensorDesc> r;
    for (uint32_t i = 0; i < a.Length(); i++) {
      Napi::Value e = a.Get(i);
      if (!e.IsArray()) fail(ErrorCode::INVALID_ARGUMENT, "inputs: element ", i, " is not a descriptor");
      r.push_back(read_desc(e.As<Napi::Array>(), 0));
    }
    return r;
  }

  // infer(opcode, attrs, [[dtype, shape, strides, offset], ...]) -> [dtype, shape, strides, offset, isView]
  Napi::Value Infer(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      OpCode op = read_op(info[0]);
      Attrs attrs = read_attrs(info[1]);
      InferResult r = infer(op, attrs, read_descs(info[2]));
      Napi::Array a = desc_to_js(env, r.out);
      a.Set(4u, Napi::Boolean::New(env, r.is_view));
      return a;
    });
  }

  // exec(opcode, attrs, [[buffer, dtype, shape, strides, offset], ...])
  //   -> [buffer, dtype, shape] for a computed result, [null, dtype, shape, strides, offset] for a view
  Napi::Value Exec(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      OpCode op = read_op(info[0]);
      Attrs attrs = read_attrs(info[1]);
      if (!info[2].IsArray()) fail(ErrorCode::INVALID_ARGUMENT, "inputs: expected an array");
      Napi::Array arr = info[2].As<Napi::Array>();
      std::vector<BoundInput> ins;
      std::vector<TensorDesc> descs;
      for (uint32_t i = 0; i < arr.Length(); i++) {
        ins.push_back(read_bound_input(arr.Get(i), i));
        descs.push_back(ins.back().desc);
      }
      InferResult r = infer(op, attrs, descs);
      if (r.is_view) {
        Napi::Array a = Napi::Array::New(env, 5);
        a.Set(0u, env.Null());
        a.Set(1u, Napi::Number::New(env, (double)r.out.dtype));
        a.Set(2u, shape_to_js(env, r.out.shape));
        a.Set(3u, shape_to_js(env, r.out.strides));
        a.Set(4u, Napi::Number::New(env, (double)r.out.offset));
        return a;
      }
      Napi::ArrayBuffer out = new_buffer(env, r.out.nbytes());
      if (r.out.numel() > 0) {
        KernelSpec spec{op, attrs, descs, r.out};
        for (auto& d : spec.inputs) d.offset = 0;
        std::shared_ptr<Kernel> k = kernels_.get(spec);  // kernel_cache.h: made once per spec
        std::vector<const void*> ptrs;
        for (auto& b : ins) ptrs.push_back(b.data);
        run_once(*k, ptrs.data(), out.Data());
      }
      Napi::Array a = Napi::Array::New(env, 3);
      a.Set(0u, out);
      a.Set(1u, Napi::Number::New(env, (double)r.out.dtype));
      a.Set(2u, shape_to_js(env, r.out.shape));
      return a;
    });
  }

  // kernelImpl(opcode, attrs, descs) -> the implementation string the kernel would use
  Napi::Value KernelImpl(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      OpCode op = read_op(info[0]);
      Attrs attrs = read_attrs(info[1]);
      std::vector<TensorDesc> descs = read_descs(info[2]);
      InferResult r = infer(op, attrs, descs);
      if (r.is_view) return Napi::String::New(env, "view");
      for (auto& d : descs) d.offset = 0;
      KernelSpec spec{op, attrs, descs, r.out};
      return Napi::String::New(env, make_kernel(spec)->impl());
    });
  }

  // fillRandom(buffer, dtype, kind, a, b, seedHi, seedLo)
  Napi::Value FillRandom(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      if (!info[0].IsArrayBuffer()) fail(ErrorCode::INVALID_ARGUMENT, "fillRandom: expected an ArrayBuffer");
      Napi::ArrayBuffer ab = info[0].As<Napi::ArrayBuffer>();
      DType t = (DType)info[1].As<Napi::Number>().Int32Value();
      if (!dtype_valid((int)t) || !is_float(t)) fail(ErrorCode::INVALID_ARGUMENT, "fillRandom: dtype must be a float dtype");
      int kind = info[2].As<Napi::Number>().Int32Value();
      double a = info[3].As<Napi::Number>().DoubleValue(), b = info[4].As<Napi::Number>().DoubleValue();
      uint64_t seed = ((uint64_t)info[5].As<Napi::Number>().Uint32Value() << 32) | info[6].As<Napi::Number>().Uint32Value();
      fill_random(ab.Data(), t, (int64_t)(ab.ByteLength() / dtype_size(t)), kind == 0 ? RandomKind::Normal : RandomKind::Uniform,
                  a, b, seed);
      return env.Undefined();
    });
  }

  // detach(buffer): releases the memory of a V8-owned ArrayBuffer now (dispose()).
  Napi::Value Detach(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info[0].IsArrayBuffer()) {
      Napi::ArrayBuffer ab = info[0].As<Napi::ArrayBuffer>();
      if (!ab.IsDetached()) {
        void* data = ab.Data();
        ab.Detach();
        OutputPool::release(data);  // a script output's block serves the next run now
      }
    }
    return env.Undefined();
  }

  // kernelCache([capacity]) -> { size, capacity, hits, misses } of this instance's eager kernel
  // cache (kernel_cache.h); a number argument sets the capacity first (0 disables it). Internal:
  // tests and the bench use it.
  Napi::Value KernelCacheInfo(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() > 0 && info[0].IsNumber()) {
      double n = info[0].As<Napi::Number>().DoubleValue();
      if (n >= 0 && n <= 1e6) kernels_.set_capacity((size_t)n);
    }
    Napi::Object o = Napi::Object::New(env);
    o.Set("size", (double)kernels_.size());
    o.Set("capacity", (double)kernels_.capacity());
    o.Set("hits", (double)kernels_.hits());
    o.Set("misses", (double)kernels_.misses());
    return o;
  }

  // roofline(threads) -> { peakGflops, bandwidthGBs } measured now (takes about a second)
  Napi::Value Roofline(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int threads = info[0].IsNumber() ? info[0].As<Napi::Number>().Int32Value() : max_threads();
    if (threads < 1 || threads > 1024) threads = max_threads();
    Napi::Object o = Napi::Object::New(env);
    o.Set("peakGflops", measure_peak_gflops(threads));
    o.Set("bandwidthGBs", measure_bandwidth_gbs(threads));
    o.Set("threads", threads);
    return o;
  }

  Napi::Value Info(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    const dnnl_version_t* v = dnnl_version();
    o.Set("onednn", std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch));
    o.Set("threads", max_threads());
    return o;
  }

  KernelCache kernels_;  // eager kernels of this instance (one per worker_thread)
};

}  // namespace

}  // namespace hodu

using HoduAddon = hodu::Addon;
NODE_API_NAMED_ADDON(hodu, HoduAddon)
