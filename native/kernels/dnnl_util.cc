#include "dnnl_util.h"

#include <omp.h>

#include <cstdlib>

namespace hodu {

dnnl::engine& cpu_engine() {
  static dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  return eng;
}

dnnl::stream& thread_stream() {
  thread_local dnnl::stream s(cpu_engine());
  return s;
}

bool dnnl_dtype(DType t, dnnl::memory::data_type* out) {
  using dt = dnnl::memory::data_type;
  switch (t) {
    case DType::F32: *out = dt::f32; return true;
    case DType::F16: *out = dt::f16; return true;
    case DType::BF16: *out = dt::bf16; return true;
    case DType::I32: *out = dt::s32; return true;
    case DType::I8: *out = dt::s8; return true;
    case DType::U8: *out = dt::u8; return true;
    default: return false;
  }
}

dnnl::memory::desc plain_md(DType t, const Shape& shape, const Shape& strides) {
  dnnl::memory::data_type dt;
  if (!dnnl_dtype(t, &dt)) fail(ErrorCode::INTERNAL, "oneDNN has no data type for ", dtype_name(t));
  if (shape.empty()) return dnnl::memory::desc({1}, dt, dnnl::memory::dims{1});
  return dnnl::memory::desc(dnnl::memory::dims(shape.begin(), shape.end()), dt,
                            dnnl::memory::dims(strides.begin(), strides.end()));
}

dnnl::memory::desc plain_md(const TensorDesc& d) { return plain_md(d.dtype, d.shape, d.strides); }

bool dnnl_eltwise_algorithm(OpCode op, const Attrs& attrs, dnnl::algorithm* alg, float* alpha, float* beta) {
  using A = dnnl::algorithm;
  *alpha = 0.f;
  *beta = 0.f;
  switch (op) {
    case OpCode::Relu: *alg = A::eltwise_relu; return true;  // a post-op only (append_eltwise_post_op)
    case OpCode::LeakyRelu:
      if (attrs.empty()) return false;
      *alg = A::eltwise_relu;
      *alpha = (float)attrs[0];
      return true;
    case OpCode::Abs: *alg = A::eltwise_abs; return true;
    case OpCode::Square: *alg = A::eltwise_square; return true;
    case OpCode::Sqrt: *alg = A::eltwise_sqrt; return true;
    case OpCode::Recip: *alg = A::eltwise_pow; *alpha = 1.f; *beta = -1.f; return true;
    case OpCode::Tanh: *alg = A::eltwise_tanh; return true;
    case OpCode::Sigmoid: *alg = A::eltwise_logistic; return true;
    case OpCode::Silu: *alg = A::eltwise_swish; *alpha = 1.f; return true;
    case OpCode::Gelu: *alg = A::eltwise_gelu_tanh; return true;
    case OpCode::GeluErf: *alg = A::eltwise_gelu_erf; return true;
    // not: Clamp (clip maps NaN to a bound), Neg (linear loses -0), Exp (exp(NaN) = inf), Ln and
    // Elu (accuracy), Softplus (soft_relu is off in the negative tail); see unary.cc
    default: return false;
  }
}

void append_eltwise_post_op(dnnl::post_ops* po, dnnl::algorithm alg, float alpha, float beta) {
  if (alg == dnnl::algorithm::eltwise_relu && alpha == 0.f) {
    po->append_eltwise(dnnl::algorithm::eltwise_elu, 0.f, 0.f);
    po->append_eltwise(dnnl::algorithm::eltwise_linear, 1.f, 0.f);
    return;
  }
  po->append_eltwise(alg, alpha, beta);
}

bool is_ref_impl(const std::string& impl) { return impl.find("ref") != std::string::npos; }

int max_threads() {
  static int n = [] {
    int m = omp_get_max_threads();
    return m > 0 ? m : 1;
  }();
  return n;
}

int pick_threads(double work) { return work < 256.0 * 1024.0 ? 1 : max_threads(); }

namespace {
thread_local int t_thread_cap = 0;
}
void set_thread_cap(int n) { t_thread_cap = n; }
int thread_cap() { return t_thread_cap; }

ThreadScope::ThreadScope(int n) : prev_(omp_get_max_threads()) {
  if (t_thread_cap > 0 && n > t_thread_cap) n = t_thread_cap;
  if (n != prev_) omp_set_num_threads(n);
}
ThreadScope::~ThreadScope() {
  if (omp_get_max_threads() != prev_) omp_set_num_threads(prev_);
}

void dnnl_execute(const dnnl::primitive& p, const std::unordered_map<int, dnnl::memory>& args, const char* what) {
  try {
    auto& s = thread_stream();
    p.execute(s, args);
    s.wait();
  } catch (const HoduError&) {
    throw;
  } catch (...) {
    rethrow_dnnl(what);
  }
}

void DnnlArgs::add(int arg, const dnnl::memory::desc& md) {
  try {
    map_.insert_or_assign(arg, dnnl::memory(md, cpu_engine(), DNNL_MEMORY_NONE));
  } catch (...) {
    rethrow_dnnl("oneDNN memory");
  }
}

void DnnlArgs::set(int arg, const void* data) const {
  auto it = map_.find(arg);
  if (it == map_.end()) fail(ErrorCode::INTERNAL, "oneDNN argument ", arg, " was not declared");
  try {
    it->second.set_data_handle(const_cast<void*>(data));
  } catch (...) {
    rethrow_dnnl("oneDNN set_data_handle");
  }
}

void rethrow_dnnl(const char* what) {
  try {
    throw;
  } catch (const HoduError&) {
    throw;
  } catch (const dnnl::error& e) {
    fail(ErrorCode::INTERNAL, what, ": oneDNN error: ", e.what(), " (status ", (int)e.status, ")");
  } catch (const std::bad_alloc&) {
    fail(ErrorCode::INTERNAL, what, ": out of memory");
  } catch (const std::exception& e) {
    fail(ErrorCode::INTERNAL, what, ": ", e.what());
  }
}

}  // namespace hodu
