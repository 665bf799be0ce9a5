export { Module } from './module';
export {
  Linear, Conv2d, MaxPool2d, AvgPool2d, Flatten, Dropout, Sequential,
  ReLU, Sigmoid, Tanh, GELU, Softplus, SiLU, LeakyReLU, ELU, Softmax,
} from './layers';
export type { Conv2dLayerOptions } from './layers';
export { Loss, MSE, MAE, Huber, CrossEntropy, BCE, BCEWithLogits } from './losses';
export { Optimizer, SGD, Adam, AdamW } from './optim';
export type { SGDOptions } from './optim';
export { NLLLoss } from './losses';
export type { CrossEntropyOptions } from './losses';
export { BatchNorm1d, BatchNorm2d, LayerNorm } from './norm';
export type { BatchNormOptions, LayerNormOptions } from './norm';
export { Embedding } from './embedding';
export type { EmbeddingOptions } from './embedding';
export { MultiheadAttention, scaledDotProductAttention, causalMask } from './attention';
export type { AttentionOptions, MultiheadAttentionOptions } from './attention';
export { Dropout2d } from './dropout2d';
export * as init from './init';
export { clipGradNorm, clipGradValue } from './clip';
export { LRScheduler, StepLR, ExponentialLR, CosineLR, OneCycleLR } from './schedulers';
export type { HasLr, CosineOptions, OneCycleOptions } from './schedulers';
export { summary } from './summary';
export type { SummaryOptions } from './summary';
