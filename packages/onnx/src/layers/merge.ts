import { onnxAxis, outShape, type LayerContext, type LayerConverter, type Value } from './context.js';

/** Puts every input of an element-wise merge in one layout (NCHW if any 4-D input already is). */
function aligned(ctx: LayerContext): Value[] {
  if (ctx.inputs.length < 2) ctx.fail(`expects at least two inputs, got ${ctx.inputs.length}`);
  const useNchw = ctx.inputs.every((v) => v.shape.length === 4) && ctx.inputs.some((v) => v.nchw);
  return ctx.inputs.map((v) => (useNchw ? ctx.toNchw(v) : ctx.toNative(v)));
}

export function merge(op: 'Sum' | 'Mul' | 'Mean' | 'Max' | 'Min' | 'Sub'): LayerConverter {
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

export const concatenate: LayerConverter = (ctx) => {
  const xs = aligned(ctx);
  const axis = onnxAxis(ctx, xs[0]!, ctx.config.number('axis', -1));
  return [{ name: ctx.g.node('Concat', xs.map((v) => v.name), ctx.name, { axis }).outputs[0]!, shape: outShape(ctx), nchw: xs[0]!.nchw }];
};
