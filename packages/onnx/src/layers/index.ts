import { activation, elu, leakyRelu, relu, softmax } from './activations.js';
import { batchNormalization, conv2d, depthwiseConv2d, separableConv2d } from './convolution.js';
import type { LayerConverter } from './context.js';
import { dense, flatten, identity, reshape } from './core-layers.js';
import { concatenate, merge } from './merge.js';
import { globalPooling, pooling, zeroPadding2d } from './pooling.js';

export { Config, type LayerContext, type LayerConverter, type Value, type Weight } from './context.js';
export { SUPPORTED_ACTIVATIONS } from './activations.js';

/** Every tfjs layer class the converter handles, by `getClassName()`. */
export const LAYER_CONVERTERS: Readonly<Record<string, LayerConverter>> = {
  Conv2D: conv2d,
  DepthwiseConv2D: depthwiseConv2d,
  SeparableConv2D: separableConv2d,
  BatchNormalization: batchNormalization,
  Dense: dense,
  Activation: activation,
  ReLU: relu,
  LeakyReLU: leakyRelu,
  ELU: elu,
  Softmax: softmax,
  MaxPooling2D: pooling('MaxPool'),
  AveragePooling2D: pooling('AveragePool'),
  GlobalAveragePooling2D: globalPooling('GlobalAveragePool'),
  GlobalMaxPooling2D: globalPooling('GlobalMaxPool'),
  ZeroPadding2D: zeroPadding2d,
  Flatten: flatten,
  Reshape: reshape,
  Dropout: identity,
  SpatialDropout1D: identity,
  GaussianNoise: identity,
  GaussianDropout: identity,
  AlphaDropout: identity,
  Add: merge('Sum'),
  Subtract: merge('Sub'),
  Multiply: merge('Mul'),
  Average: merge('Mean'),
  Maximum: merge('Max'),
  Minimum: merge('Min'),
  Concatenate: concatenate,
};
