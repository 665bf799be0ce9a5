// Memory for the outputs of script runs, reused across runs.
//
// A run hands its outputs to JS as ArrayBuffers over the memory the kernels wrote (no copy). A new
// V8 ArrayBuffer per run is zero-filled fresh memory: for a 4 MB output that zero-fill and the
// first touch of its pages cost more than the kernels (about 3 ms per MiB of new pages on the VMs we
// measure on). Instead each output is an external ArrayBuffer over a block from this pool; when JS
// disposes the buffer (release(), right away) or drops it (its finalizer, after a GC: V8 runs those
// later, so a tight loop that never disposes keeps allocating), the block is reused by the next run
// that needs that size.
// Blocks are not zeroed: a plan writes every byte of its outputs. The pool is process-wide (no JS
// handles, a mutex: finalizers may run on any thread) and keeps at most kMaxCachedBytes.
// Node runs those finalizers from the event loop only: a synchronous loop of run() calls that drops
// its outputs would hold every block until it ends (4 MB a run: 1.6 GB after 400 runs). Once
// kMaxOutstandingBytes of blocks are out and none is free, outputs are V8-owned buffers, which the
// GC frees by itself (the memory of a Node Buffer: malloc'd, so blocks the GC freed come back),
// so such a loop stays bounded, at about the speed of the pool.
#pragma once
#include <napi.h>

#include <cstddef>

namespace hodu {

class OutputPool {
 public:
  static constexpr size_t kMaxCachedBytes = size_t(256) << 20;
  static constexpr size_t kMaxBlocksPerSize = 8;
  static constexpr size_t kMaxOutstandingBytes = size_t(64) << 20;
  static constexpr size_t kMaxUnfinalized = 2048;

  // An ArrayBuffer of `bytes` (at least 1) over pooled memory; *data receives its address. Falls
  // back to a plain ArrayBuffer where external buffers are not allowed.
  static Napi::ArrayBuffer make(Napi::Env env, size_t bytes, void** data);
  // Returns the block of a pooled ArrayBuffer the caller has just detached (no-op for others).
  static void release(void* data);
  // runAsync inputs: while pinned, the pooled block that starts at `data` (and holds at least
  // `bytes`) is neither reused nor freed, even if its ArrayBuffer is disposed, transferred or
  // collected meanwhile; it goes back to the pool at the last unpin(). False (nothing pinned) when
  // `data` is not the start of a block a live pooled ArrayBuffer holds.
  static bool pin(const void* data, size_t bytes);
  static void unpin(const void* data);
};

// A V8-owned ArrayBuffer of `bytes` (at least 1) that is not zero-filled, for memory a kernel
// writes in full: the memory of a Node Buffer (malloc'd, so a block the GC freed is reused without
// fresh pages or clearing; 4 MB: about 20-40 us less than a zero-filled ArrayBuffer). Its
// ArrayBuffer is used only when it is the Buffer's alone (offset 0, same length); else a plain,
// zero-filled ArrayBuffer. The GC sees it and frees it with the buffer (no deferred finalizers).
Napi::ArrayBuffer uninitialized_buffer(Napi::Env env, size_t bytes, void** data);

}  // namespace hodu
