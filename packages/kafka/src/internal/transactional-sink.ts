import { RxmlError } from '@rxml/core/contract';
import { Kafka, Partitioners, type Admin, type Producer } from 'kafkajs';
import { Observable, type OperatorFunction } from 'rxjs';
import { kafkaConfig, type KafkaConnectionOptions } from '../options.js';
import { withRetryStop } from './retry-stop.js';
import type { KafkaSourced } from '../record.js';
import type { OutgoingMessage } from './client.js';
import { isPerRecordError, kafkajsHeadersOf } from './dead-letters.js';
import { assertPatchedKafkajs, warnIfForeignKafka } from './kafkajs-patch.js';
import { consoleKafkaLogger } from './logger.js';
import { sessionOf, type CommitTaker, type PartitionSession } from './partition-session.js';
import { withDeadline } from './deadline.js';
import { isRetriableKafkaError } from './kafkajs-client.js';
import { tlsWatchFor } from './tls-watch.js';

/** One result ready to write, as `toKafka` prepares it (output or dead letter). */
export interface PreparedMessage<D> {
  readonly delivered: D;
  readonly message: OutgoingMessage;
  /** Approximate bytes on the wire. */
  readonly size: number;
}

export interface TransactionalSinkSettings extends KafkaConnectionOptions {
  /** Prefix of the transactional ids: `<transactionalId>-<input topic>-<input partition>`. */
  readonly transactionalId: string;
  /** The broker aborts a transaction open longer than this, ms (`transaction.timeout.ms`). */
  readonly transactionTimeoutMs: number;
  readonly maxBatchMessages: number;
  readonly maxBatchBytes: number;
  /** How long one input partition may fail to commit before the stream fails, ms. */
  readonly deliveryTimeoutMs: number;
  /** kafkajs compression codec id. */
  readonly compression: number | undefined;
  /**
   * The stream's error when the sink cannot connect at its start (`toKafka`'s "cannot connect the
   * producer for <topic>: …"). Default: "cannot connect the exactly-once sink: <the client's error>".
   */
  readonly connectFailure?: (error: unknown) => RxmlError;
}

interface Item<D> {
  /** What the transaction writes: the result's message, or its dead letter after a refusal. */
  prepared: PreparedMessage<D>;
  readonly record: KafkaSourced;
  readonly offset: number;
  /** The message first refused and why, once the broker refused this item (its dead letter replaces it). */
  refused?: { readonly prepared: PreparedMessage<D>; readonly reason: unknown; level: number };
}

/**
 * Replaces a message the broker refused (MESSAGE_TOO_LARGE, INVALID_RECORD, …) with its dead letter:
 * `level` 1 without the value, 2 with only rxml's headers (level 1 was refused too). Returns the
 * stream's error instead when there is no dead-letter topic or `level` is over 2.
 */
export type RefusedHandler<D> = (refused: PreparedMessage<D>, reason: unknown, level: number) => PreparedMessage<D> | RxmlError;

/** A transaction's records were refused by the broker for one record's sake (not the cluster's). */
class RefusedRun<D> extends Error {
  constructor(
    readonly items: readonly Item<D>[],
    readonly reason: unknown,
  ) {
    super(`the broker refused a record: ${describe(reason)}`);
  }
}

/** Per input partition session: the results waiting for their transaction and the producer that owns it. */
interface PartitionQueue<D> {
  readonly session: PartitionSession;
  readonly transactionalId: string;
  /** Sequence number of the next result to append to `ready`. */
  nextSeq: number;
  /** Results that arrived before one with a lower sequence number. */
  readonly early: Map<number, Item<D>>;
  /** Contiguous results from the last committed one on, in partition order. */
  ready: Item<D>[];
  producer: Producer | undefined;
  /** Committed offset of the group for this partition, read after this producer fenced the previous ones. */
  floor: number;
  busy: boolean;
  failingSince: number | undefined;
  failures: number;
  /**
   * While a refused record is being isolated: most items per transaction (halved at each refusal of
   * a run of several), until the committed offset passes `limitUntil`.
   */
  limit: number | undefined;
  limitUntil: number;
}

/** A dead letter's exact header list goes through {@link kafkajsHeadersOf} (order and null values kept). */
function kafkajsHeaders(message: OutgoingMessage): Record<string, Buffer | string | (Buffer | string)[]> {
  if (message.headerList === undefined) return { ...message.headers };
  return kafkajsHeadersOf(message.headerList);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Errors that no retry or re-initialisation can fix: wrong credentials, missing ACLs, an unsupported broker. */
function isFatal(error: unknown): boolean {
  for (let e = error as { type?: unknown; name?: unknown; cause?: unknown; originalError?: unknown } | undefined, depth = 0; e !== undefined && e !== null && depth < 5; depth++) {
    const type = typeof e.type === 'string' ? e.type : '';
    const name = typeof e.name === 'string' ? e.name : '';
    if (/AUTHORIZATION_FAILED|UNSUPPORTED_VERSION|INVALID_TRANSACTION_TIMEOUT|SASL_AUTHENTICATION_FAILED/.test(type)) return true;
    if (name === 'KafkaJSSASLAuthenticationError') return true;
    e = (e.cause ?? e.originalError) as typeof e;
  }
  return false;
}

/**
 * The group's committed offset of one partition (-1: none), as a new owner of the partition reads it
 * for its floor. Stable (OffsetFetch v7 with require_stable, rxml's kafkajs patch): while a
 * transaction that has sent offsets for the group is still open or completing, the broker answers
 * UNSTABLE_OFFSET_COMMIT and the read is tried again (the client's retry settings) until that
 * transaction has ended. A plain read returned the offset before it (e.g. 1400 where 1600 was being
 * committed), and a session starting there would write the records in between a second time.
 */
export async function stableCommittedOffset(admin: Admin, groupId: string, topic: string, partition: number): Promise<number> {
  const [entry] = await admin.fetchOffsets({ groupId, topics: [topic], requireStable: true });
  const found = entry?.partitions.find((p) => p.partition === partition);
  return found === undefined ? -1 : Number(found.offset);
}

/**
 * How one transaction attempt ended: the partition's new committed floor, the records skipped as
 * already written, the outputs written, whether it committed, and whether it was aborted at the
 * topic-ID check (`deferred`: tried again later, or the session ends after a reset).
 */
interface TransactOutcome {
  floor: number;
  skipped: number;
  written: number;
  committed: boolean;
  deferred?: boolean;
}

/**
 * The exactly-once sink (`toKafka({ exactlyOnce: true })`). For every input partition session it
 * runs Kafka transactions on a producer of its own, transactional id
 * `<transactionalId>-<topic>-<partition>`: each transaction holds the outputs and dead letters of a
 * contiguous run of that partition's records and commits the group's offset after the run
 * (`sendOffsets`, TxnOffsetCommit), so the outputs and the input position become visible together
 * or not at all.
 *
 * Fencing (the pre-KIP-447 scheme Kafka Streams used as `exactly_once`): a new producer for the same
 * transactional id bumps the epoch (InitProducerId), which aborts whatever transaction the previous
 * owner of the partition left open (a killed process, a member that lost the partition) and makes
 * every later write or commit of that owner fail. Only then is the group's committed offset read;
 * records below it were committed by the previous owner and are dropped. kafkajs sends
 * TxnOffsetCommit without the group's generation (no KIP-447), so a transactional id per instance
 * could not fence a zombie that lost a partition in a rebalance; one per input partition can.
 */
export function transactionalSink<R, D>(
  settings: TransactionalSinkSettings,
  prepare: (result: R) => PreparedMessage<D> | RxmlError,
  inputOf: (result: R) => unknown,
  refuse: RefusedHandler<D>,
): OperatorFunction<R, D> {
  return (source) =>
    new Observable<D>((subscriber) => {
      assertPatchedKafkajs();
      warnIfForeignKafka(settings.kafka, settings.logger ?? consoleKafkaLogger);
      // Its retry loops end at shutdown (see withRetryStop); a ready `kafka` instance's are its maker's.
      const own = settings.kafka === undefined ? withRetryStop(kafkaConfig(settings)) : undefined;
      // An untrusted broker certificate, or (without `ssl`) a listener that speaks TLS, is known at
      // once instead of after kafkajs' connection retries (~10 s; see tlsWatch).
      const tls = tlsWatchFor(settings);
      const kafka = settings.kafka ?? new Kafka({ ...own!.config, ...(tls === undefined ? {} : { socketFactory: tls.socketFactory }) });
      const queues = new Map<PartitionSession, PartitionQueue<D>>();
      let admin: Admin | undefined;
      let adminConnecting: Promise<Admin> | undefined;
      let upstreamDone = false;
      let fatal: RxmlError | undefined;
      let closed = false;
      /** Set by `shutdown`: a client connected after it is disconnected at once (no socket outlives the sink). */
      let stopped = false;
      let scheduled = false;

      const connectedAdmin = (): Promise<Admin> => {
        if (admin !== undefined) return Promise.resolve(admin);
        adminConnecting ??= (async () => {
          const created = kafka.admin();
          try {
            await created.connect();
          } catch (error) {
            adminConnecting = undefined;
            throw error;
          }
          if (stopped) {
            // The sink shut down while this connected: nobody would disconnect it later.
            void created.disconnect().catch(() => undefined);
            throw new Error('the sink stopped');
          }
          admin = created;
          adminConnecting = undefined;
          return created;
        })();
        return adminConnecting;
      };

      const committedOffset = async (session: PartitionSession): Promise<number> => stableCommittedOffset(await connectedAdmin(), session.groupId, session.topic, session.partition);

      const fail = (error: RxmlError): void => {
        fatal ??= error;
        schedule();
      };

      const dropProducer = (queue: PartitionQueue<D>): void => {
        const producer = queue.producer;
        queue.producer = undefined;
        if (producer !== undefined) void producer.disconnect().catch(() => undefined);
      };

      /** Completes records without writing them: their partition moved on (revoked, or committed by an earlier owner). */
      const release = (items: readonly Item<D>[]): void => {
        for (const item of items) item.record.complete();
      };

      const releaseAll = (queue: PartitionQueue<D>): void => {
        release(queue.ready);
        release([...queue.early.values()]);
        queue.ready = [];
        queue.early.clear();
      };

      const queueFor = (session: PartitionSession): PartitionQueue<D> => {
        let queue = queues.get(session);
        if (queue === undefined) {
          if (session.isolationLevel !== 'read_committed') {
            throw new RxmlError(
              'INVALID_CONFIG',
              `toKafka({ exactlyOnce: true }) needs read_committed input, but ${session.topic} is read with isolationLevel '${session.isolationLevel}'`,
            );
          }
          // From now on the source must not commit: its offsets move inside our transactions.
          session.handOverCommits(taker);
          queue = {
            session,
            transactionalId: `${settings.transactionalId}-${session.topic}-${session.partition}`,
            nextSeq: 0,
            early: new Map(),
            ready: [],
            producer: undefined,
            floor: -1,
            busy: false,
            failingSince: undefined,
            failures: 0,
            limit: undefined,
            limitUntil: -1,
          };
          queues.set(session, queue);
        }
        return queue;
      };

      /** Everything the session emitted is written: nothing waits for a transaction. */
      const caughtUp = (queue: PartitionQueue<D>): boolean => queue.ready.length === 0 && queue.early.size === 0 && queue.session.emitted === queue.nextSeq;

      /**
       * The source's position passed records that need no output (transaction markers, aborted
       * records) beyond what was committed, and nothing is in flight: an offsets-only transaction
       * moves the committed offset there, so the lag reaches 0 on a partition that ends in markers.
       */
      const wantsOffsets = (queue: PartitionQueue<D>): boolean => {
        const position = queue.session.position;
        return position !== undefined && position > queue.floor && queue.session.owned && caughtUp(queue);
      };

      const taker: CommitTaker = {
        advanced: (session) => {
          if (closed || fatal !== undefined || !session.owned) return;
          try {
            queueFor(session);
          } catch {
            return; // not read_committed: the first record of it fails the stream
          }
          schedule();
        },
      };

      const accept = (result: R): void => {
        const input = inputOf(result);
        const link = sessionOf(input);
        if (link === undefined) {
          throw new RxmlError('INVALID_CONFIG', 'toKafka({ exactlyOnce: true }) writes only results of records read by fromKafka (their offsets are committed in its transactions)');
        }
        const prepared = prepare(result);
        if (prepared instanceof RxmlError) {
          // No dead-letter topic: nothing from here on is written or committed.
          fail(prepared);
          return;
        }
        const queue = queueFor(link.session);
        const item: Item<D> = { prepared, record: input as KafkaSourced, offset: Number((input as KafkaSourced).offset) };
        if (!link.session.owned) {
          // The partition was revoked: its new owner processes the record.
          release([item]);
          return;
        }
        if (link.seq !== queue.nextSeq) {
          queue.early.set(link.seq, item);
          return;
        }
        queue.ready.push(item);
        queue.nextSeq++;
        for (let next = queue.early.get(queue.nextSeq); next !== undefined; next = queue.early.get(queue.nextSeq)) {
          queue.early.delete(queue.nextSeq);
          queue.ready.push(next);
          queue.nextSeq++;
        }
        schedule();
      };

      /**
       * One transaction of one input partition: init (and fence) if needed, write a contiguous run of
       * its results, commit the offset after the run, commit. Changes nothing in `queue` but the
       * producer: an attempt abandoned at its deadline may still finish in the background, and only
       * `run` applies an outcome. Nor does an abandoned attempt read `queue` once its waits are over
       * (see the check after the floor): what it found there could commit records nobody wrote.
       */
      /** The pre-commit topic-ID check (one Metadata request): true only when the input topic is the same log. */
      const topicUnchanged = async (session: PartitionSession): Promise<boolean> => (session.checkTopic === undefined ? true : (await session.checkTopic()) === 'same');

      const transact = async (
        queue: PartitionQueue<D>,
        used: { producer: Producer | undefined },
      ): Promise<TransactOutcome> => {
        const { session } = queue;
        let producer = queue.producer;
        used.producer = producer;
        const fresh = producer === undefined;
        if (producer === undefined) {
          producer = kafka.producer({
            transactionalId: queue.transactionalId,
            // kafkajs makes every transactional send idempotent anyway; `idempotent: true` would only
            // add retrying forever, which keeps an abandoned producer alive. A failed attempt is
            // retried here, with a new producer (a new epoch), so bounded retries are safe.
            idempotent: false,
            maxInFlightRequests: 1,
            // Short: a failed attempt is retried here with a new producer, up to deliveryTimeoutMs.
            retry: { retries: 5, initialRetryTime: 200, maxRetryTime: 2_000 },
            transactionTimeout: settings.transactionTimeoutMs,
            allowAutoTopicCreation: true,
            createPartitioner: Partitioners.DefaultPartitioner,
          });
          queue.producer = producer;
          used.producer = producer;
          await producer.connect();
          if (queue.producer !== producer) throw new Error('attempt abandoned');
        }
        // The first transaction of a producer sends InitProducerId: the epoch bump that fences the
        // previous owner and aborts (or completes) its open transaction. Only then is the committed
        // offset final.
        const transaction = await producer.transaction();
        // After the topic was deleted and created again the group's offset may be the old log's: the
        // source committed the new log's earliest offset, which is the floor then.
        const floor = fresh ? (session.resetFloor ?? (await committedOffset(session))) : queue.floor;
        // Abandoned at its deadline while it waited (InitProducerId or the offset read, e.g. across a
        // broker restart): `run` has moved on, and `queue` is no longer this attempt's to read — a
        // revoked session's records may have been released unwritten (`ready` empty, every emitted
        // record accounted for), and an offsets-only commit of the session's position would then
        // pass them. Its InitProducerId may have fenced the live producer; that attempt is retried.
        if (queue.producer !== producer) throw new Error('attempt abandoned');
        // Records below the committed offset were written by an earlier owner, in a committed transaction.
        const items = queue.ready;
        let skipped = 0;
        while (skipped < items.length && items[skipped]!.offset < floor) skipped++;
        let end = skipped;
        let bytes = 0;
        const most = Math.min(settings.maxBatchMessages, queue.limit ?? Number.POSITIVE_INFINITY);
        while (
          end < items.length &&
          end - skipped < most &&
          (end === skipped || bytes + items[end]!.prepared.size <= settings.maxBatchBytes)
        ) {
          bytes += items[end]!.prepared.size;
          end++;
        }
        // Everything emitted so far is in this run: the committed offset may go to the source's
        // position, past the markers and aborted records after the run (records emitted from now on
        // have offsets at or past it).
        const lastOfAll = end === items.length && queue.early.size === 0 && session.emitted === queue.nextSeq;
        const position = lastOfAll ? session.position : undefined;
        /**
         * Adds the input offset `next` to the transaction and commits it, `written` outputs with it —
         * unless the input topic was deleted and created again (or is gone, or its metadata
         * unreadable): then the outputs must not become visible with an offset of the wrong log.
         * Aborted; on a new ID the source has reset the partition and this session ends, otherwise
         * the run is tried again.
         */
        const commitAt = async (next: number, written: number): Promise<TransactOutcome> => {
          if (!(await topicUnchanged(session))) {
            await transaction.abort();
            return { floor, skipped, written: 0, committed: false, deferred: true };
          }
          await transaction.sendOffsets({
            consumerGroupId: session.groupId,
            topics: [{ topic: session.topic, partitions: [{ partition: session.partition, offset: String(next) }] }],
          });
          await transaction.commit();
          return { floor: next, skipped, written, committed: true };
        };
        if (end === skipped) {
          if (position !== undefined && position > floor) return commitAt(position, 0);
          await transaction.abort(); // nothing was added: no request
          return { floor, skipped, written: 0, committed: false };
        }
        const byTopic = new Map<string, { key: Buffer | string | null; value: Buffer | string | null; headers: Record<string, Buffer | string | (Buffer | string)[]> }[]>();
        for (let i = skipped; i < end; i++) {
          const { message } = items[i]!.prepared;
          let list = byTopic.get(message.topic);
          if (list === undefined) byTopic.set(message.topic, (list = []));
          list.push({ key: message.key, value: message.value, headers: kafkajsHeaders(message) });
        }
        // Fixed now: `ready` may change while this attempt waits (it is the queue's, not a copy).
        const next = Math.max(items[end - 1]!.offset + 1, position ?? 0);
        try {
          await transaction.sendBatch({
            acks: -1,
            ...(settings.compression === undefined ? {} : { compression: settings.compression }),
            topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
          });
        } catch (error) {
          // About one record (too large, invalid): the transaction is abandoned like any failed one,
          // and `run` narrows the next ones down to that record, which then goes as a dead letter.
          if (isPerRecordError(error) && !isFatal(error)) throw new RefusedRun(items.slice(skipped, end), error);
          throw error;
        }
        return commitAt(next, end - skipped);
      };

      const run = (queue: PartitionQueue<D>): void => {
        queue.busy = true;
        const used: { producer: Producer | undefined } = { producer: undefined };
        const attempt = transact(queue, used);
        // Whenever this attempt ends: if the sink shut down meanwhile, its producer (which may have
        // finished connecting after shutdown's disconnect) is disconnected again.
        void attempt
          .catch(() => undefined)
          .finally(() => {
            if (stopped) void used.producer?.disconnect().catch(() => undefined);
          });
        void (async () => {
          try {
            const outcome = await withDeadline(attempt, settings.transactionTimeoutMs, `transaction of ${queue.transactionalId} took longer than ${settings.transactionTimeoutMs} ms`);
            queue.floor = outcome.floor;
            queue.failingSince = undefined;
            queue.failures = 0;
            if (queue.limit !== undefined && outcome.floor > queue.limitUntil) queue.limit = undefined;
            // `accept` only appends, so the front of `ready` is still what the transaction saw.
            release(queue.ready.splice(0, outcome.skipped));
            const batch = queue.ready.splice(0, outcome.written);
            for (const item of batch) item.record.complete();
            if (outcome.committed) queue.session.committed(outcome.floor);
            if (!closed) for (const item of batch) subscriber.next(item.prepared.delivered);
            // Aborted at the topic-ID check: a revoked session is released at the next flush; else try again in a while.
            if (outcome.deferred === true && queue.session.owned) await sleep(1_000);
          } catch (error) {
            // Whatever failed (a fenced epoch, a lost connection, a broker restart, a timeout), the
            // transaction is abandoned with its producer; the next attempt starts a new producer whose
            // InitProducerId aborts it, and reads the committed offset again.
            const abandoned = used.producer ?? queue.producer;
            dropProducer(queue);
            // An attempt past its deadline may still be retrying (and reconnecting) inside kafkajs:
            // disconnect its producer again once it gave up, so no socket outlives the stream.
            if (abandoned !== undefined) void attempt.catch(() => undefined).finally(() => abandoned.disconnect().catch(() => undefined));
            if (error instanceof RefusedRun) {
              // Not a failure of the cluster: no backoff, no delivery timeout. Several records: the
              // next transactions take half as many, until the refused one is alone; alone, it is
              // replaced by its dead letter (then by a smaller one if that is refused too), written
              // with the others and the offsets in the next transaction.
              isolate(queue, error as RefusedRun<D>);
              return;
            }
            const now = Date.now();
            queue.failingSince ??= now;
            queue.failures++;
            const where = `${queue.session.topic}[${queue.session.partition}] (transactional id ${queue.transactionalId})`;
            if (isFatal(error)) {
              fail(new RxmlError('KAFKA_ERROR', `exactly-once transaction for ${where} failed: ${describe(error)}`, { cause: error }));
            } else if (now - queue.failingSince >= settings.deliveryTimeoutMs) {
              fail(
                new RxmlError('KAFKA_ERROR', `exactly-once transactions for ${where} failed for ${now - queue.failingSince} ms (${queue.failures} attempts): ${describe(error)}`, {
                  cause: error,
                  retriable: true,
                }),
              );
            } else {
              await sleep(Math.min(5_000, 100 * 2 ** Math.min(queue.failures, 6)));
            }
          } finally {
            queue.busy = false;
            schedule();
          }
        })();
      };

      const isolate = (queue: PartitionQueue<D>, refused: RefusedRun<D>): void => {
        const { items, reason } = refused;
        if (items.length > 1) {
          queue.limit = Math.ceil(items.length / 2);
          queue.limitUntil = Math.max(queue.limitUntil, items.at(-1)!.offset);
          return;
        }
        const item = items[0]!;
        item.refused ??= { prepared: item.prepared, reason, level: 0 };
        item.refused.level++;
        const replacement = refuse(item.refused.prepared, item.refused.reason, item.refused.level);
        if (replacement instanceof RxmlError) fail(replacement);
        else item.prepared = replacement;
      };

      const finish = (): void => {
        if (closed) return;
        closed = true;
        shutdown();
        if (fatal !== undefined) subscriber.error(fatal);
        else subscriber.complete();
      };

      const shutdown = (): void => {
        stopped = true;
        for (const queue of queues.values()) dropProducer(queue);
        const client = admin;
        admin = undefined;
        if (client !== undefined) void client.disconnect().catch(() => undefined);
        // A connect or transaction still retrying inside kafkajs gives up now, not after its backoff.
        own?.stopRetries();
      };

      const flush = (): void => {
        scheduled = false;
        if (closed) return;
        let busy = false;
        let pending = false;
        for (const [session, queue] of queues) {
          if (!session.owned) {
            // Revoked: the new owner fences this producer and processes these records.
            if (!queue.busy) {
              releaseAll(queue);
              dropProducer(queue);
              queues.delete(session);
              continue;
            }
          }
          if (queue.busy) {
            busy = true;
            continue;
          }
          if (queue.ready.length > 0 || queue.early.size > 0) pending = true;
          if (fatal === undefined && (queue.ready.length > 0 || wantsOffsets(queue))) {
            run(queue);
            busy = true;
          }
        }
        if (busy) return;
        if (fatal !== undefined || (upstreamDone && !pending)) finish();
      };

      const schedule = (): void => {
        if (scheduled || closed) return;
        scheduled = true;
        setImmediate(flush);
      };

      /**
       * The sink connects at once (its admin client, which every partition's first transaction needs
       * for the committed offset): a sink that cannot connect (wrong credentials, no `ssl` for a TLS
       * listener, a SASL mechanism the listener does not enable, an unreachable broker after kafkajs'
       * retries) fails the stream now, not at the first record — an input that is empty for now must
       * not hide it. Its retry loops end then (transactions already waiting on a connection give up).
       */
      let connectFailed = false;
      const failConnect = (error: unknown): void => {
        if (stopped || connectFailed) return;
        connectFailed = true;
        fail(
          settings.connectFailure?.(error) ??
            new RxmlError('KAFKA_ERROR', `cannot connect the exactly-once sink: ${describe(error)}`, { cause: error, retriable: isRetriableKafkaError(error) }),
        );
        own?.stopRetries();
      };
      // A certificate or TLS-listener failure found later (a reconnect) fails the stream the same way.
      void tls?.failed.then(failConnect);
      connectedAdmin().catch(failConnect);

      const subscription = source.subscribe({
        next: (result) => {
          if (fatal !== undefined || closed) return;
          try {
            accept(result);
          } catch (error) {
            fail(error instanceof RxmlError ? error : new RxmlError('KAFKA_ERROR', describe(error), { cause: error }));
          }
        },
        error: (error: unknown) => fail(error instanceof RxmlError ? error : new RxmlError('KAFKA_ERROR', describe(error), { cause: error })),
        complete: () => {
          upstreamDone = true;
          schedule();
        },
      });

      return () => {
        subscription.unsubscribe();
        if (closed) return;
        closed = true;
        // Transactions in flight finish (or are aborted by the next owner); then the producers go.
        void (async () => {
          const deadline = Date.now() + settings.transactionTimeoutMs;
          while ([...queues.values()].some((q) => q.busy) && Date.now() < deadline) await sleep(20);
          shutdown();
        })();
      };
    });
}
