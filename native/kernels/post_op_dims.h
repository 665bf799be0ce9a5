// Post-op operands on a primitive's dims: a matmul computes its output as `cd` (batch dims merged,
// size-1 dims dropped, [B, M, K] @ [K, N] folded into one [B*M, N] product), while a fused add's
// operand broadcasts, numpy-style, against the op's own output shape. This maps one onto the other.
#pragma once
#include <cstdint>
#include <vector>

#include "../core/tensor_desc.h"

namespace hodu {

// The dims of `operand` (right-aligned, broadcasting to `out`) over `cd`, where each cd dim is the
// product of consecutive dims of `out` (size-1 dims anywhere): a group the operand covers fully
// keeps its size, a group it broadcasts over becomes 1. False when a group is partly broadcast or
// the dims do not group that way (the post-op is then not fused).
inline bool operand_on_dims(const Shape& out, const Shape& operand, const std::vector<int64_t>& cd, std::vector<int64_t>* od) {
  const int R = (int)out.size();
  if ((int)operand.size() > R) return false;
  std::vector<int64_t> o((size_t)R, 1);
  for (size_t k = 0; k < operand.size(); k++) o[(size_t)R - operand.size() + k] = operand[k];
  for (int d = 0; d < R; d++)
    if (o[d] != out[d] && o[d] != 1) return false;
  od->assign(cd.size(), 1);
  int d = R - 1;
  for (int k = (int)cd.size() - 1; k >= 0; k--) {
    int64_t prod = 1;
    bool full = false, bcast = false;
    while (d >= 0 && prod < cd[k]) {
      if (out[d] != 1) {
        prod *= out[d];
        (o[d] == out[d] ? full : bcast) = true;
      }
      d--;
    }
    if (prod != cd[k] || (full && bcast)) return false;
    (*od)[k] = full ? cd[k] : 1;
  }
  for (; d >= 0; d--)
    if (out[d] != 1) return false;
  return true;
}

}  // namespace hodu
