#include "xla_plan.h"

#include "../core/checked_size.h"
#include "program_limits.h"

#include <chrono>
#include <cstdio>
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <atomic>

#include "../ir/loop_roll.h"

#ifdef HODU_HAVE_PJRT_HEADER
#include "pjrt_client.h"
#endif

namespace hodu {
namespace xla {

namespace {
double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

#ifdef HODU_HAVE_PJRT_HEADER

bool built_with_pjrt() { return true; }

struct XlaPlan::Impl {
  PjrtClient* client = nullptr;
  std::vector<PJRT_Device*> devices;  // one, or (SPMD) the executable's devices in partition order
  PJRT_LoadedExecutable* exe = nullptr;
  PjrtClient::ExeInfo info;
  size_t num_outputs = 0;  // of the executable: the graph outputs, plus the index-check flags
  std::vector<std::string> index_checks;
  std::vector<Param> params;
  std::vector<int> split;                                   // per param: split axis, -1 replicated (SPMD)
  std::vector<PjrtClient::ArgSpec> shard_specs;             // per param: what each device receives (SPMD)
  std::vector<std::vector<PJRT_Buffer*>> constant_buffers;  // [device][param] (null for inputs)
  std::vector<int> aliased_output;                          // per param: the result it may alias, -1 none

  ~Impl() {
    if (!client) return;
    for (auto& l : constant_buffers)
      for (PJRT_Buffer* b : l) client->destroy(b);
    client->destroy(exe);
  }
};

XlaPlan::~XlaPlan() = default;

struct ResidentValue {
  PjrtClient* client = nullptr;
  std::vector<PJRT_Device*> devices;   // the plan's devices, in its order
  std::vector<PJRT_Buffer*> buffers;   // one per device (replicated)
  DType dtype = DType::F32;
  Shape shape;
  size_t nbytes = 0;
  std::atomic<int> in_flight{0};       // runs using it now
  std::atomic<bool> donated{false};    // consumed by a run: its buffers are dead
  ~ResidentValue() {
    if (client)
      for (PJRT_Buffer* b : buffers) client->destroy(b);
  }
};

void resident_read(ResidentValue& v, void* dst, size_t bytes) {
  if (v.donated) fail(ErrorCode::INVALID_ARGUMENT, "xla: a device value was read after a run consumed it");
  if (bytes != v.nbytes) fail(ErrorCode::INVALID_ARGUMENT, "xla: a device value of ", v.nbytes, " bytes read into ", bytes, " bytes");
  if (v.buffers.empty()) return;
  v.client->download(v.buffers[0], dst, bytes);
}
size_t resident_bytes(const ResidentValue& v) { return v.nbytes; }
bool resident_donated(const ResidentValue& v) { return v.donated; }

namespace {

// Buffers destroyed at scope exit (the per-run inputs and outputs).
struct BufferList {
  PjrtClient& c;
  std::vector<PJRT_Buffer*> v;
  ~BufferList() {
    for (PJRT_Buffer* b : v) c.destroy(b);
  }
};

// Which graph inputs are split across `n` devices, and along which axis (-1: replicated).
std::vector<int> split_axes(const Graph& g, const XlaCompileOptions& opts, size_t n) {
  std::vector<int> r(g.input_ids.size(), -1);
  for (size_t k = 0; k < r.size(); k++) {
    const Value& v = g.values[g.input_ids[k]];
    if (!opts.split_given) {
      if (!v.shape.empty() && v.shape[0] > 0 && v.shape[0] % (int64_t)n == 0 && v.name.rfind("@", 0) != 0) r[k] = 0;
      continue;
    }
    for (auto& kv : opts.split) {
      if (kv.first != v.name || kv.second < 0) continue;
      const int a = kv.second;
      if ((size_t)a >= v.shape.size() || v.shape[(size_t)a] % (int64_t)n != 0 || v.shape[(size_t)a] == 0)
        fail(ErrorCode::INVALID_ARGUMENT, "xla: input '", v.name, "' of shape ", fmt_list(v.shape), " cannot be split along axis ",
             a, " over ", n, " devices (the dim must be a non-zero multiple of the device count)");
      r[k] = a;
    }
  }
  return r;
}

// The loaded executable of `text`: from the persistent cache when it holds a verified entry that
// the plugin loads, else compiled (and stored).
PJRT_LoadedExecutable* compile_or_load(PjrtClient& client, const std::string& text, const std::string& options,
                                       const XlaCompileOptions& opts, XlaStats& stats, double* compile_ms) {
  CompileCache cache(opts.cache);
  std::string key;
  auto t0 = std::chrono::steady_clock::now();
  if (cache.enabled()) {
    key = cache_key({"hodu-xla-executable/1", opts.cache_salt, client.identity, options, text});
    std::string bytes;
    if (cache.load(key, &bytes)) {
      try {
        PJRT_LoadedExecutable* e = client.deserialize(bytes);
        count_cache(&CacheCounters::hits);
        stats.cache = "hit";
        stats.cache_ms = ms_since(t0);
        return e;
      } catch (const HoduError&) {
        count_cache(&CacheCounters::rejected);  // verified bytes the plugin refused: compile and rewrite
      }
    }
    count_cache(&CacheCounters::misses);
    stats.cache = "miss";
  }
  stats.cache_ms = ms_since(t0);
  t0 = std::chrono::steady_clock::now();
  size_t unused = 0;
  PJRT_LoadedExecutable* e = client.compile(text, options, &unused);
  *compile_ms = ms_since(t0);
  if (cache.enabled()) {
    t0 = std::chrono::steady_clock::now();
    try {
      cache.store(key, client.serialize(e));
    } catch (const HoduError&) {
      count_cache(&CacheCounters::errors);  // not serializable: the compile still counts
    }
    stats.cache_ms += ms_since(t0);
  }
  return e;
}

}  // namespace

std::unique_ptr<XlaPlan> XlaPlan::compile(const Graph& g, const std::vector<ConstantData>& constants, const Target& target,
                                          const XlaCompileOptions& opts) {
  std::unique_ptr<XlaPlan> plan(new XlaPlan());
  plan->impl_ = std::make_unique<Impl>();
  Impl& m = *plan->impl_;
  for (uint32_t id : g.input_ids) plan->input_descs_.emplace_back(g.values[id].dtype, g.values[id].shape);
  for (const Output& o : g.outputs) plan->output_descs_.emplace_back(g.values[o.value].dtype, g.values[o.value].shape);
  for (const TensorDesc& d : plan->output_descs_) check_alloc_bytes(d.nbytes(), "an output of this script");

  // the devices: one, or several (SPMD); validated before any client is made
  const bool multi = target.devices.size() > 1;
  std::vector<int> idx = multi ? target.devices : std::vector<int>{target.device};
  int max_index = 0;
  for (size_t i = 0; i < idx.size(); i++) {
    if (idx[i] < 0) fail(ErrorCode::INVALID_ARGUMENT, "xla: device index ", idx[i], " is negative");
    for (size_t j = 0; j < i; j++)
      if (idx[j] == idx[i]) fail(ErrorCode::INVALID_ARGUMENT, "xla: device ", idx[i], " is listed twice");
    max_index = std::max(max_index, idx[i]);
  }
  if (multi && target.platform == Platform::CPU && max_index >= PjrtClient::kMaxCpuDevices)
    fail(ErrorCode::INVALID_ARGUMENT, "xla: CPU device index ", max_index, " is too large (at most ",
         PjrtClient::kMaxCpuDevices, " CPU devices)");
  // the client first: a missing plugin or device is reported before any lowering work
  // (a one-device script uses the one-device CPU client, whose only device is 0)
  PjrtClient& client = PjrtClient::get(target.plugin_path, target.platform, multi ? max_index + 1 : 1);
  std::vector<int> ids;
  for (int i : idx) {
    m.devices.push_back(client.device(i));
    ids.push_back(client.device_ids.at((size_t)i));
  }

  auto t0 = std::chrono::steady_clock::now();
  RolledGraph rolled;
  const Graph* eg = &g;
  const std::vector<ConstantData>* ec = &constants;
  if (opts.roll_loops) {
    rolled = roll_loops(g, constants);
    if (!rolled.graph.loops.empty()) {
      eg = &rolled.graph;
      ec = &rolled.constants;
      for (const Value& v : eg->values)
        if (v.kind == ValueKind::Loop) plan->stats_.loop_trips.push_back(eg->loops.at(v.index)->trips);
    }
  }
  check_xla_program_size(*eg);  // before XLA's memory explodes (program_limits.h)
  EmitOptions eo = opts.emit;
  std::vector<int> input_split;
  if (multi) {
    input_split = split_axes(g, opts, idx.size());
    eo.num_partitions = (int)idx.size();
    eo.input_split_axis = input_split;
  }
  EmitResult em = emit_stablehlo(*eg, *ec, eo);
  plan->stats_.emit_ms = ms_since(t0);
  plan->text_ = std::move(em.text);
  if (const char* dump = std::getenv("HODU_XLA_DUMP")) {  // debugging: the program text XLA compiles
    std::ofstream f(dump, std::ios::binary | std::ios::trunc);
    f << plan->text_;
  }

  const std::string options = compile_options_bytes(opts.debug_options, multi ? ids : std::vector<int>{});
  m.exe = compile_or_load(client, plan->text_, options, opts, plan->stats_, &plan->stats_.compile_ms);
  m.client = &client;  // from here on ~Impl releases what was made
  m.info = client.inspect(m.exe);
  m.num_outputs = m.info.num_outputs;
  m.index_checks = em.index_check_messages;
  if (m.num_outputs != g.outputs.size() + (m.index_checks.empty() ? 0 : 1))
    fail(ErrorCode::INTERNAL, "xla: the executable has ", m.num_outputs, " outputs, the graph ", g.outputs.size());
  if (multi) {  // the executable must run on exactly the devices asked for, in partition order
    if (m.info.num_partitions != idx.size() || m.info.num_replicas != 1 || m.info.devices != m.devices)
      fail(ErrorCode::INTERNAL, "xla: the executable was built for ", m.info.num_partitions, " partitions on ",
           m.info.devices.size(), " devices, expected ", idx.size(), " partitions on the devices asked for");
  } else if (m.info.num_partitions * m.info.num_replicas != 1) {
    fail(ErrorCode::INTERNAL, "xla: a one-device executable has ", m.info.num_partitions, " partitions");
  }

  // large constants: uploaded once per device, resident for the plan's life
  t0 = std::chrono::steady_clock::now();
  m.params = em.params;
  m.aliased_output = em.aliased_output;
  m.aliased_output.resize(m.params.size(), -1);
  m.constant_buffers.assign(m.devices.size(), std::vector<PJRT_Buffer*>(m.params.size(), nullptr));
  m.split.assign(m.params.size(), -1);
  for (size_t i = 0; i < m.params.size(); i++) {
    const Param& p = m.params[i];
    PjrtClient::ArgSpec spec{p.dtype, p.shape};
    if (p.kind == Param::Kind::Input && multi && input_split.at(p.index) >= 0) {
      m.split[i] = input_split[p.index];
      spec.shape[(size_t)m.split[i]] /= (int64_t)m.devices.size();
    }
    m.shard_specs.push_back(spec);
    if (p.kind != Param::Kind::Constant) continue;
    const ConstantData& cd = ec->at(p.index);
    for (size_t d = 0; d < m.devices.size(); d++) m.constant_buffers[d][i] = client.upload(cd.data, p.dtype, p.shape, m.devices[d]);
    plan->stats_.constant_params++;
    plan->stats_.constant_bytes += cd.bytes;
  }
  plan->stats_.constants_ms = ms_since(t0);
  plan->stats_.text_bytes = plan->text_.size();
  plan->stats_.ops = em.ops;
  plan->stats_.params = m.params.size();
  plan->stats_.inlined_constants = em.inlined_constants;
  plan->stats_.plugin = client.plugin.path;
  plan->stats_.api_version = client.plugin.version();
  plan->stats_.platform = client.platform_name;
  plan->stats_.num_devices = m.devices.size();
  for (size_t d = 0; d < idx.size(); d++)
    plan->stats_.device += (d ? ", " : "") + client.device_names.at((size_t)idx[d]);
  return plan;
}

namespace {

// Shard d of n of a dense row-major tensor along `axis`: a pointer into `data` for axis 0 (or when
// every dim before it is 1), else a copy in `scratch`.
const void* shard_of(const void* data, DType t, const Shape& shape, int axis, size_t d, size_t n, std::vector<uint8_t>& scratch) {
  size_t outer = 1, inner = dtype_size(t);
  for (int k = 0; k < axis; k++) outer *= (size_t)shape[(size_t)k];
  for (size_t k = (size_t)axis + 1; k < shape.size(); k++) inner *= (size_t)shape[k];
  const size_t rows = (size_t)shape[(size_t)axis] / n;  // rows of this shard along the axis
  const size_t block = rows * inner;
  const uint8_t* src = static_cast<const uint8_t*>(data);
  if (outer == 1) return src + d * block;
  scratch.resize(outer * block);
  for (size_t o = 0; o < outer; o++) std::memcpy(scratch.data() + o * block, src + (o * n + d) * block, block);
  return scratch.data();
}

}  // namespace

void XlaPlan::run(const std::vector<const void*>& inputs, const std::vector<void*>& outputs) {
  Impl& m = *impl_;
  if (inputs.size() != input_descs_.size() || outputs.size() != output_descs_.size())
    fail(ErrorCode::INTERNAL, "xla plan: bound ", inputs.size(), " inputs and ", outputs.size(), " outputs, expected ",
         input_descs_.size(), " and ", output_descs_.size());
  PjrtClient& c = *m.client;
  BufferList owned{c, {}};
  std::vector<PJRT_Buffer*> outs;
  if (m.devices.size() == 1) {
    std::vector<PJRT_Buffer*> args(m.params.size(), nullptr);
    for (size_t i = 0; i < m.params.size(); i++) {
      const Param& p = m.params[i];
      if (p.kind == Param::Kind::Constant) {
        args[i] = m.constant_buffers[0][i];
      } else {
        args[i] = c.upload(inputs[p.index], p.dtype, p.shape, m.devices[0]);
        owned.v.push_back(args[i]);
      }
    }
    outs = c.execute(m.exe, args, m.num_outputs, m.devices[0]);
    owned.v.insert(owned.v.end(), outs.begin(), outs.end());
  } else {  // SPMD: split inputs per device, replicated ones whole; one launch on every device
    const size_t n = m.devices.size();
    std::vector<std::vector<PJRT_Buffer*>> lists(n, std::vector<PJRT_Buffer*>(m.params.size(), nullptr));
    std::vector<uint8_t> scratch;
    for (size_t d = 0; d < n; d++) {
      for (size_t i = 0; i < m.params.size(); i++) {
        const Param& p = m.params[i];
        if (p.kind == Param::Kind::Constant) {
          lists[d][i] = m.constant_buffers[d][i];
          continue;
        }
        const void* src = inputs[p.index];
        if (m.split[i] >= 0) src = shard_of(src, p.dtype, p.shape, m.split[i], d, n, scratch);
        lists[d][i] = c.upload(src, p.dtype, m.shard_specs[i].shape, m.devices[d]);
        owned.v.push_back(lists[d][i]);
      }
    }
    std::vector<std::vector<PJRT_Buffer*>> all = c.execute_multi(m.exe, m.info, lists, m.shard_specs);
    for (auto& l : all) owned.v.insert(owned.v.end(), l.begin(), l.end());
    outs = all[0];  // every result is replicated: device 0 holds all of it
  }
  if (!m.index_checks.empty()) {  // out-of-range indices: the HODU backend's error, not clamped data
    std::vector<uint8_t> flags(m.index_checks.size());
    c.download(outs.back(), flags.data(), flags.size());
    for (size_t k = 0; k < flags.size(); k++)
      if (flags[k]) fail(ErrorCode::INVALID_ARGUMENT, m.index_checks[k]);
  }
  for (size_t j = 0; j < output_descs_.size(); j++) c.download(outs[j], outputs[j], output_descs_[j].nbytes());
}

void XlaPlan::run_resident(const std::vector<ResidentArg>& args, const std::vector<char>& keep_outputs,
                           const std::vector<void*>& outputs, bool allow_donation, ResidentRun& r) {
  Impl& m = *impl_;
  if (args.size() != input_descs_.size() || outputs.size() != output_descs_.size() || keep_outputs.size() != outputs.size())
    fail(ErrorCode::INTERNAL, "xla plan: bound ", args.size(), " inputs and ", outputs.size(), " outputs, expected ",
         input_descs_.size(), " and ", output_descs_.size());
  PjrtClient& c = *m.client;
  const size_t n = m.devices.size();
  r.uploaded.assign(args.size(), nullptr);
  r.kept.assign(outputs.size(), nullptr);
  struct Hold {  // every resident value this run reads, marked in use until it ends
    std::vector<ResidentRef> v;
    ~Hold() {
      for (auto& x : v) x->in_flight--;
    }
  } hold;
  auto use = [&](const ResidentRef& v) {
    v->in_flight++;
    hold.v.push_back(v);
  };
  BufferList owned{c, {}};
  std::vector<std::vector<PJRT_Buffer*>> lists(n, std::vector<PJRT_Buffer*>(m.params.size(), nullptr));
  std::vector<ResidentRef> value_of(m.params.size());  // the resident value behind param i
  std::vector<uint8_t> scratch;
  for (size_t i = 0; i < m.params.size(); i++) {
    const Param& p = m.params[i];
    if (p.kind == Param::Kind::Constant) {
      for (size_t d = 0; d < n; d++) lists[d][i] = m.constant_buffers[d][i];
      continue;
    }
    const ResidentArg& a = args.at(p.index);
    if (a.dev) {
      const ResidentValue& v = *a.dev;
      if (v.client != &c || v.devices != m.devices || v.dtype != p.dtype || v.shape != p.shape || m.split[i] >= 0)
        fail(ErrorCode::INVALID_ARGUMENT, "xla: input ", p.index, ": the device value (", dtype_name(v.dtype), fmt_list(v.shape),
             ") was made for other devices or another type than this executable's ", dtype_name(p.dtype), fmt_list(p.shape));
      if (v.donated) fail(ErrorCode::INVALID_ARGUMENT, "xla: input ", p.index, ": the device value was consumed by an earlier run");
      for (size_t d = 0; d < n; d++) lists[d][i] = v.buffers[d];
      use(a.dev);
      value_of[i] = a.dev;
      continue;
    }
    if (a.keep && m.split[i] < 0) {
      auto v = std::make_shared<ResidentValue>();
      v->client = &c;
      v->devices = m.devices;
      v->dtype = p.dtype;
      v->shape = p.shape;
      v->nbytes = input_descs_[p.index].nbytes();
      for (size_t d = 0; d < n; d++) {
        v->buffers.push_back(c.upload(a.host, p.dtype, p.shape, m.devices[d]));
        r.h2d_bytes += v->nbytes;
      }
      for (size_t d = 0; d < n; d++) lists[d][i] = v->buffers[d];
      use(v);
      value_of[i] = v;
      r.uploaded[p.index] = v;
      continue;
    }
    for (size_t d = 0; d < n; d++) {  // this run's own copy
      const void* src = a.host;
      if (m.split[i] >= 0) src = shard_of(src, p.dtype, p.shape, m.split[i], d, n, scratch);
      lists[d][i] = c.upload(src, p.dtype, m.shard_specs[i].shape, m.devices[d]);
      owned.v.push_back(lists[d][i]);
      r.h2d_bytes += TensorDesc(p.dtype, m.shard_specs[i].shape).nbytes();
    }
  }
  // donation: an aliased input is consumed in place when nothing else reads it (else XLA copies)
  std::vector<int64_t> non_donatable;
  std::vector<size_t> donating;
  const bool may_donate = allow_donation;
  for (size_t i = 0; i < m.params.size(); i++) {
    if (m.aliased_output[i] < 0) continue;
    const ResidentRef& v = value_of[i];
    bool ok = v ? may_donate && v->in_flight.load() == 1 && keep_outputs[(size_t)m.aliased_output[i]] : true;
    if (!ok) non_donatable.push_back((int64_t)i);
    else if (v) donating.push_back(i);
  }
  std::vector<std::vector<PJRT_Buffer*>> all;
  if (n == 1) {
    std::vector<PJRT_Buffer*> outs = c.execute(m.exe, lists[0], m.num_outputs, m.devices[0], &non_donatable);
    all.push_back(std::move(outs));
  } else {
    all = c.execute_multi(m.exe, m.info, lists, m.shard_specs, &non_donatable);
  }
  for (size_t i : donating) {
    value_of[i]->donated = true;
    r.donated++;
    if (r.uploaded[m.params[i].index] == value_of[i]) r.uploaded[m.params[i].index] = nullptr;
  }
  for (auto& l : all) owned.v.insert(owned.v.end(), l.begin(), l.end());
  if (!m.index_checks.empty()) {
    std::vector<uint8_t> flags(m.index_checks.size());
    c.download(all[0].back(), flags.data(), flags.size());
    for (size_t k = 0; k < flags.size(); k++) {
      if (!flags[k]) continue;
      // the program returned the old values of the updated variables (emit_stablehlo selects them
      // when a check fails): they become the donated values' buffers again, so nothing changed
      for (size_t i : donating) {
        ResidentValue& v = *value_of[i];
        const size_t j = (size_t)m.aliased_output[i];
        for (size_t d = 0; d < n; d++) {
          owned.v.push_back(v.buffers[d]);  // the consumed buffer's handle
          v.buffers[d] = all[d][j];
          owned.v.erase(std::find(owned.v.begin(), owned.v.end(), all[d][j]));
        }
        v.donated = false;
      }
      r.donated = 0;
      fail(ErrorCode::INVALID_ARGUMENT, m.index_checks[k]);
    }
  }
  for (size_t j = 0; j < output_descs_.size(); j++) {
    if (!keep_outputs[j]) {
      c.download(all[0][j], outputs[j], output_descs_[j].nbytes());
      r.d2h_bytes += output_descs_[j].nbytes();
      continue;
    }
    auto v = std::make_shared<ResidentValue>();
    v->client = &c;
    v->devices = m.devices;
    v->dtype = output_descs_[j].dtype;
    v->shape = output_descs_[j].shape;
    v->nbytes = output_descs_[j].nbytes();
    for (size_t d = 0; d < n; d++) {
      v->buffers.push_back(all[d][j]);
      owned.v.erase(std::find(owned.v.begin(), owned.v.end(), all[d][j]));
    }
    r.kept[j] = v;
  }
}

ClientInfo client_info(const std::string& plugin_path, Platform platform) {
  PjrtClient& c = PjrtClient::get(plugin_path, platform);
  ClientInfo r;
  r.plugin = c.plugin.path;
  r.api_version = c.plugin.version();
  r.platform = c.platform_name;
  r.platform_version = c.platform_version;
  r.padded_args = c.plugin.pad_args;
  r.devices = c.device_names;
  r.attributes = c.plugin.attributes;
  return r;
}

size_t compile_program_text(const Target& target, const std::string& text) {
  PjrtClient& c = PjrtClient::get(target.plugin_path, target.platform);
  c.device(target.device);
  size_t n = 0;
  PJRT_LoadedExecutable* e = c.compile(text, compile_options_bytes({}), &n);
  c.destroy(e);
  return n;
}

#else  // no pjrt_c_api.h at build time: the backend reports that it is unavailable

bool built_with_pjrt() { return false; }

static const char* platform_label(Platform p) { return p == Platform::CPU ? "cpu" : "cuda"; }

struct XlaPlan::Impl {};
XlaPlan::~XlaPlan() = default;

[[noreturn]] static void unavailable(Platform p) {
  fail(ErrorCode::BACKEND_UNAVAILABLE, "this build of hodu has no XLA support (", platform_label(p),
       "): pjrt_c_api.h was not found when the addon was built. Fetch the xla-cpu-pjrt wheel "
       "(node scripts/deps.js --pjrt, which needs python3 with pip and network access) and rebuild "
       "(npm run build), or build with HODU_PJRT_INCLUDE=<folder holding pjrt_c_api.h>");
}

std::unique_ptr<XlaPlan> XlaPlan::compile(const Graph&, const std::vector<ConstantData>&, const Target& target,
                                          const XlaCompileOptions&) {
  unavailable(target.platform);
}

void XlaPlan::run(const std::vector<const void*>&, const std::vector<void*>&) {
  fail(ErrorCode::BACKEND_UNAVAILABLE, "this build of hodu has no XLA support");
}

struct ResidentValue {};
void XlaPlan::run_resident(const std::vector<ResidentArg>&, const std::vector<char>&, const std::vector<void*>&, bool,
                           ResidentRun&) {
  fail(ErrorCode::BACKEND_UNAVAILABLE, "this build of hodu has no XLA support");
}
void resident_read(ResidentValue&, void*, size_t) { fail(ErrorCode::BACKEND_UNAVAILABLE, "this build of hodu has no XLA support"); }
size_t resident_bytes(const ResidentValue&) { return 0; }
bool resident_donated(const ResidentValue&) { return false; }

ClientInfo client_info(const std::string&, Platform platform) { unavailable(platform); }

size_t compile_program_text(const Target& target, const std::string&) { unavailable(target.platform); }

#endif

}  // namespace xla
}  // namespace hodu
