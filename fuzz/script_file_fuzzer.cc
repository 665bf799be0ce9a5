// libFuzzer target: a whole .hoduscript file through the native side of Script.load + compile + run.
// The container (lib/script-file.ts: magic, version 1 or 2, flags, name, version 2's metadata,
// constant sizes, IR size, 64-byte aligned IR and constants, SHA-256) is split here the same way;
// the checksum is not verified, so mutations reach the IR and the constants (the TS reader's own
// checks are fuzzed by test/fuzz/script-file-fuzz.ts). Then: decode_graph -> validate_graph ->
// Plan::compile (HODU) -> one run with zero inputs when its buffers are small. Seeds: real scripts saved by scripts/fuzz.js.
// Allowed outcomes: success or a hodu::HoduError.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "hodu/plan.h"
#include "ir/graph.h"

using namespace hodu;

namespace {
constexpr size_t kHash = 32, kAlign = 64;
constexpr size_t kMaxRunBytes = size_t(4) << 20;

struct Reader {
  const uint8_t* p;
  size_t n, at = 0;
  bool ok = true;
  template <class T>
  T get() {
    T v{};
    if (!ok || n - at < sizeof(T) || at > n) {
      ok = false;
      return v;
    }
    std::memcpy(&v, p + at, sizeof(T));
    at += sizeof(T);
    return v;
  }
  bool skip(uint64_t k) {
    if (!ok || k > n - at) return ok = false;
    at += (size_t)k;
    return true;
  }
  void align() { skip((kAlign - at % kAlign) % kAlign); }
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 16 + kHash || std::memcmp(data, "HODUSCRP", 8) != 0) return 0;
  Reader r{data, size - kHash};
  r.skip(8);
  const uint32_t version = r.get<uint32_t>();
  if (version < 1 || version > 2) return 0;
  r.skip(4);  // flags
  uint32_t name_len = r.get<uint32_t>();
  if (name_len > 4096 || !r.skip(name_len)) return 0;
  if (version >= 2) {  // metadata (JSON, read by lib/script-file.ts only): skipped
    uint32_t meta_len = r.get<uint32_t>();
    if (meta_len > (1u << 20) || !r.skip(meta_len)) return 0;
  }
  uint32_t count = r.get<uint32_t>();
  if (!r.ok || count > (r.n - r.at) / 8) return 0;
  std::vector<uint64_t> sizes(count);
  for (auto& s : sizes) s = r.get<uint64_t>();
  uint64_t ir_len = r.get<uint64_t>();
  r.align();
  const uint8_t* ir = data + r.at;
  if (!r.skip(ir_len)) return 0;
  std::vector<ConstantData> constants;
  for (uint64_t s : sizes) {
    r.align();
    const uint8_t* c = data + r.at;
    if (!r.skip(s)) return 0;
    constants.push_back({c, (size_t)s});
  }
  try {
    Graph g = decode_graph(ir, (size_t)ir_len);
    validate_graph(g, constants);
    CompileOptions opts;
    opts.adaptive_threads = false;
    opts.roll_loops = (size & 1) == 0;  // both paths
    auto plan = Plan::compile(g, constants, opts);
    size_t total = 0;
    for (size_t i = 0; i < plan->num_inputs(); i++) total += plan->input_desc(i).nbytes();
    for (size_t j = 0; j < plan->num_outputs(); j++) total += plan->output_desc(j).nbytes();
    if (total <= kMaxRunBytes) {
      std::vector<std::vector<uint8_t>> ins, outs;
      std::vector<const void*> in_ptrs;
      std::vector<void*> out_ptrs;
      for (size_t i = 0; i < plan->num_inputs(); i++) ins.emplace_back(plan->input_desc(i).nbytes() + 1, 0);
      for (size_t j = 0; j < plan->num_outputs(); j++) outs.emplace_back(plan->output_desc(j).nbytes() + 1, 0);
      for (auto& b : ins) in_ptrs.push_back(b.data());
      for (auto& b : outs) out_ptrs.push_back(b.data());
      plan->run(in_ptrs, out_ptrs);
    }
  } catch (const HoduError&) {
    // the only allowed failure
  }
  return 0;
}
