import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { RxmlError } from '@rxml/core/contract';
import { Kafka } from 'kafkajs';
import type { KafkaLogger } from './logger.js';

/**
 * rxml runs kafkajs 2.2.4 with fixes of its own (patches/kafkajs@2.2.4.patch in the rxml repo):
 * read_committed drops every record of overlapping aborted transactions, a null header value is
 * written as length -1, headers keep their record order (a list under
 * `Symbol.for('rxml.kafka.headerList')`), a codec may refuse to inflate a record batch over
 * `maxDecompressedBatchBytes` (the zip-bomb bound), pipelined `sendBatch` calls put their produce
 * requests on the wire in call order (unpatched, a request whose encoding and compression finished
 * sooner overtook an earlier one, reordering a partition's records), and a client's retry loops end
 * when rxml gives up on it (a signal in its retry options, see `withRetryStop`), produce errors list
 * the refused topics (`partitionErrors`) and a refused SASL mechanism the broker's
 * (`enabledMechanisms`), and an idempotent producer's sequence numbers wrap at 2^31 - 1 as Kafka's
 * do (unpatched, the batch after the wrap was refused with OUT_OF_ORDER_SEQUENCE_NUMBER); and for
 * speed, numeric offsets and timestamps in the record decoder, a `resume` that wakes an idle fetch
 * loop, and a fetch loop that does not keep the last fetch's batches alive through the next fetch. For exactly-once: a re-join of the group that failed (a
 * broker restart) is tried again before the fetch loop goes on (unpatched, it fetched on under the
 * old generation without ever reporting a join), and `admin.fetchOffsets({ requireStable: true })`
 * (OffsetFetch v7, require_stable) waits out offsets a transaction has sent but not yet committed.
 * Inside the repo pnpm applies the patch; the published `@rxml/kafka` tarball carries the patched
 * copy itself (`bundleDependencies`).
 *
 * An unpatched kafkajs would fail silently (aborted records delivered, dead letters with reordered
 * headers, a zip-bomb batch crash-restarting the consumer forever, `toKafka`'s output out of input
 * order), so the first Kafka client made checks the kafkajs module this package resolves, by behaviour where that is cheap (one record
 * encoded and decoded in memory, one call of the abort filter; < 1 ms, once per process) and by the
 * patch's markers in the batch decoder and the produce path, and refuses to start if any check fails.
 */

const require = createRequire(import.meta.url);
const HEADER_LIST = Symbol.for('rxml.kafka.headerList');

/**
 * Why the kafkajs this package resolves (or the one `from` resolves: a `require` made with
 * `createRequire`) is not rxml's patched copy; empty when it is.
 */
export function kafkajsPatchProblems(from: NodeJS.Require = require): string[] {
  const problems: string[] = [];
  const attempt = (what: string, check: () => boolean): void => {
    try {
      if (!check()) problems.push(what);
    } catch (error) {
      problems.push(`${what} (${error instanceof Error ? error.message : String(error)})`);
    }
  };
  attempt('headers keep their record order and a null value (record encoder/decoder)', () => {
    const encodeRecord = from('kafkajs/src/protocol/recordBatch/record/v0/index.js') as (record: object) => { buffer: Buffer };
    const decodeRecord = from('kafkajs/src/protocol/recordBatch/record/v0/decoder.js') as (decoder: unknown, context: object) => { headers: Record<PropertyKey, unknown> };
    const Decoder = from('kafkajs/src/protocol/decoder.js') as new (buffer: Buffer) => { readVarInt(): number };
    const list = [
      { key: 'a', value: Buffer.from('1') },
      { key: 'b', value: null },
      { key: 'a', value: Buffer.from('2') },
    ];
    const headers = Object.defineProperty({}, HEADER_LIST, { value: list });
    const decoder = new Decoder(encodeRecord({ key: null, value: Buffer.from('v'), headers }).buffer);
    decoder.readVarInt(); // the record's length, read by the batch decoder before the record
    const decoded = decodeRecord(decoder, { firstOffset: '0', firstTimestamp: '0' }).headers[HEADER_LIST] as { key: string; value: Buffer | null }[] | undefined;
    return decoded?.map((h) => `${h.key}=${h.value === null ? 'null' : h.value.toString()}`).join(',') === 'a=1,b=null,a=2';
  });
  attempt('read_committed drops overlapping aborted transactions (consumer/filterAbortedMessages)', () => {
    const filter = from('kafkajs/src/consumer/filterAbortedMessages.js') as (args: object) => unknown[];
    // Producer 2's transaction starts before producer 1's but is listed after it (abort-marker order).
    const kept = filter({
      messages: [{ offset: '0', key: null, batchContext: { producerId: '2', inTransaction: true } }],
      abortedTransactions: [
        { producerId: '1', firstOffset: '1' },
        { producerId: '2', firstOffset: '0' },
      ],
    });
    return kept.length === 0;
  });
  attempt('a codec may refuse to inflate an oversized batch (recordBatch/v0/decoder)', () =>
    readFileSync(from.resolve('kafkajs/src/protocol/recordBatch/v0/decoder.js'), 'utf8').includes('error.standIn'),
  );
  attempt("a client's retries end when rxml gives up on it (retry/index.js)", () =>
    readFileSync(from.resolve('kafkajs/src/retry/index.js'), 'utf8').includes("Symbol.for('rxml.kafka.retryAbort')"),
  );
  attempt('pipelined produce requests go on the wire in call order (network/connection, producer/sendMessages)', () =>
    readFileSync(from.resolve('kafkajs/src/network/connection.js'), 'utf8').includes('rxmlQueueTail') &&
    readFileSync(from.resolve('kafkajs/src/producer/sendMessages.js'), 'utf8').includes('previousQueued'),
  );
  attempt('an idempotent producer repeats a request with the same sequence numbers and keeps pipelining (producer/sendMessages)', () =>
    readFileSync(from.resolve('kafkajs/src/producer/sendMessages.js'), 'utf8').includes('idempotentOnly'),
  );
  attempt("sequence numbers wrap at 2^31 - 1 as Kafka's do (producer/eosManager)", () =>
    readFileSync(from.resolve('kafkajs/src/producer/eosManager/index.js'), 'utf8').includes('previous > INT_32_MAX_VALUE - increment'),
  );
  attempt('a failed re-join of the group is tried again before fetching (consumer/runner.js)', () =>
    readFileSync(from.resolve('kafkajs/src/consumer/runner.js'), 'utf8').includes("Symbol.for('rxml.kafka.rejoinPending')"),
  );
  attempt('stable offset reads: OffsetFetch v7 with require_stable (admin.fetchOffsets requireStable)', () => {
    const offsetFetch = from('kafkajs/src/protocol/requests/offsetFetch/index.js') as {
      stable?: { protocol(args: { version: number }): (args: object) => { request: { apiVersion: number } } };
    };
    return (
      offsetFetch.stable?.protocol({ version: 7 })({ groupId: 'g', topics: [] }).request.apiVersion === 7 &&
      readFileSync(from.resolve('kafkajs/src/protocol/requests/offsetFetch/v7/request.js'), 'utf8').includes('.writeBoolean(requireStable)') &&
      readFileSync(from.resolve('kafkajs/src/admin/index.js'), 'utf8').includes('offsetFetch({ groupId, topics: topicsToFetch, requireStable })')
    );
  });
  return problems;
}

let checked = false;

/**
 * Throws `RxmlError` `KAFKA_ERROR` (not retriable) naming what is missing and how to fix it when
 * the kafkajs module rxml loads (or `from` resolves) lacks rxml's patch. The module rxml loads is
 * checked once per process (then free).
 */
export function assertPatchedKafkajs(from: NodeJS.Require = require): void {
  if (checked && from === require) return;
  const problems = kafkajsPatchProblems(from);
  if (problems.length > 0) {
    let where = 'kafkajs';
    try {
      where = from.resolve('kafkajs');
    } catch {
      // reported by the problems already
    }
    throw new RxmlError(
      'KAFKA_ERROR',
      `@rxml/kafka refuses to start: the kafkajs it loads (${where}) lacks rxml's kafkajs 2.2.4 patch — ${problems.join('; ')}. ` +
        'Install @rxml/kafka from its packed tarball (it carries the patched kafkajs in its own node_modules; README "Use rxml in your app") ' +
        'and do not override or dedupe its kafkajs; inside the rxml repo run `pnpm install` (pnpm applies patches/kafkajs@2.2.4.patch).',
      { retriable: false },
    );
  }
  if (from === require) checked = true;
}

const foreignWarned = new WeakSet<object>();

/**
 * A ready `kafka` client passed in options cannot be checked like the module above: when it was
 * made with another kafkajs install than the one @rxml/kafka loads (not an instance of its `Kafka`),
 * logs one ERROR line per client saying that rxml's kafkajs fixes and codecs do not apply to it.
 * Not refused: the option exists for clients built by the application; the line says how to avoid it.
 */
export function warnIfForeignKafka(kafka: object | undefined, logger: KafkaLogger): void {
  if (kafka === undefined || kafka instanceof Kafka || foreignWarned.has(kafka)) return;
  foreignWarned.add(kafka);
  logger.error(
    "the `kafka` client given was made with another kafkajs install than @rxml/kafka's (patched) copy: rxml's kafkajs fixes " +
      '(maxDecompressedBatchBytes, header order and null header values, read_committed over overlapping aborted transactions) ' +
      'and its snappy/lz4/zstd codecs do not apply to it; leave `kafka` out and pass `brokers`, `ssl`, `sasl` instead',
    {},
  );
}
