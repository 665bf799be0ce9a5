// The XLA backend: compiles a validated graph into an XLA executable through a PJRT plugin
// (CPU or CUDA), then runs it many times — the counterpart of hodu/plan.h.
//
// compile: lower the graph to StableHLO text (stablehlo_emitter.h) -> PJRT_Client_Compile (format
//          "mlir") -> upload the large constants once as device buffers (they are parameters of
//          @main, kept on the device for the life of the plan).
// run:     upload the inputs, execute on the chosen device, wait, copy every output into the
//          caller's memory (dense row-major), free the per-run buffers.
//
// This header needs no PJRT header: without pjrt_c_api.h at build time (HODU_HAVE_PJRT_HEADER
// undefined) the backend compiles to stubs and compile() throws BACKEND_UNAVAILABLE.
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "../core/executable.h"
#include "../ir/graph.h"
#include "compile_cache.h"
#include "stablehlo_emitter.h"

namespace hodu {
namespace xla {

// True when this build has the PJRT client (pjrt_c_api.h was found at build time).
bool built_with_pjrt();

enum class Platform { CPU = 0, CUDA = 1 };

struct Target {
  std::string plugin_path;  // the PJRT plugin .so (dlopen'ed, never linked)
  Platform platform = Platform::CPU;
  int device = 0;           // index among the client's addressable devices
  // Several devices (indices; size > 1): the program runs SPMD over them, its batch split (see
  // XlaCompileOptions::split). CPU: the client then has max(index) + 1 devices.
  std::vector<int> devices;
};

struct XlaCompileOptions {
  EmitOptions emit;
  // DebugOptions overrides passed in the compile options (not XLA_FLAGS), e.g.
  // {"xla_backend_optimization_level", 0}. Empty by default.
  std::vector<std::pair<std::string, int64_t>> debug_options;
  bool roll_loops = true;  // repeated steps become one stablehlo.while (native/ir/loop_roll.h)
  // Several devices: which graph inputs are split, by name -> axis (inputs not named are
  // replicated). Not given: every input whose first dim is a non-zero multiple of the device count
  // is split along it, except hodu's reserved inputs (names starting with '@': variables, random
  // draws), which are replicated like the rest.
  bool split_given = false;
  std::vector<std::pair<std::string, int>> split;
  // The persistent compile cache (off when cache.dir is empty) and what else goes into its key
  // (the hodu version).
  CacheConfig cache;
  std::string cache_salt;
};

struct XlaStats {
  double emit_ms = 0, compile_ms = 0, constants_ms = 0;
  size_t text_bytes = 0, ops = 0, params = 0, constant_params = 0, constant_bytes = 0, inlined_constants = 0;
  std::string plugin, api_version, platform, device;
  std::string cache = "off";  // "hit" (loaded, not compiled), "miss" (compiled and stored) or "off"
  double cache_ms = 0;        // hashing + reading/writing the cache entry
  size_t num_devices = 1;
  std::vector<uint32_t> loop_trips;  // rolled loops (trip counts), in execution order
};

// A value kept on an executable's device(s) between runs (a script variable): one buffer per
// device of the plan that made it, freed with the last reference. Any plan of the same client
// and device list may read it; a synchronous run may donate it (then it is dead: `donated()`).
struct ResidentValue;
using ResidentRef = std::shared_ptr<ResidentValue>;

// One input of XlaPlan::run_resident: host data (uploaded for this run, or kept when `keep`) or
// a resident value.
struct ResidentArg {
  const void* host = nullptr;
  ResidentRef dev;
  bool keep = false;  // host data: keep the uploaded buffer as a resident value (ResidentRun::uploaded)
};

struct ResidentRun {
  std::vector<ResidentRef> uploaded;  // per input: the value kept from host data (null otherwise)
  std::vector<ResidentRef> kept;      // per output: the result left on the device (null otherwise)
  uint64_t h2d_bytes = 0, d2h_bytes = 0;  // host<->device traffic of this run
  size_t donated = 0;                     // resident inputs the run consumed in place
};

// Copies a resident value (device 0's copy) into dst (exactly its byte size); INVALID_ARGUMENT
// when it was donated or `bytes` differs.
void resident_read(ResidentValue& v, void* dst, size_t bytes);
size_t resident_bytes(const ResidentValue& v);
bool resident_donated(const ResidentValue& v);

class XlaPlan : public Executable {
 public:
  // BACKEND_UNAVAILABLE / DEVICE_UNAVAILABLE (plugin, client, device), COMPILE_FAILED (XLA rejects
  // the program, with its diagnostics), INTERNAL otherwise.
  static std::unique_ptr<XlaPlan> compile(const Graph& g, const std::vector<ConstantData>& constants, const Target& target,
                                          const XlaCompileOptions& opts = {});
  ~XlaPlan() override;

  // inputs[i]: data of graph input i (graph.input_ids order), contiguous, of the recorded dtype/shape.
  // outputs[j]: contiguous memory for graph output j. Runs may be concurrent (nothing is shared but
  // the read-only constant buffers).
  void run(const std::vector<const void*>& inputs, const std::vector<void*>& outputs) override;

  // A run whose inputs may be resident values and whose outputs may stay on the device:
  // keep_outputs[j] leaves output j resident (ResidentRun::kept[j]; outputs[j] unused), otherwise
  // it is copied into outputs[j]. allow_donation: updated variables' resident inputs that no other
  // run is using are donated (their buffers become the outputs in place); never when the program
  // checks indices (a failed check must leave the old values).
  void run_resident(const std::vector<ResidentArg>& args, const std::vector<char>& keep_outputs,
                    const std::vector<void*>& outputs, bool allow_donation, ResidentRun& r);

  // PlanInfo's common fields: steps = StableHLO ops, one kernel "xla:<platform>", no arena/scratch
  // (XLA's own), nothing folded/viewed/fused by hodu; loops report trip counts only.
  ExecutableInfo common_info() const override {
    ExecutableInfo r;
    r.steps = stats_.ops;
    r.constant_bytes = stats_.constant_bytes;
    r.kernels.push_back("xla:" + stats_.platform);
    for (uint32_t t : stats_.loop_trips) r.loops.push_back({t, 0});
    return r;
  }
  const XlaStats& stats() const { return stats_; }
  const std::string& program_text() const { return text_; }

  struct Impl;

 private:
  XlaPlan() = default;
  std::unique_ptr<Impl> impl_;
  XlaStats stats_;
  std::string text_;
};

struct ClientInfo {
  std::string plugin, api_version, platform, platform_version;
  bool padded_args = false;
  std::vector<std::string> devices;
  std::vector<std::pair<std::string, std::string>> attributes;
};

// Loads the plugin and makes (or reuses) its client; errors as XlaPlan::compile.
ClientInfo client_info(const std::string& plugin_path, Platform platform);

// Compiles raw StableHLO text on the target's client and discards the executable; returns its
// output count. COMPILE_FAILED with XLA's diagnostics when the text is rejected (tests, debugging).
size_t compile_program_text(const Target& target, const std::string& text);

}  // namespace xla
}  // namespace hodu
