#ifdef HODU_HAVE_PJRT_HEADER
#include "pjrt_client.h"

#include <sys/stat.h>

#include <cstdlib>
#include <map>
#include <memory>

namespace hodu {
namespace xla {

PJRT_Buffer_Type pjrt_buffer_type(DType t) {
  switch (t) {
    case DType::Bool: return PJRT_Buffer_Type_PRED;
    case DType::U8: return PJRT_Buffer_Type_U8;
    case DType::I8: return PJRT_Buffer_Type_S8;
    case DType::I16: return PJRT_Buffer_Type_S16;
    case DType::I32: return PJRT_Buffer_Type_S32;
    case DType::I64: return PJRT_Buffer_Type_S64;
    case DType::U16: return PJRT_Buffer_Type_U16;
    case DType::U32: return PJRT_Buffer_Type_U32;
    case DType::U64: return PJRT_Buffer_Type_U64;
    case DType::F16: return PJRT_Buffer_Type_F16;
    case DType::BF16: return PJRT_Buffer_Type_BF16;
    case DType::F32: return PJRT_Buffer_Type_F32;
    case DType::F64: return PJRT_Buffer_Type_F64;
  }
  fail(ErrorCode::INTERNAL, "xla: bad dtype");
}

// ---- protobuf bytes by hand (no protobuf dependency)

namespace {

void put_varint(std::string& s, uint64_t v) {
  while (v >= 0x80) {
    s.push_back((char)(0x80 | (v & 0x7f)));
    v >>= 7;
  }
  s.push_back((char)v);
}
void put_tag(std::string& s, int field, int wire) { put_varint(s, (uint64_t)((field << 3) | wire)); }
void put_bytes(std::string& s, int field, const std::string& b) {
  put_tag(s, field, 2);
  put_varint(s, b.size());
  s += b;
}

}  // namespace

std::string compile_options_bytes(const std::vector<std::pair<std::string, int64_t>>& overrides) {
  std::string build;  // ExecutableBuildOptionsProto: num_replicas = 4, num_partitions = 5
  put_tag(build, 4, 0);
  put_varint(build, 1);
  put_tag(build, 5, 0);
  put_varint(build, 1);
  std::string s;  // CompileOptionsProto
  put_bytes(s, 3, build);  // executable_build_options
  put_tag(s, 4, 0);        // compile_portable_executable = true
  put_varint(s, 1);
  std::map<std::string, int64_t> sorted(overrides.begin(), overrides.end());
  for (auto& kv : sorted) {  // env_option_overrides = 7: map<string, OptionOverrideProto{int_field = 3}>
    std::string value;
    put_tag(value, 3, 0);
    put_varint(value, (uint64_t)kv.second);
    std::string entry;
    put_bytes(entry, 1, kv.first);
    put_bytes(entry, 2, value);
    put_bytes(s, 7, entry);
  }
  return s;
}

// ---- client

namespace {

std::mutex& clients_mutex() {
  static auto* m = new std::mutex();
  return *m;
}
std::map<std::string, PjrtClient*>& clients() {
  static auto* m = new std::map<std::string, PjrtClient*>();
  return *m;
}

bool is_dir(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// A pip-installed CUDA plugin (site-packages/jax_plugins/xla_cuda13/xla_cuda_plugin.so) finds ptxas
// and libdevice through --xla_gpu_cuda_data_dir = site-packages/nvidia/cu13 (or cuda_nvcc for
// CUDA 12). Added to XLA_FLAGS only when absent; it is a flag every XLA build knows (an unknown
// flag in XLA_FLAGS ends the process), and nothing else is ever written there.
void set_cuda_data_dir(const std::string& plugin) {
  const char* flags = std::getenv("XLA_FLAGS");
  std::string cur = flags ? flags : "";
  if (cur.find("xla_gpu_cuda_data_dir") != std::string::npos) return;
  std::string dir = plugin.substr(0, plugin.find_last_of('/'));  // .../jax_plugins/xla_cuda13
  std::string site = dir.substr(0, dir.find_last_of('/'));       // .../jax_plugins
  site = site.substr(0, site.find_last_of('/'));                 // .../site-packages
  for (const char* sub : {"/nvidia/cu13", "/nvidia/cuda_nvcc"}) {
    std::string d = site + sub;
    if (is_dir(d + "/bin") || is_dir(d + "/nvvm")) {
      std::string v = cur.empty() ? "" : cur + " ";
      v += "--xla_gpu_cuda_data_dir=" + d;
      setenv("XLA_FLAGS", v.c_str(), 1);
      return;
    }
  }
}

PJRT_NamedValue int_option(const char* name, int64_t v) {
  PJRT_NamedValue o;
  std::memset(&o, 0, sizeof o);
  o.struct_size = PJRT_NamedValue_STRUCT_SIZE;
  o.name = name;
  o.name_size = std::strlen(name);
  o.type = PJRT_NamedValue_kInt64;
  o.int64_value = v;
  o.value_size = 1;
  return o;
}

PJRT_NamedValue bool_option(const char* name, bool v) {
  PJRT_NamedValue o;
  std::memset(&o, 0, sizeof o);
  o.struct_size = PJRT_NamedValue_STRUCT_SIZE;
  o.name = name;
  o.name_size = std::strlen(name);
  o.type = PJRT_NamedValue_kBool;
  o.bool_value = v;
  o.value_size = 1;
  return o;
}

}  // namespace

PjrtClient& PjrtClient::get(const std::string& plugin_path, Platform platform) {
  std::lock_guard<std::mutex> lock(clients_mutex());
  if (platform == Platform::CUDA) {
    struct stat st;
    if (stat("/dev/nvidiactl", &st) != 0)
      fail(ErrorCode::DEVICE_UNAVAILABLE, "no NVIDIA GPU on this machine (/dev/nvidiactl does not exist)");
    set_cuda_data_dir(plugin_path);
  }
  PjrtPlugin& plugin = PjrtPlugin::load(plugin_path);
  auto it = clients().find(plugin.path);
  if (it != clients().end()) return *it->second;
  std::unique_ptr<PjrtClient> c(new PjrtClient(plugin, platform));
  c->create();
  PjrtClient* raw = c.release();
  clients().emplace(plugin.path, raw);
  return *raw;
}

void PjrtClient::create() {
  // CPU: one device (the plugin makes 4 by default). The value must be an int64: the 0.0.1 CPU
  // plugin aborts on any other type. CUDA: grow memory on demand instead of taking 75% up front.
  std::vector<PJRT_NamedValue> opts;
  if (platform == Platform::CPU) opts.push_back(int_option("cpu_device_count", 1));
  else opts.push_back(bool_option("preallocate", false));
  const ErrorCode unavailable = platform == Platform::CPU ? ErrorCode::BACKEND_UNAVAILABLE : ErrorCode::DEVICE_UNAVAILABLE;
  PJRT_Error* err;
  {
    HODU_PJRT_ARGS(plugin, PJRT_Client_Create_Args, a);
    a->create_options = opts.data();
    a->num_options = opts.size();
    err = HODU_PJRT_FN(plugin, PJRT_Client_Create)(a.get());
    client = a->client;
  }
  if (err && platform == Platform::CUDA) {
    plugin.take_error(err);  // an option this plugin does not know: retry with its defaults
    HODU_PJRT_ARGS(plugin, PJRT_Client_Create_Args, a);
    err = HODU_PJRT_FN(plugin, PJRT_Client_Create)(a.get());
    client = a->client;
  }
  plugin.check(err, unavailable, "cannot create a PJRT client with " + plugin.path);
  if (!client) fail(unavailable, "PJRT_Client_Create with ", plugin.path, " returned no client");
  {
    HODU_PJRT_ARGS(plugin, PJRT_Client_PlatformName_Args, a);
    a->client = client;
    plugin.check(HODU_PJRT_FN(plugin, PJRT_Client_PlatformName)(a.get()), ErrorCode::INTERNAL, "PJRT_Client_PlatformName");
    platform_name.assign(a->platform_name, a->platform_name_size);
  }
  {
    HODU_PJRT_ARGS(plugin, PJRT_Client_PlatformVersion_Args, a);
    a->client = client;
    plugin.check(HODU_PJRT_FN(plugin, PJRT_Client_PlatformVersion)(a.get()), ErrorCode::INTERNAL,
                 "PJRT_Client_PlatformVersion");
    platform_version.assign(a->platform_version, a->platform_version_size);
  }
  {
    HODU_PJRT_ARGS(plugin, PJRT_Client_AddressableDevices_Args, a);
    a->client = client;
    plugin.check(HODU_PJRT_FN(plugin, PJRT_Client_AddressableDevices)(a.get()), ErrorCode::INTERNAL,
                 "PJRT_Client_AddressableDevices");
    devices.assign(a->addressable_devices, a->addressable_devices + a->num_addressable_devices);
  }
  for (PJRT_Device* d : devices) {
    std::string name = platform_name;
    try {
      HODU_PJRT_ARGS(plugin, PJRT_Device_GetDescription_Args, a);
      a->device = d;
      plugin.check(HODU_PJRT_FN(plugin, PJRT_Device_GetDescription)(a.get()), ErrorCode::INTERNAL, "PJRT_Device_GetDescription");
      HODU_PJRT_ARGS(plugin, PJRT_DeviceDescription_DebugString_Args, s);
      s->device_description = a->device_description;
      plugin.check(HODU_PJRT_FN(plugin, PJRT_DeviceDescription_DebugString)(s.get()), ErrorCode::INTERNAL,
                   "PJRT_DeviceDescription_DebugString");
      name.assign(s->debug_string, s->debug_string_size);
      HODU_PJRT_ARGS(plugin, PJRT_DeviceDescription_Kind_Args, k);
      k->device_description = a->device_description;
      plugin.check(HODU_PJRT_FN(plugin, PJRT_DeviceDescription_Kind)(k.get()), ErrorCode::INTERNAL,
                   "PJRT_DeviceDescription_Kind");
      std::string kind(k->device_kind, k->device_kind_size);
      if (!kind.empty() && kind != name) name += " (" + kind + ")";
    } catch (const HoduError&) {
      // names are informational
    }
    device_names.push_back(name);
  }
  if (devices.empty()) fail(ErrorCode::DEVICE_UNAVAILABLE, "the PJRT plugin ", plugin.path, " has no addressable device");
}

PJRT_Device* PjrtClient::device(int index) const {
  if (index < 0 || (size_t)index >= devices.size())
    fail(ErrorCode::DEVICE_UNAVAILABLE, platform_name, " device ", index, " does not exist (this machine has ",
         devices.size(), " ", platform_name, " device", devices.size() == 1 ? "" : "s", ")");
  return devices[(size_t)index];
}

void PjrtClient::await(PJRT_Event* ev, const std::string& what) {
  if (!ev) return;
  PJRT_Error* err;
  {
    HODU_PJRT_ARGS(plugin, PJRT_Event_Await_Args, a);
    a->event = ev;
    err = HODU_PJRT_FN(plugin, PJRT_Event_Await)(a.get());
  }
  HODU_PJRT_ARGS(plugin, PJRT_Event_Destroy_Args, d);
  d->event = ev;
  PJRT_Error* derr = HODU_PJRT_FN(plugin, PJRT_Event_Destroy)(d.get());
  if (derr) plugin.take_error(derr);
  plugin.check(err, ErrorCode::INTERNAL, what);
}

PJRT_LoadedExecutable* PjrtClient::compile(const std::string& mlir, const std::string& options, size_t* num_outputs) {
  if (options.empty()) fail(ErrorCode::INTERNAL, "xla: empty compile options");  // would abort the plugin
  static const char kFormat[] = "mlir";
  HODU_PJRT_ARGS(plugin, PJRT_Program, prog);
  prog->code = const_cast<char*>(mlir.data());
  prog->code_size = mlir.size();
  prog->format = kFormat;
  prog->format_size = sizeof(kFormat) - 1;
  HODU_PJRT_ARGS(plugin, PJRT_Client_Compile_Args, a);
  a->client = client;
  a->program = prog.get();
  a->compile_options = options.data();
  a->compile_options_size = options.size();
  plugin.check(HODU_PJRT_FN(plugin, PJRT_Client_Compile)(a.get()), ErrorCode::COMPILE_FAILED, "XLA rejected the program");
  PJRT_LoadedExecutable* exe = a->executable;
  if (!exe) fail(ErrorCode::INTERNAL, "PJRT_Client_Compile returned no executable");
  try {
    HODU_PJRT_ARGS(plugin, PJRT_LoadedExecutable_GetExecutable_Args, g);
    g->loaded_executable = exe;
    plugin.check(HODU_PJRT_FN(plugin, PJRT_LoadedExecutable_GetExecutable)(g.get()), ErrorCode::INTERNAL,
                 "PJRT_LoadedExecutable_GetExecutable");
    HODU_PJRT_ARGS(plugin, PJRT_Executable_NumOutputs_Args, n);
    n->executable = g->executable;
    PJRT_Error* err = HODU_PJRT_FN(plugin, PJRT_Executable_NumOutputs)(n.get());
    HODU_PJRT_ARGS(plugin, PJRT_Executable_Destroy_Args, d);
    d->executable = g->executable;
    PJRT_Error* derr = HODU_PJRT_FN(plugin, PJRT_Executable_Destroy)(d.get());
    if (derr) plugin.take_error(derr);
    plugin.check(err, ErrorCode::INTERNAL, "PJRT_Executable_NumOutputs");
    *num_outputs = n->num_outputs;
  } catch (...) {
    destroy(exe);
    throw;
  }
  return exe;
}

void PjrtClient::destroy(PJRT_LoadedExecutable* e) {
  if (!e) return;
  HODU_PJRT_ARGS(plugin, PJRT_LoadedExecutable_Destroy_Args, a);
  a->executable = e;
  PJRT_Error* err = HODU_PJRT_FN(plugin, PJRT_LoadedExecutable_Destroy)(a.get());
  if (err) plugin.take_error(err);
}

PJRT_Buffer* PjrtClient::upload(const void* data, DType t, const Shape& shape, PJRT_Device* dev) {
  static const uint8_t kDummy[8] = {0};
  HODU_PJRT_ARGS(plugin, PJRT_Client_BufferFromHostBuffer_Args, a);
  a->client = client;
  a->data = data ? data : kDummy;
  a->type = pjrt_buffer_type(t);
  a->dims = shape.data();
  a->num_dims = shape.size();
  a->host_buffer_semantics = PJRT_HostBufferSemantics_kImmutableUntilTransferCompletes;
  a->device = dev;
  plugin.check(HODU_PJRT_FN(plugin, PJRT_Client_BufferFromHostBuffer)(a.get()), ErrorCode::INTERNAL,
               "copying an input to the " + platform_name + " device");
  PJRT_Buffer* b = a->buffer;
  try {
    await(a->done_with_host_buffer, "copying an input to the " + platform_name + " device");
  } catch (...) {
    destroy(b);
    throw;
  }
  return b;
}

void PjrtClient::download(PJRT_Buffer* b, void* dst, size_t bytes) {
  if (bytes == 0) return;
  HODU_PJRT_ARGS(plugin, PJRT_Buffer_ToHostBuffer_Args, a);
  a->src = b;
  a->dst = dst;
  a->dst_size = bytes;
  plugin.check(HODU_PJRT_FN(plugin, PJRT_Buffer_ToHostBuffer)(a.get()), ErrorCode::INTERNAL,
               "copying an output from the " + platform_name + " device");
  await(a->event, "copying an output from the " + platform_name + " device");
}

void PjrtClient::destroy(PJRT_Buffer* b) {
  if (!b) return;
  HODU_PJRT_ARGS(plugin, PJRT_Buffer_Destroy_Args, a);
  a->buffer = b;
  PJRT_Error* err = HODU_PJRT_FN(plugin, PJRT_Buffer_Destroy)(a.get());
  if (err) plugin.take_error(err);
}

std::vector<PJRT_Buffer*> PjrtClient::execute(PJRT_LoadedExecutable* e, const std::vector<PJRT_Buffer*>& args,
                                              size_t num_outputs, PJRT_Device* dev) {
  HODU_PJRT_ARGS(plugin, PJRT_ExecuteOptions, opts);
  std::vector<PJRT_Buffer*> outs(num_outputs, nullptr);
  PJRT_Buffer* const* arg_list = args.data();
  PJRT_Buffer** out_list = outs.data();
  PJRT_Event* done = nullptr;
  HODU_PJRT_ARGS(plugin, PJRT_LoadedExecutable_Execute_Args, a);
  a->executable = e;
  a->options = opts.get();
  a->argument_lists = &arg_list;
  a->num_devices = 1;
  a->num_args = args.size();
  a->output_lists = &out_list;
  a->device_complete_events = &done;
  a->execute_device = dev;
  plugin.check(HODU_PJRT_FN(plugin, PJRT_LoadedExecutable_Execute)(a.get()), ErrorCode::INTERNAL, "XLA execution failed");
  try {
    await(done, "XLA execution failed");
  } catch (...) {
    for (PJRT_Buffer* b : outs) destroy(b);
    throw;
  }
  return outs;
}

}  // namespace xla
}  // namespace hodu

#endif  // HODU_HAVE_PJRT_HEADER
