// oneDNN layout plumbing shared by the conv2d, pool2d and matmul kernels: a plain desc for a strided
// user view, one reorder step (with a user-mode scratchpad) between two layouts, and constant
// weights packed once into a primitive's layout.
#pragma once
#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <string>
#include <unordered_map>

#include "dnnl_util.h"

namespace hodu {
namespace dnnl_steps {

// Small helpers shared by the oneDNN-backed conv and pool kernels.
constexpr int64_t kAlign = 64;  // alignment of scratchpad carve-outs
inline int64_t align_up(int64_t n, int64_t a) { return (n + a - 1) / a * a; }

inline Shape strides_of(const TensorDesc& d) {
  return d.strides.size() == d.shape.size() ? d.strides : contiguous_strides(d.shape);
}

// True when a desc's dim 1 (channels) is blocked by a size that does not divide `channels` (part
// of each block is padding, and the blocked kernels then do wasted work).
inline bool padded_blocking(const dnnl::memory::desc& d, int64_t channels) {
  if (d.get_inner_nblks() == 0) return false;
  const dnnl::memory::dims idx = d.get_inner_idxs(), blk = d.get_inner_blks();
  for (size_t i = 0; i < idx.size(); i++)
    if (idx[i] == 1 && channels % blk[i] != 0) return true;
  return false;
}

// A plain strided desc of `dt`. A size-1 dim gets the stride a dense layout would give it (the
// extent of the inner dims): its stride never matters for the data, but oneDNN classifies layouts
// from strides, so this lets e.g. a contiguous [N, 1, H, W] view compare equal to nchw.
inline dnnl::memory::desc dense_view_md(const Shape& shape, const Shape& strides,
                                        dnnl::memory::data_type dt = dnnl::memory::data_type::f32) {
  dnnl::memory::dims d(shape.begin(), shape.end()), st(strides.begin(), strides.end());
  for (size_t i = d.size(); i-- > 0;) {
    if (d[i] != 1) continue;
    int64_t ext = 1;
    for (size_t j = i + 1; j < d.size(); j++) ext = std::max<int64_t>(ext, st[j] * d[j]);
    st[i] = ext;
  }
  return dnnl::memory::desc(d, dt, st);
}

// One reorder between two layouts, or nothing when they already agree (`active` false).
struct ReorderStep {
  dnnl::reorder prim;
  // The same reorder made for one thread: oneDNN's jit reorder fixes its thread count at creation,
  // so a run capped at one thread (thread_policy.h) uses this one. Empty when prim is one-thread.
  dnnl::reorder prim1;
  dnnl::memory::desc from, to, scratch;
  bool active = false;
  std::string impl;  // oneDNN's impl_info_str when active

  // Creates the primitive (under `threads`). Returns false when oneDNN offers only a reference
  // reorder, or none; throws dnnl::error on invalid descs.
  bool init(const dnnl::memory::desc& src, const dnnl::memory::desc& dst, int threads) {
    from = src;
    to = dst;
    active = false;
    if (src == dst) return true;
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    // a small reorder is not worth a thread team (memory-bound; a 2-thread region costs more)
    threads = std::min(threads, pick_threads((double)(src.get_size() + dst.get_size())));
    dnnl::reorder::primitive_desc pd;
    {
      ThreadScope ts(threads);
      pd = dnnl::reorder::primitive_desc(cpu_engine(), src, cpu_engine(), dst, attr, /*allow_empty=*/true);
    }
    if (!pd) return false;
    impl = pd.impl_info_str();
    if (is_ref_impl(impl)) return false;
    prim = dnnl::reorder(pd);
    scratch = pd.scratchpad_desc();
    prim1 = dnnl::reorder();
    if (threads > 1) {
      ThreadScope ts(1);
      dnnl::reorder::primitive_desc pd1(cpu_engine(), src, cpu_engine(), dst, attr, /*allow_empty=*/true);
      if (pd1 && !is_ref_impl(pd1.impl_info_str()) && pd1.scratchpad_desc().get_size() <= scratch.get_size())
        prim1 = dnnl::reorder(pd1);
    }
    args = DnnlArgs();
    args.add(DNNL_ARG_FROM, from);
    args.add(DNNL_ARG_TO, to);
    if (scratch.get_size() > 0) args.add(DNNL_ARG_SCRATCHPAD, scratch);
    active = true;
    return true;
  }

  size_t scratch_bytes() const { return active ? scratch.get_size() : 0; }

  // Executes on the calling thread (its OpenMP thread count is the caller's ThreadScope).
  // `what` names the caller in errors.
  void run(const void* src, void* dst, void* scratchpad, const char* what) const {
    auto held = args.lock();
    args.set(DNNL_ARG_FROM, src);
    args.set(DNNL_ARG_TO, dst);
    if (scratch.get_size() > 0) args.set(DNNL_ARG_SCRATCHPAD, scratchpad);
    args.execute(prim1 && omp_get_max_threads() == 1 ? prim1 : prim, what);
  }

 private:
  DnnlArgs args;  // bound per run, under its lock
};

// Constant data (weights) reordered once, at kernel creation, into the layout a primitive reads:
// an owned, 64-byte aligned copy. Empty (null) when oneDNN has no non-reference reorder for it.
// Kernels share it read-only between runs; it lives as long as the kernel. Null, too, when the
// layouts already agree (nothing to pack: read the constant in place).
inline std::shared_ptr<void> pack_constant(const dnnl::memory::desc& from, const dnnl::memory::desc& to,
                                           const void* src, int threads) {
  ReorderStep re;
  if (!re.init(from, to, threads) || !re.active) return nullptr;
  const size_t bytes = (to.get_size() + kAlign - 1) / kAlign * kAlign;
  std::shared_ptr<void> out(std::aligned_alloc(kAlign, std::max<size_t>(bytes, kAlign)), std::free);
  if (!out) return nullptr;
  std::unique_ptr<void, void (*)(void*)> scratch(nullptr, std::free);
  if (re.scratch_bytes() > 0) {
    scratch.reset(std::aligned_alloc(kAlign, (re.scratch_bytes() + kAlign - 1) / kAlign * kAlign));
    if (!scratch) return nullptr;
  }
  ThreadScope ts(threads);
  re.run(src, out.get(), scratch.get(), "weights pre-pack");
  return out;
}

}  // namespace dnnl_steps
}  // namespace hodu
