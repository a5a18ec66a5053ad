import type { AttributeValue } from '../onnx-graph.js';
import { float, onnxAxis, plain, single, type LayerContext, type LayerConverter, type Value } from './context.js';

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

export function clip(ctx: LayerContext, value: Value, min: number, max: number, base: string): Value {
  const lo = ctx.g.scalar(`${base}_min`, min);
  const hi = ctx.g.scalar(`${base}_max`, max);
  return { name: ctx.g.node('Clip', [value.name, lo, hi], base).outputs[0]!, shape: value.shape, nchw: value.nchw };
}

export function activationOf(ctx: LayerContext, value: Value): Value {
  return applyActivation(ctx, value, ctx.config.string('activation', 'linear'), `${ctx.name}/activation`);
}

export const activation: LayerConverter = (ctx) => [applyActivation(ctx, plain(single(ctx)), ctx.config.string('activation'), ctx.name)];

export const relu: LayerConverter = (ctx) => {
  const x = plain(single(ctx));
  if (ctx.config.has('maxValue')) return [clip(ctx, x, 0, ctx.config.number('maxValue'), ctx.name)];
  return [applyActivation(ctx, x, 'relu', ctx.name)];
};

export const leakyRelu: LayerConverter = (ctx) => {
  const x = single(ctx);
  const node = ctx.g.node('LeakyRelu', [x.name], ctx.name, { alpha: float(ctx.config.number('alpha', 0.3)) });
  return [{ name: node.outputs[0]!, shape: x.shape, nchw: x.nchw }];
};

export const elu: LayerConverter = (ctx) => {
  const x = single(ctx);
  const node = ctx.g.node('Elu', [x.name], ctx.name, { alpha: float(ctx.config.number('alpha', 1)) });
  return [{ name: node.outputs[0]!, shape: x.shape, nchw: x.nchw }];
};

export const softmax: LayerConverter = (ctx) => {
  const x = single(ctx);
  const node = ctx.g.node('Softmax', [x.name], ctx.name, { axis: onnxAxis(ctx, x, ctx.config.number('axis', -1)) });
  return [{ name: node.outputs[0]!, shape: x.shape, nchw: x.nchw }];
};
