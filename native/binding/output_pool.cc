#include "output_pool.h"

#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "../core/checked_size.h"
#include "../core/error.h"

namespace hodu {

namespace {

// One per ArrayBuffer handed out: its block goes back to the pool once, by release() (dispose) or
// by the finalizer (GC), whichever comes first; the finalizer deletes the ticket. While a runAsync
// reads the block (pins > 0) it goes back at the last unpin() instead, and a ticket whose finalizer
// ran meanwhile is deleted there.
struct Ticket {
  void* block;
  size_t size;
  bool returned = false;   // left `out` (released or finalized)
  bool finalized = false;  // the finalizer ran while pinned
  int pins = 0;
};

struct Pool {
  std::mutex mu;
  std::unordered_map<size_t, std::vector<void*>> free;  // by rounded size
  std::unordered_map<void*, Ticket*> out;                // blocks held by live ArrayBuffers
  std::unordered_map<const void*, Ticket*> pinned;       // blocks runAsync workers read
  size_t cached = 0;
  size_t outstanding = 0;  // bytes of the blocks in `out`
  size_t unfinalized = 0;  // disposed buffers whose finalizer has not run yet (see make())
};

Pool& pool() {
  static Pool* p = new Pool();  // never destroyed: finalizers may run during process teardown
  return *p;
}

size_t rounded(size_t bytes) { return (bytes + 63) / 64 * 64; }

// Caller holds the lock.
void give_locked(Pool& p, void* b, size_t size) {
  auto& list = p.free[size];
  if (list.size() < OutputPool::kMaxBlocksPerSize && p.cached + size <= OutputPool::kMaxCachedBytes) {
    list.push_back(b);
    p.cached += size;
    return;
  }
  std::free(b);
}

void finalize(napi_env, void*, void* hint) {
  Ticket* t = static_cast<Ticket*>(hint);
  Pool& p = pool();
  {
    std::lock_guard<std::mutex> lock(p.mu);
    if (!t->returned) {
      p.out.erase(t->block);
      p.outstanding -= t->size;
      t->returned = true;
      if (!t->pins) give_locked(p, t->block, t->size);  // else at the last unpin()
    } else {
      p.unfinalized--;
    }
    if (t->pins) {
      t->finalized = true;  // unpin() deletes it
      return;
    }
  }
  delete t;
}

}  // namespace

Napi::ArrayBuffer OutputPool::make(Napi::Env env, size_t bytes, void** data) {
  check_alloc_bytes(bytes, "a script output");
  const size_t size = rounded(bytes ? bytes : 1);
  Pool& p = pool();
  void* b = nullptr;
  bool fresh_ok = true;
  {
    std::lock_guard<std::mutex> lock(p.mu);
    auto it = p.free.find(size);
    if (it != p.free.end() && !it->second.empty()) {
      b = it->second.back();
      it->second.pop_back();
      p.cached -= size;
    }
    fresh_ok = p.outstanding + size <= kMaxOutstandingBytes;
    // Disposed outputs release their block at once, but Node runs the finalizer of an external
    // ArrayBuffer (and frees its bookkeeping, ~0.3-0.7 KB) only when the event loop turns: a
    // synchronous loop that disposes every output would grow without bound. Past kMaxUnfinalized
    // such buffers, outputs are V8-owned until the loop turns (detach frees those at once).
    if (p.unfinalized >= kMaxUnfinalized) {
      fresh_ok = false;
      if (b) {
        give_locked(p, b, size);
        b = nullptr;
      }
    }
  }
  napi_value v;
  if (!b && !fresh_ok) {
    // Many pooled blocks are out and none came back: a loop that drops its outputs without ever
    // yielding to the event loop (where their finalizers run). A V8-owned buffer instead: the GC
    // frees it itself, so such a loop stays within bounded memory.
    return uninitialized_buffer(env, bytes, data);
  }
  if (!b) b = std::aligned_alloc(64, size);
  if (!b) fail(ErrorCode::INTERNAL, "out of memory allocating an output of ", bytes, " bytes");
  Ticket* t = new Ticket{b, size};
  if (napi_create_external_arraybuffer(env, b, bytes ? bytes : 1, finalize, t, &v) == napi_ok) {
    std::lock_guard<std::mutex> lock(p.mu);
    p.out[b] = t;
    p.outstanding += size;
    *data = b;
    return Napi::ArrayBuffer(env, v);
  }
  delete t;
  {
    std::lock_guard<std::mutex> lock(p.mu);
    give_locked(p, b, size);
  }
  // external buffers not allowed here (e.g. a V8 sandbox): a V8-owned one
  return uninitialized_buffer(env, bytes, data);
}

void OutputPool::release(void* data) {
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.mu);
  auto it = p.out.find(data);
  if (it == p.out.end()) return;  // not a pooled buffer
  Ticket* t = it->second;
  t->returned = true;
  p.unfinalized++;
  p.out.erase(it);
  p.outstanding -= t->size;
  if (!t->pins) give_locked(p, t->block, t->size);  // else at the last unpin()
}

bool OutputPool::pin(const void* data, size_t bytes) {
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.mu);
  auto it = p.out.find(const_cast<void*>(data));
  if (it == p.out.end() || it->second->size < bytes) return false;
  Ticket* t = it->second;
  t->pins++;
  p.pinned[data] = t;
  return true;
}

void OutputPool::unpin(const void* data) {
  Pool& p = pool();
  Ticket* del = nullptr;
  {
    std::lock_guard<std::mutex> lock(p.mu);
    auto it = p.pinned.find(data);
    if (it == p.pinned.end()) return;
    Ticket* t = it->second;
    if (--t->pins > 0) return;
    p.pinned.erase(it);
    if (t->returned) give_locked(p, t->block, t->size);  // released or finalized while pinned
    if (t->finalized) del = t;
  }
  delete del;
}

namespace {
void free_block(napi_env, void* data, void*) { std::free(data); }
}  // namespace

Napi::ArrayBuffer uninitialized_buffer(Napi::Env env, size_t bytes, void** data) {
  if (bytes == 0) bytes = 1;
  check_alloc_bytes(bytes, "an output");
  napi_value buf, ab;
  void* p = nullptr;
  size_t len = 0, off = 0;
  if (napi_create_buffer(env, bytes, &p, &buf) == napi_ok &&
      napi_get_typedarray_info(env, buf, nullptr, &len, nullptr, &ab, &off) == napi_ok && off == 0) {
    size_t ab_len = 0;
    void* ab_data = nullptr;
    if (napi_get_arraybuffer_info(env, ab, &ab_data, &ab_len) == napi_ok && ab_len == bytes && ab_data == p) {
      *data = p;
      return Napi::ArrayBuffer(env, ab);
    }
  }
  auto clear_pending = [&] {  // e.g. a RangeError: we report our own error instead
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) {
      napi_value ex;
      napi_get_and_clear_last_exception(env, &ex);
    }
  };
  clear_pending();
  // Above a Buffer's maximum length: malloc (which can fail, unlike V8's allocator, which aborts the
  // process) and hand the block to an external ArrayBuffer that frees it.
  if (void* m = std::malloc(bytes)) {
    if (napi_create_external_arraybuffer(env, m, bytes, free_block, nullptr, &ab) == napi_ok) {
      *data = m;
      return Napi::ArrayBuffer(env, ab);
    }
    // Not freed here: Node may already have run free_block on this failure path (a second free
    // crashed). The block was never touched, so it costs address space only.
    clear_pending();
    fail(ErrorCode::INTERNAL, "out of memory: V8 refused an ArrayBuffer of ", bytes, " bytes");
  } else {
    fail(ErrorCode::INTERNAL, "out of memory: cannot allocate ", bytes, " bytes");
  }
  if (napi_create_arraybuffer(env, bytes, data, &ab) != napi_ok) {
    clear_pending();
    fail(ErrorCode::INTERNAL, "out of memory: cannot allocate ", bytes, " bytes");
  }
  return Napi::ArrayBuffer(env, ab);
}

}  // namespace hodu
