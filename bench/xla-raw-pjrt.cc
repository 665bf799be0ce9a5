// The raw PJRT reference for bench/xla-overhead.ts: the same two programs (one-add of two f32[4]
// inputs; the 784-512-512-10 softmax MLP at batch 1 with constant weights, as hodu emits it) run
// straight on the PJRT C API, no hodu in between: per call, upload the fed inputs, execute, await,
// read the output back into preallocated memory, destroy the buffers (the "round trip" of
// research/xla-workloads.md), and execute-only with the inputs resident.
// Build: g++ -std=c++17 -O2 -I.cache/pjrt-cpu/include bench/xla-raw-pjrt.cc -o /tmp/xla-raw-pjrt -ldl
// Run:   /tmp/xla-raw-pjrt PLUGIN.so add.mlir:2 mlp.mlir:1  (FILE:K: the first K parameters are fed
//        per call, the others stay resident; the texts come from script.asText('stablehlo'):
//        bench/xla-overhead.ts --raw BINARY writes them and runs this binary between its own rounds)
// Prints one line per program: "NAME round_trip_us exec_us round_trip_calling_thread_cpu_us" (medians;
// the last is the CPU time of the calling thread per round trip, which a loaded machine disturbs less).
#include <dlfcn.h>

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "pjrt_c_api.h"

static const PJRT_Api* api;

static void check(PJRT_Error* e, const char* what) {
  if (!e) return;
  PJRT_Error_Message_Args m{};
  m.struct_size = PJRT_Error_Message_Args_STRUCT_SIZE;
  m.error = e;
  api->PJRT_Error_Message(&m);
  std::fprintf(stderr, "%s: %.*s\n", what, (int)m.message_size, m.message);
  std::exit(1);
}

static void await_event(PJRT_Event* ev) {
  if (!ev) return;
  PJRT_Event_Await_Args a{};
  a.struct_size = PJRT_Event_Await_Args_STRUCT_SIZE;
  a.event = ev;
  check(api->PJRT_Event_Await(&a), "await");
  PJRT_Event_Destroy_Args d{};
  d.struct_size = PJRT_Event_Destroy_Args_STRUCT_SIZE;
  d.event = ev;
  api->PJRT_Event_Destroy(&d);
}

static PJRT_Buffer* upload(PJRT_Client* c, PJRT_Device* dev, const float* data, const std::vector<int64_t>& dims) {
  PJRT_Client_BufferFromHostBuffer_Args a{};
  a.struct_size = PJRT_Client_BufferFromHostBuffer_Args_STRUCT_SIZE;
  a.client = c;
  a.data = data;
  a.type = PJRT_Buffer_Type_F32;
  a.dims = dims.data();
  a.num_dims = dims.size();
  // RAW_SEMANTICS=during-call: PJRT copies during the call (no transfer event to await)
  static const bool during_call = std::getenv("RAW_SEMANTICS") && std::string(std::getenv("RAW_SEMANTICS")) == "during-call";
  a.host_buffer_semantics = during_call ? PJRT_HostBufferSemantics_kImmutableOnlyDuringCall
                                        : PJRT_HostBufferSemantics_kImmutableUntilTransferCompletes;
  a.device = dev;
  check(api->PJRT_Client_BufferFromHostBuffer(&a), "upload");
  await_event(a.done_with_host_buffer);
  return a.buffer;
}

static void destroy(PJRT_Buffer* b) {
  PJRT_Buffer_Destroy_Args a{};
  a.struct_size = PJRT_Buffer_Destroy_Args_STRUCT_SIZE;
  a.buffer = b;
  api->PJRT_Buffer_Destroy(&a);
}

static PJRT_Buffer* execute(PJRT_LoadedExecutable* exe, PJRT_Device* dev, std::vector<PJRT_Buffer*>& args) {
  PJRT_ExecuteOptions o{};
  o.struct_size = PJRT_ExecuteOptions_STRUCT_SIZE;
  PJRT_Buffer* out = nullptr;
  PJRT_Buffer** outs = &out;
  PJRT_Buffer* const* list = args.data();
  PJRT_Event* done = nullptr;
  PJRT_LoadedExecutable_Execute_Args a{};
  a.struct_size = PJRT_LoadedExecutable_Execute_Args_STRUCT_SIZE;
  a.executable = exe;
  a.options = &o;
  a.argument_lists = &list;
  a.num_devices = 1;
  a.num_args = args.size();
  a.output_lists = &outs;
  a.device_complete_events = &done;
  a.execute_device = dev;
  check(api->PJRT_LoadedExecutable_Execute(&a), "execute");
  await_event(done);
  return out;
}

static void download(PJRT_Buffer* b, void* dst, size_t n) {
  PJRT_Buffer_ToHostBuffer_Args a{};
  a.struct_size = PJRT_Buffer_ToHostBuffer_Args_STRUCT_SIZE;
  a.src = b;
  a.dst = dst;
  a.dst_size = n;
  check(api->PJRT_Buffer_ToHostBuffer(&a), "download");
  await_event(a.event);
}

// "tensor<1x784xf32>" -> {1, 784}
static std::vector<std::vector<int64_t>> main_args(const std::string& text) {
  std::vector<std::vector<int64_t>> r;
  size_t p = text.find("@main(");
  size_t end = text.find(") ->", p);
  while ((p = text.find("tensor<", p)) != std::string::npos && p < end) {
    p += 7;
    std::vector<int64_t> d;
    while (std::isdigit((unsigned char)text[p])) {
      d.push_back(std::strtoll(text.c_str() + p, nullptr, 10));
      while (std::isdigit((unsigned char)text[p])) p++;
      if (text[p] == 'x') p++;
    }
    r.push_back(d);
  }
  return r;
}

int main(int argc, char** argv) {
  if (argc < 3) return 2;
  void* h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!h) return 3;
  api = reinterpret_cast<const PJRT_Api* (*)()>(dlsym(h, "GetPjrtApi"))();
  PJRT_Plugin_Initialize_Args ia{};
  ia.struct_size = PJRT_Plugin_Initialize_Args_STRUCT_SIZE;
  check(api->PJRT_Plugin_Initialize(&ia), "init");
  PJRT_NamedValue nv{};
  nv.struct_size = PJRT_NamedValue_STRUCT_SIZE;
  nv.name = "cpu_device_count";
  nv.name_size = std::strlen(nv.name);
  nv.type = PJRT_NamedValue_kInt64;
  nv.int64_value = 1;
  nv.value_size = 1;
  PJRT_Client_Create_Args ca{};
  ca.struct_size = PJRT_Client_Create_Args_STRUCT_SIZE;
  ca.create_options = &nv;
  ca.num_options = 1;
  check(api->PJRT_Client_Create(&ca), "client");
  PJRT_Client* client = ca.client;
  PJRT_Client_AddressableDevices_Args da{};
  da.struct_size = PJRT_Client_AddressableDevices_Args_STRUCT_SIZE;
  da.client = client;
  check(api->PJRT_Client_AddressableDevices(&da), "devices");
  PJRT_Device* dev = da.addressable_devices[0];
  const double secs = std::getenv("RAW_SECONDS") ? std::atof(std::getenv("RAW_SECONDS")) : 1.0;
  for (int f = 2; f < argc; f++) {
    // FILE:K -> the first K parameters are fed per call, the rest (hodu's large constants) stay resident
    std::string file = argv[f];
    size_t fed = 1 << 30;
    if (size_t c = file.rfind(':'); c != std::string::npos) {
      fed = std::strtoul(file.c_str() + c + 1, nullptr, 10);
      file.resize(c);
    }
    std::ifstream in(file);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str();
    PJRT_Program prog{};
    prog.struct_size = PJRT_Program_STRUCT_SIZE;
    prog.code = text.data();
    prog.code_size = text.size();
    prog.format = "mlir";
    prog.format_size = 4;
    // CompileOptionsProto: 1 replica, 1 partition (+ compile_portable_executable, as hodu compiles,
    // with RAW_PORTABLE=1)
    static const char opts[] = "\x1a\x04\x20\x01\x28\x01\x20\x01";
    const size_t opts_size = std::getenv("RAW_PORTABLE") && std::string(std::getenv("RAW_PORTABLE")) == "1" ? 8 : 6;
    PJRT_Client_Compile_Args cc{};
    cc.struct_size = PJRT_Client_Compile_Args_STRUCT_SIZE;
    cc.client = client;
    cc.program = &prog;
    cc.compile_options = opts;
    cc.compile_options_size = opts_size;
    check(api->PJRT_Client_Compile(&cc), "compile");
    auto shapes = main_args(text);
    std::vector<std::vector<float>> host;
    for (auto& s : shapes) {
      size_t n = 1;
      for (int64_t d : s) n *= (size_t)d;
      host.emplace_back(n, 0.5f);
    }
    std::vector<float> out(1 << 16);
    std::vector<PJRT_Buffer*> resident;
    for (size_t i = 0; i < shapes.size(); i++) resident.push_back(upload(client, dev, host[i].data(), shapes[i]));
    auto round_trip = [&] {
      std::vector<PJRT_Buffer*> args = resident;
      for (size_t i = 0; i < shapes.size() && i < fed; i++) args[i] = upload(client, dev, host[i].data(), shapes[i]);
      PJRT_Buffer* o = execute(cc.executable, dev, args);
      download(o, out.data(), 4 * 10);
      destroy(o);
      for (size_t i = 0; i < shapes.size() && i < fed; i++) destroy(args[i]);
    };
    auto exec_only = [&] { destroy(execute(cc.executable, dev, resident)); };
    auto time = [&](auto fn) {
      for (int i = 0; i < 50; i++) fn();
      std::vector<double> per;
      auto t_end = std::chrono::steady_clock::now() + std::chrono::duration<double>(secs);
      while (std::chrono::steady_clock::now() < t_end) {
        auto t0 = std::chrono::steady_clock::now();
        for (int i = 0; i < 100; i++) fn();
        per.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() / 100);
      }
      std::sort(per.begin(), per.end());
      return per[per.size() / 2];
    };
    auto thread_cpu_us = [] {
      timespec ts;
      clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
      return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
    };
    double c0 = thread_cpu_us();
    for (int i = 0; i < 2000; i++) round_trip();
    double rt_cpu = (thread_cpu_us() - c0) / 2000;
    double rt = time(round_trip), ex = time(exec_only);
    for (PJRT_Buffer* b : resident) destroy(b);
    std::printf("%s %.2f %.2f %.2f\n", file.c_str(), rt, ex, rt_cpu);
    std::fflush(stdout);
  }
  return 0;
}
