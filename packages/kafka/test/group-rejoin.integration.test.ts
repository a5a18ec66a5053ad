import net from 'node:net';
import { createTopics, produce } from '@rxml/kafka-testkit';
import { Kafka, logLevel, type ISocketFactory } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { fromKafka, type KafkaSourceEvent } from '../src/index.js';
import { brokers, fresh, until } from './support/index.js';

/** Kafka API keys (request header, int16 after the size). */
const JOIN_GROUP = 11;
const HEARTBEAT = 12;
/** Error codes as a restarting broker answers them while it has not loaded the group's coordinator yet. */
const NOT_COORDINATOR = 16;
const COORDINATOR_LOAD_IN_PROGRESS = 14;

/**
 * Plain TCP sockets to the real broker that, once `armed`, play what a group member sees across a
 * broker restart: one Heartbeat answered NOT_COORDINATOR (the request still reaches the broker,
 * which keeps the member and its generation: only the answer is rewritten), then the next JoinGroup
 * answered COORDINATOR_LOAD_IN_PROGRESS by the socket itself (never sent: the broker's group stays
 * as it was). Responses are handed to kafkajs one whole frame at a time, so an answer made up here
 * never lands inside a real one.
 */
function restartLikeCoordinator(): { readonly socketFactory: ISocketFactory; armed: boolean; heartbeatFailed: boolean; joinFailed: boolean; joinsAfter: number } {
  const state = {
    armed: false,
    heartbeatFailed: false,
    joinFailed: false,
    /** JoinGroup requests sent to the broker after the made-up failure. */
    joinsAfter: 0,
    socketFactory: (({ host, port, onConnect }) => {
      const socket = net.connect({ host, port }, onConnect);
      socket.setKeepAlive(true, 60_000);
      /** Correlation ids of responses to rewrite: error code offset in the frame, and the code. */
      const rewrites = new Map<number, { at: number; code: number }>();
      const madeUp: Buffer[] = [];
      let pending = Buffer.alloc(0);
      const emit = socket.emit.bind(socket) as (event: string | symbol, ...args: unknown[]) => boolean;
      const flushMadeUp = (): void => {
        if (pending.length === 0) for (const frame of madeUp.splice(0)) emit('data', frame);
      };
      socket.emit = ((event: string | symbol, ...args: unknown[]) => {
        if (event !== 'data') return emit(event, ...args);
        pending = Buffer.concat([pending, args[0] as Buffer]);
        while (pending.length >= 4 && pending.length >= 4 + pending.readInt32BE(0)) {
          const frame = Buffer.from(pending.subarray(0, 4 + pending.readInt32BE(0)));
          pending = pending.subarray(frame.length);
          const rewrite = rewrites.get(frame.readInt32BE(4));
          if (rewrite !== undefined) {
            rewrites.delete(frame.readInt32BE(4));
            frame.writeInt16BE(rewrite.code, rewrite.at);
          }
          emit('data', frame);
        }
        flushMadeUp();
        return true;
      }) as typeof socket.emit;
      const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
      socket.write = ((data: unknown, ...rest: unknown[]) => {
        // One write per request: size (int32), api key (int16), api version (int16), correlation id (int32).
        if (state.armed && Buffer.isBuffer(data) && data.length >= 12) {
          const apiKey = data.readInt16BE(4);
          const version = data.readInt16BE(6);
          const correlationId = data.readInt32BE(8);
          if (apiKey === HEARTBEAT && !state.heartbeatFailed) {
            state.heartbeatFailed = true;
            // v1+: throttle_time_ms (int32) before error_code.
            rewrites.set(correlationId, { at: version >= 1 ? 12 : 8, code: NOT_COORDINATOR });
          } else if (apiKey === JOIN_GROUP && state.heartbeatFailed && !state.joinFailed) {
            state.joinFailed = true;
            // Kafka 4 answers JoinGroup v2 and later only (KIP-896); kafkajs sends v5.
            if (version < 2) throw new Error(`JoinGroup v${version}: the made-up answer is for v2-v5`);
            // JoinGroup v2-v5 response: throttle_time_ms, error_code, generation_id, protocol, leader, member_id, [members].
            const body = Buffer.alloc(4 + 4 + 4 + 2 + 4 + 2 + 2 + 2 + 4);
            let at = 0;
            at = body.writeInt32BE(body.length - 4, at);
            at = body.writeInt32BE(correlationId, at);
            at = body.writeInt32BE(0, at);
            at = body.writeInt16BE(COORDINATOR_LOAD_IN_PROGRESS, at);
            at = body.writeInt32BE(-1, at);
            at = body.writeInt16BE(0, at);
            at = body.writeInt16BE(0, at);
            at = body.writeInt16BE(0, at);
            body.writeInt32BE(0, at);
            madeUp.push(body);
            setImmediate(flushMadeUp);
            return true;
          } else if (apiKey === JOIN_GROUP && state.joinFailed) {
            state.joinsAfter++;
          }
        }
        return write(data, ...rest);
      }) as typeof socket.write;
      return socket;
    }) as ISocketFactory,
  };
  return state;
}

describe('group rejoin: a rejoin that fails (broker restart) is tried again, not skipped (real broker)', () => {
  it('leaves "rebalancing" and delivers the records produced after the failed rejoin', async () => {
    const [input, group] = [fresh('rejoin-in'), fresh('rejoin-group')];
    await createTopics(brokers(), [{ topic: input, partitions: 1 }]);
    await produce(brokers(), input, Array.from({ length: 50 }, (_, i) => ({ key: `a${i}`, value: `v${i}` })));
    const coordinator = restartLikeCoordinator();
    const kafka = new Kafka({
      brokers: brokers(),
      clientId: 'rejoin',
      logLevel: logLevel.NOTHING,
      socketFactory: coordinator.socketFactory,
      retry: { retries: 30, initialRetryTime: 300, maxRetryTime: 3_000 },
    });
    const controller = new AbortController();
    const events: KafkaSourceEvent[] = [];
    const received = new Set<string>();
    let failed: unknown;
    const subscription = fromKafka({ kafka, topic: input, groupId: group, fromBeginning: true, sessionTimeout: 6_000, heartbeatInterval: 500, signal: controller.signal, onEvent: (e) => events.push(e) }).subscribe({
      next: (record) => {
        received.add(record.key?.toString() ?? '');
        record.complete();
      },
      error: (error: unknown) => (failed = error),
    });
    const describeState = (): string => `${received.size} records received, events: ${events.slice(-12).map((e) => e.type).join(' ')}${failed === undefined ? '' : `, failed: ${String(failed)}`}`;
    try {
      await until(() => received.size === 50 || failed !== undefined, 60_000, () => `the first 50 records (${describeState()})`);
      expect(failed).toBeUndefined();
      const armedAt = events.length;
      coordinator.armed = true;
      await until(() => coordinator.joinFailed || failed !== undefined, 30_000, () => `the made-up NOT_COORDINATOR heartbeat and failed JoinGroup (${describeState()})`);
      expect(failed).toBeUndefined();
      expect(events.slice(armedAt).map((e) => e.type)).toContain('rebalancing');
      await produce(brokers(), input, Array.from({ length: 50 }, (_, i) => ({ key: `b${i}`, value: `v${i}` })));
      // Unfixed, kafkajs' fetch loop went on under the old generation without a GROUP_JOIN: the
      // source stayed "rebalancing" (taking no batch) for as long as the heartbeats kept succeeding.
      await until(() => received.size === 100 || failed !== undefined, 30_000, () => `the 50 records produced after the failed rejoin (${describeState()}; JoinGroup requests since: ${coordinator.joinsAfter})`);
      expect(coordinator.joinsAfter).toBeGreaterThan(0);
      expect(failed).toBeUndefined();
    } finally {
      controller.abort();
      coordinator.armed = false;
      await until(() => subscription.closed, 30_000, 'the source to stop').catch(() => subscription.unsubscribe());
    }
  }, 120_000);
});
