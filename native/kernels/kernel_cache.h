// A bounded least-recently-used cache of kernels for eager mode, keyed by everything a kernel is
// made from: op, attributes, input dtypes/shapes/strides and the output descriptor (offsets do not
// matter: run() is handed pointers at element 0). An eager op that repeats a previous call's spec
// (every step of a training loop) reuses that call's kernel, its oneDNN primitive and argument
// memory objects, instead of building them again.
//
// One cache per addon instance (each worker_thread has its own); a mutex makes it safe anyway if
// an instance is ever used from more than one thread. Kernels are handed out as shared_ptr, so an
// entry evicted while another caller runs it stays alive until that run ends. Kernels created for
// eager mode hold no constants (KernelSpec::constant_data is empty), so an entry costs the
// kernel's own small state; the count bound keeps the total bounded.
#pragma once
#include <cstddef>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "kernel.h"

namespace hodu {

class KernelCache {
 public:
  explicit KernelCache(size_t capacity = 512) : capacity_(capacity) {}

  // The cached kernel for `spec`, or a new one (make_kernel; throws as it does) that is then kept.
  // A capacity of 0 disables caching (every call makes a kernel).
  std::shared_ptr<Kernel> get(const KernelSpec& spec);

  size_t size() const;
  size_t capacity() const { return capacity_; }
  // Lookups served from the cache, and kernels made, since creation (for tests and the bench).
  uint64_t hits() const;
  uint64_t misses() const;
  void set_capacity(size_t n);
  void clear();

  // The key of a spec (exposed for tests): equal keys <=> interchangeable kernels.
  static std::string key_of(const KernelSpec& spec);

 private:
  using Entry = std::pair<std::string, std::shared_ptr<Kernel>>;
  void trim_locked();

  mutable std::mutex mu_;
  size_t capacity_;
  std::list<Entry> lru_;  // front = most recently used
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;
  uint64_t hits_ = 0, misses_ = 0;
};

}  // namespace hodu
