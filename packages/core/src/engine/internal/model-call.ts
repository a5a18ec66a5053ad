import { RxmlError, toRxmlError } from '../../contract/errors.js';
import type { Model, TensorData } from '../../contract/model.js';
import { whenSettled } from './settle.js';

export type Decode<S, Out> = (outputs: readonly TensorData[], samples: readonly S[]) => readonly Out[];

/** How one model call ended: one value per sample, or the error every record of the batch gets. */
export type CallOutcome<Out> =
  | { readonly ok: true; readonly values: readonly Out[]; readonly endedAt: number }
  | { readonly ok: false; readonly error: RxmlError; readonly endedAt: number };

/**
 * Stage 4, model call: runs `model.run(inputs, { signal })` and decodes the outputs into one value
 * per sample. A throw or rejection of the model, a throwing `decode` or a `decode` returning the
 * wrong number of values fail the batch with `MODEL_ERROR` (an `RxmlError` thrown by either is kept
 * as is). `endedAt` is `clock()` when the model call settled. `signal` is this call's: aborted when
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
