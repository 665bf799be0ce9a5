#include <algorithm>
#include <cstdlib>
#include <mutex>

#include "kernel.h"

namespace hodu {

namespace {
struct Entry {
  int priority;
  KernelFactory f;
};
std::vector<Entry>* table() {
  static std::vector<Entry> t[kNumOps];
  return t;
}
}  // namespace

KernelRegistrar::KernelRegistrar(std::initializer_list<OpCode> ops, KernelFactory f, int priority)
    : KernelRegistrar(std::vector<OpCode>(ops), f, priority) {}

KernelRegistrar::KernelRegistrar(const std::vector<OpCode>& ops, KernelFactory f, int priority) {
  for (OpCode op : ops) {
    auto& v = table()[(int)op];
    v.push_back({priority, f});
    std::stable_sort(v.begin(), v.end(), [](const Entry& a, const Entry& b) { return a.priority > b.priority; });
  }
}

std::unique_ptr<Kernel> try_make_kernel(const KernelSpec& spec) {
  if (!opcode_valid((int)spec.op)) fail(ErrorCode::INTERNAL, "make_kernel: bad opcode ", (int)spec.op);
  for (const Entry& e : table()[(int)spec.op]) {
    auto k = e.f(spec);
    if (k && (spec.post_ops.empty() || k->fused_post_ops())) return k;
  }
  return nullptr;
}

std::unique_ptr<Kernel> make_kernel(const KernelSpec& spec) {
  auto k = try_make_kernel(spec);
  if (!k) {
    std::string ins;
    for (const auto& d : spec.inputs) ins += std::string(ins.empty() ? "" : ", ") + dtype_name(d.dtype);
    fail(ErrorCode::INTERNAL, op_info(spec.op).name, ": no kernel for inputs (", ins, ") -> ", dtype_name(spec.output.dtype),
         spec.post_ops.empty() ? "" : " with fused post-ops");
  }
  return k;
}

namespace {
struct Scratch {
  void* p = nullptr;
  size_t n = 0;
  ~Scratch() { std::free(p); }
  void* get(size_t bytes) {
    if (bytes > n) {
      std::free(p);
      n = (bytes + 63) / 64 * 64;
      p = std::aligned_alloc(64, n);
      if (!p) {
        n = 0;
        fail(ErrorCode::INTERNAL, "out of memory allocating a ", bytes, "-byte scratchpad");
      }
    }
    return p;
  }
};
}  // namespace

void run_once(Kernel& k, const void* const* inputs, void* output) {
  thread_local Scratch scratch;
  ExecContext ctx;
  size_t need = k.scratchpad_bytes();
  ctx.scratchpad = need ? scratch.get(need) : nullptr;
  k.run(inputs, output, ctx);
}

}  // namespace hodu

#include "fused.h"

namespace hodu {

namespace {
FusedFactory g_fused_make = nullptr;
FusedSupports g_fused_supports = nullptr;
}  // namespace

FusedRegistrar::FusedRegistrar(FusedFactory make, FusedSupports supports) {
  g_fused_make = make;
  g_fused_supports = supports;
}

std::unique_ptr<Kernel> make_fused_elementwise(const FusedProgram& p) {
  return g_fused_make ? g_fused_make(p) : nullptr;
}

bool fused_elementwise_supports(OpCode op, DType dtype) { return g_fused_supports && g_fused_supports(op, dtype); }

}  // namespace hodu
