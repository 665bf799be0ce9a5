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
    return this.kind === 'cpu' ? 'cpu' : `cuda:${this.index}`;
  }
}

/** Which compiler runs a script: the oneDNN interpreter (HODU) or OpenXLA through PJRT (XLA). */
export enum Backend {
  HODU = 'hodu',
  XLA = 'xla',
}
