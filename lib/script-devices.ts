// Checks of script.setDevices (data-parallel scripts over several devices, Backend.XLA) and the
// compile-cache bookkeeping of script.stats(), kept out of script.ts.
import { Backend, Device } from './device';
import { ErrorCode, HoduError, describe, invalidArg } from './errors';

/** Options of `script.setDevices`. */
export interface DevicesOptions {
  /**
   * Which inputs are split across the devices and along which axis, by input name (an input not
   * named is replicated). Default: every input whose first dim is a multiple of the device count
   * is split along it (the batch); all others, and the script's variables, are replicated.
   */
  split?: Record<string, number>;
}

/** The checked device list and split of setDevices (INVALID_ARGUMENT / INPUT_UNKNOWN otherwise). */
export function checkDevices(
  scriptName: string,
  inputNames: readonly string[],
  devices: readonly Device[],
  options: DevicesOptions,
): { devices: readonly Device[]; split: Record<string, number> | undefined } {
  if (!Array.isArray(devices) || devices.length === 0) throw invalidArg(`setDevices: expected a non-empty array of Devices, got ${describe(devices)}`);
  devices.forEach((d, i) => {
    if (!(d instanceof Device)) throw invalidArg(`setDevices: devices[${i}] is ${describe(d)}, not a Device`);
    if (d.kind !== devices[0].kind) throw invalidArg(`setDevices: devices mix ${devices[0]} and ${d}; use devices of one kind`);
    if (devices.findIndex((e) => e.equals(d)) !== i) throw invalidArg(`setDevices: ${d} is listed twice`);
  });
  if (options === null || typeof options !== 'object') throw invalidArg(`setDevices: options must be an object, got ${describe(options)}`);
  const split = options.split;
  if (split !== undefined) {
    if (typeof split !== 'object' || split === null) throw invalidArg(`setDevices: split must be an object of input name -> axis`);
    for (const [name, axis] of Object.entries(split)) {
      if (!inputNames.includes(name)) throw new HoduError(ErrorCode.INPUT_UNKNOWN, `setDevices: script '${scriptName}' has no input named '${name}'`);
      if (!Number.isInteger(axis)) throw invalidArg(`setDevices: split['${name}'] must be an integer axis, got ${describe(axis)}`);
    }
  }
  return { devices: Object.freeze(devices.slice()), split: split ? { ...split } : undefined };
}

/** HODU runs on one device: several are DEVICE_UNAVAILABLE. */
export function checkHoduDevices(devices: readonly Device[]): void {
  if (devices.length > 1)
    throw new HoduError(ErrorCode.DEVICE_UNAVAILABLE, `the HODU backend runs on one CPU device; for ${devices.join(', ')} use setBackend(Backend.XLA)`);
}

/** Counts an XLA plan's compile-cache outcome ('hit' | 'miss' | 'off') into script stats. */
export function countCache(stats: { cacheHits: number; cacheMisses: number }, backend: Backend, info: () => unknown): void {
  if (backend !== Backend.XLA) return;
  const cache = (info() as { cache?: string }).cache;
  if (cache === 'hit') stats.cacheHits++;
  else if (cache === 'miss') stats.cacheMisses++;
}
