// oneDNN plumbing shared by the kernels: the engine, per-thread streams, dtype and layout mapping,
// thread policy, and the conversion of dnnl::error into HoduError.
#pragma once
#include <oneapi/dnnl/dnnl.hpp>

#include <mutex>
#include <string>
#include <unordered_map>

#include "../core/op.h"
#include "../core/tensor_desc.h"

namespace hodu {

dnnl::engine& cpu_engine();
dnnl::stream& thread_stream();  // one stream per OS thread (streams are not shared across threads)

// oneDNN data type for a dtype, or false when oneDNN has none (f64, wide ints, u16...).
bool dnnl_dtype(DType t, dnnl::memory::data_type* out);

// A plain (strided) memory descriptor with the desc's shape and strides. Rank 0 becomes {1}.
dnnl::memory::desc plain_md(const TensorDesc& d);
dnnl::memory::desc plain_md(DType t, const Shape& shape, const Shape& strides);

// The oneDNN eltwise algorithm (and alpha, beta) computing a unary op with our semantics (NaN, -0,
// accuracy), for the eltwise primitive and for fused post-ops; false when there is none.
bool dnnl_eltwise_algorithm(OpCode op, const Attrs& attrs, dnnl::algorithm* alg, float* alpha, float* beta);

// True when a primitive descriptor picked oneDNN's slow reference implementation.
bool is_ref_impl(const std::string& impl_info);
// Appends an eltwise post-op. A relu with alpha 0 becomes elu(alpha 0) then 1·x + 0: oneDNN's relu
// computes max(x, 0), which turns NaN into 0, while elu keeps NaN (hodu's NaN rule) and the linear
// step turns elu's −0 for negative x into +0.
void append_eltwise_post_op(dnnl::post_ops* po, dnnl::algorithm alg, float alpha, float beta);

// Thread policy: 1 thread for small nodes (an OpenMP fork/join costs ~4 µs here), all otherwise.
// `work` is an estimate of bytes moved or flops.
int pick_threads(double work);
int max_threads();

// A cap on the OpenMP threads of kernels run by the calling thread (0 = none): ThreadScope never
// asks for more. A plan sets it for a run (native/hodu/thread_policy.h).
void set_thread_cap(int n);
int thread_cap();

// Sets the calling thread's OpenMP thread count for a scope (the ICV is per thread), at most the
// thread cap.
class ThreadScope {
 public:
  explicit ThreadScope(int n);
  ~ThreadScope();
  ThreadScope(const ThreadScope&) = delete;
  ThreadScope& operator=(const ThreadScope&) = delete;

 private:
  int prev_;
};

// Executes a primitive on this thread's stream and waits; dnnl::error becomes HoduError(INTERNAL).
// `what` names the caller in the error message.
void dnnl_execute(const dnnl::primitive& p, const std::unordered_map<int, dnnl::memory>& args,
                  const char* what = "oneDNN execute");

// A primitive's arguments, made once (at kernel creation) as memory objects without data; each run
// points them at its buffers with set() and executes, holding lock() throughout (making the
// dnnl::memory objects and their map at every run cost about 1 us per primitive). The lock keeps
// concurrent runs of one kernel correct (they are serialised on this primitive; a plan never
// runs a kernel twice at once, so it is never contended there).
//   auto held = args_.lock();
//   args_.set(DNNL_ARG_SRC, x); ...; args_.execute(prim);
class DnnlArgs {
 public:
  DnnlArgs() = default;
  DnnlArgs(DnnlArgs&& o) noexcept : map_(std::move(o.map_)) {}
  DnnlArgs& operator=(DnnlArgs&& o) noexcept {
    map_ = std::move(o.map_);
    return *this;
  }
  DnnlArgs(const DnnlArgs&) = delete;  // copies would share the memory objects
  DnnlArgs& operator=(const DnnlArgs&) = delete;

  // failures (out of memory) throw HoduError
  void add(int arg, const dnnl::memory::desc& md);
  [[nodiscard]] std::unique_lock<std::mutex> lock() const { return std::unique_lock<std::mutex>(mu_); }
  // set() and execute() only while holding lock()
  void set(int arg, const void* data) const;
  void execute(const dnnl::primitive& p, const char* what = "oneDNN execute") const { dnnl_execute(p, map_, what); }

 private:
  std::unordered_map<int, dnnl::memory> map_;
  mutable std::mutex mu_;
};

// Rethrows a dnnl::error (or anything) as HoduError with context.
[[noreturn]] void rethrow_dnnl(const char* what);

}  // namespace hodu
