import { RxmlError, toRxmlError } from '../../contract/errors.js';
import type { Model, TensorData, TensorSpec } from '../../contract/model.js';
import { whenSettled } from './settle.js';

export type Decode<S, Out> = (outputs: readonly TensorData[], samples: readonly S[]) => readonly Out[];

const dims = (shape: readonly (number | null)[]): string => `[${shape.map((d) => d ?? '?').join(', ')}]`;

/**
 * Why a model's outputs for one batch cannot be decoded safely, or `undefined`. `decode` reads
 * outputs by position (`data[i * 3 + k]`), so an output shorter or laid out otherwise than declared
 * would be read past its end or shuffled into wrong values that look right. Checked for each output
 * the model declares (`model.outputs`): its data holds as many values as its shape says; and unless
 * the declared shape is empty (rank unknown): its rank is the declared rank, every fixed declared
 * dimension matches, and a first dimension declared free (`null`, the batch) equals the batch size
 * of the call (`batch`, the inputs' first dimension). Outputs beyond the declared ones are not checked.
 */
export function outputsProblem(model: Model, outputs: readonly TensorData[], batch: number | undefined): string | undefined {
  if (!Array.isArray(outputs)) return `model ${model.name} returned no list of outputs`;
  const declared: readonly TensorSpec[] = Array.isArray(model.outputs) ? model.outputs : [];
  for (const [i, spec] of declared.entries()) {
    const output = outputs[i] as Partial<TensorData> | undefined;
    const what = `model ${model.name} returned output ${spec.name}`;
    if (output === undefined || output.data === undefined || !Array.isArray(output.shape)) return `${what}: missing or not a { data, shape } tensor`;
    const { data, shape } = output as TensorData;
    const size = shape.reduce((n, d) => n * d, 1);
    if (data.length !== size) return `${what} with ${data.length} values for its shape ${dims(shape)}`;
    // An empty declared shape is an unknown rank (a GraphModel or ONNX output without shape info): nothing more to check.
    const fits =
      spec.shape.length === 0 ||
      (shape.length === spec.shape.length &&
        spec.shape.every((d, k) => (d === null ? k !== 0 || batch === undefined || shape[0] === batch : shape[k] === d)));
    if (!fits) return `${what} with shape ${dims(shape)} for a batch of ${batch ?? '?'} (declared ${dims(spec.shape)})`;
  }
  return undefined;
}

/** How one model call ended: one value per sample, or the error every record of the batch gets. */
export type CallOutcome<Out> =
  | { readonly ok: true; readonly values: readonly Out[]; readonly endedAt: number }
  | { readonly ok: false; readonly error: RxmlError; readonly endedAt: number };

/**
 * Stage 4, model call: runs `model.run(inputs, { signal })`, checks the outputs against the model's
 * declared outputs and the batch size (`outputsProblem`) and decodes them into one value per
 * sample. A throw or rejection of the model, outputs that do not fit, a throwing `decode` or a
 * `decode` returning the wrong number of values fail the batch with `MODEL_ERROR` (an `RxmlError`
 * thrown by the model or `decode` is kept as is). `endedAt` is `clock()` when the model call settled. `signal` is this call's: aborted when
 * the subscription ends while the call is in flight (nobody will read its result).
 */
export function callModel<S, Out>(
  model: Model,
  inputs: readonly TensorData[],
  samples: readonly S[],
  decode: Decode<S, Out>,
  clock: () => number,
  done: (outcome: CallOutcome<Out>) => void,
  bug: (error: unknown) => void,
  signal: AbortSignal,
): void {
  const failed = (cause: unknown): void => done({ ok: false, error: toRxmlError(cause, 'MODEL_ERROR', `model ${model.name}`), endedAt: clock() });
  whenSettled(
    () => model.run(inputs, { signal }),
    (outputs) => {
      const endedAt = clock();
      let values: readonly Out[];
      try {
        const problem = outputsProblem(model, outputs, inputs[0]?.shape[0]);
        if (problem !== undefined) throw new RxmlError('MODEL_ERROR', problem);
        values = decode(outputs, samples);
        if (values.length !== samples.length) {
          throw new RxmlError('MODEL_ERROR', `decode returned ${values.length} values for a batch of ${samples.length}`);
        }
      } catch (cause) {
        done({ ok: false, error: toRxmlError(cause, 'MODEL_ERROR', `model ${model.name}`), endedAt });
        return;
      }
      done({ ok: true, values, endedAt });
    },
    failed,
    bug,
  );
}
