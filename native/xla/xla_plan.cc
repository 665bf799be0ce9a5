#include "xla_plan.h"

#include "../core/checked_size.h"
#include "program_limits.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>

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
  PJRT_Device* device = nullptr;
  PJRT_LoadedExecutable* exe = nullptr;
  size_t num_outputs = 0;  // of the executable: the graph outputs, plus the index-check flags
  std::vector<std::string> index_checks;
  std::vector<Param> params;
  std::vector<PJRT_Buffer*> constant_buffers;  // by parameter position (null for inputs)

  ~Impl() {
    if (!client) return;
    for (PJRT_Buffer* b : constant_buffers) client->destroy(b);
    client->destroy(exe);
  }
};

XlaPlan::~XlaPlan() = default;

namespace {

// Buffers destroyed at scope exit (the per-run inputs and outputs).
struct BufferList {
  PjrtClient& c;
  std::vector<PJRT_Buffer*> v;
  ~BufferList() {
    for (PJRT_Buffer* b : v) c.destroy(b);
  }
};

}  // namespace

std::unique_ptr<XlaPlan> XlaPlan::compile(const Graph& g, const std::vector<ConstantData>& constants, const Target& target,
                                          const XlaCompileOptions& opts) {
  std::unique_ptr<XlaPlan> plan(new XlaPlan());
  plan->impl_ = std::make_unique<Impl>();
  Impl& m = *plan->impl_;
  for (uint32_t id : g.input_ids) plan->input_descs_.emplace_back(g.values[id].dtype, g.values[id].shape);
  for (const Output& o : g.outputs) plan->output_descs_.emplace_back(g.values[o.value].dtype, g.values[o.value].shape);
  for (const TensorDesc& d : plan->output_descs_) check_alloc_bytes(d.nbytes(), "an output of this script");

  // the client first: a missing plugin or device is reported before any lowering work
  PjrtClient& client = PjrtClient::get(target.plugin_path, target.platform);
  m.device = client.device(target.device);

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
  EmitResult em = emit_stablehlo(*eg, *ec, opts.emit);
  plan->stats_.emit_ms = ms_since(t0);
  plan->text_ = std::move(em.text);
  if (const char* dump = std::getenv("HODU_XLA_DUMP")) {  // debugging: the program text XLA compiles
    std::ofstream f(dump, std::ios::binary | std::ios::trunc);
    f << plan->text_;
  }

  t0 = std::chrono::steady_clock::now();
  m.exe = client.compile(plan->text_, compile_options_bytes(opts.debug_options), &m.num_outputs);
  m.client = &client;  // from here on ~Impl releases what was made
  plan->stats_.compile_ms = ms_since(t0);
  m.index_checks = em.index_check_messages;
  if (m.num_outputs != g.outputs.size() + (m.index_checks.empty() ? 0 : 1))
    fail(ErrorCode::INTERNAL, "xla: the executable has ", m.num_outputs, " outputs, the graph ", g.outputs.size());

  // large constants: uploaded once, resident on the device for the plan's life
  t0 = std::chrono::steady_clock::now();
  m.params = em.params;
  m.constant_buffers.assign(m.params.size(), nullptr);
  for (size_t i = 0; i < m.params.size(); i++) {
    const Param& p = m.params[i];
    if (p.kind != Param::Kind::Constant) continue;
    const ConstantData& cd = ec->at(p.index);
    m.constant_buffers[i] = client.upload(cd.data, p.dtype, p.shape, m.device);
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
  plan->stats_.device = client.device_names.at((size_t)target.device);
  return plan;
}

void XlaPlan::run(const std::vector<const void*>& inputs, const std::vector<void*>& outputs) {
  Impl& m = *impl_;
  if (inputs.size() != input_descs_.size() || outputs.size() != output_descs_.size())
    fail(ErrorCode::INTERNAL, "xla plan: bound ", inputs.size(), " inputs and ", outputs.size(), " outputs, expected ",
         input_descs_.size(), " and ", output_descs_.size());
  PjrtClient& c = *m.client;
  BufferList owned{c, {}};
  std::vector<PJRT_Buffer*> args(m.params.size(), nullptr);
  for (size_t i = 0; i < m.params.size(); i++) {
    const Param& p = m.params[i];
    if (p.kind == Param::Kind::Constant) {
      args[i] = m.constant_buffers[i];
    } else {
      args[i] = c.upload(inputs[p.index], p.dtype, p.shape, m.device);
      owned.v.push_back(args[i]);
    }
  }
  std::vector<PJRT_Buffer*> outs = c.execute(m.exe, args, m.num_outputs, m.device);
  owned.v.insert(owned.v.end(), outs.begin(), outs.end());
  if (!m.index_checks.empty()) {  // out-of-range indices: the HODU backend's error, not clamped data
    std::vector<uint8_t> flags(m.index_checks.size());
    c.download(outs.back(), flags.data(), flags.size());
    for (size_t k = 0; k < flags.size(); k++)
      if (flags[k]) fail(ErrorCode::INVALID_ARGUMENT, m.index_checks[k]);
  }
  for (size_t j = 0; j < output_descs_.size(); j++) c.download(outs[j], outputs[j], output_descs_[j].nbytes());
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

ClientInfo client_info(const std::string&, Platform platform) { unavailable(platform); }

size_t compile_program_text(const Target& target, const std::string&) { unavailable(target.platform); }

#endif

}  // namespace xla
}  // namespace hodu
