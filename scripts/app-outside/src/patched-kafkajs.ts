/**
 * Proof for CI that this app, installed from the tarballs, runs rxml's patched kafkajs (the copy
 * @rxml/kafka bundles; patches/kafkajs@2.2.4.patch): a record whose headers are a=1, b=null, a=2
 * (interleaved repeated name, null value) is written and read back with the kafkajs @rxml/kafka
 * resolves. An unpatched kafkajs writes no list and decodes headers as a plain object (a, a, b).
 * Not something an app needs: it reaches for @rxml/kafka's own kafkajs on purpose.
 */
import { createRequire } from 'node:module';

export interface HeaderEntry {
  readonly key: string;
  readonly value: Buffer | null;
}
interface Message {
  readonly value: Buffer | null;
  readonly headers?: Record<PropertyKey, unknown>;
}
interface KafkajsModule {
  Kafka: new (config: object) => {
    producer(config?: object): { connect(): Promise<void>; disconnect(): Promise<void>; send(r: { topic: string; acks: number; messages: object[] }): Promise<unknown> };
    consumer(config: object): {
      connect(): Promise<void>;
      disconnect(): Promise<void>;
      subscribe(s: { topic: string; fromBeginning: boolean }): Promise<void>;
      run(r: { eachMessage: (p: { message: Message }) => Promise<void> }): Promise<void>;
    };
  };
  logLevel: { NOTHING: number };
}

/** The header list under which the patched kafkajs keeps headers in record order. */
export const HEADER_LIST = Symbol.for('rxml.kafka.headerList');

// The kafkajs that @rxml/kafka itself loads (resolved from its own directory).
const kafkajs = createRequire(createRequire(import.meta.url).resolve('@rxml/kafka/package.json'))('kafkajs') as KafkajsModule;

function kafka(brokers: readonly string[]) {
  return new kafkajs.Kafka({ brokers, clientId: 'rxml-app-check', logLevel: kafkajs.logLevel.NOTHING });
}

/** Writes one record with exactly `headers` (in this order; null values allowed). */
export async function produceWithHeaders(brokers: readonly string[], topic: string, value: string, headers: readonly HeaderEntry[]): Promise<void> {
  const producer = kafka(brokers).producer();
  await producer.connect();
  try {
    await producer.send({ topic, acks: -1, messages: [{ value, headers: Object.defineProperty({}, HEADER_LIST, { value: headers }) }] });
  } finally {
    await producer.disconnect();
  }
}

/** The first `count` records of `topic` with their header lists as decoded (undefined: no list, i.e. unpatched). */
export async function readHeaderLists(brokers: readonly string[], topic: string, count: number, timeoutMs: number): Promise<{ value: string | null; headers: readonly HeaderEntry[] | undefined }[]> {
  const consumer = kafka(brokers).consumer({ groupId: `rxml-app-check-${Date.now().toString(36)}`, maxWaitTimeInMs: 200, sessionTimeout: 6000, rebalanceTimeout: 6000 });
  const out: { value: string | null; headers: readonly HeaderEntry[] | undefined }[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`read ${out.length} of ${count} records of ${topic} in ${timeoutMs} ms`)), timeoutMs);
      void consumer
        .run({
          eachMessage: async ({ message }) => {
            out.push({ value: message.value === null ? null : message.value.toString(), headers: message.headers?.[HEADER_LIST] as HeaderEntry[] | undefined });
            if (out.length >= count) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return out;
}

/** `a=1,b=null,a=2` for a header list. */
export function headerText(headers: readonly HeaderEntry[] | undefined): string {
  return headers === undefined ? '(no header list: unpatched kafkajs)' : headers.map((h) => `${h.key}=${h.value === null ? 'null' : h.value.toString()}`).join(',');
}
