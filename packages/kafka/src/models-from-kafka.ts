import { createHash, randomUUID } from 'node:crypto';
import { CHANNELS, ModelVersions, UNKNOWN_MODEL, modelIdentityProblem, RxmlError, invalidConfig, publish, toRxmlError, type Model, type ModelCandidate, type ModelSourceEventOptions } from '@rxml/core/contract';
import { Observable } from 'rxjs';
import type { FetchedMessage, TopicReaderClient } from './internal/client.js';
import { kafkajsTopicReader } from './internal/kafkajs-client.js';
import { DEFAULT_MAX_DECOMPRESSED_BATCH_BYTES } from './internal/codecs.js';
import { MODEL_HEADERS, headerText } from './models-topic.js';
import type { KafkaConnectionOptions } from './options.js';

/** `maxArtifactBytes` default: 256 MiB. */
const DEFAULT_MAX_ARTIFACT_BYTES = 256 * 1024 * 1024;

/** What `modelsFromKafka` hands its `load` option with the verified artifact bytes. */
export interface ModelRecordInfo {
  /** The model name (the record key). */
  readonly name: string;
  /** The record's `rxml-model-version` header. */
  readonly version: string;
  /** The verified SHA-256 of the bytes, hex. */
  readonly sha256: string;
  /** Where the record is: `topic`, `partition`, `offset`. */
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
}

export interface ModelsFromKafkaOptions extends KafkaConnectionOptions, ModelSourceEventOptions {
  /** The models topic (create it compacted: `createModelsTopic`). */
  readonly topic: string;
  /** The model to follow: records whose key is this name; records of other models are skipped. */
  readonly name: string;
  /**
   * Opens verified artifact bytes. Default: `loadModelBytes(bytes, { name, version })` from
   * `@rxml/core/runtime` (the single-file tfjs form, `saveModelBytes`). For Keras or ONNX pass their
   * loader, e.g. `(bytes, { name, version }) => loadOnnxModel(bytes, { name })`. A rejection
   * becomes a `refused` event.
   */
  readonly load?: (bytes: Uint8Array, info: ModelRecordInfo) => Promise<Model>;
  /**
   * Largest artifact accepted, bytes, inline or downloaded (a larger one is refused). Default 256 MiB.
   * A compressed batch of the models topic may inflate to this + 1 MiB (at least 10 MiB); a bigger
   * one is not inflated and becomes a `refused` event naming its offsets.
   */
  readonly maxArtifactBytes?: number;
  /**
   * Which artifact URLs may be downloaded (a record names the URL, so this is a trust decision).
   * Default: any `https:` or `http:` URL. Other schemes (`file:`, …) are always refused, and
   * redirects are not followed (they could leave the allowed URLs).
   */
  readonly allowUrl?: (url: URL) => boolean;
  /** Longest an artifact download may take, ms. Default 60000. */
  readonly downloadTimeoutMs?: number;
  /**
   * Most bytes fetched per partition per request: set it to at least the topic's `max.message.bytes`
   * for speed (Kafka still returns one larger record at a time). Default 8 MiB.
   */
  readonly maxBytesPerPartition?: number;
}

/** @internal the reader factory (tests, other clients). */
export type TopicReaderFactory = (options: ModelsFromKafkaOptions, groupId: string) => TopicReaderClient;

/**
 * A model source reading a compacted Kafka topic of models (the format: `MODEL_HEADERS`). On
 * subscribe it reads every partition from the beginning; once it has reached the end offsets the
 * topic had at that moment ("caught up") it loads the latest record of `name` (if that one is
 * refused, the next older one still in the log, up to 3) and emits it; then it emits each new record
 * of `name` as it arrives. So every replica of a pipeline converges on the same latest version, a
 * restarted one included. No offsets are committed: kafkajs needs a consumer group, so each
 * subscription joins a group of its own (`rxml-models-<uuid>`) and never commits to it.
 *
 * Each record is checked before it is loaded: a `rxml-model-sha256` header is required and must
 * match the artifact's bytes (inline, or downloaded with `fetch` from an allowed http(s) URL with
 * the size bounded while it arrives); at most `maxArtifactBytes`. A record that fails a check or
 * does not load is announced as `refused` on `rxml:model:lifecycle` (and `onModelEvent`) with the
 * reason, and the stream goes on (the operator keeps its current model). A tombstone (null value)
 * is ignored. Cold: each subscription reads and loads on its own and owns the models it receives.
 *
 * The observable errors with `KAFKA_ERROR` only when the reader fails for good (brokers
 * unreachable after kafkajs' retries, the topic missing for 60 s).
 *
 * @throws RxmlError `INVALID_CONFIG` at call time for a missing `topic` or `name`, or a
 *   non-positive size or time.
 *
 * @example
 * const iris = modelsFromKafka({ topic: 'models', name: 'iris' });
 * fromKafka({ topic: 'flowers', groupId: 'iris' }).pipe(predictIris(iris, { select: (r) => r.value }), toKafka({ topic: 'species' }));
 */
export function modelsFromKafka(options: ModelsFromKafkaOptions): Observable<Model> {
  // A compressed batch may inflate to as much as an inline artifact may be, plus its records' framing.
  const maxDecompressedBatchBytes = Math.max(DEFAULT_MAX_DECOMPRESSED_BATCH_BYTES, (options.maxArtifactBytes ?? DEFAULT_MAX_ARTIFACT_BYTES) + 1024 * 1024);
  return modelsFromKafkaWith(options, (o, groupId) => kafkajsTopicReader(o, { topic: o.topic, groupId, maxBytesPerPartition: o.maxBytesPerPartition ?? 8 * 1024 * 1024, maxDecompressedBatchBytes }));
}

const CATCH_UP_FALLBACKS = 3;

/** @internal `modelsFromKafka` on a given reader client. */
export function modelsFromKafkaWith(options: ModelsFromKafkaOptions, createReader: TopicReaderFactory): Observable<Model> {
  if (typeof options.topic !== 'string' || options.topic === '') throw invalidConfig('modelsFromKafka', 'topic', 'a topic name', options.topic);
  if (typeof options.name !== 'string' || options.name === '') throw invalidConfig('modelsFromKafka', 'name', 'the model name (the record key)', options.name);
  const nameProblem = modelIdentityProblem('name', options.name);
  if (nameProblem !== undefined) throw new RxmlError('INVALID_CONFIG', `modelsFromKafka: ${nameProblem} (MAX_MODEL_ID_BYTES)`);
  const maxArtifactBytes = options.maxArtifactBytes ?? DEFAULT_MAX_ARTIFACT_BYTES;
  const downloadTimeoutMs = options.downloadTimeoutMs ?? 60_000;
  if (!(maxArtifactBytes > 0)) throw invalidConfig('modelsFromKafka', 'maxArtifactBytes', 'a positive number of bytes', maxArtifactBytes);
  if (!(downloadTimeoutMs > 0)) throw invalidConfig('modelsFromKafka', 'downloadTimeoutMs', 'a positive number of milliseconds', downloadTimeoutMs);
  const { topic, name } = options;
  const allowUrl = options.allowUrl ?? (() => true);
  const load = options.load ?? defaultLoad;

  return new Observable<Model>((subscriber) => {
    const versions = new ModelVersions(subscriber, name, `modelsFromKafka ${topic}`, options);
    const stop = new AbortController();
    const reader = createReader(options, `rxml-models-${randomUUID()}`);
    /** Partitions not yet read up to the end offset they had at start. */
    let behind: Map<number, bigint> | undefined;
    /** Records of `name` seen while catching up, oldest first (the last few). */
    const backlog: FetchedMessage[] = [];
    const where = new Map<FetchedMessage, number>();

    const candidate = (message: FetchedMessage, partition: number): ModelCandidate | undefined => {
      const version = headerText(message.headers, MODEL_HEADERS.version) ?? '';
      const sha256 = (headerText(message.headers, MODEL_HEADERS.sha256) ?? '').toLowerCase();
      const location = headerText(message.headers, MODEL_HEADERS.location) ?? 'inline';
      const at = `${topic}[${partition}]@${message.offset}`;
      const refuse = (reason: string): undefined => {
        versions.refuse(version === '' ? UNKNOWN_MODEL : version, new RxmlError('MODEL_LOAD_ERROR', `model record ${at}: ${reason}`));
        return undefined;
      };
      if (version === '') return refuse(`no ${MODEL_HEADERS.version} header`);
      const versionProblem = modelIdentityProblem('version', version);
      if (versionProblem !== undefined) {
        versions.refuse(UNKNOWN_MODEL, new RxmlError('MODEL_LOAD_ERROR', `model record ${at}: ${versionProblem} (header ${MODEL_HEADERS.version})`));
        return undefined;
      }
      if (!/^[0-9a-f]{64}$/.test(sha256)) return refuse(`the ${MODEL_HEADERS.sha256} header must be 64 hex digits (the artifact's SHA-256)`);
      if (location !== 'inline' && location !== 'url') return refuse(`${MODEL_HEADERS.location} is '${location}', expected inline or url`);
      const value = message.value!;
      const info: ModelRecordInfo = { name, version, sha256, topic, partition, offset: message.offset };
      return {
        key: `${sha256}/${version}`,
        version,
        load: async () => {
          const bytes = location === 'inline' ? artifactInline(value, maxArtifactBytes, at) : await download(value.toString('utf8'), at, { allowUrl, maxArtifactBytes, downloadTimeoutMs, signal: stop.signal });
          const actual = createHash('sha256').update(bytes).digest('hex');
          if (actual !== sha256) throw new RxmlError('MODEL_LOAD_ERROR', `model record ${at}: SHA-256 mismatch: the header says ${sha256}, the ${bytes.byteLength} artifact bytes hash to ${actual}`);
          return load(bytes, info);
        },
      };
    };

    const onBatch = (batch: { partition: number; messages: readonly FetchedMessage[]; lastOffset?: string }): void => {
      if (stop.signal.aborted) return;
      for (const message of batch.messages) {
        const skipped = message.skippedBatch;
        if (skipped !== undefined) {
          // Not inflated (over maxArtifactBytes + 1 MiB once inflated): it may hold a version of this model.
          const error = new RxmlError(
            'LIMIT_EXCEEDED',
            `model records ${topic}[${batch.partition}]@${skipped.firstOffset}..${skipped.lastOffset}: a ${skipped.codec} batch of ${skipped.records} records inflating to more than ${skipped.limit} bytes (option maxArtifactBytes): not read`,
          );
          versions.refuse(UNKNOWN_MODEL, error);
          continue;
        }
        if (message.key?.toString('utf8') !== name || message.value === null) continue;
        if (behind !== undefined) {
          backlog.push(message);
          where.set(message, batch.partition);
          if (backlog.length > CATCH_UP_FALLBACKS) where.delete(backlog.shift()!);
          continue;
        }
        versions.available(`a record of model '${name}' arrived at ${topic}[${batch.partition}]@${message.offset}`);
        const c = candidate(message, batch.partition);
        if (c !== undefined && !versions.seen(c.key)) versions.offer([c]);
      }
      if (behind === undefined) return;
      const last = batch.lastOffset ?? batch.messages[batch.messages.length - 1]?.offset;
      const end = behind.get(batch.partition);
      if (last !== undefined && end !== undefined && BigInt(last) + 1n >= end) behind.delete(batch.partition);
      if (behind.size === 0) caughtUp();
    };

    const caughtUp = (): void => {
      behind = undefined;
      publish(CHANNELS.source, { source: 'modelsFromKafka', type: 'caught-up', topic, count: backlog.length });
      const newestFirst = backlog.reverse().flatMap((m) => candidate(m, where.get(m)!) ?? []);
      if (backlog.length === 0) versions.nothingYet(`topic ${topic} holds no record of model '${name}' yet; waiting for one`);
      backlog.length = 0;
      where.clear();
      versions.offer(newestFirst);
    };

    const running = (async () => {
      try {
        const ranges = await reader.offsets({
          signal: stop.signal,
          missing: () => versions.nothingYet(`topic ${topic} does not exist yet; waiting up to 60 s for it (createModelsTopic)`),
        });
        versions.available(`topic ${topic} exists`);
        behind = new Map(ranges.filter((r) => r.high > r.low).map((r) => [r.partition, r.high]));
        if (behind.size === 0) caughtUp();
        await reader.start({
          onBatch,
          onCrash: (error, restarting) => {
            if (restarting || stop.signal.aborted) return;
            subscriber.error(toRxmlError(error, 'KAFKA_ERROR', `modelsFromKafka: cannot read ${topic}`));
          },
        });
      } catch (error) {
        if (!stop.signal.aborted) subscriber.error(toRxmlError(error, 'KAFKA_ERROR', `modelsFromKafka: cannot read ${topic}`));
      }
    })();

    return () => {
      stop.abort();
      versions.close();
      // Stopped once started (a stop during the connection would leave the consumer running).
      void running.finally(() => reader.stop().catch(() => {}));
    };
  });
}

async function defaultLoad(bytes: Uint8Array, info: ModelRecordInfo): Promise<Model> {
  // Loaded on first use: an app that never reads models from Kafka does not load tfjs through @rxml/kafka.
  const { loadModelBytes } = await import('@rxml/core/runtime');
  return loadModelBytes(bytes, { name: info.name, version: info.version });
}

function artifactInline(value: Buffer, max: number, at: string): Uint8Array {
  if (value.byteLength > max) throw new RxmlError('LIMIT_EXCEEDED', `model record ${at}: the artifact is ${value.byteLength} bytes, over the limit of ${max} bytes (option maxArtifactBytes)`);
  return value;
}

interface DownloadLimits {
  readonly allowUrl: (url: URL) => boolean;
  readonly maxArtifactBytes: number;
  readonly downloadTimeoutMs: number;
  readonly signal: AbortSignal;
}

/** Downloads a referenced artifact: http(s) and allowed only, size bounded while it arrives. */
async function download(text: string, at: string, limits: DownloadLimits): Promise<Uint8Array> {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    throw new RxmlError('MODEL_LOAD_ERROR', `model record ${at}: the value is not a URL (${JSON.stringify(text.slice(0, 80))})`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new RxmlError('MODEL_LOAD_ERROR', `model record ${at}: ${url.protocol} URLs are not downloaded (only http: and https:)`);
  if (!limits.allowUrl(url)) throw new RxmlError('MODEL_LOAD_ERROR', `model record ${at}: ${url.href} is not allowed (option allowUrl)`);
  const signal = AbortSignal.any([limits.signal, AbortSignal.timeout(limits.downloadTimeoutMs)]);
  let response: Response;
  try {
    response = await fetch(url, { signal, redirect: 'error' });
  } catch (cause) {
    throw new RxmlError('MODEL_LOAD_ERROR', `model record ${at}: GET ${url.href}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause, retriable: true });
  }
  if (!response.ok) {
    await response.body?.cancel().catch(() => {});
    throw new RxmlError('MODEL_LOAD_ERROR', `model record ${at}: GET ${url.href}: HTTP ${response.status}`);
  }
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  const tooBig = (size: number): RxmlError => new RxmlError('LIMIT_EXCEEDED', `model record ${at}: ${url.href} is ${size} bytes or more, over the limit of ${limits.maxArtifactBytes} bytes (option maxArtifactBytes)`);
  if (Number.isFinite(declared) && declared > limits.maxArtifactBytes) {
    await response.body?.cancel().catch(() => {});
    throw tooBig(declared);
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  if (response.body !== null) {
    for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
      total += chunk.byteLength;
      if (total > limits.maxArtifactBytes) throw tooBig(total);
      chunks.push(chunk);
    }
  }
  return Buffer.concat(chunks, total);
}
