// The persistent XLA compile cache: serialized executables (PJRT_Executable_Serialize) in a
// per-user folder, so that a process that compiles a program another process already compiled
// loads it instead (PJRT_Executable_DeserializeAndLoad). File IO only; the PJRT calls are in
// pjrt_client.cc and the policy (which folder, on or off) comes from lib/xla-cache.ts.
//
// Key: SHA-256 over length-prefixed parts (format tag, hodu version, plugin identity and version,
// device kind and count, compile-options bytes, StableHLO text): cache_key().
// Entry file `<dir>/<key>.hxla`:
//   0  "HODUXLA\0"  magic                       48  u64  payload bytes (little-endian)
//   8  u32 format version (1), u32 0            56  SHA-256 of the payload
//   16 the key, 32 raw bytes                    88  payload (the serialized executable)
// An entry is used only when every field checks out (magic, version, the key it was asked for,
// the exact file size, the payload's checksum); anything else is ignored, counted as rejected and
// rewritten by the next store. Never trusted blindly, never a crash.
// Writes: a unique temp file in the same folder, then rename (atomic; several processes may write
// the same key at once, the last rename wins and both files are complete). LRU: a hit touches the
// entry's mtime; a store evicts the oldest entries until the folder holds at most max_bytes.
// Safety: the folder is created 0700; a folder not owned by this user, or writable by others, is
// not used (a cached executable is machine code that this process would run).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace hodu {
namespace xla {

struct CacheConfig {
  std::string dir;                       // empty: the cache is off
  uint64_t max_bytes = 512ull << 20;     // the folder's bound (LRU eviction past it)
};

// Process-wide counters (every CompileCache adds to them).
struct CacheCounters {
  uint64_t hits = 0, misses = 0;   // counted by the caller (XlaPlan::compile)
  uint64_t writes = 0, evictions = 0;
  uint64_t rejected = 0;           // entries found but not used: bad header, size, checksum, or load failure
  uint64_t errors = 0;             // IO errors (unwritable folder, ...): the compile goes on uncached
};
CacheCounters cache_counters();
void count_cache(uint64_t CacheCounters::*field);

// SHA-256 over the parts, each prefixed with its length (so part boundaries matter); hex.
std::string cache_key(const std::vector<std::string>& parts);

class CompileCache {
 public:
  explicit CompileCache(CacheConfig c) : cfg_(std::move(c)) {}
  bool enabled() const { return !cfg_.dir.empty(); }
  const std::string& dir() const { return cfg_.dir; }

  // The verified payload of the entry `key` (hex); false when there is none or it is rejected.
  bool load(const std::string& key, std::string* payload);
  // Writes the entry atomically, then evicts. IO errors are counted, never thrown.
  void store(const std::string& key, const std::string& payload);
  // The path of the entry `key`.
  std::string entry_path(const std::string& key) const;

 private:
  bool ready();  // creates the folder and checks its owner/permissions
  void evict(const std::string& keep);
  CacheConfig cfg_;
};

}  // namespace xla
}  // namespace hodu
