import { createHash } from 'node:crypto';
import { inputErrorOf, RxmlError, type PredictResult } from '@rxml/core/contract';
import type { KafkaRecord } from '../../src/index.js';
import type { JavaRecord } from './java.js';

/** Above the broker's default message.max.bytes (1 MiB) once uncompressed. */
export const BIG = 1_200_000;

/** The poison-pill tests' result value: a label, padded to `BIG` characters for `ok-big`. */
export interface Scored {
  readonly label: string;
  readonly pad?: string;
}

/** A stand-in for predict: `ok-*` values succeed (output padded for `ok-big`), anything else fails. */
export function score(record: KafkaRecord<Buffer | null>): PredictResult<KafkaRecord<Buffer | null>, Scored> {
  const text = record.value?.subarray(0, 20).toString('latin1') ?? '';
  const model = { name: 'poison-test', version: '1' };
  const unreadable = inputErrorOf(record);
  if (unreadable !== undefined) return { ok: false, input: record, error: unreadable };
  if (text.startsWith('ok-big')) return { ok: true, input: record, value: { label: 'big', pad: randomText(BIG) }, model, latencyMs: 1 };
  if (text.startsWith('ok-')) return { ok: true, input: record, value: { label: text }, model, latencyMs: 1 };
  return { ok: false, input: record, error: new RxmlError('INVALID_INPUT', `cannot score ${JSON.stringify(text)}`) };
}

/** Incompressible text of `n` chars (hex of a hash chain). */
export function randomText(n: number): string {
  let out = '';
  let h = Buffer.from('seed');
  while (out.length < n) {
    h = createHash('sha256').update(h).digest();
    out += h.toString('hex');
  }
  return out.slice(0, n);
}

/** The last value of header `name` as text (repeated names: the last one, as a map would keep). */
export const header = (r: JavaRecord, name: string): string | undefined => r.headers.filter(([n]) => n === name).at(-1)?.[1]?.toString();

export const sha256 = (bytes: Buffer | string): string => createHash('sha256').update(bytes).digest('hex');

/**
 * Headers a Java producer can write and kafkajs alone would mangle: repeated names interleaved with
 * others (hop, tenant, hop, bin, hop), a null value, binary bytes, an empty value. Dead letters must
 * keep them in record order, byte for byte.
 */
export const ODD_HEADERS: JavaRecord['headers'] = [
  ['hop', Buffer.from('gateway-a')],
  ['tenant', null],
  ['hop', Buffer.from('enricher-b')],
  ['bin', Buffer.from([0, 255, 1, 254])],
  ['hop', Buffer.from('router-c')],
  ['empty', Buffer.alloc(0)],
];
