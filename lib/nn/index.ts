export { Module } from './module';
export {
  Linear, Conv2d, MaxPool2d, AvgPool2d, Flatten, Dropout, Sequential,
  ReLU, Sigmoid, Tanh, GELU, Softplus, SiLU, LeakyReLU, ELU, Softmax,
} from './layers';
export type { Conv2dLayerOptions } from './layers';
export { Loss, MSE, MAE, Huber, CrossEntropy, BCE, BCEWithLogits } from './losses';
export { Optimizer, SGD, Adam, AdamW } from './optim';
export type { SGDOptions } from './optim';
