import diagnosticsChannel from 'node:diagnostics_channel';
import type { RxmlError, RxmlErrorCode } from './errors.js';
import type { KafkaOffset } from './offset.js';

/**
 * One way to observe rxml: every package publishes to these `node:diagnostics_channel` channels, and
 * metrics exporters, loggers and the `onBatch`/`onEvent` callbacks subscribe. Publishing costs one
 * `hasSubscribers` check when nobody listens. Payloads are plain objects; durations are in
 * milliseconds, sizes in bytes.
 *
 * | channel | payload | published when |
 * |---|---|---|
 * | `rxml:predict:batch` | {@link PredictBatchMessage} | after every model call (ok or failed) |
 * | `rxml:predict:result` | {@link PredictResultMessage} | for every result an operator emits |
 * | `rxml:model:load` | {@link ModelLoadMessage} | a model finished loading (or failed to) |
 * | `rxml:model:lifecycle` | {@link ModelLifecycleMessage} | a model version is swapped in, refused, rolled back or released, or a model source failed |
 * | `rxml:source` | {@link SourceMessage} | a source event (fetch, commit, pause, rebalance, lag, crash, …) |
 * | `rxml:sink` | {@link SinkMessage} | a sink event (delivered, dead-lettered, produce error, …) |
 * | `rxml:remote:request` | {@link RemoteRequestMessage} | a remote model server call ended (ok, retried or failed) |
 * | `rxml:callback:error` | {@link CallbackErrorMessage} | a user callback threw (its result was ignored) |
 * | `rxml:shadow:comparison` | {@link ShadowComparisonMessage} | a shadow model's result was compared with the main one's; records dropped by a full shadow queue; a shadow that stopped |
 */
export const CHANNELS = {
  predictBatch: 'rxml:predict:batch',
  predictResult: 'rxml:predict:result',
  modelLoad: 'rxml:model:load',
  modelLifecycle: 'rxml:model:lifecycle',
  source: 'rxml:source',
  sink: 'rxml:sink',
  remoteRequest: 'rxml:remote:request',
  callbackError: 'rxml:callback:error',
  shadowComparison: 'rxml:shadow:comparison',
} as const;

export type ChannelName = (typeof CHANNELS)[keyof typeof CHANNELS];

export interface PredictBatchMessage {
  /** `Model.name` / `Model.version` of the model that ran the batch. */
  readonly model: string;
  readonly version: string;
  /** Records in the batch. */
  readonly size: number;
  /** Bytes of model input (sum of the input tensors' `data.byteLength`). */
  readonly bytes: number;
  /** Wall time of the model call, ms. */
  readonly durationMs: number;
  readonly ok: boolean;
  /** Why the call failed (`ok: false` only). */
  readonly error?: RxmlError;
}

export interface PredictResultMessage {
  readonly model: string;
  readonly version: string;
  readonly ok: boolean;
  /** Error code of a failed record. */
  readonly code?: RxmlErrorCode;
  /** Time from the record entering the operator to its result, ms (successes only). */
  readonly latencyMs?: number;
}

export interface ModelLoadMessage {
  readonly name: string;
  /** Version of the loaded model (absent when loading failed). */
  readonly version?: string;
  /** Runtime that opened it, e.g. `tfjs-wasm`, `onnxruntime`, `remote-v2-rest`. */
  readonly runtime?: string;
  /** Artifact format, e.g. `tfjs`, `keras-h5`, `keras`, `onnx`, `remote`. */
  readonly format?: string;
  readonly durationMs: number;
  /** Artifact bytes read (0 for a remote model). */
  readonly bytes: number;
  readonly ok: boolean;
  readonly error?: RxmlError;
}

/** The `name` / `version` of a lifecycle event that concerns no readable model version. */
export const UNKNOWN_MODEL = 'unknown';

/**
 * One event of a model version's life inside an operator that runs on a `ModelSource` stream:
 *
 * - `swap`: a version passed validation and serves the next batches (also the first one, then
 *   without `previousVersion`);
 * - `rollback`: as `swap`, for a version this operator served before (`reason` says so);
 * - `refused`: a version failed to validate (signature, trial batch) or was superseded before it
 *   was validated; it was disposed and the current one keeps serving (`reason`, `error`). Model
 *   sources (`watchModel`, `pollModel`, `modelsFromKafka`) publish `refused` too, with `source`, for
 *   a version they could not read, verify or load (it never reached the operator);
 * - `released`: a version the operator owned was disposed, after its last model call returned
 *   (replaced, or the stream ended);
 * - `source-error`: the model source failed after the first model; `name`/`version` are the model
 *   that keeps serving, `error` the failure;
 * - `waiting`: an operator has had no model for 5 s (or half its `firstModelTimeoutMs`, when
 *   shorter), published once, with `heldRecords` and `waitedMs`; a model source has nothing to read
 *   yet (`watchModel`: the path does not exist or is empty; `modelsFromKafka`: the topic is missing or
 *   holds no record of the model), once until that changes, with `source` and `reason`;
 * - `available`: a source that announced `waiting` found something to read.
 */
export interface ModelLifecycleMessage {
  readonly type: 'swap' | 'refused' | 'rollback' | 'released' | 'source-error' | 'waiting' | 'available';
  /**
   * `Model.name` / `Model.version` of the version concerned. A source's `refused` event gives as
   * `version` a content hash when the bytes were read — `pollModel`: `contentVersion(bytes)` (the
   * first 16 hex digits of the artifact's SHA-256, the version `loadModelBytes` gives it);
   * `watchModel`: the first 16 hex digits of the SHA-256 over the watched files' relative paths and
   * bytes — the published `rxml-model-version` for a Kafka record, and {@link UNKNOWN_MODEL}
   * (`'unknown'`) when nothing was read (e.g. over `maxBytes`) or the version itself is unusable;
   * `waiting` events of an operator have `name` and `version` {@link UNKNOWN_MODEL}.
   */
  readonly name: string;
  readonly version: string;
  /** `waiting` (operator): records held, waiting for the first model. */
  readonly heldRecords?: number;
  /** `waiting` (operator): ms since the operator subscribed to its model source. */
  readonly waitedMs?: number;
  /** The version that was serving before (swap, rollback). */
  readonly previousVersion?: string;
  /** Why a version was refused, rolled back or released, in words. */
  readonly reason?: string;
  /**
   * Where the version came from, for events published by a model source: e.g.
   * `watchModel /models/iris`, `pollModel https://…/iris.json`, `modelsFromKafka models`.
   */
  readonly source?: string;
  /** The operator that owns the model, e.g. `predict`, `predictIris`. */
  readonly operator?: string;
  /** The error behind a `refused` or `source-error` event (load failure, hash mismatch, size limit, …). */
  readonly error?: RxmlError;
}

/**
 * A source's event. `source` names the kind (`kafka`); `type` the event; the rest depends on it.
 * Types read by `@rxml/metrics`: `fetch` (`count` records emitted), `completed` (`count` records
 * completed; `durationMs` from emission to completion), `committed` (one partition's `offset`,
 * `durationMs` of the commit request), `commit-failed`, `lag` (one partition's `lag`, `offset` =
 * committed), `paused`, `resumed`, `rebalancing`, `assigned`/`revoked` (one partition), `crashed`
 * (`restarting`), `failed`, `fenced`, `closed`, `offset-reset` (`offset` = where reading starts again,
 * `reason`), `topic-id-check-failed` (`topics`, `error`).
 */
export interface SourceMessage {
  readonly source: string;
  readonly type: string;
  /** Consumer group / pipeline identity, when the source has one. */
  readonly group?: string;
  readonly topic?: string;
  /** The URL a source reads (`pollModel`), when it is not a Kafka topic. */
  readonly url?: string;
  readonly partition?: number;
  /** A Kafka offset as a decimal string (see `KafkaOffset`): the record's, or the committed one. */
  readonly offset?: KafkaOffset;
  /** Records concerned (fetched, committed, …). */
  readonly count?: number;
  /** End offset − committed offset of `topic`/`partition`. */
  readonly lag?: number;
  readonly durationMs?: number;
  /** `crashed`: whether the client reconnects by itself (false: the stream fails). */
  readonly restarting?: boolean;
  /**
   * `offset-reset`: how the reset was seen — `out-of-range` (OFFSET_OUT_OF_RANGE), `below-committed`
   * (a fetched offset below the committed position) or `topic-recreated` (the topic's ID changed).
   */
  readonly reason?: string;
  /** `offset-reset` with reason `topic-recreated`: the topic's new ID (a KIP-516 topic ID, as the client reads it). */
  readonly topicId?: string;
  /** `offset-reset` with reason `topic-recreated`: the ID of the topic the consumer had read from. */
  readonly previousTopicId?: string;
  /** `topic-id-check-failed`: the topics whose offsets were not committed this round. */
  readonly topics?: readonly string[];
  readonly error?: RxmlError;
}

/**
 * A sink's event: `type` e.g. `delivered` (`count` records written to the output `topic`),
 * `dead-letter` (`count` records of error `code` written to the dead-letter `topic`),
 * `produce-error` (a failed produce call that is retried), `failed` (the sink failed the stream),
 * `fenced` (a transactional producer was fenced).
 */
export interface SinkMessage {
  readonly sink: string;
  readonly type: string;
  readonly topic?: string;
  readonly count?: number;
  readonly bytes?: number;
  readonly durationMs?: number;
  /** Error code of the records concerned (dead letters). */
  readonly code?: RxmlErrorCode;
  readonly error?: RxmlError;
}

export interface RemoteRequestMessage {
  readonly model: string;
  readonly url: string;
  readonly protocol: string;
  readonly transport: string;
  readonly size: number;
  readonly durationMs: number;
  /** 1 for the first try. */
  readonly attempt: number;
  readonly outcome: 'ok' | 'retry' | 'failed' | 'circuit-open';
  readonly error?: RxmlError;
}

export interface CallbackErrorMessage {
  /** Which callback threw, e.g. `onBatch`, `onEvent`, `subscriber:rxml:predict:batch`. */
  readonly callback: string;
  readonly error: unknown;
}

/**
 * A shadow model's event (the `shadow` option of `predict` and the family operators).
 * - `compared`: one record scored by both the main model (`model`/`version`, and `variant` under a
 *   `splitModels` split) and the shadow (`shadowModel`/`shadowVersion`): `agree` and `difference` as
 *   the operator's `compare` says (e.g. Iris: same species, max |Δ probability|), each side's
 *   latency in ms, and the error code of a side that failed (`code`, `shadowCode`; then `agree` is false).
 * - `dropped`: `count` records the shadow did not see because its queue was full (`maxQueued`) or
 *   still held at the end of the stream — published every 100 drops and when the operator ends.
 * - `failed`: the shadow stopped (its model source failed, `error`); the main path goes on.
 */
export interface ShadowComparisonMessage {
  readonly type: 'compared' | 'dropped' | 'failed';
  /** Main model that answered (`compared`; absent when the main side failed before a model ran). */
  readonly model?: string;
  readonly version?: string;
  /** The `splitModels` variant that answered on the main side. */
  readonly variant?: string;
  /** The shadow model (its latest known identity for `dropped` / `failed`). */
  readonly shadowModel?: string;
  readonly shadowVersion?: string;
  /** `compared`: both sides succeeded and `compare` says they agree. */
  readonly agree?: boolean;
  /** `compared`: `compare`'s value difference (e.g. max |Δ| of the outputs), when both succeeded. */
  readonly difference?: number;
  /** Main side: time from the record entering the operator to its result, ms. */
  readonly latencyMs?: number;
  /** Shadow side: time from the hand-off to the shadow to its result, ms. */
  readonly shadowLatencyMs?: number;
  /** Error code of a failed main / shadow side. */
  readonly code?: RxmlErrorCode;
  readonly shadowCode?: RxmlErrorCode;
  /** `dropped`: records not compared since the previous `dropped` message of this operator. */
  readonly count?: number;
  /** `failed`: why the shadow stopped. */
  readonly error?: RxmlError;
}

export interface ChannelMessages {
  'rxml:predict:batch': PredictBatchMessage;
  'rxml:predict:result': PredictResultMessage;
  'rxml:model:load': ModelLoadMessage;
  'rxml:model:lifecycle': ModelLifecycleMessage;
  'rxml:source': SourceMessage;
  'rxml:sink': SinkMessage;
  'rxml:remote:request': RemoteRequestMessage;
  'rxml:callback:error': CallbackErrorMessage;
  'rxml:shadow:comparison': ShadowComparisonMessage;
}

const channels = new Map<string, diagnosticsChannel.Channel>();
function channelOf(name: ChannelName): diagnosticsChannel.Channel {
  let channel = channels.get(name);
  if (channel === undefined) {
    channel = diagnosticsChannel.channel(name);
    channels.set(name, channel);
  }
  return channel;
}

/** True when someone listens on `name`: build a payload only then. */
export function hasSubscribers(name: ChannelName): boolean {
  return channelOf(name).hasSubscribers;
}

/** Publishes `message` on `name` (a no-op without subscribers). Never throws. */
export function publish<N extends ChannelName>(name: N, message: ChannelMessages[N] | (() => ChannelMessages[N])): void {
  const channel = channelOf(name);
  if (!channel.hasSubscribers) return;
  channel.publish(typeof message === 'function' ? message() : message);
}

const warned = new Set<string>();
/**
 * True while a callback's error is being published on `rxml:callback:error`: a subscriber of that
 * channel that throws is then warned about, not published again (each report would call it again,
 * recursing until the stack overflows — seconds of a blocked event loop per error).
 */
let reportingCallbackError = false;

/**
 * Wraps a user callback so that a throw (or a rejected promise it returns) is reported on
 * `rxml:callback:error`, warned about once per `label` on stderr, and otherwise ignored: a callback
 * can never change a record's fate or hang a stream. The callback is never awaited.
 */
export function guardCallback<A extends unknown[]>(label: string, callback: ((...args: A) => unknown) | undefined): (...args: A) => void {
  if (callback === undefined) return () => {};
  const report = (error: unknown): void => {
    if (!reportingCallbackError) {
      reportingCallbackError = true;
      try {
        publish(CHANNELS.callbackError, { callback: label, error });
      } catch {
        // a throwing raw (unguarded) subscriber of the error channel is itself ignored
      } finally {
        reportingCallbackError = false;
      }
    }
    if (!warned.has(label)) {
      warned.add(label);
      const detail = error instanceof Error ? error.message : String(error);
      process.emitWarning(`rxml: callback ${label} threw and was ignored (reported once per callback kind): ${detail}`, { code: 'RXML_CALLBACK_ERROR' });
    }
  };
  return (...args: A): void => {
    try {
      const returned = callback(...args);
      if (typeof (returned as { then?: unknown } | null)?.then === 'function') (returned as PromiseLike<unknown>).then(undefined, report);
    } catch (error) {
      report(error);
    }
  };
}

/**
 * Subscribes `handler` to `name`, guarded like {@link guardCallback} (a throwing subscriber would
 * otherwise become an uncaught exception: that is how `diagnostics_channel` reports one). A throwing
 * subscriber of `rxml:callback:error` itself is warned about once and not reported on that channel
 * (which would call it again). Returns the function that unsubscribes.
 */
export function subscribe<N extends ChannelName>(name: N, handler: (message: ChannelMessages[N]) => void): () => void {
  const guarded = guardCallback(`subscriber:${name}`, handler);
  const listener = (message: unknown): void => guarded(message as ChannelMessages[N]);
  diagnosticsChannel.subscribe(name, listener);
  return () => {
    diagnosticsChannel.unsubscribe(name, listener);
  };
}
