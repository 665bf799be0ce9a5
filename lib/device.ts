import { HoduError, ErrorCode, describe } from './errors';

/** Where a script runs. `Device.CPU` or `Device.CUDA(index)`. */
export class Device {
  private constructor(
    readonly kind: 'cpu' | 'cuda',
    readonly index: number,
  ) {}

  static readonly CPU: Device = new Device('cpu', 0);
  /** The largest device index `Device.CUDA` accepts (device ordinals are small; 1e300 is a mistake). */
  static readonly MAX_INDEX = 1023;

  /**
   * CPU device `index` of the XLA CPU client (`Device.cpu(0)` equals `Device.CPU`). Several CPU
   * devices exist to run data-parallel scripts on one host (`script.setDevices([Device.cpu(0),
   * Device.cpu(1)])`): the XLA CPU plugin then makes a client with that many devices, which is also
   * how the multi-GPU code path is tested without GPUs.
   */
  static cpu(index = 0): Device {
    if (!Number.isInteger(index) || index < 0)
      throw new HoduError(ErrorCode.INVALID_ARGUMENT, `Device.cpu: index must be a non-negative integer, got ${describe(index)}`);
    return index === 0 ? Device.CPU : new Device('cpu', index);
  }

  static CUDA(index = 0): Device {
    if (!Number.isInteger(index) || index < 0 || index > Device.MAX_INDEX)
      throw new HoduError(
        ErrorCode.INVALID_ARGUMENT,
        `Device.CUDA: index must be an integer from 0 to ${Device.MAX_INDEX}, got ${describe(index)}`,
      );
    return new Device('cuda', index);
  }

  get isCpu(): boolean {
    return this.kind === 'cpu';
  }
  get isCuda(): boolean {
    return this.kind === 'cuda';
  }

  equals(other: Device): boolean {
    return this.kind === other.kind && this.index === other.index;
  }

  toString(): string {
    return this.kind === 'cpu' ? (this.index === 0 ? 'cpu' : `cpu:${this.index}`) : `cuda:${this.index}`;
  }
}

/** Which compiler runs a script: the oneDNN interpreter (HODU) or OpenXLA through PJRT (XLA). */
export enum Backend {
  HODU = 'hodu',
  XLA = 'xla',
}
