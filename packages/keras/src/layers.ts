import { unsupportedLayer } from './errors.js';
import { isObject, type Json, type JsonObject } from './json.js';

/** What rxml knows about one Keras layer class it can run through tfjs-layers. */
export interface LayerSupport {
  /**
   * tfjs weight names in the order Keras stores the layer's weights (legacy `weight_names`,
   * Keras 3 `vars/0..n`), for this layer's config.
   */
  readonly weights: (config: JsonObject) => readonly string[];
  /** Options that tfjs-layers cannot honour, each with the only value(s) that are fine. */
  readonly mustBe?: Readonly<Record<string, readonly Json[]>>;
}

const none = (): readonly string[] => [];
const withBias = (...names: string[]) => (c: JsonObject): readonly string[] =>
  c['use_bias'] === false ? names : [...names, 'bias'];
const normalization = (...stats: string[]) => (c: JsonObject): readonly string[] => [
  ...(c['scale'] === false ? [] : ['gamma']),
  ...(c['center'] === false ? [] : ['beta']),
  ...stats,
];

const noLora = { lora_rank: [null, 0], quantization_config: [null] } as const;
const rnn = { stateful: [false], time_major: [false], use_cudnn: [false, true, 'auto'] } as const;
const conv = { groups: [1, null], ...noLora } as const;

/**
 * Layer classes rxml loads, by Keras class name. Anything else fails at load time, naming the
 * layer: a silently wrong prediction is worse than no prediction.
 */
export const SUPPORTED_LAYERS: Readonly<Record<string, LayerSupport>> = {
  InputLayer: { weights: none, mustBe: { sparse: [false, null], ragged: [false, null] } },
  Dense: { weights: withBias('kernel'), mustBe: noLora },
  // tfjs-layers builds causal Conv1D but throws when it runs.
  Conv1D: { weights: withBias('kernel'), mustBe: { ...conv, padding: ['valid', 'same'] } },
  Conv2D: { weights: withBias('kernel'), mustBe: conv },
  Conv3D: { weights: withBias('kernel'), mustBe: conv },
  Conv2DTranspose: { weights: withBias('kernel'), mustBe: conv },
  Conv3DTranspose: { weights: withBias('kernel'), mustBe: conv },
  DepthwiseConv2D: { weights: withBias('depthwise_kernel'), mustBe: conv },
  SeparableConv2D: { weights: withBias('depthwise_kernel', 'pointwise_kernel'), mustBe: conv },
  BatchNormalization: {
    weights: normalization('moving_mean', 'moving_variance'),
    mustBe: { renorm: [false, null], virtual_batch_size: [null] },
  },
  LayerNormalization: { weights: normalization(), mustBe: { rms_scaling: [false, null] } },
  Embedding: { weights: () => ['embeddings'], mustBe: { sparse: [false, null], ...noLora } },
  LSTM: { weights: withBias('kernel', 'recurrent_kernel'), mustBe: rnn },
  // reset_after=true (the Keras default) runs as RxmlResetAfterGRU, see gru-reset-after.ts.
  GRU: { weights: withBias('kernel', 'recurrent_kernel'), mustBe: rnn },
  SimpleRNN: { weights: withBias('kernel', 'recurrent_kernel'), mustBe: rnn },
  // Weights come from the wrapped layer; see normalizeConfig.
  TimeDistributed: { weights: none },
  // Weights come from the wrapped RNN (forward, then backward); see normalizeConfig.
  Bidirectional: { weights: none, mustBe: { merge_mode: ['concat', 'sum', 'ave', 'mul'] } },
  PReLU: { weights: () => ['alpha'] },
  Dropout: { weights: none },
  SpatialDropout1D: { weights: none },
  GaussianNoise: { weights: none },
  GaussianDropout: { weights: none },
  AlphaDropout: { weights: none },
  Flatten: { weights: none },
  Reshape: { weights: none },
  Permute: { weights: none },
  RepeatVector: { weights: none },
  Activation: { weights: none },
  ReLU: { weights: none, mustBe: { negative_slope: [0, null], threshold: [0, null] } },
  LeakyReLU: { weights: none },
  ELU: { weights: none },
  Softmax: { weights: none },
  ThresholdedReLU: { weights: none },
  Masking: { weights: none },
  Rescaling: { weights: none },
  Add: { weights: none },
  Multiply: { weights: none },
  Average: { weights: none },
  Maximum: { weights: none },
  Minimum: { weights: none },
  Concatenate: { weights: none },
  Dot: { weights: none },
  MaxPooling1D: { weights: none },
  MaxPooling2D: { weights: none },
  MaxPooling3D: { weights: none },
  AveragePooling1D: { weights: none },
  AveragePooling2D: { weights: none },
  AveragePooling3D: { weights: none },
  GlobalAveragePooling1D: { weights: none, mustBe: { keepdims: [false, null] } },
  GlobalAveragePooling2D: { weights: none, mustBe: { keepdims: [false, null] } },
  GlobalMaxPooling1D: { weights: none, mustBe: { keepdims: [false, null] } },
  GlobalMaxPooling2D: { weights: none, mustBe: { keepdims: [false, null] } },
  ZeroPadding2D: { weights: none },
  Cropping2D: { weights: none },
  // tfjs' bilinear resize uses other pixel-centre rules than Keras 3.
  UpSampling2D: { weights: none, mustBe: { interpolation: ['nearest', null] } },
};

/** The Keras layer class names `loadKerasModel` accepts (see docs/operators/predict-keras.md). */
export const SUPPORTED_KERAS_LAYERS: readonly string[] = Object.keys(SUPPORTED_LAYERS);

/** Keras 2 spells some classes differently; tfjs registers the Keras 2 names. */
const CLASS_ALIASES: Readonly<Record<string, string>> = {
  Convolution1D: 'Conv1D',
  Convolution2D: 'Conv2D',
  Convolution3D: 'Conv3D',
  Conv2DTranspose: 'Conv2DTranspose',
  Deconvolution2D: 'Conv2DTranspose',
  MaxPool1D: 'MaxPooling1D',
  MaxPool2D: 'MaxPooling2D',
  MaxPool3D: 'MaxPooling3D',
  AvgPool1D: 'AveragePooling1D',
  AvgPool2D: 'AveragePooling2D',
  AvgPool3D: 'AveragePooling3D',
  GlobalAvgPool1D: 'GlobalAveragePooling1D',
  GlobalAvgPool2D: 'GlobalAveragePooling2D',
  GlobalMaxPool1D: 'GlobalMaxPooling1D',
  GlobalMaxPool2D: 'GlobalMaxPooling2D',
};

export function canonicalClassName(className: string): string {
  return CLASS_ALIASES[className] ?? className;
}

/** Activations whose Keras and tfjs definitions agree (`hard_sigmoid` only for Keras 2). */
const ACTIVATIONS: Readonly<Record<string, string>> = {
  linear: 'linear',
  relu: 'relu',
  relu6: 'relu6',
  elu: 'elu',
  selu: 'selu',
  sigmoid: 'sigmoid',
  tanh: 'tanh',
  softmax: 'softmax',
  softplus: 'softplus',
  softsign: 'softsign',
  swish: 'swish',
  silu: 'swish',
  mish: 'mish',
  gelu: 'gelu',
};

/**
 * Maps a Keras activation to the tfjs name, or throws. Keras 3 redefined `hard_sigmoid`
 * (relu6(x + 3) / 6 instead of 0.2x + 0.5, which tfjs implements), so it is only Keras 2's.
 */
export function checkActivation(value: Json | undefined, kerasMajor: number, className: string, layerName: string, key: string): string {
  if (value === null || value === undefined) return 'linear';
  const name = typeof value === 'string' ? value : isObject(value) && typeof value['class_name'] === 'string' && value['class_name'] !== 'function' ? value['class_name'] : undefined;
  if (name === 'hard_sigmoid' && kerasMajor < 3) return 'hard_sigmoid';
  const mapped = name === undefined ? undefined : ACTIVATIONS[name];
  if (mapped === undefined) {
    throw unsupportedLayer(className, layerName, `unsupported ${key} ${JSON.stringify(isObject(value) ? value['config'] ?? value : value)}`);
  }
  return mapped;
}

export function checkOptions(support: LayerSupport, config: JsonObject, className: string, layerName: string): void {
  for (const [key, allowed] of Object.entries(support.mustBe ?? {})) {
    const value = config[key];
    if (value === undefined) continue;
    if (!allowed.some((a) => a === value)) {
      throw unsupportedLayer(className, layerName, `unsupported option ${key}=${JSON.stringify(value)}`);
    }
  }
}
