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

KernelRegistrar::KernelRegistrar(std::initializer_list<OpCode> ops, KernelFactory f, int priority) {
  for (OpCode op : ops) {
    auto& v = table()[(int)op];
    v.push_back({priority, f});
    std::stable_sort(v.begin(), v.end(), [](const Entry& a, const Entry& b) { return a.priority > b.priority; });
  }
}

std::unique_ptr<Kernel> make_kernel(const KernelSpec& spec) {
  if (!opcode_valid((int)spec.op)) fail(ErrorCode::INTERNAL, "make_kernel: bad opcode ", (int)spec.op);
  for (const Entry& e : table()[(int)spec.op]) {
    auto k = e.f(spec);
    if (k) return k;
  }
  fail(ErrorCode::INTERNAL, op_info(spec.op).name, ": no kernel for output dtype ", dtype_name(spec.output.dtype));
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
