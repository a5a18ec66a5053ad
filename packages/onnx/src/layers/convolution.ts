import type { AttributeValue } from '../onnx-graph.js';
import { applyActivation } from './activations.js';
import { channelsLast, optionalBias, outShape, plain, single, transpose4, windowPadding, type FoldableConv, type LayerContext, type LayerConverter, type Value, type Weight } from './context.js';

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

function convAttributes(ctx: LayerContext, input: Value, kernel: readonly number[]): Record<string, AttributeValue> {
  const strides = ctx.config.tuple('strides', 2, [1, 1]);
  const dilations = ctx.config.tuple('dilationRate', 2, [1, 1]);
  return { kernel_shape: kernel, strides, dilations, ...windowPadding(ctx, input, kernel, strides, dilations) };
}

function finishConv(ctx: LayerContext, value: Value & { foldable: FoldableConv }): Value[] {
  const activation = ctx.config.string('activation', 'linear');
  return [activation === 'linear' ? value : applyActivation(ctx, plain(value), activation, `${ctx.name}/activation`)];
}

export const conv2d: LayerConverter = (ctx) => {
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

export const depthwiseConv2d: LayerConverter = (ctx) => {
  channelsLast(ctx);
  const x = ctx.toNchw(single(ctx));
  const kernel = ctx.weight('depthwise_kernel');
  const attributes = { ...convAttributes(ctx, x, [kernel.dims[0]!, kernel.dims[1]!]), group: kernel.dims[2]! };
  return finishConv(ctx, conv(ctx, x, depthwiseWeight(kernel), optionalBias(ctx), attributes, ctx.name, outShape(ctx)));
};

export const separableConv2d: LayerConverter = (ctx) => {
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

export const batchNormalization: LayerConverter = (ctx) => {
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
