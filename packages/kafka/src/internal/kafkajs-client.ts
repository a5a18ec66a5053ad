import { Kafka, Partitioners, type Consumer, type ConsumerConfig, type ISocketFactory, type Message, type Producer } from 'kafkajs';
import { kafkaConfig, type KafkaConnectionOptions } from '../options.js';
import { consoleKafkaLogger, type LogGate } from './logger.js';
import { authorizationFailure, describeClientError, isProducerStateError, permanentConnectionFailure, protocolMismatchHint, unsupportedSaslMechanism } from './connection-errors.js';
import { saslMechanismOf } from '../env.js';
import { RxmlError } from '@rxml/core/contract';
import type {
  ConsumerClient,
  ConsumerHandlers,
  OutgoingMessage,
  PartitionOffset,
  PartitionRange,
  ProducerClient,
  TopicAdminClient,
  TopicPartition,
  TopicReaderClient,
} from './client.js';
import { decompressionBound, DEFAULT_MAX_DECOMPRESSED_BATCH_BYTES, registerKafkaCodecs } from './codecs.js';
import { compressionId, type KafkaCompression } from './compression.js';
import { failFastOn, tlsWatchFor, usesTlsOption } from './tls-watch.js';
import { kafkajsHeadersOf } from './dead-letters.js';
import { assertPatchedKafkajs, warnIfForeignKafka } from './kafkajs-patch.js';
import { withRetryStop } from './retry-stop.js';

/**
 * The client to use, the switch that silences its logs once its owner has stopped, and the one that
 * ends its retry loops once its owner gave up on it (see `withRetryStop`; a no-op for a ready
 * `kafka` instance, whose retries are its maker's).
 */
function kafkaOf(options: KafkaConnectionOptions, watch?: LogGate['watch'], socketFactory?: ISocketFactory): { kafka: Kafka; gate: LogGate; stopRetries: () => void } {
  // rxml's kafkajs patch (zip-bomb bound, header order, aborted transactions) or no start at all.
  assertPatchedKafkajs();
  warnIfForeignKafka(options.kafka, options.logger ?? consoleKafkaLogger);
  // snappy, lz4 and zstd on the kafkajs module this package imports (kafkajs has gzip only).
  registerKafkaCodecs();
  const gate: LogGate = watch === undefined ? { closed: false } : { closed: false, watch };
  if (options.kafka !== undefined) return { kafka: options.kafka, gate, stopRetries: () => undefined };
  const { config, stopRetries } = withRetryStop(kafkaConfig(options, gate));
  return { kafka: new Kafka({ ...config, ...(socketFactory === undefined ? {} : { socketFactory }) }), gate, stopRetries };
}

/** The error of a start abandoned because the client was stopped meanwhile (nobody is told: the owner is gone). */
const stoppedWhileStarting = (): RxmlError => new RxmlError('KAFKA_ERROR', 'the Kafka consumer was stopped while it started', { retriable: false });

export interface KafkajsConsumerSettings {
  readonly groupId: string;
  readonly topics: readonly string[];
  readonly fromBeginning: boolean;
  readonly consumer: Omit<ConsumerConfig, 'groupId'>;
  /** Longest wait for a missing input topic to appear before failing, ms (0: fail at once). */
  readonly topicWaitMs: number;
  /** Told once when a topic is missing and is being waited for. */
  readonly onWaitingForTopic?: (topics: readonly string[]) => void;
  /**
   * How long the seam keeps restarting a consumer that kafkajs gave up on after a connection loss
   * (e.g. `KafkaJSGroupCoordinatorNotFound`, which kafkajs treats as fatal), ms. Default 60000.
   */
  readonly restartWindowMs?: number;
  /** Most bytes one compressed record batch may inflate to (see `fromKafka`'s `maxDecompressedBatchBytes`). Default 10 MiB. */
  readonly maxDecompressedBatchBytes?: number;
}

/** kafkajs' message when it resets a fetch position after OFFSET_OUT_OF_RANGE (consumerGroup.js, 2.2.4). */
const OFFSET_RESET_LOG = 'Offset out of range, resetting to default offset';

/**
 * kafkajs crashes for good (no restart) on some errors that only mean "the cluster is still
 * coming back": the coordinator cannot be found yet after a broker restart, a connection that
 * closed mid-request. Those are worth a restart from the seam.
 */
export function isTransientCrash(error: unknown): boolean {
  // A denied ACL (e.g. on the group: kafkajs reports it as "Failed to find group coordinator", the
  // refusal as its cause) is refused again on every restart.
  if (authorizationFailure(error) !== undefined) return false;
  let e = error as { name?: unknown; type?: unknown; cause?: unknown; originalError?: unknown } | null | undefined;
  for (let depth = 0; typeof e === 'object' && e !== null && depth < 5; depth++) {
    if (isRetriableKafkaError(e)) return true;
    if (e.name === 'KafkaJSGroupCoordinatorNotFound' || e.name === 'KafkaJSConnectionClosedError') return true;
    if (e.name === 'KafkaJSProtocolError' && typeof e.type === 'string' && TRANSIENT_PROTOCOL_ERRORS.has(e.type)) return true;
    e = (e.cause ?? e.originalError) as typeof e;
  }
  return false;
}

const TRANSIENT_PROTOCOL_ERRORS = new Set([
  'NOT_COORDINATOR',
  'COORDINATOR_NOT_AVAILABLE',
  'COORDINATOR_LOAD_IN_PROGRESS',
  'REBALANCE_IN_PROGRESS',
  'UNKNOWN_MEMBER_ID',
  'ILLEGAL_GENERATION',
]);

/**
 * Waits until every topic in `topics` exists (someone creates it, or a producer's auto-creation does),
 * polling the metadata once a second, up to `waitMs`, or until `stopped()`.
 * @throws RxmlError KAFKA_ERROR naming the missing topics once `waitMs` has passed.
 */
async function awaitTopics(kafka: Kafka, topics: readonly string[], waitMs: number, stopped: () => boolean, onWaiting?: (topics: readonly string[]) => void): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  let timer: NodeJS.Timeout | undefined;
  try {
    const deadline = Date.now() + waitMs;
    let told = false;
    // listTopics leaves out topics the principal may not Describe: a topic missing from it may be an
    // ACL denial, not a topic yet to be created. One Metadata request for the missing topics says
    // which (run beside the wait: for a topic that really is missing kafkajs retries it for seconds).
    let refusal: RxmlError | undefined;
    let probe: Promise<void> | undefined;
    let probed = false;
    for (;;) {
      if (refusal !== undefined) throw refusal;
      if (stopped()) throw stoppedWhileStarting();
      const existing = new Set(await admin.listTopics());
      const missing = topics.filter((t) => !existing.has(t));
      if (missing.length === 0) return;
      probe ??= admin.fetchTopicMetadata({ topics: missing }).then(
        () => undefined,
        (error: unknown) => {
          if (authorizationFailure(error) === undefined) return;
          refusal = new RxmlError(
            'KAFKA_ERROR',
            `not authorized to read input topic${missing.length > 1 ? 's' : ''} ${missing.join(', ')}: ${describeClientError(error)} (the principal needs Describe and Read on the topic, and Read on the group)`,
            { cause: error },
          );
        },
      ).finally(() => {
        probed = true;
      });
      if (Date.now() >= deadline) {
        throw new RxmlError(
          'KAFKA_ERROR',
          `input topic${missing.length > 1 ? 's' : ''} ${missing.join(', ')} did not appear within ${Math.round(waitMs / 1000)} s (fromKafka option topicWaitMs): create ${missing.length > 1 ? 'them' : 'it'} or check the name`,
        );
      }
      if (!told) {
        told = true;
        onWaiting?.(missing);
      }
      const pause = new Promise((resolve) => {
        timer = setTimeout(resolve, Math.min(1_000, Math.max(0, deadline - Date.now())));
      });
      await (probed ? pause : Promise.race([pause, probe]));
      // The probe's refusal ends the pause: its timer must not hold the process for the rest of the second.
      clearTimeout(timer);
    }
  } finally {
    clearTimeout(timer);
    await admin.disconnect();
  }
}

/** `ConsumerClient` on kafkajs: eachBatch without auto-resolve and without auto-commit. */
export function kafkajsConsumer(connection: KafkaConnectionOptions, settings: KafkajsConsumerSettings): ConsumerClient {
  let handlers: ConsumerHandlers | undefined;
  // An untrusted broker certificate, or (without `ssl`) a listener that speaks TLS, fails the start at
  // once instead of after kafkajs' retries (see tlsWatch).
  const tls = tlsWatchFor(connection);
  // kafkajs reports an OFFSET_OUT_OF_RANGE reset only in its log: watch for it there.
  const { kafka, gate, stopRetries } = kafkaOf(connection, (entry) => {
    const log = entry.log as { message?: unknown; topic?: unknown; partition?: unknown; groupId?: unknown };
    if (log.message === OFFSET_RESET_LOG && log.groupId === settings.groupId && typeof log.topic === 'string' && typeof log.partition === 'number') {
      handlers?.onOffsetReset?.({ topic: log.topic, partition: log.partition });
    }
  }, tls?.socketFactory);
  const consumer: Consumer = kafka.consumer({ ...settings.consumer, groupId: settings.groupId });
  const topics = settings.topics.map((topic) => ({ topic }));
  const removers: (() => void)[] = [];
  const restartWindowMs = settings.restartWindowMs ?? 60_000;
  let stopped = false;
  /** What the source asked for; re-applied after a restart (kafkajs forgets pauses with its group). */
  let wantPaused = false;
  // kafkajs throws when it has no running group (between a crash and the restart): then the wish
  // is kept and applied when the group is back.
  const applyPause = (): void => {
    try {
      if (wantPaused) consumer.pause(topics);
      else consumer.resume(topics);
    } catch {
      // not running: applied again on the next GROUP_JOIN
    }
  };
  let crashedSince: number | undefined;
  let restarts = 0;

  // The fetch loop kafkajs starts here runs in this async context: its codecs read the bound from it.
  const run = (h: ConsumerHandlers): Promise<void> =>
    decompressionBound.run(settings.maxDecompressedBatchBytes ?? DEFAULT_MAX_DECOMPRESSED_BATCH_BYTES, () => consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      // Returns at once: the records are handed to the stream, the model runs outside this call, so
      // kafkajs' fetch loop (which sends the heartbeats) never waits for a model.
      eachBatch: (payload) => {
        crashedSince = undefined;
        const { batch } = payload;
        const taken = h.onBatch({
          topic: batch.topic,
          partition: batch.partition,
          messages: batch.messages,
          lastOffset: batch.lastOffset(),
          highWatermark: batch.highWatermark,
        });
        const last = batch.messages[taken - 1];
        // Resolving moves kafkajs' fetch position only; commits are ours (see fromKafka). Resolving
        // the last message also resolves the filtered records after it (kafkajs does that).
        if (last !== undefined) payload.resolveOffset(last.offset);
        return Promise.resolve();
      },
    }));

  /** kafkajs gave up (no restart of its own) on a transient error: restart it, for a while. */
  const restart = (h: ConsumerHandlers): void => {
    const delay = Math.min(5_000, 300 * 2 ** Math.min(restarts++, 4));
    setTimeout(() => {
      if (stopped) return;
      void (async () => {
        try {
          await consumer.connect();
          // Stopped while reconnecting: stop() may have disconnected before this connect finished.
          if (stopped) return void (await consumer.disconnect().catch(() => undefined));
          await run(h);
        } catch (error) {
          if (!stopped) crash(h, error instanceof Error ? error : new Error(String(error)), false);
        }
      })();
    }, delay).unref();
  };

  const crash = (h: ConsumerHandlers, error: Error, kafkajsRestarts: boolean): void => {
    if (kafkajsRestarts) return h.onCrash(error, true);
    const now = Date.now();
    crashedSince ??= now;
    if (!stopped && isTransientCrash(error) && now - crashedSince < restartWindowMs) {
      h.onCrash(error, true);
      restart(h);
      return;
    }
    h.onCrash(error, false);
  };

  return {
    async start(h: ConsumerHandlers): Promise<void> {
      handlers = h;
      removers.push(
        consumer.on(consumer.events.REBALANCING, () => h.onRebalancing()),
        consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
          crashedSince = undefined;
          restarts = 0;
          if (wantPaused) applyPause();
          const assignment: TopicPartition[] = [];
          for (const [topic, partitions] of Object.entries(payload.memberAssignment)) {
            for (const partition of partitions) assignment.push({ topic, partition });
          }
          h.onAssigned(assignment, payload.memberId);
        }),
        // A fetched range with only filtered records (transaction markers, aborted records) never
        // reaches eachBatch; kafkajs moves past it by itself, and so must the committed position.
        consumer.on(consumer.events.START_BATCH_PROCESS, ({ payload }) => {
          if (payload.batchSize !== 0) return;
          h.onBatch({ topic: payload.topic, partition: payload.partition, messages: [], lastOffset: payload.lastOffset, highWatermark: payload.highWatermark });
        }),
        consumer.on(consumer.events.CRASH, ({ payload }) => crash(h, payload.error, payload.restart)),
      );
      const connecting = (async () => {
        await awaitTopics(kafka, settings.topics, settings.topicWaitMs, () => stopped, settings.onWaitingForTopic);
        if (stopped) throw stoppedWhileStarting();
        await consumer.connect();
        // Stopped while connecting (stop's disconnect came first): nobody else would disconnect it.
        if (stopped) {
          await consumer.disconnect().catch(() => undefined);
          throw stoppedWhileStarting();
        }
      })().catch((error: unknown) => {
        // A mechanism the listener does not enable: say which was asked for and which it offers.
        const mechanism = unsupportedSaslMechanism(error, saslMechanismOf(connection));
        if (mechanism !== undefined) throw new Error(`${mechanism} (${describeClientError(error)})`, { cause: error });
        // A listener that wants TLS/SASL (or does not) just closes the connection: say what to check.
        const hint = connection.kafka === undefined ? protocolMismatchHint(error, usesTlsOption(connection)) : undefined;
        if (hint === undefined) throw error;
        throw new Error(`${describeClientError(error)} (${hint})`, { cause: error });
      });
      await (tls === undefined
        ? connecting
        : Promise.race([
            connecting,
            tls.failed.then((error) => {
              throw error;
            }),
          ]));
      if (stopped) throw stoppedWhileStarting();
      await consumer.subscribe({ topics: [...settings.topics], fromBeginning: settings.fromBeginning });
      if (stopped) throw stoppedWhileStarting();
      await run(h);
    },
    pause: () => {
      wantPaused = true;
      applyPause();
    },
    resume: () => {
      wantPaused = false;
      applyPause();
    },
    async commit(offsets: readonly PartitionOffset[]): Promise<void> {
      if (offsets.length === 0) return;
      await consumer.commitOffsets(offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: o.offset })));
    },
    seek({ topic, partition }, offset): void {
      try {
        // kafkajs drops batches of the partition fetched before the seek, and fetches from `offset` next.
        consumer.seek({ topic, partition, offset });
      } catch {
        // no running group (between a crash and the restart): the new assignment fetches from the committed offset
      }
    },
    async commitDetached(offsets: readonly PartitionOffset[], signal?: AbortSignal): Promise<void> {
      if (offsets.length === 0) return;
      // kafkajs' admin refuses unless the group has no running member (state Empty): then nobody
      // else owns these partitions and the offsets are ours to commit. On a client of its own: the
      // consumer's retries end with stop(), which comes first; this one's end when the caller gives up.
      const own = kafkaOf(connection);
      const admin = own.kafka.admin();
      const giveUp = (): void => {
        own.stopRetries();
        void admin.disconnect().catch(() => undefined);
      };
      signal?.addEventListener('abort', giveUp, { once: true });
      try {
        await admin.connect();
        const byTopic = new Map<string, { partition: number; offset: string }[]>();
        for (const o of offsets) {
          let list = byTopic.get(o.topic);
          if (list === undefined) byTopic.set(o.topic, (list = []));
          list.push({ partition: o.partition, offset: o.offset });
        }
        for (const [topic, partitions] of byTopic) await admin.setOffsets({ groupId: settings.groupId, topic, partitions });
      } finally {
        signal?.removeEventListener('abort', giveUp);
        try {
          await admin.disconnect();
        } finally {
          own.stopRetries();
          own.gate.closed = true;
        }
      }
    },
    async stop(): Promise<void> {
      stopped = true;
      for (const remove of removers.splice(0)) remove();
      try {
        await consumer.disconnect();
      } finally {
        // Then whatever is still retrying (a connect between attempts, the topic wait's admin) ends
        // at once instead of holding the process through kafkajs' remaining backoff, and a join
        // answered after the disconnect opens no connection (nor keeps one open).
        stopRetries();
        tls?.retire();
        gate.closed = true;
      }
    },
  };
}

export interface KafkajsProducerSettings {
  /** Record-batch compression. Default none. */
  readonly compression?: KafkaCompression;
}

/**
 * `ProducerClient` on kafkajs: one `sendBatch` per call, acks from all in-sync replicas. Pipelined
 * calls keep their order on the wire (the seam's promise) only with rxml's kafkajs patch: kafkajs
 * encodes and compresses a request asynchronously, one partition after another, and used to queue
 * whichever request was ready first (see docs/kafka.md, "Order:").
 */
export function kafkajsProducer(connection: KafkaConnectionOptions, settings: KafkajsProducerSettings = {}): ProducerClient {
  // An untrusted broker certificate, or (without `ssl`) a listener that speaks TLS, fails connect
  // and send at once instead of after kafkajs' retries (~10 s), as it does for the consumer.
  const tls = tlsWatchFor(connection);
  const { kafka, gate, stopRetries } = kafkaOf(connection, undefined, tls?.socketFactory);
  /** Set by `disconnect`: a connect that finishes after it is disconnected again. */
  let closed = false;
  const failFast = tls === undefined ? <T>(operation: Promise<T>): Promise<T> => operation : failFastOn(tls.failed);
  const producer: Producer = kafka.producer({
    allowAutoTopicCreation: true,
    createPartitioner: Partitioners.DefaultPartitioner,
    // Kafka's idempotent producer (the Java client's default since 3.0): a request kafkajs repeats by
    // itself (a lost answer, a timeout) carries the same producer id and sequence numbers, so the
    // broker does not write its batch twice. rxml's patch keeps pipelining with it (kafkajs allowed
    // one idempotent produce request per broker at a time) and takes a new producer id after a failed
    // call. kafkajs refuses `idempotent` with `retry.retries: 0`, which repeats nothing anyway. A
    // `kafka` made with another kafkajs install keeps the plain producer: unpatched, its idempotent
    // mode gives a failed request's sequence numbers to the next call (which the broker may then drop
    // as a duplicate) and sends one produce request per broker at a time.
    idempotent: connection.retry?.retries !== 0 && (connection.kafka === undefined || connection.kafka instanceof Kafka),
    // Kafka keeps the last 5 batches of each producer and partition to recognise a repeat.
    maxInFlightRequests: 5,
  });
  const compression = settings.compression === undefined || settings.compression === 'none' ? undefined : compressionId(settings.compression);
  return {
    connect: () =>
      failFast(
        producer.connect().then(async () => {
          if (closed) await producer.disconnect().catch(() => undefined);
        }),
      ),
    async send(messages: readonly OutgoingMessage[]): Promise<void> {
      // kafkajs reads key, value and headers (and ignores `topic`), so the messages go as they are:
      // no per-message copy. Usually all go to one topic.
      if (messages.some((m) => m.headerList !== undefined)) messages = messages.map(withListHeaders);
      const first = messages[0];
      if (first === undefined) return;
      let topicMessages: { topic: string; messages: Message[] }[];
      if (messages.every((m) => m.topic === first.topic)) {
        topicMessages = [{ topic: first.topic, messages: messages as unknown as Message[] }];
      } else {
        const byTopic = new Map<string, Message[]>();
        for (const m of messages) {
          let list = byTopic.get(m.topic);
          if (list === undefined) byTopic.set(m.topic, (list = []));
          list.push(m);
        }
        topicMessages = [...byTopic].map(([topic, list]) => ({ topic, messages: list }));
      }
      await failFast(producer.sendBatch({ acks: -1, ...(compression === undefined ? {} : { compression }), topicMessages }));
    },
    isRetriable: isRetriableKafkaError,
    async disconnect(): Promise<void> {
      closed = true;
      try {
        await producer.disconnect();
      } finally {
        // A connect or send still retrying ends now, and nothing stays connected (see the consumer's stop).
        stopRetries();
        tls?.retire();
        gate.closed = true;
      }
    },
  };
}

/**
 * A message with an exact header list (a dead letter) goes with {@link kafkajsHeadersOf}: the patched
 * encoder writes the list in order (interleaved repeated names kept), a null value as a header
 * without a value (length -1, Kafka's record format; patches/kafkajs@2.2.4.patch).
 */
function withListHeaders(message: OutgoingMessage): OutgoingMessage {
  if (message.headerList === undefined) return message;
  return { ...message, headers: kafkajsHeadersOf(message.headerList) as unknown as OutgoingMessage['headers'] };
}

/**
 * kafkajs marks transient failures `retriable`; when its own retries ran out it wraps the last one
 * in `KafkaJSNumberOfRetriesExceeded`, which is worth retrying again if that cause was transient.
 */
export function isRetriableKafkaError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  // A certificate kafkajs marks retriable (KafkaJSConnectionError) still fails the same way next time.
  if (permanentConnectionFailure(error) !== undefined) return false;
  const e = error as { name?: unknown; retriable?: unknown; cause?: unknown; originalError?: unknown };
  if (e.retriable === true) return true;
  if (e.name === 'KafkaJSNumberOfRetriesExceeded') return isRetriableKafkaError(e.cause ?? e.originalError);
  // The idempotent producer's "start again with a new producer id", which rxml's patch takes after a
  // failed call: repeating the call then succeeds (see `kafkajsProducer`).
  if (e.name === 'KafkaJSProtocolError' && isProducerStateError((e as { type?: unknown }).type)) return true;
  // Connection-level failures while a broker restarts.
  return e.name === 'KafkaJSConnectionError' || e.name === 'KafkaJSRequestTimeoutError' || e.name === 'KafkaJSBrokerNotFound';
}

export interface KafkajsReaderSettings {
  readonly topic: string;
  /**
   * kafkajs can only consume as a group member: a group id used by this reader alone, never
   * committed to (Kafka forgets an empty group without offsets after `offsets.retention.minutes`).
   */
  readonly groupId: string;
  /** Most bytes fetched per partition per request (at least one whole record is always returned). */
  readonly maxBytesPerPartition: number;
  /** Longest a crashed reader is restarted for, ms (see `KafkajsConsumerSettings.restartWindowMs`). */
  readonly restartWindowMs?: number;
  /** Most bytes one compressed record batch may inflate to. Default 10 MiB. */
  readonly maxDecompressedBatchBytes?: number;
}

/** `TopicReaderClient` on kafkajs: a consumer in a group of its own, from the beginning, no commits. */
export function kafkajsTopicReader(connection: KafkaConnectionOptions, settings: KafkajsReaderSettings): TopicReaderClient {
  const consumer = kafkajsConsumer(connection, {
    groupId: settings.groupId,
    topics: [settings.topic],
    fromBeginning: true,
    consumer: { maxBytesPerPartition: settings.maxBytesPerPartition, maxBytes: Math.max(10 * 1024 * 1024, settings.maxBytesPerPartition), maxWaitTimeInMs: 250, sessionTimeout: 30_000, heartbeatInterval: 3_000 },
    topicWaitMs: 60_000,
    ...(settings.restartWindowMs === undefined ? {} : { restartWindowMs: settings.restartWindowMs }),
    ...(settings.maxDecompressedBatchBytes === undefined ? {} : { maxDecompressedBatchBytes: settings.maxDecompressedBatchBytes }),
  });
  const { kafka, gate, stopRetries } = kafkaOf(connection);
  return {
    async offsets(wait = {}): Promise<readonly PartitionRange[]> {
      const admin = kafka.admin();
      await admin.connect();
      try {
        // A models topic that does not exist yet is waited for, like fromKafka's input topic.
        const deadline = Date.now() + 60_000;
        let announced = false;
        while (!(await admin.listTopics()).includes(settings.topic)) {
          if (!announced) {
            announced = true;
            wait.missing?.();
          }
          if (wait.signal?.aborted === true) throw new RxmlError('KAFKA_ERROR', `stopped waiting for topic ${settings.topic}`);
          if (Date.now() > deadline) throw new RxmlError('KAFKA_ERROR', `topic ${settings.topic} did not appear within 60 s: create it (createModelsTopic) or check the name`);
          await new Promise((resolve) => setTimeout(resolve, 1_000));
        }
        const offsets = await admin.fetchTopicOffsets(settings.topic);
        return offsets.map((o) => ({ partition: o.partition, low: BigInt(o.low), high: BigInt(o.high) }));
      } finally {
        await admin.disconnect();
      }
    },
    start: (handlers) =>
      consumer.start({
        onBatch: (batch) => {
          handlers.onBatch(batch);
          return batch.messages.length;
        },
        onRebalancing: () => {},
        onAssigned: () => {},
        onCrash: (error, restarting) => handlers.onCrash(error, restarting),
      }),
    async stop(): Promise<void> {
      try {
        await consumer.stop();
      } finally {
        stopRetries();
        gate.closed = true;
      }
    },
  };
}

/** `TopicAdminClient` on kafkajs' admin. */
export function kafkajsTopicAdmin(connection: KafkaConnectionOptions): TopicAdminClient {
  return {
    async createTopic(topic, partitions, configs): Promise<boolean> {
      const { kafka, gate } = kafkaOf(connection);
      const admin = kafka.admin();
      await admin.connect();
      try {
        const created = await admin.createTopics({
          // kafkajs' own leader wait trips over a transient UNKNOWN_TOPIC_OR_PARTITION on a new topic: wait here.
          waitForLeaders: false,
          topics: [{ topic, numPartitions: partitions, configEntries: Object.entries(configs).map(([name, value]) => ({ name, value })) }],
        });
        const deadline = Date.now() + 30_000;
        for (;;) {
          try {
            const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
            if (topics[0] !== undefined && topics[0].partitions.length > 0 && topics[0].partitions.every((p) => p.leader >= 0)) return created;
          } catch (error) {
            if (!isRetriableKafkaError(error) || Date.now() > deadline) throw error;
          }
          if (Date.now() > deadline) throw new RxmlError('KAFKA_ERROR', `topic ${topic} has no leader after 30 s`);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      } finally {
        await admin.disconnect();
        gate.closed = true;
      }
    },
  };
}
