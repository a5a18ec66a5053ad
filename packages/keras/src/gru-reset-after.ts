import * as tfc from '@tensorflow/tfjs-core';
import { initializers, layers, type LayerVariable } from '@tensorflow/tfjs-layers';

/**
 * Keras's default GRU (`reset_after=True`, the cuDNN-compatible form), which tfjs-layers lacks:
 * the reset gate applies after the recurrent matmul, and input and recurrent biases are separate
 * (bias shape `[2, 3 * units]`). Gate order is Keras's: update (z), reset (r), candidate (h).
 *
 *   z = σ(x·Wz + bz + h·Uz + b'z)    r = σ(x·Wr + br + h·Ur + b'r)
 *   ĥ = act(x·Wh + bh + r ⊙ (h·Uh + b'h))    h' = z ⊙ h + (1 − z) ⊙ ĥ
 */
export const RESET_AFTER_GRU_CLASS = 'RxmlResetAfterGRU';

/**
 * The internal tfjs class names and the Keras classes users wrote. Errors must name the latter:
 * the classes carry it as `static userClassName` (read by `@rxml/onnx` when it refuses a layer),
 * and `kerasLoadError` rewrites any tfjs message that still carries an internal name.
 */
export const USER_CLASS_NAMES: Readonly<Record<string, string>> = { RxmlResetAfterGRUCell: 'GRUCell', [RESET_AFTER_GRU_CLASS]: 'GRU' };

type Activation = (x: tfc.Tensor) => tfc.Tensor;

// The activation names normalizeConfig lets through (see layers.ts), as tfjs-core ops.
const ACTIVATIONS: Readonly<Record<string, Activation>> = {
  linear: (x) => x,
  relu: (x) => tfc.relu(x),
  relu6: (x) => tfc.relu6(x),
  elu: (x) => tfc.elu(x),
  selu: (x) => tfc.selu(x),
  sigmoid: (x) => tfc.sigmoid(x),
  tanh: (x) => tfc.tanh(x),
  softmax: (x) => tfc.softmax(x),
  softplus: (x) => tfc.softplus(x),
  softsign: (x) => tfc.div(x, tfc.add(1, tfc.abs(x))),
  swish: (x) => tfc.mul(x, tfc.sigmoid(x)),
  mish: (x) => tfc.mul(x, tfc.tanh(tfc.softplus(x))),
  gelu: (x) => tfc.mul(tfc.mul(0.5, x), tfc.add(1, tfc.erf(tfc.div(x, Math.SQRT2)))),
  hard_sigmoid: (x) => tfc.clipByValue(tfc.add(tfc.mul(0.2, x), 0.5), 0, 1),
};

function activation(name: unknown, fallback: string): { name: string; fn: Activation } {
  const key = typeof name === 'string' ? name : fallback;
  const fn = ACTIVATIONS[key];
  if (fn === undefined) throw new Error(`GRU: unsupported activation ${key}`);
  return { name: key, fn };
}

interface CellArgs {
  readonly units: number;
  readonly activation?: unknown;
  readonly recurrentActivation?: unknown;
  readonly useBias?: boolean | undefined;
}

class ResetAfterGRUCell extends layers.RNNCell {
  static readonly className = 'RxmlResetAfterGRUCell';
  /** The Keras class this implements, for error messages. */
  static readonly userClassName = 'GRUCell';
  readonly units: number;
  readonly stateSize: number;
  private readonly act: { name: string; fn: Activation };
  private readonly recAct: { name: string; fn: Activation };
  private readonly useBias: boolean;
  private kernel: LayerVariable | undefined;
  private recurrentKernel: LayerVariable | undefined;
  private bias: LayerVariable | undefined;

  constructor(args: CellArgs) {
    super({});
    this.units = args.units;
    this.stateSize = args.units;
    this.act = activation(args.activation, 'tanh');
    this.recAct = activation(args.recurrentActivation, 'sigmoid');
    this.useBias = args.useBias ?? true;
  }

  override build(inputShape: (number | null)[] | (number | null)[][]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as (number | null)[];
    const inputDim = shape[shape.length - 1] ?? 0;
    const zeros = initializers.zeros();
    this.kernel = this.addWeight('kernel', [inputDim, 3 * this.units], 'float32', zeros, undefined, true);
    this.recurrentKernel = this.addWeight('recurrent_kernel', [this.units, 3 * this.units], 'float32', zeros, undefined, true);
    if (this.useBias) this.bias = this.addWeight('bias', [2, 3 * this.units], 'float32', zeros, undefined, true);
    this.built = true;
  }

  override call(inputs: tfc.Tensor | tfc.Tensor[]): tfc.Tensor[] {
    return tfc.tidy(() => {
      const [x, h] = inputs as tfc.Tensor[];
      if (x === undefined || h === undefined || this.kernel === undefined || this.recurrentKernel === undefined) {
        throw new Error('GRU expects [input, state] after build');
      }
      let matrixX = tfc.matMul(x, this.kernel.read());
      let matrixInner = tfc.matMul(h, this.recurrentKernel.read());
      if (this.bias !== undefined) {
        const [inputBias, recurrentBias] = tfc.unstack(this.bias.read());
        matrixX = tfc.add(matrixX, inputBias!);
        matrixInner = tfc.add(matrixInner, recurrentBias!);
      }
      const [xz, xr, xh] = tfc.split(matrixX, 3, -1);
      const [rz, rr, rh] = tfc.split(matrixInner, 3, -1);
      const z = this.recAct.fn(tfc.add(xz!, rz!));
      const r = this.recAct.fn(tfc.add(xr!, rr!));
      const candidate = this.act.fn(tfc.add(xh!, tfc.mul(r, rh!)));
      const next = tfc.add(tfc.mul(z, h), tfc.mul(tfc.sub(1, z), candidate));
      return [next, next];
    });
  }

  override getConfig(): tfc.serialization.ConfigDict {
    return { ...super.getConfig(), units: this.units, activation: this.act.name, recurrentActivation: this.recAct.name, useBias: this.useBias };
  }
}

type RnnArgs = ConstructorParameters<typeof layers.RNN>[0];

class ResetAfterGRU extends layers.RNN {
  static override readonly className = RESET_AFTER_GRU_CLASS;
  /** The Keras class this implements (GRU with reset_after=True), for error messages. */
  static readonly userClassName = 'GRU';

  constructor(args: Omit<RnnArgs, 'cell'> & CellArgs) {
    const cell = new ResetAfterGRUCell({ units: args.units, activation: args.activation, recurrentActivation: args.recurrentActivation, useBias: args.useBias });
    super({ ...args, cell });
  }

  // RNN.fromConfig expects a serialized cell; this layer builds its own, like tfjs' GRU.
  static override fromConfig<T extends tfc.serialization.Serializable>(
    cls: tfc.serialization.SerializableConstructor<T>,
    config: tfc.serialization.ConfigDict,
  ): T {
    return new cls(config);
  }

  override getConfig(): tfc.serialization.ConfigDict {
    // Bidirectional clones the layer from this config (forward and backward copies).
    return { ...this.cell.getConfig(), ...super.getConfig() };
  }
}

let registered = false;

/** Makes the class known to tfjs deserialization; idempotent, called before building a model. */
export function registerResetAfterGRU(): void {
  if (registered) return;
  tfc.serialization.registerClass(ResetAfterGRU);
  registered = true;
}
