// A small TCP key-value store, the piece a multi-host XLA job needs from hodu (docs/distributed.md):
// the CUDA PJRT plugin exchanges each host's topology and NCCL ids through three callbacks given to
// PJRT_Client_Create (kv_get / kv_try_get / kv_put), with the create options node_id / num_nodes.
// The plugin calls them on its own threads and blocks, so they are native (a JavaScript store
// would deadlock while the JS thread waits in PJRT_Client_Create). Like PyTorch's TCPStore: rank 0
// runs a KvServer on a thread, every rank connects a KvClient.
//
// Wire format (little-endian), one request at a time per connection:
//   request  u8 op (1 SET, 2 GET, 3 TRY_GET), u32 key bytes, key, then SET: u32 value bytes, value;
//            GET: i32 timeout in ms (blocks until the key is set or the time is up)
//   reply    u8 status (0 found / stored, 1 not found or timed out), u32 value bytes, value
// Keys and values are at most 64 MiB. Nothing is authenticated: bind to the job's private network.
//
// Tested in the C++ driver (test_xla_multidevice.cc, xla_md_kv_store), including the PJRT callback
// adapters called the way a plugin calls them. NOT tested with a plugin that uses them (the CPU
// plugin ignores the callbacks; no multi-host GPU job ran) and not wired to PJRT_Client_Create yet.
#pragma once
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#ifdef HODU_HAVE_PJRT_HEADER
#include <pjrt_c_api.h>
#endif

namespace hodu {
namespace xla {

class KvServer {
 public:
  // Listens on host:port (port 0: any free port; see port()). INTERNAL when it cannot.
  static std::unique_ptr<KvServer> start(const std::string& host, int port);
  ~KvServer();  // stops accepting, closes every connection, joins its threads
  int port() const { return port_; }

 private:
  KvServer() = default;
  void accept_loop();
  void serve(int fd);
  int listen_fd_ = -1, port_ = 0;
  bool stopping_ = false;
  std::mutex m_;
  std::condition_variable cv_;
  std::map<std::string, std::string> data_;
  std::vector<int> conns_;
  std::vector<std::thread> threads_;
  std::thread acceptor_;
};

class KvClient {
 public:
  // Connects, retrying for up to connect_timeout_ms (the server may start after the client).
  // DEVICE_UNAVAILABLE when it cannot.
  KvClient(const std::string& host, int port, int connect_timeout_ms = 10000);
  ~KvClient();
  void set(const std::string& key, const std::string& value);
  // Blocks until `key` is set (true) or timeout_ms passes (false).
  bool get(const std::string& key, int timeout_ms, std::string* value);
  // At once: true and the value when set, else false.
  bool try_get(const std::string& key, std::string* value);

 private:
  bool request(uint8_t op, const std::string& key, const std::string& extra, std::string* value);
  int fd_ = -1;
  std::mutex m_;  // one request at a time on the connection (the plugin calls from several threads)
};

#ifdef HODU_HAVE_PJRT_HEADER
// The PJRT_Client_Create callbacks over a KvClient (user_arg = the KvClient*): get (NOT_FOUND ->
// DEADLINE_EXCEEDED after the plugin's timeout), try_get (NOT_FOUND at once), put. Values are
// handed over with a value_deleter_callback; errors are made with the plugin's callback_error.
PJRT_Error* kv_get_callback(PJRT_KeyValueGetCallback_Args* args);
PJRT_Error* kv_try_get_callback(PJRT_KeyValueTryGetCallback_Args* args);
PJRT_Error* kv_put_callback(PJRT_KeyValuePutCallback_Args* args);
#endif

}  // namespace xla
}  // namespace hodu
