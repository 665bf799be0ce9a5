// XLA backend entry point. The PJRT runtime is not part of this build yet.
import { Device } from './device';
import { ErrorCode, HoduError } from './errors';

export function xlaBackend(device: Device): never {
  throw new HoduError(
    ErrorCode.BACKEND_UNAVAILABLE,
    `the XLA backend (${device}) needs a PJRT plugin: set HODU_PJRT_PLUGIN_CPU (or HODU_PJRT_PLUGIN_CUDA) to the plugin's .so, ` +
      'or install the CPU plugin with `pip download --no-deps xla-cpu-pjrt==0.0.1` (npm run setup fetches it into .cache/)',
  );
}
