import { authorizationFailure, describeClientError, permanentConnectionFailure } from './connection-errors.js';
import { CHANNELS, hasSubscribers, publish, RxmlError, withInputError, type KafkaOffset } from '@rxml/core/contract';
import type { Subscriber } from 'rxjs';
import { isContextFree, type DeserializeContext, type Deserializer } from '../deserialize.js';
import type { KafkaRecord } from '../record.js';
import type { ConsumerClient, FetchedBatch, FetchedMessage, PartitionOffset, RawHeaders, TopicIdentityClient, TopicPartition } from './client.js';
import type { SkippedBatch } from './codecs.js';
import { OffsetTracker, type TrackedOffset } from './offset-tracker.js';
import { createSession, SOURCE_SEQ, SOURCE_SESSION, type CommitTaker, type IsolationLevel, type SourceSession, type TopicCheck } from './partition-session.js';
import { compareTopicIds, readTopicIds } from './topic-identity.js';

/** What the source reports as it runs (for logs and metrics). */
export type KafkaSourceEvent =
  | { readonly type: 'assigned'; readonly partitions: readonly TopicPartition[] }
  | { readonly type: 'revoked'; readonly partitions: readonly TopicPartition[] }
  | { readonly type: 'rebalancing' }
  | { readonly type: 'paused'; readonly inFlight: number; readonly inFlightBytes: number }
  | { readonly type: 'resumed'; readonly inFlight: number; readonly inFlightBytes: number }
  | { readonly type: 'committed'; readonly offsets: readonly PartitionOffset[] }
  | { readonly type: 'commit-failed'; readonly error: unknown }
  | { readonly type: 'crashed'; readonly error: unknown; readonly restarting: boolean }
  | {
      /**
       * A partition's log changed under the consumer (the topic was deleted and created again,
       * truncated, or retention deleted unread records): every record from `to` on is processed;
       * `from` is where the consumer was (next offset it expected).
       */
      readonly type: 'offset-reset';
      readonly topic: string;
      readonly partition: number;
      readonly from: KafkaOffset | undefined;
      readonly to: KafkaOffset;
      /**
       * How it was seen: `out-of-range` (the client's fetch position was out of the log's range:
       * OFFSET_OUT_OF_RANGE), `below-committed` (a fetched offset below the committed position),
       * `topic-recreated` (the topic's ID changed: checked before every commit, at assignments and
       * every `topicIdCheckIntervalMs`; the partition is read again from its earliest offset).
       */
      readonly reason: OffsetResetReason;
      /** With `topic-recreated`: the topic ID the consumer had read from, and the new one (KIP-516 UUIDs). */
      readonly previousTopicId?: string;
      readonly topicId?: string;
    }
  | {
      /**
       * The topic IDs of `topics` could not be read before a commit (broker unreachable past the
       * check's bounded time): their offsets were not committed this round and are committed
       * later. Nothing is lost; a crash now redoes more records.
       */
      readonly type: 'topic-id-check-failed';
      readonly topics: readonly string[];
      readonly error: unknown;
    }
  | {
      /** Per partition, at every commit and every `lagIntervalMs`: `endOffset` − `committed`. */
      readonly type: 'lag';
      readonly topic: string;
      readonly partition: number;
      readonly endOffset: KafkaOffset;
      readonly committed: KafkaOffset;
      readonly lag: number;
    }
  | {
      /**
       * A compressed record batch would inflate past `maxDecompressedBatchBytes`: it was not
       * inflated, and one `LIMIT_EXCEEDED` error record (offset `lastOffset`, also in `error`)
       * stands for its records `firstOffset`..`lastOffset` (dead-lettered by the sink).
       */
      readonly type: 'batch-skipped';
      readonly topic: string;
      readonly partition: number;
      readonly firstOffset: string;
      readonly lastOffset: string;
      /** Records its header says it holds. */
      readonly records: number;
      readonly codec: SkippedBatch['codec'];
      readonly compressedBytes: number;
      /** At least this many bytes once inflated (see `SkippedBatch`). */
      readonly decompressedBytes: number;
      readonly limit: number;
      readonly error: RxmlError;
    }
  | { readonly type: 'closed'; readonly inFlight: number; readonly drained: boolean };

/** How an offset reset was seen (see the `offset-reset` event). */
export type OffsetResetReason = 'out-of-range' | 'below-committed' | 'topic-recreated';

/** Longest a commit round waits for the topic IDs (retrying), ms; then the round is skipped. */
export const TOPIC_ID_CHECK_TIMEOUT_MS = 5_000;

export interface KafkaSourceSettings<V> {
  /** Most records emitted but not completed (Infinity: no count cap). */
  readonly maxInFlight: number;
  /** Most bytes (see `recordBytes`) emitted but not completed. */
  readonly maxInFlightBytes: number;
  readonly deserialize: Deserializer<V>;
  readonly maxMessageBytes: number;
  readonly commitIntervalMs: number;
  readonly drainTimeoutMs: number;
  readonly describe: string;
  /** The consumer group, for the `rxml:source` channel. */
  readonly group: string;
  /** How often lag is reported besides at commits, ms. Default 5000. */
  readonly lagIntervalMs?: number;
  readonly signal: AbortSignal | undefined;
  readonly onEvent: ((event: KafkaSourceEvent) => void) | undefined;
  /** For the exactly-once sink (partition sessions). */
  readonly isolationLevel?: IsolationLevel;
  /** Reads topic IDs; without it no topic-ID checks are made. */
  readonly topicIdentity?: TopicIdentityClient | undefined;
  /** How often the topic IDs are checked besides before commits, ms; 0: only before commits and at assignments. Default 5000. */
  readonly topicIdCheckIntervalMs?: number;
}

const NO_HEADERS: RawHeaders = Object.freeze({});
/** What the built-in deserializers get as context (they never read it). */
const NO_CONTEXT: DeserializeContext = Object.freeze({ topic: '', partition: -1, offset: '', headers: NO_HEADERS });

/**
 * What one record in flight costs beyond its key and value bytes: the fetched message, the
 * `KafkaRecord`, the deserialized value, the predict result and the output message with its
 * headers and `Delivered` (measured: the README Iris pipeline holding 110,000 records whose sends
 * never complete grew the heap by 1.2–1.3 KB per record, the values' bytes not included).
 */
export const RECORD_OVERHEAD_BYTES = 1024;

/**
 * A record as the source emits it: every field an own, enumerable property, `complete` included
 * (a closure: it may be called detached), as in an object literal — a class only so that each
 * record is built with one fixed shape (a literal with symbol keys is built property by property).
 */
class EmittedRecord<V> implements KafkaRecord<V> {
  declare readonly [SOURCE_SESSION]: SourceSession;
  declare readonly [SOURCE_SEQ]: number;
  declare readonly topic: string;
  declare readonly partition: number;
  declare readonly offset: string;
  declare readonly key: Buffer | null;
  declare readonly value: V;
  declare readonly rawValue: Buffer | null;
  declare readonly headers: RawHeaders;
  declare readonly timestamp: number;
  declare readonly complete: () => void;

  constructor(session: SourceSession, seq: number, topic: string, partition: number, message: FetchedMessage, value: V, headers: RawHeaders, timestamp: number, complete: () => void) {
    this[SOURCE_SESSION] = session;
    this[SOURCE_SEQ] = seq;
    this.topic = topic;
    this.partition = partition;
    this.offset = message.offset;
    this.key = message.key;
    this.value = value;
    this.rawValue = message.value;
    this.headers = headers;
    this.timestamp = timestamp;
    this.complete = complete;
  }
}

/** Bytes a record counts against `maxInFlightBytes`. */
export function recordBytes(message: FetchedMessage): number {
  return RECORD_OVERHEAD_BYTES + (message.value?.length ?? 0) + (message.key?.length ?? 0);
}

const keyOf = (topic: string, partition: number): string => `${partition}\u0000${topic}`;

/** The error of a compressed batch that was not inflated, naming its partition, offsets, codec and sizes. */
function skippedBatchError(topic: string, partition: number, b: SkippedBatch): RxmlError {
  const inflated = b.codec === 'lz4' ? `can inflate to up to ${b.decompressedBytes} bytes (from its frame's block sizes)` : b.codec === 'snappy' ? `declares ${b.decompressedBytes} bytes inflated` : `inflates to more than ${b.limit} bytes`;
  return new RxmlError(
    'LIMIT_EXCEEDED',
    `record batch ${topic}[${partition}]@${b.firstOffset}..${b.lastOffset} (${b.records} records, ${b.codec}, ${b.compressedBytes} bytes compressed) ${inflated}, over maxDecompressedBatchBytes ${b.limit}: not inflated, its records skipped`,
  );
}

/** Headers of the stand-in record of a skipped batch (copied into its dead letter). */
function skippedBatchHeaders(b: SkippedBatch): RawHeaders {
  return {
    'rxml-batch-first-offset': Buffer.from(b.firstOffset),
    'rxml-batch-last-offset': Buffer.from(b.lastOffset),
    'rxml-batch-records': Buffer.from(String(b.records)),
    'rxml-batch-codec': Buffer.from(b.codec),
    'rxml-batch-compressed-bytes': Buffer.from(String(b.compressedBytes)),
    'rxml-batch-decompressed-bytes': Buffer.from(String(b.decompressedBytes)),
  };
}

/** A source whose subscriber is gone waits for in-flight sends only while one completes at least this often, ms. */
const UNSUBSCRIBED_DRAIN_IDLE_MS = 1_000;

/** Longest a failing source waits for in-flight records and its last commit, ms (bounded by `drainTimeoutMs`). */
const FAIL_COMMIT_TIMEOUT_MS = 10_000;

/**
 * One subscription of `fromKafka`: hands fetched records to the subscriber, counts the ones not yet
 * completed (pausing the consumer at `maxInFlightBytes` or `maxInFlight`), commits each partition's completed prefix, and
 * follows the group's assignments so nothing is emitted or committed for a partition it lost.
 */
export class KafkaSource<V> {
  private readonly trackers = new Map<string, OffsetTracker>();
  private inFlight = 0;
  private inFlightBytes = 0;
  private paused = false;
  private rebalancing = true;
  private memberId: string | undefined;
  private state: 'starting' | 'running' | 'closing' | 'failing' | 'closed' = 'starting';
  /** Partitions whose fetch position the client reset; their next batch starts a new tracker. */
  private readonly resets = new Set<string>();
  private lagTimer: NodeJS.Timeout | undefined;
  private started: Promise<void> = Promise.resolve();
  private commitTimer: NodeJS.Timeout | undefined;
  private committing: Promise<void> | undefined;
  private commitAgain = false;
  private lastCompletionAt = Date.now();
  private startedOk = false;
  private drainWaiter: (() => void) | undefined;
  /**
   * While draining: stop waiting once no in-flight record completed for this long, ms. Unset on an
   * abort (the subscriber may still settle every record); set when the subscriber is gone, since
   * then only sends already under way can still complete.
   */
  private drainIdleMs: number | undefined;
  private readonly lowWater: number;
  /** Per assigned partition: the session the exactly-once sink sees on each record. */
  private readonly sessions = new WeakMap<OffsetTracker, SourceSession>();
  /** Set by an exactly-once sink: offsets are committed in its transactions, never by the source. */
  private commitsHandedOver = false;
  /** The exactly-once sink that commits instead of the source, once it took over. */
  private commitTaker: CommitTaker | undefined;
  private readonly lowWaterBytes: number;
  private readonly onAbort = (): void => void this.close('drain');
  private lastTimestampText = '';
  private lastTimestamp = 0;
  /** The deserializer is a built-in one, which never reads its context. */
  private readonly contextFree: boolean;
  /** Per topic: the ID of the log this member reads and commits for (recorded at assignment). */
  private readonly topicIds = new Map<string, string>();
  /** Topics being reset after their ID changed: the reset, once done. */
  private readonly recreating = new Map<string, Promise<void>>();
  private topicIdTimer: NodeJS.Timeout | undefined;
  private timedCheck: Promise<unknown> | undefined;

  constructor(
    private readonly client: ConsumerClient,
    private readonly subscriber: Subscriber<KafkaRecord<V>>,
    private readonly settings: KafkaSourceSettings<V>,
  ) {
    // Resume early: kafkajs sleeps `maxWaitTimeInMs` while every partition is paused, and the records
    // still in flight must cover that sleep or the model starves.
    this.lowWater = Math.floor(settings.maxInFlight * 0.75);
    this.lowWaterBytes = Math.floor(settings.maxInFlightBytes * 0.75);
    this.contextFree = isContextFree(settings.deserialize);
  }

  start(): void {
    if (this.settings.signal?.aborted === true) {
      this.state = 'closed';
      this.subscriber.complete();
      return;
    }
    this.settings.signal?.addEventListener('abort', this.onAbort, { once: true });
    this.started = this.client
      .start({
        onBatch: (batch) => this.onBatch(batch),
        onRebalancing: () => this.onRebalancing(),
        onAssigned: (assignment, memberId) => this.onAssigned(assignment, memberId),
        onCrash: (error, restarting) => this.onCrash(error, restarting),
        onOffsetReset: (tp) => {
          this.resets.add(keyOf(tp.topic, tp.partition));
          // Out of range: maybe the topic was created again (then its earliest offset is committed, see topicRecreated).
          void this.checkTopics([tp.topic], TOPIC_ID_CHECK_TIMEOUT_MS);
        },
      })
      .then(() => {
        this.startedOk = true;
        if (this.state === 'starting') this.state = 'running';
        // Closed while it started (see close): no timers for a source that is gone.
        if (this.state === 'closed') return;
        this.lagTimer = setInterval(() => this.reportLag(this.trackers.values(), true), this.settings.lagIntervalMs ?? 5_000);
        this.lagTimer.unref();
        const every = this.settings.topicIdCheckIntervalMs ?? 5_000;
        if (this.settings.topicIdentity !== undefined && every > 0) {
          this.topicIdTimer = setInterval(() => {
            if (this.timedCheck !== undefined || this.state !== 'running' || this.rebalancing) return;
            const topics = [...new Set([...this.trackers.values()].map((t) => t.topic))];
            this.timedCheck = this.checkTopics(topics, TOPIC_ID_CHECK_TIMEOUT_MS).finally(() => {
              this.timedCheck = undefined;
            });
          }, every);
          this.topicIdTimer.unref();
        }
      });
    this.started.catch((error: unknown) => {
      const detail = describeClientError(error);
      // Refused credentials, certificates and ACLs are refused again on every try.
      const retriable = permanentConnectionFailure(error) === undefined && authorizationFailure(error) === undefined;
      void this.fail(new RxmlError('KAFKA_ERROR', `cannot consume ${this.settings.describe}: ${detail}`, { cause: error, retriable }), 'none');
    });
  }

  /** Teardown on unsubscribe: stop fetching, let in-flight sends finish briefly, commit, disconnect. */
  teardown(): void {
    void this.close('unsubscribe');
  }

  private onBatch(batch: FetchedBatch): number {
    if (this.state !== 'running' || this.rebalancing) return 0;
    const key = keyOf(batch.topic, batch.partition);
    let tracker = this.trackers.get(key);
    if (tracker === undefined) return 0;
    if (batch.highWatermark !== undefined) tracker.highWatermark = Number(batch.highWatermark);
    const first = batch.messages[0];
    const firstOffset = first === undefined ? undefined : Number(first.offset);
    const outOfRange = this.resets.delete(key);
    if (outOfRange || (firstOffset !== undefined && tracker.next !== undefined && firstOffset < tracker.next && !tracker.isRefetch(firstOffset))) {
      tracker = this.restartTracker(tracker, first?.offset ?? batch.lastOffset, outOfRange ? 'out-of-range' : 'below-committed');
    }
    let taken = 0;
    let emitted = 0;
    const { maxInFlight, maxInFlightBytes } = this.settings;
    // Once per batch, not per record: the partition's session, and the emission time, which only
    // the `rxml:source` channel's `completed` events use (the batch is emitted in one go).
    const session = this.sessionOf(tracker);
    const emittedAt = hasSubscribers(CHANNELS.source) ? performance.now() : undefined;
    for (const message of batch.messages) {
      const offset = Number(message.offset);
      if (tracker.next !== undefined && offset < tracker.next) {
        // Re-fetched after a rebalance that kept this partition: already emitted.
        taken++;
        continue;
      }
      if (this.inFlight >= maxInFlight || this.inFlightBytes >= maxInFlightBytes) break;
      const bytes = recordBytes(message);
      const record = this.record(batch.topic, batch.partition, message, offset, bytes, tracker, session, emittedAt);
      this.inFlight++;
      this.inFlightBytes += bytes;
      taken++;
      emitted++;
      this.subscriber.next(record);
      if (this.state !== 'running') break;
    }
    if (taken === batch.messages.length && this.state === 'running') {
      // Everything handed over: what the client filtered out up to the batch's last offset (markers,
      // aborted records) needs no work, so the committed position may pass it.
      const last = batch.lastOffset ?? batch.messages.at(-1)?.offset;
      if (last !== undefined && tracker.skipTo(Number(last), firstOffset ?? Number(last)) && !tracker.revoked) this.scheduleCommit();
      // Exactly-once: the sink commits, also past filtered records when nothing else is in flight.
      if (this.commitTaker !== undefined && !tracker.revoked) this.commitTaker.advanced(session);
    }
    if (hasSubscribers(CHANNELS.source)) this.publishFetch(batch, tracker, emitted);
    if ((this.inFlight >= maxInFlight || this.inFlightBytes >= maxInFlightBytes) && !this.paused && this.state === 'running') {
      this.paused = true;
      this.client.pause();
      this.settings.onEvent?.({ type: 'paused', inFlight: this.inFlight, inFlightBytes: this.inFlightBytes });
    }
    return taken;
  }

  /** `rxml:source`: the records emitted from this batch, and the partition's lag (end offset − committed). */
  private publishFetch(batch: FetchedBatch, tracker: OffsetTracker, emitted: number): void {
    const { topic, partition } = batch;
    const group = this.settings.group;
    if (emitted > 0) publish(CHANNELS.source, { source: 'kafka', type: 'fetch', group, topic, partition, count: emitted });
    const lag = tracker.lag();
    if (lag === undefined) return;
    publish(CHANNELS.source, { source: 'kafka', type: 'lag', group, topic, partition, lag, offset: String(tracker.committed ?? tracker.base) });
  }

  /**
   * The partition's log changed under us: records at offsets this assignment already saw are new
   * records. The old tracker is revoked (its in-flight records complete into nothing), a new one
   * starts at the reset position, so every record there is processed and nothing is committed
   * that was not completed.
   */
  private restartTracker(old: OffsetTracker, to: string | undefined, reason: OffsetResetReason, ids?: { readonly from: string; readonly to: string }): OffsetTracker {
    old.revoked = true;
    const fresh = new OffsetTracker(old.topic, old.partition);
    fresh.highWatermark = old.highWatermark;
    this.trackers.set(keyOf(old.topic, old.partition), fresh);
    this.settings.onEvent?.({
      type: 'offset-reset',
      topic: old.topic,
      partition: old.partition,
      from: old.next === undefined ? undefined : String(old.next),
      to: to ?? 'unknown',
      reason,
      ...(ids === undefined ? {} : { previousTopicId: ids.from, topicId: ids.to }),
    });
    return fresh;
  }

  /**
   * Reads the topics' IDs (one Metadata request, retried until `timeoutMs`) and compares them with
   * the recorded ones: a topic seen for the first time has its ID recorded; a changed one is reset
   * (see {@link topicRecreated}) before this resolves. Undefined when the IDs could not be read
   * (a `topic-id-check-failed` event). Without a topic-identity client every topic is `same`.
   */
  private async checkTopics(topics: readonly string[], timeoutMs: number): Promise<ReadonlyMap<string, TopicCheck> | undefined> {
    const identity = this.settings.topicIdentity;
    const checks = new Map<string, TopicCheck>();
    if (identity === undefined || topics.length === 0) {
      for (const topic of topics) checks.set(topic, 'same');
      return checks;
    }
    let current: ReadonlyMap<string, string | undefined>;
    try {
      current = await readTopicIds(identity, topics, Date.now() + timeoutMs);
    } catch (error) {
      if (this.state !== 'closed') this.settings.onEvent?.({ type: 'topic-id-check-failed', topics, error });
      return undefined;
    }
    const resets: Promise<void>[] = [];
    for (const [topic, verdict] of compareTopicIds(this.topicIds, current, topics)) {
      if (verdict.status === 'new') {
        this.topicIds.set(topic, verdict.id);
        checks.set(topic, 'same');
      } else if (verdict.status === 'changed') {
        resets.push(this.topicRecreated(topic, verdict.from, verdict.to));
        checks.set(topic, 'changed');
      } else {
        checks.set(topic, verdict.status);
      }
    }
    await Promise.all(resets);
    return checks;
  }

  /**
   * Of trackers with offsets to commit, those whose topic is still the log they read (one topic-ID
   * check): a topic whose ID changed is reset instead, a missing one (deleted, not created again
   * yet) waits — `held` says some did. Undefined when the metadata could not be read (the caller
   * skips the whole round). Nothing to commit: no request.
   */
  private async checkedForCommit(dirty: readonly OffsetTracker[], timeoutMs: number): Promise<{ readonly ready: OffsetTracker[]; readonly held: boolean } | undefined> {
    if (dirty.length === 0) return { ready: [], held: false };
    const checks = await this.checkTopics([...new Set(dirty.map((t) => t.topic))], timeoutMs);
    if (checks === undefined) return undefined;
    return { ready: dirty.filter((t) => !t.revoked && t.dirty() && checks.get(t.topic) === 'same'), held: [...checks.values()].some((c) => c !== 'same') };
  }

  /**
   * `topic` was deleted and created again (its ID changed): every record of the new log is new. For
   * each partition of it this member owns: commit its earliest offset (so a restart also reads the
   * new log from its start, not from a position of the old log), restart its tracker (an
   * `offset-reset` event, reason `topic-recreated`; old records in flight complete into nothing)
   * and move the fetch position there. The new ID is recorded once that is done.
   */
  private topicRecreated(topic: string, from: string, to: string): Promise<void> {
    const pending = this.recreating.get(topic);
    if (pending !== undefined) return pending;
    const reset = (async () => {
      const owned = (): OffsetTracker[] => [...this.trackers.values()].filter((t) => t.topic === topic && !t.revoked);
      const partitions = owned().map((t) => t.partition);
      let earliest: ReadonlyMap<number, string> | undefined;
      let committedReset = false;
      if (partitions.length > 0) {
        try {
          earliest = await this.settings.topicIdentity?.earliestOffsets(topic, partitions);
        } catch {
          earliest = undefined; // offset 0 then: a new log starts there unless retention already deleted records
        }
        const offsets = partitions.map((partition) => ({ topic, partition, offset: earliest?.get(partition) ?? '0' }));
        try {
          await this.client.commit(offsets);
          committedReset = true;
        } catch (error) {
          this.settings.onEvent?.({ type: 'commit-failed', error });
        }
      }
      this.topicIds.set(topic, to);
      if (this.state === 'closed' || this.state === 'failing') return;
      for (const old of owned()) {
        const at = earliest?.get(old.partition) ?? '0';
        this.resets.delete(keyOf(topic, old.partition));
        const fresh = this.restartTracker(old, at, 'topic-recreated', { from, to });
        fresh.resetFloor = Number(at);
        // The group may still hold the old log's position (the commit above failed): the next commit
        // round commits the new log's start even before a record completes, so a member that takes
        // the partition over (or this one after a crash) does not start at the old position.
        if (!committedReset) fresh.committable = Number(at);
        this.client.seek?.({ topic, partition: old.partition }, at);
      }
    })().finally(() => this.recreating.delete(topic));
    this.recreating.set(topic, reset);
    return reset;
  }

  /**
   * `lag` events (to `onEvent`; with `channel`, also on `rxml:source`, which otherwise gets lag at
   * fetches and commits) for partitions whose end offset and position are known.
   */
  private reportLag(trackers: Iterable<OffsetTracker>, channel: boolean): void {
    const publishing = channel && hasSubscribers(CHANNELS.source);
    if (this.settings.onEvent === undefined && !publishing) return;
    for (const t of trackers) {
      const lag = t.lag();
      if (lag === undefined || t.revoked) continue;
      const committed = String(t.committed ?? t.base);
      if (publishing) publish(CHANNELS.source, { source: 'kafka', type: 'lag', group: this.settings.group, topic: t.topic, partition: t.partition, lag, offset: committed });
      this.settings.onEvent?.({ type: 'lag', topic: t.topic, partition: t.partition, endOffset: String(t.highWatermark), committed, lag });
    }
  }

  private record(
    topic: string,
    partition: number,
    message: FetchedMessage,
    offset: number,
    bytes: number,
    tracker: OffsetTracker,
    session: SourceSession,
    emittedAt: number | undefined,
  ): KafkaRecord<V> {
    const entry = tracker.track(offset);
    const headers = message.headers ?? NO_HEADERS;
    let value: V | undefined;
    let error: RxmlError | undefined;
    const size = message.value?.length ?? 0;
    const skipped = message.skippedBatch;
    if (skipped !== undefined) {
      error = skippedBatchError(topic, partition, skipped);
      this.settings.onEvent?.({ type: 'batch-skipped', topic, partition, ...skipped, error });
    } else if (size > this.settings.maxMessageBytes) {
      error = new RxmlError('LIMIT_EXCEEDED', `value of ${size} bytes exceeds maxMessageBytes ${this.settings.maxMessageBytes}`);
    } else {
      try {
        // The built-in deserializers ignore the context: no object per record for them.
        value = this.settings.deserialize(message.value, this.contextFree ? NO_CONTEXT : { topic, partition, offset: message.offset, headers });
      } catch (thrown) {
        const detail = thrown instanceof Error ? thrown.message : String(thrown);
        error = new RxmlError('DESERIALIZATION_ERROR', `cannot deserialize ${topic}[${partition}]@${message.offset}: ${detail}`, { cause: thrown });
      }
    }
    // One closure per record (`complete` stays an own property: it may be passed around detached).
    const record = new EmittedRecord<V>(
      session,
      session.emitted++,
      topic,
      partition,
      message,
      value as V,
      skipped === undefined ? headers : skippedBatchHeaders(skipped),
      this.timestampOf(message.timestamp),
      () => this.completeRecord(tracker, entry, bytes, emittedAt),
    );
    return error === undefined ? record : withInputError(record, error);
  }

  /** `Number(text)`, reusing the last one: records of a batch mostly share their timestamp (ms). */
  private timestampOf(text: string): number {
    if (text !== this.lastTimestampText) {
      this.lastTimestampText = text;
      this.lastTimestamp = Number(text);
    }
    return this.lastTimestamp;
  }

  private completeRecord(tracker: OffsetTracker, entry: TrackedOffset, bytes: number, emittedAt: number | undefined): void {
    if (!tracker.complete(entry)) return;
    if (emittedAt !== undefined && hasSubscribers(CHANNELS.source)) {
      publish(CHANNELS.source, {
        source: 'kafka',
        type: 'completed',
        group: this.settings.group,
        topic: tracker.topic,
        partition: tracker.partition,
        count: 1,
        durationMs: performance.now() - emittedAt,
      });
    }
    this.completed(tracker, bytes);
  }

  private sessionOf(tracker: OffsetTracker): SourceSession {
    let session = this.sessions.get(tracker);
    if (session === undefined) {
      session = createSession(
        tracker.topic,
        tracker.partition,
        this.settings.group,
        this.settings.isolationLevel ?? 'read_committed',
        () => !tracker.revoked && this.state !== 'closed',
        (taker) => {
          this.commitsHandedOver = true;
          this.commitTaker = taker;
        },
        () => tracker.next,
        (offset) => this.committedBySink(tracker, offset),
        tracker.resetFloor,
        async () => (await this.checkTopics([tracker.topic], TOPIC_ID_CHECK_TIMEOUT_MS))?.get(tracker.topic) ?? 'failed',
      );
      this.sessions.set(tracker, session);
    }
    return session;
  }

  /** The exactly-once sink committed `offset` in a transaction: the source's `committed` and `lag` events. */
  private committedBySink(tracker: OffsetTracker, offset: number): void {
    if (tracker.revoked || (tracker.committed !== undefined && offset <= tracker.committed)) return;
    tracker.committed = offset;
    if (hasSubscribers(CHANNELS.source)) this.publishCommitted([tracker], 0);
    this.settings.onEvent?.({ type: 'committed', offsets: [{ topic: tracker.topic, partition: tracker.partition, offset: String(offset) }] });
    this.reportLag([tracker], false);
  }

  private completed(tracker: OffsetTracker, bytes: number): void {
    this.inFlight--;
    this.inFlightBytes -= bytes;
    this.lastCompletionAt = Date.now();
    if (!tracker.revoked && tracker.dirty()) this.scheduleCommit();
    if (this.paused && this.inFlight <= this.lowWater && this.inFlightBytes <= this.lowWaterBytes && this.state === 'running') {
      this.paused = false;
      this.client.resume();
      this.settings.onEvent?.({ type: 'resumed', inFlight: this.inFlight, inFlightBytes: this.inFlightBytes });
    }
    if (this.inFlight === 0) this.drainWaiter?.();
  }

  private onRebalancing(): void {
    // Commit what is done while the group still lets us (the Java client's onPartitionsRevoked),
    // then stop emitting and committing until the new assignment is known.
    void this.commitNow();
    this.rebalancing = true;
    this.settings.onEvent?.({ type: 'rebalancing' });
  }

  private onAssigned(assignment: readonly TopicPartition[], memberId: string): void {
    if (this.memberId !== undefined && memberId !== this.memberId) {
      // The group forgot this member: it may have missed generations, so nothing it held is ours.
      this.revoke([...this.trackers.keys()]);
    }
    this.memberId = memberId;
    const assigned = new Set(assignment.map((tp) => keyOf(tp.topic, tp.partition)));
    this.revoke([...this.trackers.keys()].filter((key) => !assigned.has(key)));
    const added: TopicPartition[] = [];
    for (const tp of assignment) {
      const key = keyOf(tp.topic, tp.partition);
      if (!this.trackers.has(key)) {
        this.trackers.set(key, new OffsetTracker(tp.topic, tp.partition));
        added.push(tp);
      }
    }
    this.rebalancing = false;
    if (added.length > 0) this.settings.onEvent?.({ type: 'assigned', partitions: added });
    // Records the IDs of topics seen for the first time; after a rejoin (kafkajs rejoins when a fetch
    // finds the topic unknown), notices one that was created again.
    void this.checkTopics([...new Set(assignment.map((tp) => tp.topic))], TOPIC_ID_CHECK_TIMEOUT_MS);
    if ([...this.trackers.values()].some((t) => t.dirty())) this.scheduleCommit();
  }

  private revoke(keys: readonly string[]): void {
    if (keys.length === 0) return;
    const partitions: TopicPartition[] = [];
    for (const key of keys) {
      const tracker = this.trackers.get(key);
      if (tracker === undefined) continue;
      // Its records still in flight complete into nothing: never committed, never re-emitted by us.
      tracker.revoked = true;
      this.trackers.delete(key);
      partitions.push({ topic: tracker.topic, partition: tracker.partition });
    }
    this.settings.onEvent?.({ type: 'revoked', partitions });
  }

  private onCrash(error: unknown, restarting: boolean): void {
    if (this.state === 'failing' || this.state === 'closed') return;
    this.settings.onEvent?.({ type: 'crashed', error, restarting });
    if (restarting) {
      this.rebalancing = true;
      return;
    }
    const detail = describeClientError(error);
    // The client has left the group already (kafkajs disconnects before it reports a crash).
    void this.fail(new RxmlError('KAFKA_ERROR', `consumer of ${this.settings.describe} failed: ${detail}`, { cause: error }), 'detached');
  }

  private scheduleCommit(): void {
    if (this.commitTimer !== undefined || this.state === 'closed' || this.state === 'failing') return;
    this.commitTimer = setTimeout(() => {
      this.commitTimer = undefined;
      void this.commitNow();
    }, this.settings.commitIntervalMs);
  }

  /** Commits every owned partition's completed prefix; one commit request at a time. */
  private commitNow(): Promise<void> {
    if (this.commitsHandedOver) return Promise.resolve();
    if (this.committing !== undefined) {
      this.commitAgain = true;
      return this.committing;
    }
    this.committing = (async () => {
      do {
        this.commitAgain = false;
        if (this.rebalancing) return;
        const checked = await this.checkedForCommit([...this.trackers.values()].filter((t) => t.dirty()), TOPIC_ID_CHECK_TIMEOUT_MS);
        // Unreadable metadata skips the round, a reset or missing topic holds its offsets: commit again in a while.
        if ((checked === undefined || checked.held) && this.state === 'running') setTimeout(() => this.scheduleCommit(), Math.max(1_000, this.settings.commitIntervalMs)).unref();
        if (checked === undefined) return;
        const dirty = checked.ready;
        if (dirty.length === 0) return;
        const offsets = dirty.map((t) => ({ topic: t.topic, partition: t.partition, offset: String(t.committable) }));
        const positions = dirty.map((t) => t.committable);
        const commitStarted = performance.now();
        try {
          await this.client.commit(offsets);
        } catch (error) {
          this.settings.onEvent?.({ type: 'commit-failed', error });
          // A rebalance or a broker restart: the next assignment or completion commits again.
          if (this.state === 'running') setTimeout(() => this.scheduleCommit(), this.settings.commitIntervalMs * 5).unref();
          return;
        }
        dirty.forEach((t, i) => {
          const position = positions[i]!;
          if (t.committed === undefined || position > t.committed) t.committed = position;
        });
        if (hasSubscribers(CHANNELS.source)) this.publishCommitted(dirty, performance.now() - commitStarted);
        this.settings.onEvent?.({ type: 'committed', offsets });
        this.reportLag(dirty, false);
      } while (this.commitAgain);
    })().finally(() => {
      this.committing = undefined;
    });
    return this.committing;
  }

  /** `rxml:source`: each partition's new committed offset, the commit's duration, and the lag it leaves. */
  private publishCommitted(trackers: readonly OffsetTracker[], durationMs: number): void {
    const group = this.settings.group;
    for (const t of trackers) {
      if (t.committed === undefined) continue;
      const { topic, partition } = t;
      publish(CHANNELS.source, { source: 'kafka', type: 'committed', group, topic, partition, offset: String(t.committed), durationMs });
      const lag = t.lag();
      if (lag !== undefined) publish(CHANNELS.source, { source: 'kafka', type: 'lag', group, topic, partition, lag, offset: String(t.committed) });
    }
  }

  /** Until no record is in flight, `timeoutMs` passed, or none completed for `idleMs` (default: `drainIdleMs`, read on every tick). */
  private waitDrained(timeoutMs: number, idleMs?: number): Promise<void> {
    return new Promise((resolve) => {
      const finish = (): void => {
        clearTimeout(timer);
        clearInterval(idle);
        this.drainWaiter = undefined;
        resolve();
      };
      if (this.inFlight === 0) return resolve();
      this.drainWaiter = finish;
      const timer = setTimeout(finish, timeoutMs);
      // Read on every tick: an unsubscribe during an abort's drain shortens the wait (see `close`).
      const idle = setInterval(() => {
        const limit = idleMs ?? this.drainIdleMs;
        if (limit !== undefined && Date.now() - this.lastCompletionAt >= limit) finish();
      }, 100);
    });
  }

  /**
   * `drain` (abort signal): stop fetching, wait until every emitted record completed (or the drain
   * timeout), commit, disconnect, then complete the stream. `unsubscribe`: the subscriber is gone,
   * so only sends already in flight can still complete; wait for those while they make progress.
   * An unsubscribe while an abort's drain waits (the pipeline failed downstream meanwhile) turns
   * that drain into the unsubscribe's: the records left in flight can no longer be settled.
   */
  private async close(mode: 'drain' | 'unsubscribe'): Promise<void> {
    if (mode === 'unsubscribe') this.drainIdleMs = UNSUBSCRIBED_DRAIN_IDLE_MS;
    if (this.state === 'closing' || this.state === 'closed' || this.state === 'failing') return;
    const wasRunning = this.state === 'running';
    const starting = this.state === 'starting';
    this.state = 'closing';
    this.settings.signal?.removeEventListener('abort', this.onAbort);
    if (starting) {
      // Still connecting or waiting for the input topic: nothing was emitted (batches are refused
      // until the start is done), so nothing to drain or commit. Stopping the client now ends a
      // start kafkajs would otherwise go on retrying, and the process with it, long after the
      // stream is gone (e.g. the sink failed first).
      this.state = 'closed';
      await this.client.stop().catch(() => undefined);
      await this.started.catch(() => undefined);
      clearInterval(this.lagTimer);
      clearInterval(this.topicIdTimer);
      await this.settings.topicIdentity?.close().catch(() => undefined);
      this.settings.onEvent?.({ type: 'closed', inFlight: this.inFlight, drained: this.inFlight === 0 });
      if (mode === 'drain') this.subscriber.complete();
      return;
    }
    await this.started.catch(() => undefined);
    if (this.isClosed()) return;
    if (wasRunning || this.startedOk) this.client.pause();
    await this.waitDrained(this.settings.drainTimeoutMs);
    clearTimeout(this.commitTimer);
    this.commitTimer = undefined;
    await this.commitNow().catch(() => undefined);
    const drained = this.inFlight === 0;
    this.state = 'closed';
    clearInterval(this.lagTimer);
    clearInterval(this.topicIdTimer);
    await this.client.stop().catch(() => undefined);
    await this.settings.topicIdentity?.close().catch(() => undefined);
    this.settings.onEvent?.({ type: 'closed', inFlight: this.inFlight, drained });
    if (mode === 'drain') this.subscriber.complete();
  }

  private isClosed(): boolean {
    return this.state === 'closed';
  }

  /**
   * The consumer failed: stop emitting, give the records in flight a bounded time to complete
   * (the sink is still writing them), commit the completed prefix — through the group when still
   * a member, or `detached` (only if no other member owns the partitions now) after the client
   * left it — then error the stream. Best effort: a commit that fails is reported, not retried.
   */
  private async fail(error: RxmlError, commit: 'member' | 'detached' | 'none'): Promise<void> {
    if (this.state === 'closed' || this.state === 'failing') return;
    const wasRunning = this.state === 'running' || this.startedOk;
    this.state = 'failing';
    this.settings.signal?.removeEventListener('abort', this.onAbort);
    clearTimeout(this.commitTimer);
    this.commitTimer = undefined;
    clearInterval(this.lagTimer);
    if (wasRunning && commit !== 'none') {
      const deadline = Date.now() + Math.min(this.settings.drainTimeoutMs, FAIL_COMMIT_TIMEOUT_MS);
      await this.waitDrained(Math.max(0, deadline - Date.now()), 1_000);
      if (commit === 'detached') await this.client.stop().catch(() => undefined);
      await this.commitBefore(deadline, commit);
    }
    this.state = 'closed';
    clearInterval(this.topicIdTimer);
    await this.client.stop().catch(() => undefined);
    await this.settings.topicIdentity?.close().catch(() => undefined);
    this.settings.onEvent?.({ type: 'closed', inFlight: this.inFlight, drained: this.inFlight === 0 });
    publish(CHANNELS.source, { source: 'kafka', type: 'failed', group: this.settings.group, error });
    this.subscriber.error(error);
  }

  private async commitBefore(deadline: number, how: 'member' | 'detached'): Promise<void> {
    if (this.commitsHandedOver) return;
    await this.committing?.catch(() => undefined);
    const checked = await this.checkedForCommit(
      [...this.trackers.values()].filter((t) => !t.revoked && t.dirty()),
      Math.max(1, Math.min(TOPIC_ID_CHECK_TIMEOUT_MS, deadline - Date.now())),
    );
    const dirty = checked?.ready ?? [];
    if (dirty.length === 0) return;
    const offsets = dirty.map((t) => ({ topic: t.topic, partition: t.partition, offset: String(t.committable) }));
    const started = performance.now();
    // Past the deadline the detached commit's client gives up too: it must not retry on after the stream failed.
    const late = new AbortController();
    const commit = how === 'member' || this.client.commitDetached === undefined ? this.client.commit(offsets) : this.client.commitDetached(offsets, late.signal);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        late.abort();
        reject(new Error('commit did not finish in time'));
      }, Math.max(1, deadline - Date.now()));
    });
    try {
      await Promise.race([commit, timeout]);
      for (const t of dirty) t.committed = t.committable;
      if (hasSubscribers(CHANNELS.source)) this.publishCommitted(dirty, performance.now() - started);
      this.settings.onEvent?.({ type: 'committed', offsets });
      this.reportLag(dirty, false);
    } catch (commitError) {
      this.settings.onEvent?.({ type: 'commit-failed', error: commitError });
    } finally {
      clearTimeout(timer);
      commit.catch(() => undefined);
    }
  }
}
