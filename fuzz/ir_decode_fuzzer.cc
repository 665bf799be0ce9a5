// libFuzzer target: the IR decoder and everything a decoded graph reaches without running kernels:
// decode_graph -> validate_graph (shape inference of every op) -> loop rolling -> StableHLO emission.
// Input: raw IR bytes (seeds: the IR of real scripts, scripts/fuzz.js writes them). Constants are made
// up to the sizes the graph asks for (capped), so validation gets past the constant checks.
// Allowed outcomes: success or a hodu::HoduError. Anything else (a crash, a sanitizer report, another
// exception, a leak) is a finding.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/error.h"
#include "ir/graph.h"
#include "ir/loop_roll.h"
#include "xla/stablehlo_emitter.h"

using namespace hodu;

namespace {
constexpr size_t kMaxConstantBytes = size_t(1) << 20;

std::vector<std::vector<uint8_t>> make_constants(const Graph& g) {
  std::vector<std::vector<uint8_t>> bufs;
  for (const Value& v : g.values) {
    if (v.kind != ValueKind::Constant || v.constant > 4096) continue;
    if (bufs.size() <= v.constant) bufs.resize(v.constant + 1);
    size_t n = TensorDesc(v.dtype, v.shape).nbytes();
    if (n > kMaxConstantBytes) n = 0;  // validation reports the mismatch
    bufs[v.constant].assign(n, 0);
  }
  return bufs;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    Graph g = decode_graph(data, size);
    auto bufs = make_constants(g);
    std::vector<ConstantData> constants;
    for (auto& b : bufs) constants.push_back({b.data(), b.size()});
    validate_graph(g, constants);
    xla::EmitOptions eo;
    (void)xla::emit_stablehlo(g, constants, eo);
    RolledGraph r = roll_loops(g, constants);
    (void)xla::emit_stablehlo(r.graph, r.constants, eo);
  } catch (const HoduError&) {
    // the only allowed failure
  }
  return 0;
}
