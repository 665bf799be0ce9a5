// The one place where element counts and byte sizes are computed. Every product saturates instead
// of wrapping (no signed overflow, no size_t wrap), and check_extent()/check_alloc_bytes() bound the
// results: shape inference, allocation (eager outputs, plan arenas, script outputs) and the kernels
// all take their counts from here, so a shape that would overflow anywhere is refused once, up front.
#pragma once
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include <unistd.h>

#include "error.h"

namespace hodu {

// Upper bound on the elements of one tensor and on the product of its non-zero dims (which bounds
// every contiguous stride, so an empty tensor cannot carry dims whose strides overflow).
constexpr int64_t kMaxElements = int64_t(1) << 40;

// a * b for non-negative a, b, saturating at INT64_MAX.
inline int64_t sat_mul(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r)) return std::numeric_limits<int64_t>::max();
  return r;
}

// Product of the dims (negative dims count as 0), saturating.
inline int64_t sat_numel(const std::vector<int64_t>& s) {
  int64_t n = 1;
  for (auto d : s) n = sat_mul(n, d > 0 ? d : 0);
  return n;
}

// Product of the non-zero dims, saturating: the largest contiguous stride plus one dim's worth.
inline int64_t sat_extent(const std::vector<int64_t>& s) {
  int64_t n = 1;
  for (auto d : s) n = sat_mul(n, d > 0 ? d : 1);
  return n;
}

// Bytes of `numel` elements of `elem` bytes each, saturating at SIZE_MAX.
inline size_t sat_bytes(int64_t numel, size_t elem) {
  if (numel <= 0) return 0;
  size_t r;
  if (__builtin_mul_overflow((size_t)numel, elem, &r)) return std::numeric_limits<size_t>::max();
  return r;
}

// The most bytes one allocation may ask for: the machine's physical memory (and never above 2^46).
// A request above it cannot succeed without swapping the machine to a halt, so it is refused with a
// HoduError before any allocator (V8's aborts the process on failure) sees it.
inline size_t max_alloc_bytes() {
  static const size_t cap = [] {
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
    size_t lim = size_t(1) << 46;
    if (pages > 0 && page > 0 && (size_t)pages < lim / (size_t)page) lim = (size_t)pages * (size_t)page;
    return lim;
  }();
  return cap;
}

// Refuses an allocation of `bytes` above max_alloc_bytes() (INTERNAL "out of memory", naming `what`).
inline void check_alloc_bytes(size_t bytes, const char* what) {
  if (bytes > max_alloc_bytes())
    fail(ErrorCode::INTERNAL, "out of memory: ", what, " needs ", bytes, " bytes, more than this machine's memory (",
         max_alloc_bytes(), " bytes)");
}

}  // namespace hodu
