// A bound on the programs handed to XLA, checked before lowering. XLA's compiler needs memory that
// grows with the number of values alive at once, not just with the op count: a 100k-wide fan-out
// (a 13.6 MB file) took 14.6 GB and then failed with std::bad_alloc, while a 1M-op chain needs
// 1.8 GB. Programs above either limit fail with COMPILE_FAILED at once (HODU runs them).
// Measured scaling and the choice of limits: docs/reliability.md.
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

#include "../core/error.h"
#include "../ir/graph.h"

namespace hodu {

constexpr size_t kMaxXlaValues = size_t(4) << 20;  // values in the (rolled) top-level graph
constexpr size_t kMaxXlaLiveValues = 20000;       // op results alive at the same point of the program

// The largest number of op results alive at once in program order (an output stays alive to the end).
inline size_t peak_live_values(const Graph& g) {
  const size_t n = g.values.size();
  std::vector<size_t> last(n, 0);
  for (size_t i = 0; i < n; i++)
    for (uint32_t in : g.values[i].inputs)
      if (in < n) last[in] = std::max(last[in], i);
  for (const Output& o : g.outputs)
    if (o.value < n) last[o.value] = n;
  std::vector<int64_t> delta(n + 2, 0);
  for (size_t i = 0; i < n; i++) {
    if (g.values[i].kind != ValueKind::Op) continue;
    delta[i]++;
    delta[std::max(last[i], i) + 1]--;
  }
  int64_t live = 0, peak = 0;
  for (size_t i = 0; i <= n; i++) peak = std::max(peak, live += delta[i]);
  return (size_t)peak;
}

inline void check_xla_program_size(const Graph& g) {
  if (g.values.size() > kMaxXlaValues)
    fail(ErrorCode::COMPILE_FAILED, "xla: the program has ", g.values.size(), " values, more than the ", kMaxXlaValues,
         " the XLA backend accepts (XLA's compile memory grows with it); run it on Backend.HODU");
  const size_t live = peak_live_values(g);
  if (live > kMaxXlaLiveValues)
    fail(ErrorCode::COMPILE_FAILED, "xla: the program keeps ", live, " values alive at once, more than the ", kMaxXlaLiveValues,
         " the XLA backend accepts (XLA's compile memory grows with it: a 100k-wide program needs about 15 GB); run it on "
         "Backend.HODU");
}

}  // namespace hodu
