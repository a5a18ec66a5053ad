import { CHANNELS, guardCallback, hasSubscribers, publish, type PredictBatchMessage } from '../../contract/diagnostics.js';
import type { RxmlError } from '../../contract/errors.js';
import type { ModelIdentity } from '../../contract/model.js';
import type { PredictResult } from '../../contract/result.js';

export interface Instruments {
  /** A model call of `model` ended (ok or failed): `onBatch` and `rxml:predict:batch`. */
  batch(model: ModelIdentity, size: number, bytes: number, durationMs: number, error: RxmlError | undefined): void;
  /**
   * A result left the operator: `rxml:predict:result`, naming the model that ran it (`fallback`,
   * the model serving now, for a record that never reached one).
   */
  result(result: PredictResult<unknown, unknown>, fallback: () => ModelIdentity | undefined): void;
}

const NO_MODEL: ModelIdentity = { name: '', version: '' };

/**
 * Stage 7, instruments: the batch event goes to the `onBatch` callback and to `rxml:predict:batch`,
 * each emitted result to `rxml:predict:result`, each naming the model (name, version) of the batch.
 * Payloads are built only when someone listens; the callback is guarded (`guardCallback`): a throw
 * or a rejected promise is reported on `rxml:callback:error` and changes nothing — no result, no
 * completion.
 */
export function createInstruments(onBatch: ((event: PredictBatchMessage) => unknown) | undefined): Instruments {
  const callback = onBatch === undefined ? undefined : guardCallback('onBatch', onBatch);
  return {
    batch({ name, version }, size, bytes, durationMs, error): void {
      if (callback === undefined && !hasSubscribers(CHANNELS.predictBatch)) return;
      const event: PredictBatchMessage =
        error === undefined ? { model: name, version, size, bytes, durationMs, ok: true } : { model: name, version, size, bytes, durationMs, ok: false, error };
      callback?.(event);
      publish(CHANNELS.predictBatch, event);
    },
    result(result, fallback): void {
      if (!hasSubscribers(CHANNELS.predictResult)) return;
      const { name, version } = result.model ?? fallback() ?? NO_MODEL;
      publish(CHANNELS.predictResult, result.ok ? { model: name, version, ok: true, latencyMs: result.latencyMs } : { model: name, version, ok: false, code: result.error.code });
    },
  };
}
