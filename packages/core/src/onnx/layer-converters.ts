import type { AttributeValue, GraphBuilder, GraphNode, Initializer } from './onnx-graph.js';

/**
 * One tfjs tensor as it exists in the ONNX graph. `shape` is always the tfjs (channels-last) shape;
 * `nchw` says whether the ONNX value holds it transposed to channels-first, which is what ONNX
 * convolutions and pools need. Layers convert lazily, so a chain of convolutions stays NCHW and
 * only the graph edges (and layers such as Flatten whose meaning depends on order) transpose.
 */
export interface Value {
  readonly name: string;
  readonly shape: readonly (number | null)[];
  readonly nchw: boolean;
  /** Set on a linear convolution's output: a BatchNormalization right after may fold into it. */
  readonly foldable?: FoldableConv;
}

export interface FoldableConv {
  readonly node: GraphNode;
  readonly weight: Initializer;
  /** Number of output channels, the first ONNX weight dimension. */
  readonly channels: number;
}

export interface Weight {
  readonly dims: readonly number[];
  /** A copy: converters may rewrite it. */
  readonly data: Float32Array;
}

/** What a layer converter sees: the graph, its layer's config and weights, and its inputs. */
export interface LayerContext {
  readonly g: GraphBuilder;
  /** The layer's name; generated ONNX names start with it, so a graph reads like the model. */
  readonly name: string;
  readonly config: Config;
  readonly inputs: readonly Value[];
  /** The tfjs output shapes of this layer call. */
  readonly outputShapes: readonly (readonly (number | null)[])[];
  /** True when input `i` feeds this layer call only (so rewriting its producer is invisible). */
  exclusive(i: number): boolean;
  weight(key: string): Weight;
  hasWeight(key: string): boolean;
  toNchw(value: Value): Value;
  toNative(value: Value): Value;
  /** Throws the load-time error naming this layer. */
  fail(message: string): never;
}

export type LayerConverter = (ctx: LayerContext) => Value[];

/** Typed access to a layer's `getConfig()` dictionary; wrong types fail with the layer's name. */
export class Config {
  constructor(
    private readonly raw: Readonly<Record<string, unknown>>,
    private readonly fail: (message: string) => never,
  ) {}

  has(key: string): boolean {
    return this.raw[key] !== undefined && this.raw[key] !== null;
  }

  number(key: string, fallback?: number): number {
    const v = this.raw[key];
    if (typeof v === 'number') return v;
    if ((v === undefined || v === null) && fallback !== undefined) return fallback;
    return this.fail(`config ${key} should be a number, is ${JSON.stringify(v)}`);
  }

  string(key: string, fallback?: string): string {
    const v = this.raw[key];
    if (typeof v === 'string') return v;
    if ((v === undefined || v === null) && fallback !== undefined) return fallback;
    return this.fail(`config ${key} should be a string, is ${JSON.stringify(v)}`);
  }

  boolean(key: string, fallback: boolean): boolean {
    const v = this.raw[key];
    if (typeof v === 'boolean') return v;
    if (v === undefined || v === null) return fallback;
    return this.fail(`config ${key} should be a boolean, is ${JSON.stringify(v)}`);
  }

  /** A number or list of `n` numbers (Keras lets `strides: 2` mean `[2, 2]`). */
  tuple(key: string, n: number, fallback?: readonly number[]): number[] {
    const v = this.raw[key];
    if (typeof v === 'number') return Array.from({ length: n }, () => v);
    if (Array.isArray(v) && v.length === n && v.every((x) => typeof x === 'number')) return v;
    if ((v === undefined || v === null) && fallback !== undefined) return [...fallback];
    return this.fail(`config ${key} should be ${n} number(s), is ${JSON.stringify(v)}`);
  }

  value(key: string): unknown {
    return this.raw[key];
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers shared by the converters

function float(value: number): { float: number } {
  return { float: value };
}

/** Reorders a 4-D row-major array: output dimension k is input dimension `perm[k]`. */
export function transpose4(data: Float32Array, dims: readonly number[], perm: readonly [number, number, number, number]): Weight {
  const [, d1, d2, d3] = dims as [number, number, number, number];
  const inStrides = [d1 * d2 * d3, d2 * d3, d3, 1];
  const outDims = perm.map((p) => dims[p]!) as [number, number, number, number];
  const s = perm.map((p) => inStrides[p]!) as [number, number, number, number];
  const out = new Float32Array(data.length);
  let o = 0;
  for (let a = 0; a < outDims[0]; a++) {
    for (let b = 0; b < outDims[1]; b++) {
      for (let c = 0; c < outDims[2]; c++) {
        const base = a * s[0] + b * s[1] + c * s[2];
        for (let d = 0; d < outDims[3]; d++) out[o++] = data[base + d * s[3]]!;
      }
    }
  }
  return { dims: outDims, data: out };
}

/**
 * ONNX padding attributes for a tfjs `valid`/`same` window. `same` pads like TensorFlow (the odd
 * pixel goes after, i.e. SAME_UPPER); explicit pads are used whenever the input size is known.
 */
function windowPadding(
  ctx: LayerContext,
  input: Value,
  kernel: readonly number[],
  strides: readonly number[],
  dilations: readonly number[],
): Record<string, AttributeValue> {
  const padding = ctx.config.string('padding', 'valid');
  if (padding === 'valid') return {};
  if (padding !== 'same') ctx.fail(`padding "${padding}" is not supported (valid, same)`);
  const spatial = [input.shape[1], input.shape[2]];
  if (spatial.some((d) => d === null || d === undefined)) return { auto_pad: 'SAME_UPPER' };
  const before: number[] = [];
  const after: number[] = [];
  spatial.forEach((size, k) => {
    const s = strides[k]!;
    const effective = (kernel[k]! - 1) * dilations[k]! + 1;
    const out = Math.ceil(size! / s);
    const total = Math.max((out - 1) * s + effective - size!, 0);
    before.push(Math.floor(total / 2));
    after.push(total - Math.floor(total / 2));
  });
  return { pads: [...before, ...after] };
}

function channelsLast(ctx: LayerContext): void {
  const format = ctx.config.string('dataFormat', 'channelsLast');
  if (format !== 'channelsLast') ctx.fail(`dataFormat ${format} is not supported (channelsLast only)`);
}

function single(ctx: LayerContext): Value {
  if (ctx.inputs.length !== 1) ctx.fail(`expects one input, got ${ctx.inputs.length}`);
  return ctx.inputs[0]!;
}

function outShape(ctx: LayerContext): readonly (number | null)[] {
  const shape = ctx.outputShapes[0];
  if (shape === undefined) return ctx.fail('has no output');
  return shape;
}

/** Maps a tfjs axis (of the channels-last shape) to the axis of the value as ONNX holds it. */
function onnxAxis(ctx: LayerContext, value: Value, axis: number): number {
  const rank = value.shape.length;
  const a = axis < 0 ? rank + axis : axis;
  if (a < 0 || a >= rank) ctx.fail(`axis ${axis} is out of range for rank ${rank}`);
  return value.nchw ? ([0, 2, 3, 1] as const)[a]! : a;
}

/** Applies a Keras activation by name (`getConfig().activation`) to `value`. */
export function applyActivation(ctx: LayerContext, value: Value, activation: string, base: string): Value {
  const g = ctx.g;
  const unary = (op: string, attributes: Record<string, AttributeValue> = {}): Value => ({
    name: g.node(op, [value.name], base, attributes).outputs[0]!,
    shape: value.shape,
    nchw: value.nchw,
  });
  switch (activation) {
    case 'linear':
      return value;
    case 'relu':
      return unary('Relu');
    case 'relu6':
      return clip(ctx, value, 0, 6, base);
    case 'sigmoid':
      return unary('Sigmoid');
    case 'tanh':
      return unary('Tanh');
    case 'softmax':
      return unary('Softmax', { axis: onnxAxis(ctx, value, -1) });
    case 'elu':
      return unary('Elu', { alpha: float(1) });
    case 'selu':
      return unary('Selu');
    case 'softplus':
      return unary('Softplus');
    case 'softsign':
      return unary('Softsign');
    case 'hard_sigmoid':
      // Keras' hard sigmoid is clip(0.2x + 0.5, 0, 1), which is ONNX HardSigmoid's default.
      return unary('HardSigmoid', { alpha: float(0.2), beta: float(0.5) });
    case 'swish': {
      const sigmoid = g.node('Sigmoid', [value.name], `${base}_sigmoid`).outputs[0]!;
      return { name: g.node('Mul', [value.name, sigmoid], base).outputs[0]!, shape: value.shape, nchw: value.nchw };
    }
    default:
      return ctx.fail(`activation "${activation}" is not supported (${SUPPORTED_ACTIVATIONS.join(', ')})`);
  }
}

export const SUPPORTED_ACTIVATIONS: readonly string[] = [
  'linear', 'relu', 'relu6', 'sigmoid', 'tanh', 'softmax', 'elu', 'selu', 'softplus', 'softsign', 'hard_sigmoid', 'swish',
];

function clip(ctx: LayerContext, value: Value, min: number, max: number, base: string): Value {
  const lo = ctx.g.scalar(`${base}_min`, min);
  const hi = ctx.g.scalar(`${base}_max`, max);
  return { name: ctx.g.node('Clip', [value.name, lo, hi], base).outputs[0]!, shape: value.shape, nchw: value.nchw };
}

function activationOf(ctx: LayerContext, value: Value): Value {
  return applyActivation(ctx, value, ctx.config.string('activation', 'linear'), `${ctx.name}/activation`);
}

/** Emits an ONNX Conv over NCHW input; the result is foldable when no activation follows. */
function conv(
  ctx: LayerContext,
  input: Value,
  weight: Weight,
  bias: Float32Array | undefined,
  attributes: Record<string, AttributeValue>,
  base: string,
  shape: readonly (number | null)[],
): Value & { foldable: FoldableConv } {
  const w = ctx.g.constant(`${base}/W`, weight.dims, weight.data);
  const inputs = [input.name, w];
  if (bias !== undefined) inputs.push(ctx.g.constant(`${base}/B`, [bias.length], bias));
  const node = ctx.g.node('Conv', inputs, base, attributes);
  return { name: node.outputs[0]!, shape, nchw: true, foldable: { node, weight: ctx.g.initializers.get(w)!, channels: weight.dims[0]! } };
}

function plain(value: Value): Value {
  return { name: value.name, shape: value.shape, nchw: value.nchw };
}

function convAttributes(ctx: LayerContext, input: Value, kernel: readonly number[]): Record<string, AttributeValue> {
  const strides = ctx.config.tuple('strides', 2, [1, 1]);
  const dilations = ctx.config.tuple('dilationRate', 2, [1, 1]);
  return { kernel_shape: kernel, strides, dilations, ...windowPadding(ctx, input, kernel, strides, dilations) };
}

function finishConv(ctx: LayerContext, value: Value & { foldable: FoldableConv }): Value[] {
  const activation = ctx.config.string('activation', 'linear');
  return [activation === 'linear' ? value : applyActivation(ctx, plain(value), activation, `${ctx.name}/activation`)];
}

function optionalBias(ctx: LayerContext): Float32Array | undefined {
  return ctx.config.boolean('useBias', true) ? ctx.weight('bias').data : undefined;
}

// ---------------------------------------------------------------------------------------------
// The converters, by tfjs class name

const conv2d: LayerConverter = (ctx) => {
  channelsLast(ctx);
  const x = ctx.toNchw(single(ctx));
  const kernel = ctx.weight('kernel'); // [kh, kw, in, out]
  const w = transpose4(kernel.data, kernel.dims, [3, 2, 0, 1]);
  const attributes = convAttributes(ctx, x, [kernel.dims[0]!, kernel.dims[1]!]);
  return finishConv(ctx, conv(ctx, x, w, optionalBias(ctx), attributes, ctx.name, outShape(ctx)));
};

/** Depthwise kernel [kh, kw, in, m] → grouped Conv weight [in·m, 1, kh, kw] (TF orders outputs c·m + j). */
function depthwiseWeight(kernel: Weight): Weight {
  const [kh, kw, channels, multiplier] = kernel.dims as [number, number, number, number];
  const t = transpose4(kernel.data, kernel.dims, [2, 3, 0, 1]);
  return { dims: [channels * multiplier, 1, kh, kw], data: t.data };
}

const depthwiseConv2d: LayerConverter = (ctx) => {
  channelsLast(ctx);
  const x = ctx.toNchw(single(ctx));
  const kernel = ctx.weight('depthwise_kernel');
  const attributes = { ...convAttributes(ctx, x, [kernel.dims[0]!, kernel.dims[1]!]), group: kernel.dims[2]! };
  return finishConv(ctx, conv(ctx, x, depthwiseWeight(kernel), optionalBias(ctx), attributes, ctx.name, outShape(ctx)));
};

const separableConv2d: LayerConverter = (ctx) => {
  channelsLast(ctx);
  const x = ctx.toNchw(single(ctx));
  const depthwise = ctx.weight('depthwise_kernel');
  const pointwise = ctx.weight('pointwise_kernel'); // [1, 1, in·m, out]
  const attributes = { ...convAttributes(ctx, x, [depthwise.dims[0]!, depthwise.dims[1]!]), group: depthwise.dims[2]! };
  const channels = depthwise.dims[2]! * depthwise.dims[3]!;
  const out = outShape(ctx);
  const mid = conv(ctx, x, depthwiseWeight(depthwise), undefined, attributes, `${ctx.name}/depthwise`, [out[0] ?? null, out[1] ?? null, out[2] ?? null, channels]);
  const pw = transpose4(pointwise.data, pointwise.dims, [3, 2, 0, 1]);
  return finishConv(ctx, conv(ctx, plain(mid), pw, optionalBias(ctx), { kernel_shape: [1, 1] }, ctx.name, out));
};

const batchNormalization: LayerConverter = (ctx) => {
  const x = single(ctx);
  const rank = x.shape.length;
  const axis = ctx.config.number('axis', -1);
  if (axis !== -1 && axis !== rank - 1) ctx.fail(`axis ${axis} is not supported (the last axis only)`);
  const epsilon = ctx.config.number('epsilon', 1e-3);
  const mean = ctx.weight('moving_mean').data;
  const variance = ctx.weight('moving_variance').data;
  const gamma = ctx.config.boolean('scale', true) ? ctx.weight('gamma').data : undefined;
  const beta = ctx.config.boolean('center', true) ? ctx.weight('beta').data : undefined;
  const n = mean.length;
  const scale = new Float32Array(n);
  const shift = new Float32Array(n);
  for (let c = 0; c < n; c++) {
    const s = (gamma?.[c] ?? 1) / Math.sqrt(variance[c]! + epsilon);
    scale[c] = s;
    shift[c] = (beta?.[c] ?? 0) - mean[c]! * s;
  }
  const conv = x.foldable;
  if (conv !== undefined && conv.channels === n && ctx.exclusive(0)) {
    // Fold into the convolution: W' = W·s per output channel, b' = b·s + shift.
    const w = conv.weight.data as Float32Array;
    const per = w.length / n;
    for (let c = 0; c < n; c++) for (let k = 0; k < per; k++) w[c * per + k]! *= scale[c]!;
    const biasName = conv.node.inputs[2];
    const bias = biasName === undefined ? undefined : ctx.g.initializers.get(biasName);
    if (bias !== undefined) {
      const b = bias.data as Float32Array;
      for (let c = 0; c < n; c++) b[c] = b[c]! * scale[c]! + shift[c]!;
    } else {
      conv.node.inputs[2] = ctx.g.constant(`${ctx.name}/B`, [n], shift);
    }
    return [plain(x)];
  }
  // Otherwise y = x·scale + shift, broadcast along the channel axis of the layout ONNX holds.
  const dims = x.nchw ? [n, 1, 1] : [n];
  const mul = ctx.g.node('Mul', [x.name, ctx.g.constant(`${ctx.name}/scale`, dims, scale)], `${ctx.name}/scaled`).outputs[0]!;
  const add = ctx.g.node('Add', [mul, ctx.g.constant(`${ctx.name}/shift`, dims, shift)], ctx.name).outputs[0]!;
  return [{ name: add, shape: x.shape, nchw: x.nchw }];
};

const activation: LayerConverter = (ctx) => [applyActivation(ctx, plain(single(ctx)), ctx.config.string('activation'), ctx.name)];

const relu: LayerConverter = (ctx) => {
  const x = plain(single(ctx));
  if (ctx.config.has('maxValue')) return [clip(ctx, x, 0, ctx.config.number('maxValue'), ctx.name)];
  return [applyActivation(ctx, x, 'relu', ctx.name)];
};

const leakyRelu: LayerConverter = (ctx) => {
  const x = single(ctx);
  const node = ctx.g.node('LeakyRelu', [x.name], ctx.name, { alpha: float(ctx.config.number('alpha', 0.3)) });
  return [{ name: node.outputs[0]!, shape: x.shape, nchw: x.nchw }];
};

const elu: LayerConverter = (ctx) => {
  const x = single(ctx);
  const node = ctx.g.node('Elu', [x.name], ctx.name, { alpha: float(ctx.config.number('alpha', 1)) });
  return [{ name: node.outputs[0]!, shape: x.shape, nchw: x.nchw }];
};

const softmax: LayerConverter = (ctx) => {
  const x = single(ctx);
  const node = ctx.g.node('Softmax', [x.name], ctx.name, { axis: onnxAxis(ctx, x, ctx.config.number('axis', -1)) });
  return [{ name: node.outputs[0]!, shape: x.shape, nchw: x.nchw }];
};

const dense: LayerConverter = (ctx) => {
  const x = ctx.toNative(single(ctx));
  const kernel = ctx.weight('kernel'); // [in, out], what ONNX MatMul/Gemm take as B
  const w = ctx.g.constant(`${ctx.name}/W`, kernel.dims, kernel.data);
  const bias = optionalBias(ctx);
  const b = bias === undefined ? undefined : ctx.g.constant(`${ctx.name}/B`, [bias.length], bias);
  const shape = outShape(ctx);
  let y: string;
  if (x.shape.length === 2) {
    y = ctx.g.node('Gemm', b === undefined ? [x.name, w] : [x.name, w, b], ctx.name).outputs[0]!;
  } else {
    // Keras applies Dense to the last axis of a higher-rank input; MatMul broadcasts the same way.
    y = ctx.g.node('MatMul', [x.name, w], b === undefined ? ctx.name : `${ctx.name}/matmul`).outputs[0]!;
    if (b !== undefined) y = ctx.g.node('Add', [y, b], ctx.name).outputs[0]!;
  }
  return [activationOf(ctx, { name: y, shape, nchw: false })];
};

const flatten: LayerConverter = (ctx) => {
  // Flatten's element order is that of the channels-last tensor, so undo any NCHW first.
  const x = ctx.toNative(single(ctx));
  if (x.shape.length === 2) return [x];
  return [{ name: ctx.g.node('Flatten', [x.name], ctx.name, { axis: 1 }).outputs[0]!, shape: outShape(ctx), nchw: false }];
};

const reshape: LayerConverter = (ctx) => {
  const x = ctx.toNative(single(ctx));
  const target = ctx.config.value('targetShape');
  if (!Array.isArray(target) || !target.every((d) => typeof d === 'number' || d === null)) ctx.fail(`targetShape ${JSON.stringify(target)} is not a list of numbers`);
  // 0 copies the batch dimension from the input; tfjs keeps Keras' inferred dimension (-1) as null.
  const dims = (target as (number | null)[]).map((d) => d ?? -1);
  const shape = ctx.g.int64s(`${ctx.name}/shape`, [0, ...dims]);
  return [{ name: ctx.g.node('Reshape', [x.name, shape], ctx.name).outputs[0]!, shape: outShape(ctx), nchw: false }];
};

/** Layers that only act while training. */
const identity: LayerConverter = (ctx) => [plain(single(ctx))];

const zeroPadding2d: LayerConverter = (ctx) => {
  channelsLast(ctx);
  const x = ctx.toNchw(single(ctx));
  const raw = ctx.config.value('padding');
  let top: number, bottom: number, left: number, right: number;
  if (typeof raw === 'number') {
    top = bottom = left = right = raw;
  } else if (Array.isArray(raw) && raw.length === 2 && raw.every((p) => typeof p === 'number')) {
    [top, left] = raw as [number, number];
    [bottom, right] = [top, left];
  } else if (Array.isArray(raw) && raw.length === 2 && raw.every((p) => Array.isArray(p) && p.length === 2)) {
    [[top, bottom], [left, right]] = raw as [[number, number], [number, number]];
  } else {
    return ctx.fail(`padding ${JSON.stringify(raw)} is not understood`);
  }
  const pads = ctx.g.int64s(`${ctx.name}/pads`, [0, 0, top, left, 0, 0, bottom, right]);
  return [{ name: ctx.g.node('Pad', [x.name, pads], ctx.name).outputs[0]!, shape: outShape(ctx), nchw: true }];
};

function pooling(op: 'MaxPool' | 'AveragePool'): LayerConverter {
  return (ctx) => {
    channelsLast(ctx);
    const x = ctx.toNchw(single(ctx));
    const size = ctx.config.tuple('poolSize', 2, [2, 2]);
    const strides = ctx.config.tuple('strides', 2, size);
    // TF's SAME average excludes the padding from the count, as ONNX does by default.
    const attributes = { kernel_shape: size, strides, ...windowPadding(ctx, x, size, strides, [1, 1]) };
    return [{ name: ctx.g.node(op, [x.name], ctx.name, attributes).outputs[0]!, shape: outShape(ctx), nchw: true }];
  };
}

function globalPooling(op: 'GlobalAveragePool' | 'GlobalMaxPool'): LayerConverter {
  return (ctx) => {
    channelsLast(ctx);
    if (ctx.config.boolean('keepDims', false)) ctx.fail('keepDims is not supported');
    const x = ctx.toNchw(single(ctx));
    const pooled = ctx.g.node(op, [x.name], `${ctx.name}/pool`).outputs[0]!;
    // [N, C, 1, 1] → [N, C], which is the same in either layout.
    return [{ name: ctx.g.node('Flatten', [pooled], ctx.name, { axis: 1 }).outputs[0]!, shape: outShape(ctx), nchw: false }];
  };
}

/** Puts every input of an element-wise merge in one layout (NCHW if any 4-D input already is). */
function aligned(ctx: LayerContext): Value[] {
  if (ctx.inputs.length < 2) ctx.fail(`expects at least two inputs, got ${ctx.inputs.length}`);
  const useNchw = ctx.inputs.every((v) => v.shape.length === 4) && ctx.inputs.some((v) => v.nchw);
  return ctx.inputs.map((v) => (useNchw ? ctx.toNchw(v) : ctx.toNative(v)));
}

function merge(op: 'Sum' | 'Mul' | 'Mean' | 'Max' | 'Min' | 'Sub'): LayerConverter {
  return (ctx) => {
    const xs = aligned(ctx);
    if (op === 'Sub' && xs.length !== 2) ctx.fail('Subtract takes exactly two inputs');
    let y: string;
    if (op === 'Mul') {
      y = xs[0]!.name;
      xs.slice(1).forEach((v, k) => {
        y = ctx.g.node('Mul', [y, v.name], k === xs.length - 2 ? ctx.name : `${ctx.name}/mul${k}`).outputs[0]!;
      });
    } else {
      y = ctx.g.node(op, xs.map((v) => v.name), ctx.name).outputs[0]!;
    }
    return [{ name: y, shape: outShape(ctx), nchw: xs[0]!.nchw }];
  };
}

const concatenate: LayerConverter = (ctx) => {
  const xs = aligned(ctx);
  const axis = onnxAxis(ctx, xs[0]!, ctx.config.number('axis', -1));
  return [{ name: ctx.g.node('Concat', xs.map((v) => v.name), ctx.name, { axis }).outputs[0]!, shape: outShape(ctx), nchw: xs[0]!.nchw }];
};

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
