#include "kv_store.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>

#include "../core/error.h"

namespace hodu {
namespace xla {

namespace {

constexpr uint32_t kMaxBytes = 64u << 20;
enum : uint8_t { kSet = 1, kGet = 2, kTryGet = 3 };

bool send_all(int fd, const void* p, size_t n) {
  const char* c = static_cast<const char*>(p);
  while (n) {
    ssize_t w = send(fd, c, n, MSG_NOSIGNAL);  // never SIGPIPE
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    c += w;
    n -= (size_t)w;
  }
  return true;
}
bool recv_all(int fd, void* p, size_t n) {
  char* c = static_cast<char*>(p);
  while (n) {
    ssize_t r = recv(fd, c, n, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    c += r;
    n -= (size_t)r;
  }
  return true;
}
void put_u32(std::string& s, uint32_t v) {
  for (int i = 0; i < 4; i++) s.push_back((char)(v >> (8 * i)));
}
bool recv_u32(int fd, uint32_t* v) {
  unsigned char b[4];
  if (!recv_all(fd, b, 4)) return false;
  *v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
  return true;
}
bool recv_str(int fd, std::string* s) {
  uint32_t n;
  if (!recv_u32(fd, &n) || n > kMaxBytes) return false;
  s->resize(n);
  return n == 0 || recv_all(fd, &(*s)[0], n);
}
bool reply(int fd, uint8_t status, const std::string& v) {
  std::string r(1, (char)status);
  put_u32(r, (uint32_t)v.size());
  r += v;
  return send_all(fd, r.data(), r.size());
}

}  // namespace

std::unique_ptr<KvServer> KvServer::start(const std::string& host, int port) {
  if (port < 0 || port > 65535) fail(ErrorCode::INVALID_ARGUMENT, "kv store: port ", port, " is out of range");
  std::unique_ptr<KvServer> s(new KvServer());
  s->listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s->listen_fd_ < 0) fail(ErrorCode::INTERNAL, "kv store: socket: ", std::strerror(errno));
  int one = 1;
  setsockopt(s->listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, host.c_str(), &a.sin_addr) != 1) fail(ErrorCode::INVALID_ARGUMENT, "kv store: '", host, "' is not an IPv4 address");
  if (bind(s->listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(s->listen_fd_, 64) != 0)
    fail(ErrorCode::INTERNAL, "kv store: cannot listen on ", host, ":", port, ": ", std::strerror(errno));
  socklen_t len = sizeof a;
  getsockname(s->listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
  s->port_ = ntohs(a.sin_port);
  s->acceptor_ = std::thread([p = s.get()] { p->accept_loop(); });
  return s;
}

KvServer::~KvServer() {
  {
    std::lock_guard<std::mutex> l(m_);
    stopping_ = true;
    for (int c : conns_) shutdown(c, SHUT_RDWR);  // wakes the blocked recv of each connection
  }
  cv_.notify_all();  // and every GET waiting for a key
  if (listen_fd_ >= 0) shutdown(listen_fd_, SHUT_RDWR);  // wakes accept
  if (acceptor_.joinable()) acceptor_.join();
  for (std::thread& t : threads_) t.join();
  for (int c : conns_) close(c);
  if (listen_fd_ >= 0) close(listen_fd_);
}

void KvServer::accept_loop() {
  for (;;) {
    int c = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) {
      if (errno == EINTR) continue;
      return;  // shut down (or a fatal error: no more clients)
    }
    int one = 1;
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::lock_guard<std::mutex> l(m_);
    if (stopping_) {
      close(c);
      return;
    }
    conns_.push_back(c);
    threads_.emplace_back([this, c] { serve(c); });
  }
}

void KvServer::serve(int fd) {
  for (;;) {
    uint8_t op;
    std::string key;
    if (!recv_all(fd, &op, 1) || !recv_str(fd, &key)) return;
    if (op == kSet) {
      std::string value;
      if (!recv_str(fd, &value)) return;
      {
        std::lock_guard<std::mutex> l(m_);
        data_[key] = std::move(value);
      }
      cv_.notify_all();
      if (!reply(fd, 0, "")) return;
    } else if (op == kGet || op == kTryGet) {
      uint32_t timeout_ms = 0;
      if (op == kGet && !recv_u32(fd, &timeout_ms)) return;
      std::string value;
      bool found;
      {
        std::unique_lock<std::mutex> l(m_);
        auto ready = [&] { return stopping_ || data_.count(key) > 0; };
        if (op == kGet) cv_.wait_for(l, std::chrono::milliseconds((int32_t)timeout_ms < 0 ? 0 : timeout_ms), ready);
        auto it = data_.find(key);
        found = it != data_.end();
        if (found) value = it->second;
      }
      if (!reply(fd, found ? 0 : 1, value)) return;
    } else {
      return;  // not our protocol: drop the connection
    }
  }
}

KvClient::KvClient(const std::string& host, int port, int connect_timeout_ms) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(connect_timeout_ms);
  std::string why = "timed out";
  do {
    addrinfo* res = nullptr;
    int rc = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res);
    if (rc != 0) fail(ErrorCode::DEVICE_UNAVAILABLE, "kv store: cannot resolve ", host, ": ", gai_strerror(rc));
    for (addrinfo* p = res; p && fd_ < 0; p = p->ai_next) {
      int fd = socket(p->ai_family, p->ai_socktype | SOCK_CLOEXEC, p->ai_protocol);
      if (fd < 0) continue;
      if (connect(fd, p->ai_addr, p->ai_addrlen) == 0) {
        fd_ = fd;
      } else {
        why = std::strerror(errno);
        close(fd);
      }
    }
    freeaddrinfo(res);
    if (fd_ >= 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  } while (std::chrono::steady_clock::now() < deadline);
  if (fd_ < 0) fail(ErrorCode::DEVICE_UNAVAILABLE, "kv store: cannot connect to ", host, ":", port, ": ", why);
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

KvClient::~KvClient() {
  if (fd_ >= 0) close(fd_);
}

bool KvClient::request(uint8_t op, const std::string& key, const std::string& extra, std::string* value) {
  if (key.size() > kMaxBytes || extra.size() > kMaxBytes) fail(ErrorCode::INVALID_ARGUMENT, "kv store: key or value over 64 MiB");
  std::string r(1, (char)op);
  put_u32(r, (uint32_t)key.size());
  r += key;
  r += extra;
  std::lock_guard<std::mutex> l(m_);
  uint8_t status;
  std::string v;
  if (!send_all(fd_, r.data(), r.size()) || !recv_all(fd_, &status, 1) || !recv_str(fd_, &v))
    fail(ErrorCode::DEVICE_UNAVAILABLE, "kv store: the connection to the store was lost");
  if (value) *value = std::move(v);
  return status == 0;
}

void KvClient::set(const std::string& key, const std::string& value) {
  std::string extra;
  put_u32(extra, (uint32_t)value.size());
  extra += value;
  request(kSet, key, extra, nullptr);
}

bool KvClient::get(const std::string& key, int timeout_ms, std::string* value) {
  std::string extra;
  put_u32(extra, (uint32_t)(timeout_ms < 0 ? 0 : timeout_ms));
  return request(kGet, key, extra, value);
}

bool KvClient::try_get(const std::string& key, std::string* value) { return request(kTryGet, key, "", value); }

#ifdef HODU_HAVE_PJRT_HEADER

namespace {

void free_value(char* v) { std::free(v); }

// A malloc'ed copy the plugin frees through the deleter.
char* malloc_copy(const std::string& s) {
  char* p = static_cast<char*>(std::malloc(s.size() ? s.size() : 1));
  if (p && !s.empty()) std::memcpy(p, s.data(), s.size());
  return p;
}

PJRT_Error* make_error(PJRT_CallbackError* make, PJRT_Error_Code code, const std::string& msg) {
  return make && *make ? (*make)(code, msg.data(), msg.size()) : nullptr;
}

template <class Args>
PJRT_Error* hand_over(Args* args, const std::string& value) {
  args->value = malloc_copy(value);
  if (!args->value) return make_error(args->callback_error, PJRT_Error_Code_RESOURCE_EXHAUSTED, "kv store: out of memory");
  args->value_size = value.size();
  args->value_deleter_callback = free_value;
  return nullptr;
}

}  // namespace

PJRT_Error* kv_get_callback(PJRT_KeyValueGetCallback_Args* args) {
  try {
    std::string v;
    if (!static_cast<KvClient*>(args->user_arg)->get(std::string(args->key, args->key_size), args->timeout_in_ms, &v))
      return make_error(args->callback_error, PJRT_Error_Code_DEADLINE_EXCEEDED,
                        "kv store: key '" + std::string(args->key, args->key_size) + "' was not set in time");
    return hand_over(args, v);
  } catch (const std::exception& e) {
    return make_error(args->callback_error, PJRT_Error_Code_UNAVAILABLE, e.what());
  }
}

PJRT_Error* kv_try_get_callback(PJRT_KeyValueTryGetCallback_Args* args) {
  try {
    std::string v;
    if (!static_cast<KvClient*>(args->user_arg)->try_get(std::string(args->key, args->key_size), &v))
      return make_error(args->callback_error, PJRT_Error_Code_NOT_FOUND,
                        "kv store: key '" + std::string(args->key, args->key_size) + "' is not set");
    return hand_over(args, v);
  } catch (const std::exception& e) {
    return make_error(args->callback_error, PJRT_Error_Code_UNAVAILABLE, e.what());
  }
}

PJRT_Error* kv_put_callback(PJRT_KeyValuePutCallback_Args* args) {
  try {
    static_cast<KvClient*>(args->user_arg)->set(std::string(args->key, args->key_size), std::string(args->value, args->value_size));
    return nullptr;
  } catch (const std::exception& e) {
    return make_error(args->callback_error, PJRT_Error_Code_UNAVAILABLE, e.what());
  }
}

#endif  // HODU_HAVE_PJRT_HEADER

}  // namespace xla
}  // namespace hodu
