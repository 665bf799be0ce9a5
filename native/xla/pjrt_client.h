// One PJRT client per plugin per process (CPU: cpu_device_count = 1; CUDA: preallocate = false),
// and the calls the XLA backend makes through it: compile, host -> device, execute, device -> host.
// Every PJRT error becomes a HoduError carrying the plugin's message. Internal to native/xla; only
// compiled with pjrt_c_api.h (HODU_HAVE_PJRT_HEADER).
#pragma once
#ifdef HODU_HAVE_PJRT_HEADER
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
  static PjrtClient& get(const std::string& plugin_path, Platform platform);

  PjrtPlugin& plugin;
  Platform platform;
  PJRT_Client* client = nullptr;
  std::string platform_name, platform_version;
  std::vector<PJRT_Device*> devices;       // addressable devices
  std::vector<std::string> device_names;   // "TFRT_CPU_0", "cuda:0 (NVIDIA H100 ...)", ...

  // DEVICE_UNAVAILABLE when index is out of range.
  PJRT_Device* device(int index) const;

  // Compiles StableHLO text (format "mlir"); COMPILE_FAILED with the plugin's diagnostics.
  PJRT_LoadedExecutable* compile(const std::string& mlir, const std::string& options, size_t* num_outputs);
  void destroy(PJRT_LoadedExecutable* e);

  // Copies host memory (dense row-major) into a new device buffer and waits for the copy.
  PJRT_Buffer* upload(const void* data, DType t, const Shape& shape, PJRT_Device* dev);
  // Copies a buffer into dst (exactly `bytes`, dense row-major) and waits.
  void download(PJRT_Buffer* b, void* dst, size_t bytes);
  void destroy(PJRT_Buffer* b);

  // Runs `e` on `dev` and waits for completion; returns the output buffers (caller destroys).
  std::vector<PJRT_Buffer*> execute(PJRT_LoadedExecutable* e, const std::vector<PJRT_Buffer*>& args, size_t num_outputs,
                                    PJRT_Device* dev);

 private:
  PjrtClient(PjrtPlugin& p, Platform pl) : plugin(p), platform(pl) {}
  void create();
  void await(PJRT_Event* ev, const std::string& what);
};

// CompileOptionsProto bytes: executable_build_options { num_replicas: 1 num_partitions: 1 },
// compile_portable_executable: true (the device is chosen at execute), and env_option_overrides
// (DebugOptions by name; int64 values) in key order. Never empty (empty options abort the plugin).
std::string compile_options_bytes(const std::vector<std::pair<std::string, int64_t>>& overrides);

PJRT_Buffer_Type pjrt_buffer_type(DType t);

}  // namespace xla
}  // namespace hodu

#endif  // HODU_HAVE_PJRT_HEADER
