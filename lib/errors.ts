/** Error codes of hodu; every error the library throws is a HoduError carrying one of them. */
export const ErrorCode = {
  BUILDER_INACTIVE: 'BUILDER_INACTIVE',
  BUILDER_ALREADY_ACTIVE: 'BUILDER_ALREADY_ACTIVE',
  BUILDER_ENDED: 'BUILDER_ENDED',
  DUPLICATE_NAME: 'DUPLICATE_NAME',
  INPUT_MISSING: 'INPUT_MISSING',
  INPUT_UNKNOWN: 'INPUT_UNKNOWN',
  SHAPE_MISMATCH: 'SHAPE_MISMATCH',
  DTYPE_MISMATCH: 'DTYPE_MISMATCH',
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
  GRADIENT_NOT_COMPUTED: 'GRADIENT_NOT_COMPUTED',
  DISPOSED: 'DISPOSED',
  INVALID_FILE: 'INVALID_FILE',
  BACKEND_UNAVAILABLE: 'BACKEND_UNAVAILABLE',
  DEVICE_UNAVAILABLE: 'DEVICE_UNAVAILABLE',
  COMPILE_FAILED: 'COMPILE_FAILED',
  UNSUPPORTED_OP: 'UNSUPPORTED_OP',
  INTERNAL: 'INTERNAL',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

const KNOWN = new Set<string>(Object.values(ErrorCode));

export class HoduError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = 'HoduError';
    this.code = code;
  }
}

/** Turns an error thrown by the native addon (an Error with a string `code`) into a HoduError. */
export function fromNative(e: unknown): HoduError {
  if (e instanceof HoduError) return e;
  const err = e as { code?: unknown; message?: unknown };
  const code = typeof err?.code === 'string' && KNOWN.has(err.code) ? (err.code as ErrorCode) : ErrorCode.INTERNAL;
  const message = typeof err?.message === 'string' ? err.message : String(e);
  return new HoduError(code, message);
}

export function invalidArg(message: string): HoduError {
  return new HoduError(ErrorCode.INVALID_ARGUMENT, message);
}

/** A short description of a value for error messages: `[2, 3]`, `'abc'`, `NaN`, `object`. */
export function describe(v: unknown): string {
  if (typeof v === 'string') return `'${v}'`;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint' || v == null) return String(v);
  if (Array.isArray(v)) return v.length <= 16 ? `[${v.map(describe).join(', ')}]` : `array of length ${v.length}`;
  return typeof v;
}
