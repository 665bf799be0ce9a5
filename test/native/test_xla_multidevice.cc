// The XLA compile cache's file layer and the multi-device launch guards, without Node:
//   xla_md_sha256        SHA-256 against the FIPS 180-4 example vectors
//   xla_md_cache_files   entries round-trip; corrupted, truncated and foreign entries are rejected;
//                        LRU eviction keeps the folder under its bound
//   xla_md_guards        on the CPU plugin with 2 devices: a client of 0 devices is refused; a
//                        launch with fewer argument lists than devices, a buffer on the wrong device
//                        or of another client, or of the wrong shape, is a HoduError before any
//                        launch (the plugin would hang or abort); after a failed multi-device
//                        launch every later one is refused instead of hanging
//   xla_md_kv_store      the TCP key-value store for multi-host jobs (native/xla/kv_store.h): set,
//                        blocking get, try_get, timeouts, binary values, shutdown with a waiter,
//                        and the PJRT callback adapters called as a plugin calls them
//   xla_md_plan          XlaPlan over 2 devices: hodu's reserved '@' inputs (variables) stay
//                        replicated by default, a named split is honoured, results equal the
//                        float64 reference
// The PJRT parts are skipped, with a message, without a PJRT header or CPU plugin.
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "test_util.h"
#include "test_xla_util.h"
#include "xla/compile_cache.h"
#include "xla/kv_store.h"
#include "xla/sha256.h"
#include "xla/stablehlo_emitter.h"
#include "xla/xla_plan.h"
#ifdef HODU_HAVE_PJRT_HEADER
#include "xla/pjrt_client.h"
#endif

using namespace hodu;

namespace {

std::string hex_sha(const std::string& s) {
  auto d = xla::sha256(s.data(), s.size());
  return xla::to_hex(d.data(), d.size());
}

std::string temp_dir() {
  char tmpl[] = "/tmp/hodu_xla_cache_XXXXXX";
  char* d = mkdtemp(tmpl);
  return d ? d : "";
}

std::string read_file(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}
void write_file(const std::string& p, const std::string& s) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f << s;
}
bool exists(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0;
}

}  // namespace

HODU_TEST(xla_md_sha256) {
  CHECK(hex_sha("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(hex_sha("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(hex_sha("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  CHECK(hex_sha(std::string(1000000, 'a')) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  // fed in odd pieces: the same digest
  xla::Sha256 h;
  std::string m(1000000, 'a');
  for (size_t i = 0, step = 1; i < m.size(); i += step, step = step * 3 % 97 + 1) h.update(m.data() + i, std::min(step, m.size() - i));
  auto d = h.digest();
  CHECK(xla::to_hex(d.data(), d.size()) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  // the cache key depends on part boundaries, not just the concatenation
  CHECK(xla::cache_key({"ab", "c"}) != xla::cache_key({"a", "bc"}));
  CHECK(xla::cache_key({"ab", "c"}) == xla::cache_key({"ab", "c"}));
}

HODU_TEST(xla_md_cache_files) {
  const std::string dir = temp_dir();
  CHECK(!dir.empty());
  xla::CompileCache cache(xla::CacheConfig{dir + "/sub/xla", 1 << 20});
  const std::string k1 = xla::cache_key({"one"}), k2 = xla::cache_key({"two"});
  std::string payload(5000, '\0');
  for (size_t i = 0; i < payload.size(); i++) payload[i] = (char)(i * 7 + 3);
  std::string got;
  CHECK(!cache.load(k1, &got));  // nothing yet (a miss, not a rejection)
  const auto before = xla::cache_counters();
  cache.store(k1, payload);
  CHECK(exists(cache.entry_path(k1)));
  CHECK(cache.load(k1, &got) && got == payload);
  const std::string good = read_file(cache.entry_path(k1));
  CHECK(good.size() == 88 + payload.size());
  CHECK(good.compare(0, 8, std::string("HODUXLA\0", 8)) == 0);
  // a flipped payload byte, a truncated file, a header claiming another key, an empty file
  std::string bad = good;
  bad[100] ^= 1;
  write_file(cache.entry_path(k1), bad);
  CHECK(!cache.load(k1, &got) && got.empty());
  write_file(cache.entry_path(k1), good.substr(0, good.size() - 10));
  CHECK(!cache.load(k1, &got));
  write_file(cache.entry_path(k1), good.substr(0, 40));
  CHECK(!cache.load(k1, &got));
  write_file(cache.entry_path(k2), good);  // k1's entry under k2's name: foreign
  CHECK(!cache.load(k2, &got));
  write_file(cache.entry_path(k1), "");
  CHECK(!cache.load(k1, &got));
  CHECK(xla::cache_counters().rejected - before.rejected == 5);
  // rewritten by the next store
  cache.store(k1, payload);
  CHECK(cache.load(k1, &got) && got == payload);
  // LRU: a bound of ~2.5 entries keeps the two most recently used
  xla::CompileCache small(xla::CacheConfig{dir + "/lru", 2 * (88 + 5000) + 2000});
  const std::string a = xla::cache_key({"a"}), b = xla::cache_key({"b"}), c = xla::cache_key({"c"});
  small.store(a, payload);
  sleep(1);  // distinct mtimes even on coarse file systems
  small.store(b, payload);
  sleep(1);
  CHECK(small.load(a, &got));  // a is now the most recently used
  sleep(1);
  const auto ev = xla::cache_counters().evictions;
  small.store(c, payload);
  CHECK(xla::cache_counters().evictions - ev == 1);
  CHECK(exists(small.entry_path(a)) && !exists(small.entry_path(b)) && exists(small.entry_path(c)));
  // a payload larger than the bound is not stored
  small.store(xla::cache_key({"big"}), std::string(20000, 'x'));
  CHECK(!exists(small.entry_path(xla::cache_key({"big"}))));
  // a folder anyone may write to is not used
  const std::string open_dir = dir + "/open";
  mkdir(open_dir.c_str(), 0777);
  chmod(open_dir.c_str(), 0777);
  xla::CompileCache open_cache(xla::CacheConfig{open_dir, 1 << 20});
  const auto errs = xla::cache_counters().errors;
  open_cache.store(a, payload);
  CHECK(!exists(open_cache.entry_path(a)));
  CHECK(xla::cache_counters().errors - errs == 1);
  std::system(("rm -rf '" + dir + "'").c_str());
}

HODU_TEST(xla_md_kv_store) {
  auto server = xla::KvServer::start("127.0.0.1", 0);
  CHECK(server->port() > 0);
  xla::KvClient a("127.0.0.1", server->port()), b("localhost", server->port());
  std::string v;
  CHECK(!b.try_get("k", &v));
  a.set("k", "one");
  CHECK(b.try_get("k", &v) && v == "one");
  a.set("k", "two");  // overwrite
  CHECK(b.get("k", 1000, &v) && v == "two");
  const std::string bin("\0\x01\xff zero\0", 9);
  a.set(bin, bin);
  CHECK(b.try_get(bin, &v) && v == bin);
  // a blocking get is answered when another rank sets the key
  std::thread later([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    a.set("later", "v");
  });
  auto t0 = std::chrono::steady_clock::now();
  CHECK(b.get("later", 5000, &v) && v == "v");
  later.join();
  // and times out when nobody does
  t0 = std::chrono::steady_clock::now();
  CHECK(!b.get("never", 150, &v));
  CHECK(std::chrono::steady_clock::now() - t0 >= std::chrono::milliseconds(140));
  // nothing listening: DEVICE_UNAVAILABLE after the connect timeout
  auto probe = xla::KvServer::start("127.0.0.1", 0);
  int dead_port = probe->port();
  probe.reset();
  CHECK_THROWS_CODE(xla::KvClient("127.0.0.1", dead_port, 200), ErrorCode::DEVICE_UNAVAILABLE);
  CHECK_THROWS_CODE(xla::KvServer::start("not-an-ip", 0), ErrorCode::INVALID_ARGUMENT);
#ifdef HODU_HAVE_PJRT_HEADER
  {  // the PJRT callbacks, as a plugin calls them (the CPU plugin never does)
    static int last_code = -1;
    static PJRT_Error* const kSentinel = reinterpret_cast<PJRT_Error*>(0x10);
    PJRT_CallbackError make = [](PJRT_Error_Code code, const char*, size_t) -> PJRT_Error* {
      last_code = (int)code;
      return kSentinel;
    };
    PJRT_KeyValuePutCallback_Args put{};
    put.struct_size = sizeof put;
    put.key = "topo/0";
    put.key_size = 6;
    put.value = "gpus=8";
    put.value_size = 6;
    put.callback_error = &make;
    put.user_arg = &a;
    CHECK(xla::kv_put_callback(&put) == nullptr);
    PJRT_KeyValueGetCallback_Args get{};
    get.struct_size = sizeof get;
    get.key = "topo/0";
    get.key_size = 6;
    get.timeout_in_ms = 1000;
    get.callback_error = &make;
    get.user_arg = &b;
    CHECK(xla::kv_get_callback(&get) == nullptr);
    CHECK(std::string(get.value, get.value_size) == "gpus=8");
    get.value_deleter_callback(get.value);
    get.key = "topo/1";
    get.timeout_in_ms = 50;
    CHECK(xla::kv_get_callback(&get) == kSentinel && last_code == PJRT_Error_Code_DEADLINE_EXCEEDED);
    PJRT_KeyValueTryGetCallback_Args tg{};
    tg.struct_size = sizeof tg;
    tg.key = "topo/1";
    tg.key_size = 6;
    tg.callback_error = &make;
    tg.user_arg = &b;
    CHECK(xla::kv_try_get_callback(&tg) == kSentinel && last_code == PJRT_Error_Code_NOT_FOUND);
    tg.key = "topo/0";
    CHECK(xla::kv_try_get_callback(&tg) == nullptr && std::string(tg.value, tg.value_size) == "gpus=8");
    tg.value_deleter_callback(tg.value);
  }
#endif
  // stopping the server answers a waiting get (not found) instead of hanging it
  std::thread waiter([&] {
    std::string w;
    bool got = true;
    try {
      got = b.get("forever", 60000, &w);
    } catch (const HoduError&) {
      got = false;
    }
    CHECK(!got);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  t0 = std::chrono::steady_clock::now();
  server.reset();
  waiter.join();
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5));
  CHECK_THROWS_CODE(a.set("x", "y"), ErrorCode::DEVICE_UNAVAILABLE);  // the connection is gone
}

#ifdef HODU_HAVE_PJRT_HEADER

HODU_TEST(xla_md_guards) {
  setenv("PJRT_NPROC", "1", 0);
  setenv("TF_CPP_MIN_LOG_LEVEL", "2", 0);
  const std::string plugin = hodu_test::find_cpu_plugin();
  if (plugin.empty()) {
    std::printf("  SKIP xla_md_guards: no CPU plugin\n");
    return;
  }
  // a client of 0 (or a negative number of) devices: the plugin would make one without devices
  CHECK_THROWS_CODE(xla::PjrtClient::get(plugin, xla::Platform::CPU, 0), ErrorCode::INVALID_ARGUMENT);
  CHECK_THROWS_CODE(xla::PjrtClient::get(plugin, xla::Platform::CPU, -1), ErrorCode::INVALID_ARGUMENT);

  // y = x + x over 2 devices, x [4, 2] split along dim 0
  hodu_test::GraphBuilder gb;
  uint32_t x = gb.input("x", DType::F32, {4, 2});
  gb.output("y", gb.op(OpCode::Add, {x, x}));
  xla::EmitOptions eo;
  eo.num_partitions = 2;
  eo.input_split_axis = {0};
  xla::EmitResult em = xla::emit_stablehlo(gb.g, {}, eo);
  CHECK(em.text.find("{devices=[2,1]0,1}") != std::string::npos);

  // a client of its own (3 devices, the program on 2 of them): the end of this test leaves it
  // refusing multi-device launches, which must not touch the 2-device client of other tests
  xla::PjrtClient& c2 = xla::PjrtClient::get(plugin, xla::Platform::CPU, 3);
  xla::PjrtClient& c1 = xla::PjrtClient::get(plugin, xla::Platform::CPU, 1);
  CHECK(c2.devices.size() == 3 && c1.devices.size() == 1 && &c1 != &c2);
  size_t n_out = 0;
  PJRT_LoadedExecutable* exe = c2.compile(em.text, xla::compile_options_bytes({}, {0, 1}), &n_out);
  xla::PjrtClient::ExeInfo info = c2.inspect(exe);
  CHECK(info.num_partitions == 2 && info.devices.size() == 2 && info.devices[0] == c2.devices[0]);
  const std::vector<xla::PjrtClient::ArgSpec> spec = {{DType::F32, {2, 2}}};
  float h0[4] = {1, 2, 3, 4}, h1[4] = {5, 6, 7, 8}, h3[6] = {0, 0, 0, 0, 0, 0};
  PJRT_Buffer* b0 = c2.upload(h0, DType::F32, {2, 2}, c2.devices[0]);
  PJRT_Buffer* b1 = c2.upload(h1, DType::F32, {2, 2}, c2.devices[1]);
  PJRT_Buffer* other = c1.upload(h0, DType::F32, {2, 2}, c1.devices[0]);
  PJRT_Buffer* wrong = c2.upload(h3, DType::F32, {3, 2}, c2.devices[0]);

  auto run_ok = [&]() {
    auto outs = c2.execute_multi(exe, info, {{b0}, {b1}}, spec);
    float y[8] = {0};
    c2.download(outs[0][0], y, sizeof y);  // replicated result: device 0 has all of it
    bool ok = true;
    for (int i = 0; i < 8; i++) ok = ok && y[i] == 2.0f * (float)(i + 1);
    for (auto& l : outs)
      for (PJRT_Buffer* b : l) c2.destroy(b);
    return ok;
  };
  CHECK(run_ok());
  // fewer argument lists than devices (the plugin would wait in the collective, then abort)
  CHECK_THROWS_CODE(c2.execute_multi(exe, info, {{b0}}, spec), ErrorCode::INVALID_ARGUMENT);
  // lists in the wrong device order; a buffer of another client; a wrong shape; a missing argument
  CHECK_THROWS_CODE(c2.execute_multi(exe, info, {{b1}, {b0}}, spec), ErrorCode::INVALID_ARGUMENT);
  CHECK_THROWS_CODE(c2.execute_multi(exe, info, {{other}, {b1}}, spec), ErrorCode::INVALID_ARGUMENT);
  CHECK_THROWS_CODE(c2.execute_multi(exe, info, {{wrong}, {b1}}, spec), ErrorCode::SHAPE_MISMATCH);
  CHECK_THROWS_CODE(c2.execute_multi(exe, info, {{b0}, {}}, spec), ErrorCode::INVALID_ARGUMENT);
  CHECK_THROWS_CODE(c2.execute_multi(exe, info, {{b0}, {nullptr}}, spec), ErrorCode::INVALID_ARGUMENT);
  // nothing was launched: the client still runs multi-device programs
  CHECK(run_ok());
  CHECK(!c2.multi_device_broken());

  // after a failed multi-device launch (injected: a real one is what leaves collectives stuck),
  // every multi-device launch is refused at once instead of never completing
  c2.mark_multi_device_broken_for_test();
  bool refused = false;
  try {
    c2.execute_multi(exe, info, {{b0}, {b1}}, spec);
  } catch (const HoduError& e) {
    refused = e.code() == ErrorCode::INTERNAL && std::string(e.what()).find("restart the process") != std::string::npos;
  }
  CHECK(refused);
  for (PJRT_Buffer* b : {b0, b1, wrong}) c2.destroy(b);
  c1.destroy(other);
  c2.destroy(exe);
}

HODU_TEST(xla_md_plan) {
  const std::string plugin = hodu_test::find_cpu_plugin();
  if (plugin.empty()) {
    std::printf("  SKIP xla_md_plan: no CPU plugin\n");
    return;
  }
  // y = x . w with x [4, 2] (batch) and a variable-like input '@var:w' [2, 2]
  hodu_test::GraphBuilder gb;
  uint32_t x = gb.input("x", DType::F32, {4, 2});
  uint32_t w = gb.input("@var:w", DType::F32, {2, 2});
  gb.output("y", gb.op(OpCode::Matmul, {x, w}));
  const float xs[8] = {1, 2, 3, 4, 5, 6, 7, 8}, ws[4] = {0.5f, -1, 2, 0.25f};
  float want[8];
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 2; j++) want[i * 2 + j] = (float)((double)xs[i * 2] * ws[j] + (double)xs[i * 2 + 1] * ws[2 + j]);
  xla::Target t{plugin, xla::Platform::CPU, 0, {0, 1}};
  auto check_run = [&](xla::XlaPlan& p) {
    float y[8] = {0};
    p.run({xs, ws}, {y});
    bool ok = true;
    for (int i = 0; i < 8; i++) ok = ok && std::fabs(y[i] - want[i]) < 1e-6;
    return ok;
  };
  auto p1 = xla::XlaPlan::compile(gb.g, {}, t);  // default: x split, '@var:w' replicated
  const std::string& text = p1->program_text();
  CHECK(text.find("%arg0: tensor<4x2xf32> {mhlo.sharding = \"{devices=[2,1]0,1}\"}") != std::string::npos);
  CHECK(text.find("%arg1: tensor<2x2xf32> {mhlo.sharding = \"{replicated}\"}") != std::string::npos);
  CHECK(p1->stats().num_devices == 2);
  CHECK(check_run(*p1));
  xla::XlaCompileOptions o;  // explicit: only the variable split (along its columns)
  o.split_given = true;
  o.split = {{"@var:w", 1}};
  auto p2 = xla::XlaPlan::compile(gb.g, {}, t, o);
  CHECK(p2->program_text().find("%arg0: tensor<4x2xf32> {mhlo.sharding = \"{replicated}\"}") != std::string::npos);
  CHECK(p2->program_text().find("%arg1: tensor<2x2xf32> {mhlo.sharding = \"{devices=[1,2]0,1}\"}") != std::string::npos);
  CHECK(check_run(*p2));
  o.split = {{"x", 1}, {"@var:w", 0}};  // x [4, 2] along dim 1 (2 / 2): a strided shard copy
  auto p3 = xla::XlaPlan::compile(gb.g, {}, t, o);
  CHECK(check_run(*p3));
  o.split = {{"x", 3}};
  CHECK_THROWS_CODE(xla::XlaPlan::compile(gb.g, {}, t, o), ErrorCode::INVALID_ARGUMENT);
  // device lists: a repeated or negative device
  CHECK_THROWS_CODE(xla::XlaPlan::compile(gb.g, {}, xla::Target{plugin, xla::Platform::CPU, 0, {1, 1}}), ErrorCode::INVALID_ARGUMENT);
  CHECK_THROWS_CODE(xla::XlaPlan::compile(gb.g, {}, xla::Target{plugin, xla::Platform::CPU, 0, {0, -1}}), ErrorCode::INVALID_ARGUMENT);
}

#endif
