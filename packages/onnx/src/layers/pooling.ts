import { channelsLast, outShape, single, windowPadding, type LayerConverter } from './context.js';

export const zeroPadding2d: LayerConverter = (ctx) => {
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

export function pooling(op: 'MaxPool' | 'AveragePool'): LayerConverter {
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

export function globalPooling(op: 'GlobalAveragePool' | 'GlobalMaxPool'): LayerConverter {
  return (ctx) => {
    channelsLast(ctx);
    if (ctx.config.boolean('keepDims', false)) ctx.fail('keepDims is not supported');
    const x = ctx.toNchw(single(ctx));
    const pooled = ctx.g.node(op, [x.name], `${ctx.name}/pool`).outputs[0]!;
    // [N, C, 1, 1] → [N, C], which is the same in either layout.
    return [{ name: ctx.g.node('Flatten', [pooled], ctx.name, { axis: 1 }).outputs[0]!, shape: outShape(ctx), nchw: false }];
  };
}
