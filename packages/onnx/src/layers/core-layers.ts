import { activationOf } from './activations.js';
import { optionalBias, outShape, plain, single, type LayerConverter } from './context.js';

export const dense: LayerConverter = (ctx) => {
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

export const flatten: LayerConverter = (ctx) => {
  // Flatten's element order is that of the channels-last tensor, so undo any NCHW first.
  const x = ctx.toNative(single(ctx));
  if (x.shape.length === 2) return [x];
  return [{ name: ctx.g.node('Flatten', [x.name], ctx.name, { axis: 1 }).outputs[0]!, shape: outShape(ctx), nchw: false }];
};

export const reshape: LayerConverter = (ctx) => {
  const x = ctx.toNative(single(ctx));
  const target = ctx.config.value('targetShape');
  if (!Array.isArray(target) || !target.every((d) => typeof d === 'number' || d === null)) ctx.fail(`targetShape ${JSON.stringify(target)} is not a list of numbers`);
  // 0 copies the batch dimension from the input; tfjs keeps Keras' inferred dimension (-1) as null.
  const dims = (target as (number | null)[]).map((d) => d ?? -1);
  const shape = ctx.g.int64s(`${ctx.name}/shape`, [0, ...dims]);
  return [{ name: ctx.g.node('Reshape', [x.name, shape], ctx.name).outputs[0]!, shape: outShape(ctx), nchw: false }];
};

/** Layers that only act while training. */
export const identity: LayerConverter = (ctx) => [plain(single(ctx))];
