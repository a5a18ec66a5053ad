import { createHash } from 'node:crypto';
import { RxmlError } from '@rxml/core/contract';
import type { KafkaHeaders } from '../record.js';
import type { HeaderList, OutgoingMessage } from './client.js';

type Bytes = Buffer | string;

/**
 * Where the patched kafkajs (patches/kafkajs@2.2.4.patch) keeps a record's headers in record order:
 * a non-enumerable array of `{ key, value }` on the headers object. Its decoder attaches it to every
 * consumed record's headers; its encoder writes it, when present, instead of the object's entries.
 */
export const KAFKAJS_HEADER_LIST: unique symbol = Symbol.for('rxml.kafka.headerList') as never;

interface DecodedHeader {
  readonly key: string;
  readonly value: Bytes | null;
}

/**
 * A record's headers as an ordered list of (name, value) pairs, byte for byte: repeated names, names
 * interleaved with others (a, b, a) and null values kept, in record order. kafkajs decodes headers
 * into an object whose repeated names hold arrays; the patched decoder also attaches the exact list
 * ({@link KAFKAJS_HEADER_LIST}), read here. Headers without it (built by hand) are read in
 * object order, each name's values together.
 */
export function headerListOf(headers: KafkaHeaders): HeaderList {
  const exact = (headers as { readonly [KAFKAJS_HEADER_LIST]?: readonly DecodedHeader[] })[KAFKAJS_HEADER_LIST];
  if (Array.isArray(exact)) return exact.map((h: DecodedHeader) => [h.key, h.value ?? null] as const);
  const list: [string, Buffer | string | null][] = [];
  for (const [name, value] of Object.entries(headers as Record<string, unknown>)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const v of value as (Bytes | null)[]) list.push([name, v ?? null]);
    else list.push([name, (value as Bytes | null) ?? null]);
  }
  return list;
}

/**
 * An exact header list as kafkajs takes it: an object of arrays (each name's values in order) that
 * also carries the list itself under {@link KAFKAJS_HEADER_LIST}, which the patched encoder writes
 * as is — so interleaved names keep their order and null values are written as length -1.
 */
export function kafkajsHeadersOf(list: HeaderList): Record<string, (Buffer | string)[]> {
  const headers: Record<string, (Bytes | null)[]> = {};
  for (const [name, value] of list) (headers[name] ??= []).push(value);
  Object.defineProperty(headers, KAFKAJS_HEADER_LIST, { value: list.map(([key, value]) => ({ key, value })) });
  // kafkajs' types have no null header value; its (patched) encoder takes one.
  return headers as Record<string, (Buffer | string)[]>;
}

/** The last non-null value per name: the plain-object view for producers that take no list. */
export function flatHeadersOf(list: HeaderList): Record<string, Bytes> {
  const out: Record<string, Bytes> = {};
  for (const [name, value] of list) if (value !== null) out[name] = value;
  return out;
}

/** Per-header overhead in a v2 record (varint lengths), rounded up. */
const HEADER_OVERHEAD = 8;

export function headerListSize(list: HeaderList): number {
  let size = 0;
  for (const [name, value] of list) size += HEADER_OVERHEAD + Buffer.byteLength(name) + (value === null ? 0 : typeof value === 'string' ? Buffer.byteLength(value) : value.length);
  return size;
}

/**
 * Kafka produce errors that are about one record, not the cluster: the broker refuses that record
 * (MESSAGE_TOO_LARGE 10, RECORD_LIST_TOO_LARGE 18, CORRUPT_MESSAGE 2, INVALID_TIMESTAMP 32,
 * INVALID_RECORD 87 — Kafka protocol error codes), or the client cannot encode it (a value or
 * header its encoder refuses). Looks through kafkajs (`type`, `cause`, `originalError`) and
 * `@platformatic/kafka` (`apiId`, `errorCode`, `errors`, `cause`) error shapes.
 */
export function isPerRecordError(error: unknown, depth = 0): boolean {
  if (typeof error !== 'object' || error === null || depth > 6) return false;
  const e = error as { name?: unknown; type?: unknown; apiId?: unknown; errorCode?: unknown; code?: unknown; message?: unknown; cause?: unknown; originalError?: unknown; errors?: unknown };
  for (const field of [e.type, e.apiId, e.code]) if (typeof field === 'string' && PER_RECORD_TYPES.has(field)) return true;
  for (const field of [e.errorCode, e.code]) if (typeof field === 'number' && PER_RECORD_CODES.has(field)) return true;
  if (typeof e.message === 'string' && PER_RECORD_MESSAGE.test(e.message)) return true;
  // A local encoding failure (a value or header the client cannot encode): Node's argument type errors.
  if (e.code === 'ERR_INVALID_ARG_TYPE') return true;
  if (Array.isArray(e.errors) && e.errors.some((x) => isPerRecordError(x, depth + 1))) return true;
  return isPerRecordError(e.cause, depth + 1) || isPerRecordError(e.originalError, depth + 1);
}

/** Whether the refusal is about size (MESSAGE_TOO_LARGE 10, RECORD_LIST_TOO_LARGE 18). */
export function isTooLarge(error: unknown, depth = 0): boolean {
  if (typeof error !== 'object' || error === null || depth > 6) return false;
  const e = error as { type?: unknown; apiId?: unknown; errorCode?: unknown; code?: unknown; message?: unknown; cause?: unknown; originalError?: unknown; errors?: unknown };
  for (const field of [e.type, e.apiId, e.code]) if (field === 'MESSAGE_TOO_LARGE' || field === 'RECORD_LIST_TOO_LARGE') return true;
  for (const field of [e.errorCode, e.code]) if (field === 10 || field === 18) return true;
  if (typeof e.message === 'string' && /TOO_LARGE|larger than the max message size/i.test(e.message)) return true;
  if (Array.isArray(e.errors) && e.errors.some((x) => isTooLarge(x, depth + 1))) return true;
  return isTooLarge(e.cause, depth + 1) || isTooLarge(e.originalError, depth + 1);
}

const PER_RECORD_TYPES = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE', 'CORRUPT_MESSAGE', 'INVALID_TIMESTAMP', 'INVALID_RECORD']);
const PER_RECORD_CODES = new Set([10, 18, 2, 32, 87]);
const PER_RECORD_MESSAGE =
  /MESSAGE_TOO_LARGE|RECORD_LIST_TOO_LARGE|INVALID_RECORD|larger than the max message size|Failed to serialize a message|The "string" argument must be of type string/;

/** The broker's (or client's) reason, short: error types and messages along the cause chain. */
function reasonOf(error: unknown): string {
  const parts: string[] = [];
  const walk = (x: unknown, depth: number): void => {
    if (typeof x !== 'object' || x === null || depth > 5) return;
    const e = x as { type?: unknown; apiId?: unknown; message?: unknown; cause?: unknown; originalError?: unknown; errors?: unknown };
    const type = typeof e.type === 'string' ? e.type : typeof e.apiId === 'string' ? e.apiId : undefined;
    const message = typeof e.message === 'string' ? e.message : undefined;
    if (type !== undefined || message !== undefined) parts.push([type, message].filter((p) => p !== undefined).join(': '));
    if (Array.isArray(e.errors)) for (const inner of e.errors.slice(0, 3)) walk(inner, depth + 1);
    walk(e.cause ?? e.originalError, depth + 1);
  };
  walk(error, 0);
  return [...new Set(parts)].join(' <- ').slice(0, 1_000);
}

const bytesOf = (value: Bytes | null): Buffer => (value === null ? Buffer.alloc(0) : typeof value === 'string' ? Buffer.from(value) : value);

export interface WhereFrom {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
}

/**
 * The dead letter of a record the broker refused (or the client could not encode): no value (the
 * likely culprit), the original key, and headers saying why, with the refused value's size and
 * SHA-256 so it can be matched with its source. `level` 1 keeps the message's own headers as they
 * are (repeated names and null values included), level 2 keeps only rxml's: used when level 1 is
 * refused as well.
 */
export function refusedDeadLetter(
  message: OutgoingMessage,
  deadLetterTopic: string,
  error: unknown,
  code: string,
  source: WhereFrom | undefined,
  level: 1 | 2,
): OutgoingMessage {
  const value = bytesOf(message.value);
  const own = message.headerList ?? Object.entries(message.headers);
  const kept: [string, Bytes | null][] =
    level === 1
      ? own.filter(([name]) => !name.startsWith('rxml-refused-')).map(([n, v]) => [n, v])
      : own.filter(([name, v]) => v !== null && /^rxml-(error|source)-/.test(name)).map(([n, v]) => [n, v]);
  const has = (name: string): boolean => kept.some(([n]) => n === name);
  if (!has('rxml-error-code')) kept.push(['rxml-error-code', code]);
  if (!has('rxml-error-message')) kept.push(['rxml-error-message', `the broker refused the record: ${reasonOf(error)}`]);
  if (source !== undefined && !has('rxml-source-topic')) {
    kept.push(['rxml-source-topic', source.topic], ['rxml-source-partition', String(source.partition)], ['rxml-source-offset', source.offset]);
  }
  kept.push(
    ['rxml-refused-reason', reasonOf(error)],
    ['rxml-refused-topic', message.topic],
    ['rxml-refused-value-bytes', String(value.length)],
    ['rxml-refused-value-sha256', createHash('sha256').update(value).digest('hex')],
    ['rxml-refused-value-null', message.value === null ? 'true' : 'false'],
  );
  return { topic: deadLetterTopic, key: message.key, value: null, headers: flatHeadersOf(kept), headerList: kept };
}

/** The stream's error when a refused record cannot be dead-lettered (no dead-letter topic, or refused again). */
export function refusedError(source: WhereFrom | undefined, topic: string, error: unknown): RxmlError {
  const where = source === undefined ? 'a record' : `the record from ${source.topic}[${source.partition}]@${source.offset}`;
  return new RxmlError('KAFKA_ERROR', `the broker refused ${where} for ${topic}: ${reasonOf(error)}`, { cause: error, retriable: false });
}
