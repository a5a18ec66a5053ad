import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

// kafkajs 2.2.4's read_committed filter, as installed (with patches/kafkajs@2.2.4.patch).
const require = createRequire(import.meta.url);
const filterAbortedMessages = require('kafkajs/src/consumer/filterAbortedMessages') as (args: {
  messages: readonly { offset: string; key: Buffer | null; batchContext: { producerId: string; inTransaction: boolean } }[];
  abortedTransactions: readonly { firstOffset: string; producerId: string }[];
}) => { offset: string }[];

const record = (offset: number, producerId: string) => ({ offset: String(offset), key: Buffer.from(`k${offset}`), batchContext: { producerId, inTransaction: true } });

describe('kafkajs read_committed filter (patched)', () => {
  it('drops the records of every aborted transaction that started before the fetch, not only the first', () => {
    // Producers 7 and 8 both opened transactions before offset 100 (where this fetch starts) and
    // both were aborted; producer 9 committed. Unpatched kafkajs entered one aborted transaction per
    // message and returned 8's record at 100.
    const messages = [record(100, '8'), record(101, '7'), record(102, '9'), record(103, '8')];
    const kept = filterAbortedMessages({ messages, abortedTransactions: [{ firstOffset: '90', producerId: '7' }, { firstOffset: '95', producerId: '8' }] });
    expect(kept.map((m) => m.offset)).toEqual(['102']);
  });
});
