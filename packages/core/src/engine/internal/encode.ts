import { toRxmlError, type RxmlError } from '../../contract/errors.js';
import type { TensorData } from '../../contract/model.js';
import type { Entry } from './select-queue.js';

export type Encode<S> = (samples: readonly S[]) => TensorData | readonly TensorData[];

function asList(encoded: TensorData | readonly TensorData[]): readonly TensorData[] {
  return 'data' in encoded ? [encoded] : encoded;
}

/** A batch ready for the model: the records that survived encoding and their model inputs. */
export interface EncodedBatch<In, S> {
  readonly entries: readonly Entry<In, S>[];
  readonly inputs: readonly TensorData[];
}

/**
 * Stage 3, encode with per-record failure isolation: encodes the whole batch; if that throws,
 * encodes each record on its own to find the culprits, fails only them (`INVALID_INPUT`) and encodes
 * the survivors again. Returns `undefined` when no record survives (no model call).
 */
export function encodeIsolatingFailures<In, S>(
  batch: readonly Entry<In, S>[],
  encode: Encode<S>,
  fail: (entry: Entry<In, S>, error: RxmlError) => void,
): EncodedBatch<In, S> | undefined {
  try {
    return { entries: batch, inputs: asList(encode(batch.map((e) => e.sample))) };
  } catch {
    const survivors = batch.filter((e) => {
      try {
        encode([e.sample]);
        return true;
      } catch (cause) {
        fail(e, toRxmlError(cause, 'INVALID_INPUT'));
        return false;
      }
    });
    if (survivors.length === 0) return undefined;
    try {
      return { entries: survivors, inputs: asList(encode(survivors.map((e) => e.sample))) };
    } catch (cause) {
      for (const e of survivors) fail(e, toRxmlError(cause, 'INVALID_INPUT'));
      return undefined;
    }
  }
}

/** Bytes of model input: the sum of the input tensors' `data.byteLength`. */
export function inputBytes(inputs: readonly TensorData[]): number {
  let bytes = 0;
  for (const input of inputs) bytes += input.data.byteLength;
  return bytes;
}
