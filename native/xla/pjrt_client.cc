#ifdef HODU_HAVE_PJRT_HEADER
#include "pjrt_client.h"

#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <cstdlib>
#include <map>
#include <memory>
#include <sstream>

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

std::string compile_options_bytes(const std::vector<std::pair<std::string, int64_t>>& overrides,
                                  const std::vector<int>& device_ids) {
  const size_t n = device_ids.size() > 1 ? device_ids.size() : 1;
  std::string build;  // ExecutableBuildOptionsProto: num_replicas = 4, num_partitions = 5, use_spmd_partitioning = 6
  put_tag(build, 4, 0);
  put_varint(build, 1);
  put_tag(build, 5, 0);
  put_varint(build, n);
  if (n > 1) {
    put_tag(build, 6, 0);
    put_varint(build, 1);
    bool identity = true;
    for (size_t i = 0; i < n; i++) identity = identity && device_ids[i] == (int)i;
    if (!identity) {  // device_assignment = 9: DeviceAssignmentProto{replica_count 1, computation_count 2, computation_devices 3}
      std::string da;
      put_tag(da, 1, 0);
      put_varint(da, 1);
      put_tag(da, 2, 0);
      put_varint(da, n);
      for (int id : device_ids) {
        std::string ids;  // packed replica_device_ids = 1
        put_varint(ids, (uint64_t)id);
        std::string comp;
        put_bytes(comp, 1, ids);
        put_bytes(da, 3, comp);
      }
      put_bytes(build, 9, da);
    }
  }
  std::string s;  // CompileOptionsProto
  put_bytes(s, 3, build);  // executable_build_options
  if (n == 1) {
    put_tag(s, 4, 0);  // compile_portable_executable = true (a multi-device executable cannot be)
    put_varint(s, 1);
  }
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

// The host CPU's model name and feature flags (Linux /proc/cpuinfo; empty elsewhere).
std::string host_cpu_identity() {
  std::ifstream f("/proc/cpuinfo");
  std::string line, model, flags;
  while (std::getline(f, line) && (model.empty() || flags.empty())) {
    auto value = [&]() { size_t c = line.find(':'); return c == std::string::npos ? std::string() : line.substr(c + 1); };
    if (model.empty() && line.rfind("model name", 0) == 0) model = value();
    else if (flags.empty() && (line.rfind("flags", 0) == 0 || line.rfind("Features", 0) == 0)) flags = value();
  }
  return model + "|" + flags;
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

PjrtClient& PjrtClient::get(const std::string& plugin_path, Platform platform, int cpu_devices) {
  if (platform == Platform::CPU && (cpu_devices < 1 || cpu_devices > kMaxCpuDevices))
    fail(ErrorCode::INVALID_ARGUMENT, "xla: the CPU client's device count must be 1..", kMaxCpuDevices, ", got ",
         cpu_devices);
  if (platform != Platform::CPU) cpu_devices = 0;
  std::lock_guard<std::mutex> lock(clients_mutex());
  if (platform == Platform::CUDA) {
    struct stat st;
    if (stat("/dev/nvidiactl", &st) != 0)
      fail(ErrorCode::DEVICE_UNAVAILABLE, "no NVIDIA GPU on this machine (/dev/nvidiactl does not exist)");
    set_cuda_data_dir(plugin_path);
  }
  PjrtPlugin& plugin = PjrtPlugin::load(plugin_path);
  const std::string key = plugin.path + "#" + std::to_string(cpu_devices);
  auto it = clients().find(key);
  if (it != clients().end()) return *it->second;
  std::unique_ptr<PjrtClient> c(new PjrtClient(plugin, platform));
  c->create(cpu_devices);
  PjrtClient* raw = c.release();
  clients().emplace(key, raw);
  return *raw;
}

void PjrtClient::create(int cpu_devices) {
  // CPU: one device (the plugin makes 4 by default). The value must be an int64: the 0.0.1 CPU
  // plugin aborts on any other type. CUDA: grow memory on demand instead of taking 75% up front.
  std::vector<PJRT_NamedValue> opts;
  if (platform == Platform::CPU) opts.push_back(int_option("cpu_device_count", cpu_devices));
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
  std::vector<std::string> kinds;
  for (PJRT_Device* d : devices) {
    std::string name = platform_name;
    int id = (int)device_ids.size();
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
      kinds.push_back(kind);
      HODU_PJRT_ARGS(plugin, PJRT_DeviceDescription_Id_Args, i);
      i->device_description = a->device_description;
      plugin.check(HODU_PJRT_FN(plugin, PJRT_DeviceDescription_Id)(i.get()), ErrorCode::INTERNAL, "PJRT_DeviceDescription_Id");
      id = i->id;
    } catch (const HoduError&) {
      // names are informational
    }
    device_names.push_back(name);
    device_ids.push_back(id);
  }
  if (devices.empty()) fail(ErrorCode::DEVICE_UNAVAILABLE, "the PJRT plugin ", plugin.path, " has no addressable device");
  // what a serialized executable of this client depends on (besides its program and options)
  std::ostringstream idn;
  struct stat st;
  idn << "plugin=" << plugin.path;
  if (stat(plugin.path.c_str(), &st) == 0)
    idn << ";size=" << (long long)st.st_size << ";mtime=" << (long long)st.st_mtim.tv_sec << "." << st.st_mtim.tv_nsec;
  idn << ";api=" << plugin.version();
  for (auto& kv : plugin.attributes) idn << ";" << kv.first << "=" << kv.second;
  idn << ";platform=" << platform_name << ";platform_version=" << platform_version << ";devices=" << devices.size();
  for (auto& k : kinds) idn << ";kind=" << k;
  // XLA:CPU compiles for this host's instruction set: an entry from another CPU model (a cache
  // folder shared over NFS) must not load here (it could use instructions this CPU lacks)
  if (platform == Platform::CPU) idn << ";host_cpu=" << host_cpu_identity();
  identity = idn.str();
}

PJRT_Device* PjrtClient::device(int index) const {
  if (index < 0 || (size_t)index >= devices.size())
    fail(ErrorCode::DEVICE_UNAVAILABLE, platform_name, " device ", index, " does not exist (this machine has ",
         devices.size(), " ", platform_name, " device", devices.size() == 1 ? "" : "s", ")");
  return devices[(size_t)index];
}

PJRT_Error* PjrtClient::await_error(PJRT_Event* ev) {
  if (!ev) return nullptr;
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
  return err;
}

void PjrtClient::await(PJRT_Event* ev, const std::string& what) {
  if (PJRT_Error* err = await_error(ev)) plugin.check(err, ErrorCode::INTERNAL, what);
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
  // (the messages are built only on an error: this runs for every input of every run)
  if (PJRT_Error* err = HODU_PJRT_FN(plugin, PJRT_Client_BufferFromHostBuffer)(a.get()))
    plugin.check(err, ErrorCode::INTERNAL, "copying an input to the " + platform_name + " device");
  PJRT_Buffer* b = a->buffer;
  if (PJRT_Error* err = await_error(a->done_with_host_buffer)) {
    destroy(b);
    plugin.check(err, ErrorCode::INTERNAL, "copying an input to the " + platform_name + " device");
  }
  return b;
}

void PjrtClient::download(PJRT_Buffer* b, void* dst, size_t bytes) {
  if (bytes == 0) return;
  HODU_PJRT_ARGS(plugin, PJRT_Buffer_ToHostBuffer_Args, a);
  a->src = b;
  a->dst = dst;
  a->dst_size = bytes;
  PJRT_Error* err = HODU_PJRT_FN(plugin, PJRT_Buffer_ToHostBuffer)(a.get());
  if (!err) err = await_error(a->event);
  if (err) plugin.check(err, ErrorCode::INTERNAL, "copying an output from the " + platform_name + " device");
}

void PjrtClient::destroy(PJRT_Buffer* b) {
  if (!b) return;
  HODU_PJRT_ARGS(plugin, PJRT_Buffer_Destroy_Args, a);
  a->buffer = b;
  PJRT_Error* err = HODU_PJRT_FN(plugin, PJRT_Buffer_Destroy)(a.get());
  if (err) plugin.take_error(err);
}

std::vector<PJRT_Buffer*> PjrtClient::execute(PJRT_LoadedExecutable* e, const std::vector<PJRT_Buffer*>& args,
                                              size_t num_outputs, PJRT_Device* dev, const std::vector<int64_t>* non_donatable) {
  HODU_PJRT_ARGS(plugin, PJRT_ExecuteOptions, opts);
  if (non_donatable && !non_donatable->empty()) {
    opts->non_donatable_input_indices = non_donatable->data();
    opts->num_non_donatable_input_indices = non_donatable->size();
  }
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
  if (PJRT_Error* err = HODU_PJRT_FN(plugin, PJRT_LoadedExecutable_Execute)(a.get()))
    plugin.check(err, ErrorCode::INTERNAL, "XLA execution failed");
  if (PJRT_Error* err = await_error(done)) {
    for (PJRT_Buffer* b : outs) destroy(b);
    plugin.check(err, ErrorCode::INTERNAL, "XLA execution failed");
  }
  return outs;
}


namespace {

// A PJRT_Executable of a loaded one, destroyed at scope exit.
struct ExecutableRef {
  PjrtClient& c;
  PJRT_Executable* e = nullptr;
  ExecutableRef(PjrtClient& client, PJRT_LoadedExecutable* loaded) : c(client) {
    HODU_PJRT_ARGS(c.plugin, PJRT_LoadedExecutable_GetExecutable_Args, g);
    g->loaded_executable = loaded;
    c.plugin.check(HODU_PJRT_FN(c.plugin, PJRT_LoadedExecutable_GetExecutable)(g.get()), ErrorCode::INTERNAL,
                   "PJRT_LoadedExecutable_GetExecutable");
    e = g->executable;
  }
  ~ExecutableRef() {
    if (!e) return;
    HODU_PJRT_ARGS(c.plugin, PJRT_Executable_Destroy_Args, d);
    d->executable = e;
    PJRT_Error* err = HODU_PJRT_FN(c.plugin, PJRT_Executable_Destroy)(d.get());
    if (err) c.plugin.take_error(err);
  }
};

}  // namespace

PjrtClient::ExeInfo PjrtClient::inspect(PJRT_LoadedExecutable* exe) {
  ExeInfo r;
  ExecutableRef x(*this, exe);
  {
    HODU_PJRT_ARGS(plugin, PJRT_Executable_NumOutputs_Args, n);
    n->executable = x.e;
    plugin.check(HODU_PJRT_FN(plugin, PJRT_Executable_NumOutputs)(n.get()), ErrorCode::INTERNAL, "PJRT_Executable_NumOutputs");
    r.num_outputs = n->num_outputs;
  }
  {
    HODU_PJRT_ARGS(plugin, PJRT_Executable_NumPartitions_Args, n);
    n->executable = x.e;
    plugin.check(HODU_PJRT_FN(plugin, PJRT_Executable_NumPartitions)(n.get()), ErrorCode::INTERNAL,
                 "PJRT_Executable_NumPartitions");
    r.num_partitions = n->num_partitions;
  }
  {
    HODU_PJRT_ARGS(plugin, PJRT_Executable_NumReplicas_Args, n);
    n->executable = x.e;
    plugin.check(HODU_PJRT_FN(plugin, PJRT_Executable_NumReplicas)(n.get()), ErrorCode::INTERNAL, "PJRT_Executable_NumReplicas");
    r.num_replicas = n->num_replicas;
  }
  {
    HODU_PJRT_ARGS(plugin, PJRT_LoadedExecutable_AddressableDevices_Args, a);
    a->executable = exe;
    plugin.check(HODU_PJRT_FN(plugin, PJRT_LoadedExecutable_AddressableDevices)(a.get()), ErrorCode::INTERNAL,
                 "PJRT_LoadedExecutable_AddressableDevices");
    r.devices.assign(a->addressable_devices, a->addressable_devices + a->num_addressable_devices);
  }
  return r;
}

std::string PjrtClient::serialize(PJRT_LoadedExecutable* exe) {
  ExecutableRef x(*this, exe);
  HODU_PJRT_ARGS(plugin, PJRT_Executable_Serialize_Args, a);
  a->executable = x.e;
  plugin.check(HODU_PJRT_FN(plugin, PJRT_Executable_Serialize)(a.get()), ErrorCode::INTERNAL, "PJRT_Executable_Serialize");
  std::string bytes;
  if (a->serialized_bytes) bytes.assign(a->serialized_bytes, a->serialized_bytes_size);
  if (a->serialized_executable_deleter && a->serialized_executable) a->serialized_executable_deleter(a->serialized_executable);
  if (bytes.empty()) fail(ErrorCode::INTERNAL, "PJRT_Executable_Serialize returned no bytes");
  return bytes;
}

PJRT_LoadedExecutable* PjrtClient::deserialize(const std::string& bytes) {
  HODU_PJRT_ARGS(plugin, PJRT_Executable_DeserializeAndLoad_Args, a);
  a->client = client;
  a->serialized_executable = bytes.data();
  a->serialized_executable_size = bytes.size();
  plugin.check(HODU_PJRT_FN(plugin, PJRT_Executable_DeserializeAndLoad)(a.get()), ErrorCode::INTERNAL,
               "PJRT_Executable_DeserializeAndLoad");
  if (!a->loaded_executable) fail(ErrorCode::INTERNAL, "PJRT_Executable_DeserializeAndLoad returned no executable");
  return a->loaded_executable;
}

std::vector<std::vector<PJRT_Buffer*>> PjrtClient::execute_multi(PJRT_LoadedExecutable* e, const ExeInfo& info,
                                                                 const std::vector<std::vector<PJRT_Buffer*>>& lists,
                                                                 const std::vector<ArgSpec>& expected,
                                                                 const std::vector<int64_t>* non_donatable) {
  const size_t n = info.devices.size();
  std::lock_guard<std::mutex> one_at_a_time(multi_mutex_);
  // --- validation: nothing below may reach the plugin unchecked (hangs and aborts otherwise)
  if (multi_broken_)
    fail(ErrorCode::INTERNAL, "xla: an earlier multi-device launch on this ", platform_name,
         " client failed, and the plugin's collectives never complete after that (every later launch would hang); "
         "restart the process to run on several devices again");
  if (n < 2 || info.num_partitions * info.num_replicas != n)
    fail(ErrorCode::INTERNAL, "xla: not a multi-device executable (", n, " devices, ", info.num_partitions, " partitions, ",
         info.num_replicas, " replicas)");
  if (lists.size() != n)
    fail(ErrorCode::INVALID_ARGUMENT, "xla: the executable runs on ", n, " devices, the launch gave ", lists.size(),
         " argument list", lists.size() == 1 ? "" : "s", " (a launch on fewer devices waits forever in a collective)");
  for (size_t d = 0; d < n; d++) {
    if (std::find(devices.begin(), devices.end(), info.devices[d]) == devices.end())
      fail(ErrorCode::INVALID_ARGUMENT, "xla: device ", d, " of the executable does not belong to this client");
    if (lists[d].size() != expected.size())
      fail(ErrorCode::INVALID_ARGUMENT, "xla: device ", d, " got ", lists[d].size(), " arguments, the executable takes ",
           expected.size());
    for (size_t i = 0; i < expected.size(); i++) {
      PJRT_Buffer* b = lists[d][i];
      if (!b) fail(ErrorCode::INVALID_ARGUMENT, "xla: argument ", i, " of device ", d, " is missing");
      HODU_PJRT_ARGS(plugin, PJRT_Buffer_Device_Args, dv);
      dv->buffer = b;
      plugin.check(HODU_PJRT_FN(plugin, PJRT_Buffer_Device)(dv.get()), ErrorCode::INVALID_ARGUMENT, "PJRT_Buffer_Device");
      if (dv->device != info.devices[d]) {
        bool ours = std::find(devices.begin(), devices.end(), dv->device) != devices.end();
        fail(ErrorCode::INVALID_ARGUMENT, "xla: argument ", i, " for device ", d, " (", device_names.at(
             (size_t)(std::find(devices.begin(), devices.end(), info.devices[d]) - devices.begin())), ") ",
             ours ? "is on another device of this client" : "belongs to another PJRT client");
      }
      HODU_PJRT_ARGS(plugin, PJRT_Buffer_ElementType_Args, et);
      et->buffer = b;
      plugin.check(HODU_PJRT_FN(plugin, PJRT_Buffer_ElementType)(et.get()), ErrorCode::INVALID_ARGUMENT,
                   "PJRT_Buffer_ElementType");
      HODU_PJRT_ARGS(plugin, PJRT_Buffer_Dimensions_Args, dm);
      dm->buffer = b;
      plugin.check(HODU_PJRT_FN(plugin, PJRT_Buffer_Dimensions)(dm.get()), ErrorCode::INVALID_ARGUMENT,
                   "PJRT_Buffer_Dimensions");
      Shape got(dm->dims, dm->dims + dm->num_dims);
      if (et->type != pjrt_buffer_type(expected[i].dtype) || got != expected[i].shape)
        fail(ErrorCode::SHAPE_MISMATCH, "xla: argument ", i, " for device ", d, ": expected ", dtype_name(expected[i].dtype),
             fmt_list(expected[i].shape), ", got a buffer of PJRT type ", (int)et->type, " ", fmt_list(got));
    }
  }
  // --- launch on every device at once
  HODU_PJRT_ARGS(plugin, PJRT_ExecuteOptions, opts);
  if (non_donatable && !non_donatable->empty()) {
    opts->non_donatable_input_indices = non_donatable->data();
    opts->num_non_donatable_input_indices = non_donatable->size();
  }
  std::vector<std::vector<PJRT_Buffer*>> outs(n, std::vector<PJRT_Buffer*>(info.num_outputs, nullptr));
  std::vector<PJRT_Buffer* const*> arg_ptrs(n);
  std::vector<PJRT_Buffer**> out_ptrs(n);
  for (size_t d = 0; d < n; d++) {
    arg_ptrs[d] = lists[d].data();
    out_ptrs[d] = outs[d].data();
  }
  std::vector<PJRT_Event*> done(n, nullptr);
  HODU_PJRT_ARGS(plugin, PJRT_LoadedExecutable_Execute_Args, a);
  a->executable = e;
  a->options = opts.get();
  a->argument_lists = arg_ptrs.data();
  a->num_devices = n;
  a->num_args = expected.size();
  a->output_lists = out_ptrs.data();
  a->device_complete_events = done.data();
  a->execute_device = nullptr;
  PJRT_Error* err = HODU_PJRT_FN(plugin, PJRT_LoadedExecutable_Execute)(a.get());
  if (err) {
    multi_broken_ = true;
    for (auto& l : outs)
      for (PJRT_Buffer* b : l) destroy(b);
    for (PJRT_Event* ev : done) {
      try {
        await(ev, "");
      } catch (const HoduError&) {
      }
    }
    plugin.check(err, ErrorCode::INTERNAL, "XLA multi-device execution failed");
  }
  std::string first_error;
  for (PJRT_Event* ev : done) {
    try {
      await(ev, "XLA multi-device execution failed");
    } catch (const HoduError& x) {
      if (first_error.empty()) first_error = x.what();
    }
  }
  if (!first_error.empty()) {
    multi_broken_ = true;
    for (auto& l : outs)
      for (PJRT_Buffer* b : l) destroy(b);
    fail(ErrorCode::INTERNAL, first_error);
  }
  return outs;
}

}  // namespace xla
}  // namespace hodu

#endif  // HODU_HAVE_PJRT_HEADER
