#include "kernel_cache.h"

#include <cstring>

#include "dnnl_util.h"

namespace hodu {

namespace {
template <typename T>
void put(std::string& s, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  s.append(b, sizeof(T));
}
void put_desc(std::string& s, const TensorDesc& d) {
  put<int32_t>(s, (int32_t)d.dtype);
  put<int32_t>(s, (int32_t)d.shape.size());
  for (int64_t v : d.shape) put(s, v);
  // an empty stride list means contiguous: spell it out so that both forms give one key
  const Shape st = d.strides.empty() ? contiguous_strides(d.shape) : d.strides;
  for (int64_t v : st) put(s, v);
}
}  // namespace

std::string KernelCache::key_of(const KernelSpec& spec) {
  std::string s;
  s.reserve(64 + 24 * spec.inputs.size() * 4);
  put<int32_t>(s, (int32_t)spec.op);
  // the thread cap of the calling thread decides some kernels' thread counts at creation
  put<int32_t>(s, thread_cap());
  put<int32_t>(s, (int32_t)spec.attrs.size());
  for (double a : spec.attrs) put(s, a);
  put<int32_t>(s, (int32_t)spec.inputs.size());
  for (const TensorDesc& d : spec.inputs) put_desc(s, d);
  put_desc(s, spec.output);
  put<int32_t>(s, (int32_t)spec.post_ops.size());
  for (const PostOp& p : spec.post_ops) {
    put<int32_t>(s, (int32_t)p.op);
    put<int32_t>(s, p.operand);
    put<int32_t>(s, (int32_t)p.attrs.size());
    for (double a : p.attrs) put(s, a);
  }
  return s;
}

std::shared_ptr<Kernel> KernelCache::get(const KernelSpec& spec) {
  // constants are baked into such kernels: never share them
  bool has_constants = false;
  for (const void* c : spec.constant_data) has_constants |= c != nullptr;
  if (has_constants) return std::shared_ptr<Kernel>(make_kernel(spec));
  std::string key = key_of(spec);
  {
    std::lock_guard<std::mutex> g(mu_);
    auto it = index_.find(key);
    if (it != index_.end()) {
      hits_++;
      lru_.splice(lru_.begin(), lru_, it->second);
      return it->second->second;
    }
    misses_++;
    if (capacity_ == 0) return std::shared_ptr<Kernel>(make_kernel(spec));
  }
  // made outside the lock (oneDNN primitive creation can take milliseconds)
  std::shared_ptr<Kernel> k(make_kernel(spec));
  std::lock_guard<std::mutex> g(mu_);
  auto it = index_.find(key);
  if (it != index_.end()) return it->second->second;  // another thread made it meanwhile
  if (capacity_ == 0) return k;
  lru_.emplace_front(std::move(key), k);
  index_.emplace(lru_.front().first, lru_.begin());
  trim_locked();
  return k;
}

void KernelCache::trim_locked() {
  while (lru_.size() > capacity_) {
    index_.erase(lru_.back().first);
    lru_.pop_back();
  }
}

size_t KernelCache::size() const {
  std::lock_guard<std::mutex> g(mu_);
  return lru_.size();
}
uint64_t KernelCache::hits() const {
  std::lock_guard<std::mutex> g(mu_);
  return hits_;
}
uint64_t KernelCache::misses() const {
  std::lock_guard<std::mutex> g(mu_);
  return misses_;
}
void KernelCache::set_capacity(size_t n) {
  std::lock_guard<std::mutex> g(mu_);
  capacity_ = n;
  trim_locked();
}
void KernelCache::clear() {
  std::lock_guard<std::mutex> g(mu_);
  lru_.clear();
  index_.clear();
}

}  // namespace hodu
