import type { AttributeValue, GraphBuilder, GraphNode, Initializer } from '../onnx-graph.js';

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

export function float(value: number): { float: number } {
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
export function windowPadding(
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

export function channelsLast(ctx: LayerContext): void {
  const format = ctx.config.string('dataFormat', 'channelsLast');
  if (format !== 'channelsLast') ctx.fail(`dataFormat ${format} is not supported (channelsLast only)`);
}

export function single(ctx: LayerContext): Value {
  if (ctx.inputs.length !== 1) ctx.fail(`expects one input, got ${ctx.inputs.length}`);
  return ctx.inputs[0]!;
}

export function outShape(ctx: LayerContext): readonly (number | null)[] {
  const shape = ctx.outputShapes[0];
  if (shape === undefined) return ctx.fail('has no output');
  return shape;
}

/** Maps a tfjs axis (of the channels-last shape) to the axis of the value as ONNX holds it. */
export function onnxAxis(ctx: LayerContext, value: Value, axis: number): number {
  const rank = value.shape.length;
  const a = axis < 0 ? rank + axis : axis;
  if (a < 0 || a >= rank) ctx.fail(`axis ${axis} is out of range for rank ${rank}`);
  return value.nchw ? ([0, 2, 3, 1] as const)[a]! : a;
}

export function plain(value: Value): Value {
  return { name: value.name, shape: value.shape, nchw: value.nchw };
}

export function optionalBias(ctx: LayerContext): Float32Array | undefined {
  return ctx.config.boolean('useBias', true) ? ctx.weight('bias').data : undefined;
}
