// Public surface of hodu. Everything users import comes from here.
export { DType } from './dtype';
export { Device, Backend } from './device';
export { HoduError, ErrorCode } from './errors';
export { Tensor, concat, where } from './tensor';
export type { Shape, TensorLike, NestedArray, Conv2dOptions, Pool2dOptions, BackwardOptions } from './tensor';
export { manualSeed } from './random';
export { binding as _native } from './native';

/** Library and native versions. */
export function versions(): { hodu: string; onednn: string; threads: number } {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const pkg = require('../package.json') as { version: string };
  const { binding } = require('./native') as typeof import('./native');
  const i = binding.info();
  return { hodu: pkg.version, onednn: i.onednn, threads: i.threads };
}
export { Builder } from './builder';
export type { AddOutputOptions } from './builder';
export { Script } from './script';
export type { TensorInfo, CompileOptions, PlanInfo, Dim, Feed, ScriptStats } from './script';
export type { DevicesOptions } from './script';
export { noGrad } from './autograd/tape';
export * as nn from './nn';
export * from './nn';
export { setXlaPlugin, xlaClientInfo } from './xla';
export type { XlaPlatform, XlaClientInfo } from './xla';
import './typed';
export * as data from './data';
export { DataLoader } from './data';
export * as metrics from './metrics';
export { Progress } from './progress';
export type { ProgressOptions, ProgressInfo } from './progress';
export { curvesSvg, writeCurvesSvg } from './viz/curves';
export type { Series, CurvesOptions } from './viz/curves';
export { decodeOnnx } from './onnx/model';
export type { OnnxOptions } from './onnx';
export { saveSafetensors, loadSafetensors, safetensorsMetadata, toSafetensorsBytes } from './safetensors';
export { setXlaCache, xlaCacheDir, xlaCacheCounters, clearXlaCache, DEFAULT_XLA_CACHE_MAX_BYTES } from './xla-cache';
export type { XlaCacheCounters } from './xla-cache';
