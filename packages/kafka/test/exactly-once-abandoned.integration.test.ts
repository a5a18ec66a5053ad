import net from 'node:net';
import { RxmlError } from '@rxml/core/contract';
import { committedOffsets, createTopics, produce, readTopic } from '@rxml/kafka-testkit';
import { Kafka, logLevel, type ISocketFactory } from 'kafkajs';
import { Subject } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { createSession, SOURCE_SEQ, SOURCE_SESSION } from '../src/internal/partition-session.js';
import { transactionalSink, type PreparedMessage } from '../src/internal/transactional-sink.js';
import { brokers, fresh, until } from './support/index.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** kafkajs' InitProducerId request (API key 22): the epoch bump that fences a transactional id's previous owner. */
const INIT_PRODUCER_ID = 22;

/**
 * Plain TCP sockets to the real broker that hold back every InitProducerId request while `held` —
 * what a broker restart does to a transactional producer that connected just before it. A held
 * request is written when the hold ends (on the same socket, if it is still open).
 */
function holdingInitProducerId(): { readonly socketFactory: ISocketFactory; held: boolean; holding: number; release(): void } {
  const waiting: (() => void)[] = [];
  const state = {
    held: false,
    holding: 0,
    release(): void {
      state.held = false;
      for (const write of waiting.splice(0)) write();
    },
    socketFactory: (({ host, port, onConnect }) => {
      const socket = net.connect({ host, port }, onConnect);
      socket.setKeepAlive(true, 60_000);
      const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
      socket.write = ((data: unknown, ...rest: unknown[]) => {
        // One write per request: size (4 bytes), then api key (int16).
        if (state.held && Buffer.isBuffer(data) && data.length >= 6 && data.readInt16BE(4) === INIT_PRODUCER_ID) {
          state.holding++;
          waiting.push(() => {
            if (!socket.destroyed) write(data, ...rest);
          });
          return true;
        }
        return write(data, ...rest);
      }) as typeof socket.write;
      return socket;
    }) as ISocketFactory,
  };
  return state;
}

describe('exactly-once sink: an attempt abandoned at its deadline (real broker)', () => {
  it('commits nothing once abandoned: a revoked session whose records were released unwritten keeps its committed offset', async () => {
    const [input, output, group] = [fresh('eos-abandon-in'), fresh('eos-abandon-out'), fresh('eos-abandon-group')];
    await createTopics(brokers(), [
      { topic: input, partitions: 1 },
      { topic: output, partitions: 1 },
    ]);
    const RECORDS = 10;
    await produce(brokers(), input, Array.from({ length: RECORDS }, (_, i) => ({ key: `k${i}`, value: `v${i}`, partition: 0 })));

    // The group's coordinator is up (a fresh broker creates __consumer_offsets at the first look-up).
    await until(async () => (await committedOffsets(brokers(), group, input)).size >= 0, 60_000, 'the group coordinator');
    const hold = holdingInitProducerId();
    const kafka = new Kafka({ brokers: brokers(), clientId: 'eos-abandon', logLevel: logLevel.NOTHING, socketFactory: hold.socketFactory });
    let owned = true;
    // The source side of one assigned partition, as fromKafka makes it: every record of it emitted.
    const session = createSession(
      input,
      0,
      group,
      'read_committed',
      () => owned,
      () => undefined,
      () => RECORDS,
    );
    let completed = 0;
    const records = Array.from({ length: RECORDS }, (_, i) => ({
      [SOURCE_SESSION]: session,
      [SOURCE_SEQ]: session.emitted++,
      topic: input,
      partition: 0,
      offset: String(i),
      key: Buffer.from(`k${i}`),
      rawValue: Buffer.from(`v${i}`),
      headers: {},
      complete: () => void completed++,
    }));
    type Rec = (typeof records)[number];

    const results = new Subject<Rec>();
    const delivered: string[] = [];
    const sink = transactionalSink<Rec, string>(
      { kafka, transactionalId: fresh('eos-abandon-app'), transactionTimeoutMs: 1_500, deliveryTimeoutMs: 120_000, maxBatchMessages: 200, maxBatchBytes: 1_000_000, compression: undefined },
      (r): PreparedMessage<string> => ({ delivered: r.offset, message: { topic: output, key: r.key, value: r.rawValue, headers: {} }, size: 10 }),
      (r) => r,
      () => new RxmlError('KAFKA_ERROR', 'no dead-letter topic'),
    );
    let failed: unknown;
    const subscription = sink(results).subscribe({ next: (d) => delivered.push(d), error: (e: unknown) => (failed = e) });
    try {
      // The first transaction's InitProducerId hangs (the broker is going away), past the attempt's deadline.
      hold.held = true;
      for (const r of records) results.next(r);
      await until(() => hold.holding > 0, 30_000, 'the first InitProducerId to be sent');
      // Meanwhile the group takes the partition away (the member rejoined with a new id after the
      // restart): the sink releases the session's records unwritten once the attempt is abandoned.
      owned = false;
      await until(() => completed === RECORDS, 30_000, () => `the revoked session's records to be released (${completed} of ${RECORDS})`);
      // The broker answers again: the abandoned attempt's InitProducerId goes through.
      hold.release();
      await sleep(5_000);

      const committed = (await committedOffsets(brokers(), group, input)).get(0);
      const out = await readTopic(brokers(), output);
      // Nothing was written, so nothing may be committed: the partition's next owner reads all 10.
      expect({ committed: committed ?? '-1', outputs: out.length, delivered: delivered.length, failed }).toEqual({ committed: '-1', outputs: 0, delivered: 0, failed: undefined });
    } finally {
      hold.release();
      subscription.unsubscribe();
    }
  }, 90_000);
});
