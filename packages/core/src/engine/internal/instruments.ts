import { CHANNELS, guardCallback, hasSubscribers, publish, type PredictBatchMessage } from '../../contract/diagnostics.js';
import type { RxmlError } from '../../contract/errors.js';
import type { Model } from '../../contract/model.js';
import type { PredictResult } from '../../contract/result.js';

export interface Instruments {
  /** A model call ended (ok or failed): `onBatch` and `rxml:predict:batch`. */
  batch(size: number, bytes: number, durationMs: number, error: RxmlError | undefined): void;
  /** A result left the operator: `rxml:predict:result`. */
  result(result: PredictResult<unknown, unknown>): void;
}

/**
 * Stage 7, instruments: the batch event goes to the `onBatch` callback and to `rxml:predict:batch`,
 * each emitted result to `rxml:predict:result`. Payloads are built only when someone listens; the
 * callback is guarded (`guardCallback`): a throw or a rejected promise is reported on
 * `rxml:callback:error` and changes nothing — no result, no completion.
 */
export function createInstruments(model: Model, onBatch: ((event: PredictBatchMessage) => unknown) | undefined): Instruments {
  const callback = onBatch === undefined ? undefined : guardCallback('onBatch', onBatch);
  const { name, version } = model;
  return {
    batch(size, bytes, durationMs, error): void {
      if (callback === undefined && !hasSubscribers(CHANNELS.predictBatch)) return;
      const event: PredictBatchMessage =
        error === undefined ? { model: name, version, size, bytes, durationMs, ok: true } : { model: name, version, size, bytes, durationMs, ok: false, error };
      callback?.(event);
      publish(CHANNELS.predictBatch, event);
    },
    result(result): void {
      if (!hasSubscribers(CHANNELS.predictResult)) return;
      publish(
        CHANNELS.predictResult,
        result.ok ? { model: name, version, ok: true, latencyMs: result.latencyMs } : { model: name, version, ok: false, code: result.error.code },
      );
    },
  };
}
