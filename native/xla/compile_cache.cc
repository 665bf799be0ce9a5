#include "compile_cache.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <mutex>
#include <random>

#include "sha256.h"

namespace hodu {
namespace xla {

namespace {

constexpr char kMagic[8] = {'H', 'O', 'D', 'U', 'X', 'L', 'A', '\0'};
constexpr uint32_t kFormat = 1;
constexpr size_t kHeader = 88;
constexpr const char* kExt = ".hxla";

std::mutex& counters_mutex() {
  static auto* m = new std::mutex();
  return *m;
}
CacheCounters& counters() {
  static auto* c = new CacheCounters();
  return *c;
}

void put_u32(std::string& s, uint32_t v) {
  for (int i = 0; i < 4; i++) s.push_back((char)(v >> (8 * i)));
}
void put_u64(std::string& s, uint64_t v) {
  for (int i = 0; i < 8; i++) s.push_back((char)(v >> (8 * i)));
}
uint64_t get_u64(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
  return v;
}
uint32_t get_u32(const unsigned char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; i--) v = v << 8 | p[i];
  return v;
}

bool key_bytes(const std::string& hex, unsigned char out[32]) {
  if (hex.size() != 64) return false;
  for (size_t i = 0; i < 32; i++) {
    int v = 0;
    for (int k = 0; k < 2; k++) {
      char c = hex[2 * i + k];
      int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
      if (d < 0) return false;
      v = v * 16 + d;
    }
    out[i] = (unsigned char)v;
  }
  return true;
}

bool mkdirs(const std::string& dir) {
  if (dir.empty()) return false;
  struct stat st;
  if (stat(dir.c_str(), &st) == 0) return S_ISDIR(st.st_mode);
  size_t slash = dir.find_last_of('/');
  if (slash != std::string::npos && slash > 0 && !mkdirs(dir.substr(0, slash))) return false;
  if (mkdir(dir.c_str(), 0700) == 0 || errno == EEXIST) return stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
  return false;
}

bool read_all(int fd, std::string& out, size_t n) {
  out.resize(n);
  size_t got = 0;
  while (got < n) {
    ssize_t r = read(fd, &out[got], n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    got += (size_t)r;
  }
  return true;
}

bool write_all(int fd, const char* p, size_t n) {
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= (size_t)w;
  }
  return true;
}

bool ends_with(const std::string& s, const char* suffix) {
  size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

}  // namespace

CacheCounters cache_counters() {
  std::lock_guard<std::mutex> l(counters_mutex());
  return counters();
}

void count_cache(uint64_t CacheCounters::*field) {
  std::lock_guard<std::mutex> l(counters_mutex());
  counters().*field += 1;
}

std::string cache_key(const std::vector<std::string>& parts) {
  Sha256 h;
  for (const std::string& p : parts) {
    std::string len;
    put_u64(len, p.size());
    h.update(len);
    h.update(p);
  }
  auto d = h.digest();
  return to_hex(d.data(), d.size());
}

std::string CompileCache::entry_path(const std::string& key) const { return cfg_.dir + "/" + key + kExt; }

bool CompileCache::ready() {
  if (!enabled() || !mkdirs(cfg_.dir)) {
    count_cache(&CacheCounters::errors);
    return false;
  }
  struct stat st;
  if (stat(cfg_.dir.c_str(), &st) != 0 || st.st_uid != geteuid() || (st.st_mode & S_IWOTH)) {
    count_cache(&CacheCounters::errors);  // someone else's folder, or writable by anyone: not used
    return false;
  }
  return true;
}

bool CompileCache::load(const std::string& key, std::string* payload) {
  unsigned char kb[32];
  if (!enabled() || !key_bytes(key, kb)) return false;
  const std::string path = entry_path(key);
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;  // no entry (a miss, not an error)
  struct stat st;
  bool ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() && (uint64_t)st.st_size >= kHeader;
  std::string head;
  if (ok) ok = read_all(fd, head, kHeader);
  const unsigned char* h = reinterpret_cast<const unsigned char*>(head.data());
  uint64_t size = 0;
  if (ok) {
    size = get_u64(h + 48);
    ok = std::memcmp(h, kMagic, 8) == 0 && get_u32(h + 8) == kFormat && get_u32(h + 12) == 0 &&
         std::memcmp(h + 16, kb, 32) == 0 && size == (uint64_t)st.st_size - kHeader;
  }
  if (ok) ok = read_all(fd, *payload, (size_t)size);
  close(fd);
  if (ok) {
    auto sum = sha256(payload->data(), payload->size());
    ok = std::memcmp(sum.data(), h + 56, 32) == 0;
  }
  if (!ok) {
    payload->clear();
    count_cache(&CacheCounters::rejected);
    return false;
  }
  utimensat(AT_FDCWD, path.c_str(), nullptr, 0);  // LRU: now is its last use
  return true;
}

void CompileCache::store(const std::string& key, const std::string& payload) {
  unsigned char kb[32];
  if (!key_bytes(key, kb) || !ready()) return;
  if (payload.size() + kHeader > cfg_.max_bytes) return;  // would evict everything and still not fit
  std::string head(kMagic, 8);
  put_u32(head, kFormat);
  put_u32(head, 0);
  head.append(reinterpret_cast<const char*>(kb), 32);
  put_u64(head, payload.size());
  auto sum = sha256(payload.data(), payload.size());
  head.append(reinterpret_cast<const char*>(sum.data()), 32);

  static std::atomic<uint64_t> seq{0};
  std::random_device rd;
  const std::string tmp = cfg_.dir + "/." + key + "." + std::to_string(getpid()) + "." + std::to_string(rd()) + "." +
                          std::to_string(seq++) + ".tmp";
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    count_cache(&CacheCounters::errors);
    return;
  }
  bool ok = write_all(fd, head.data(), head.size()) && write_all(fd, payload.data(), payload.size());
  ok = close(fd) == 0 && ok;
  if (!ok || rename(tmp.c_str(), entry_path(key).c_str()) != 0) {
    unlink(tmp.c_str());
    count_cache(&CacheCounters::errors);
    return;
  }
  count_cache(&CacheCounters::writes);
  evict(key);
}

void CompileCache::evict(const std::string& keep) {
  struct Entry {
    std::string path;
    uint64_t bytes;
    int64_t mtime_ns;
  };
  std::vector<Entry> entries;
  uint64_t total = 0;
  DIR* d = opendir(cfg_.dir.c_str());
  if (!d) return;
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const int64_t now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now).count();
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    std::string path = cfg_.dir + "/" + name;
    struct stat st;
    if (lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    int64_t mt = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    if (name[0] == '.' && ends_with(name, ".tmp")) {  // a writer that died mid-write an hour ago
      if (now_ns - mt > 3600ll * 1000000000) unlink(path.c_str());
      continue;
    }
    if (!ends_with(name, kExt)) continue;
    total += (uint64_t)st.st_size;
    if (name != keep + kExt) entries.push_back({path, (uint64_t)st.st_size, mt});
  }
  closedir(d);
  if (total <= cfg_.max_bytes) return;
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.mtime_ns < b.mtime_ns; });
  for (const Entry& e : entries) {
    if (total <= cfg_.max_bytes) break;
    if (unlink(e.path.c_str()) == 0) count_cache(&CacheCounters::evictions);
    total -= e.bytes;  // gone either way (another process may have evicted it first)
  }
}

}  // namespace xla
}  // namespace hodu
