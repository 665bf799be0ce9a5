// One PJRT client per plugin (and, for the CPU plugin, per device count) per process (CPU:
// cpu_device_count = N, 1 by default; CUDA: preallocate = false), and the calls the XLA backend
// makes through it: compile, (de)serialize executables, host -> device, execute on one device or on
// several (SPMD), device -> host.
// Every PJRT error becomes a HoduError carrying the plugin's message. Internal to native/xla; only
// compiled with pjrt_c_api.h (HODU_HAVE_PJRT_HEADER).
#pragma once
#ifdef HODU_HAVE_PJRT_HEADER
#include <atomic>
#include <mutex>
#include <string>
#include <vector>

#include "../core/tensor_desc.h"
#include "pjrt_loader.h"
#include "xla_plan.h"

namespace hodu {
namespace xla {

class PjrtClient {
 public:
  // The process-wide client of a plugin (created on first use, never destroyed: plugin threads may
  // outlive any exit-time destructor). BACKEND_UNAVAILABLE for a plugin that cannot be loaded,
  // DEVICE_UNAVAILABLE when the plugin loads but no client/device can be made (e.g. no GPU).
  // cpu_devices: the CPU client's device count (validated 1..kMaxCpuDevices; never 0, which the
  // plugin accepts and turns into a client without devices). Ignored for CUDA (all GPUs).
  static PjrtClient& get(const std::string& plugin_path, Platform platform, int cpu_devices = 1);
  static constexpr int kMaxCpuDevices = 256;

  PjrtPlugin& plugin;
  Platform platform;
  PJRT_Client* client = nullptr;
  std::string platform_name, platform_version;
  std::vector<PJRT_Device*> devices;       // addressable devices
  std::vector<std::string> device_names;   // "TFRT_CPU_0", "cuda:0 (NVIDIA H100 ...)", ...
  std::vector<int> device_ids;             // PJRT_DeviceDescription_Id of each addressable device
  // Plugin (path, size, mtime, API version, attributes), platform and version, device kinds and
  // count: what a serialized executable depends on besides its program (compile-cache key).
  std::string identity;

  // DEVICE_UNAVAILABLE when index is out of range.
  PJRT_Device* device(int index) const;

  // Compiles StableHLO text (format "mlir"); COMPILE_FAILED with the plugin's diagnostics.
  PJRT_LoadedExecutable* compile(const std::string& mlir, const std::string& options, size_t* num_outputs);
  void destroy(PJRT_LoadedExecutable* e);

  // What an executable was compiled for: partitions and the devices it runs on (argument list i
  // of a multi-device execute belongs to devices[i]).
  struct ExeInfo {
    size_t num_outputs = 0, num_partitions = 1, num_replicas = 1;
    std::vector<PJRT_Device*> devices;  // empty for a portable executable
  };
  ExeInfo inspect(PJRT_LoadedExecutable* e);

  // PJRT executable serialization (the compile cache). serialize: INTERNAL on failure;
  // deserialize: INTERNAL when the plugin refuses the bytes.
  std::string serialize(PJRT_LoadedExecutable* e);
  PJRT_LoadedExecutable* deserialize(const std::string& bytes);

  // Copies host memory (dense row-major) into a new device buffer and waits for the copy.
  PJRT_Buffer* upload(const void* data, DType t, const Shape& shape, PJRT_Device* dev);
  // Copies a buffer into dst (exactly `bytes`, dense row-major) and waits.
  void download(PJRT_Buffer* b, void* dst, size_t bytes);
  void destroy(PJRT_Buffer* b);

  // Runs `e` on `dev` and waits for completion; returns the output buffers (caller destroys).
  // non_donatable: argument indices the runtime must not donate (XLA may alias an argument marked
  // tf.aliasing_output with its result; one not listed is consumed by the run).
  std::vector<PJRT_Buffer*> execute(PJRT_LoadedExecutable* e, const std::vector<PJRT_Buffer*>& args, size_t num_outputs,
                                    PJRT_Device* dev, const std::vector<int64_t>* non_donatable = nullptr);

  // One launch of a multi-device (SPMD) executable on all its devices; waits for every device and
  // returns outs[device][output] (caller destroys). Everything is validated BEFORE the launch, as
  // the plugin hangs or aborts the process otherwise (research/xla-multidevice.md §6): one
  // argument list per device of `info`, each of `expected[param]` dtype and dims, each buffer on
  // that list's device of this client. A failed multi-device launch leaves the plugin's collectives
  // unusable (every later one never completes), so after one this client refuses every
  // multi-device launch with INTERNAL instead of hanging.
  struct ArgSpec {
    DType dtype;
    Shape shape;
  };
  std::vector<std::vector<PJRT_Buffer*>> execute_multi(PJRT_LoadedExecutable* e, const ExeInfo& info,
                                                       const std::vector<std::vector<PJRT_Buffer*>>& lists,
                                                       const std::vector<ArgSpec>& expected,
                                                       const std::vector<int64_t>* non_donatable = nullptr);
  bool multi_device_broken() const { return multi_broken_.load(); }
  // Puts the client in the state a failed multi-device launch leaves (tests of the guard only).
  void mark_multi_device_broken_for_test() { multi_broken_ = true; }

 private:
  PjrtClient(PjrtPlugin& p, Platform pl) : plugin(p), platform(pl) {}
  void create(int cpu_devices);
  std::atomic<bool> multi_broken_{false};
  // Multi-device launches run one at a time per client: two overlapping SPMD launches could each
  // hold one of the client's per-device threads while waiting in a collective for the other's.
  std::mutex multi_mutex_;
  void await(PJRT_Event* ev, const std::string& what);
  // Awaits and destroys `ev` (null: nothing); returns the event's error, not yet checked (the
  // per-run paths build their error message only when there is an error).
  PJRT_Error* await_error(PJRT_Event* ev);
};

// CompileOptionsProto bytes. One device: executable_build_options { num_replicas: 1
// num_partitions: 1 }, compile_portable_executable: true (the device is chosen at execute).
// N > 1 devices: { num_replicas: 1 num_partitions: N use_spmd_partitioning: true } (not portable;
// research/xla-multidevice.md §3), plus a device_assignment when `device_ids` is not 0..N-1.
// Then env_option_overrides (DebugOptions by name; int64 values) in key order. Never empty (empty
// options abort the plugin).
std::string compile_options_bytes(const std::vector<std::pair<std::string, int64_t>>& overrides,
                                  const std::vector<int>& device_ids = {});

PJRT_Buffer_Type pjrt_buffer_type(DType t);

}  // namespace xla
}  // namespace hodu

#endif  // HODU_HAVE_PJRT_HEADER
