import type { KafkaHeaders } from './record.js';

/** Where a value came from, for deserializers that look at headers or topics. */
export interface DeserializeContext {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly headers: KafkaHeaders;
}

/** Turns a record's bytes into a value; throwing marks the record `DESERIALIZATION_ERROR`. */
export type Deserializer<V> = (value: Buffer | null, context: DeserializeContext) => V;

/** Built-in deserializers by name. */
export type DeserializerName = 'string' | 'json' | 'bytes';

const utf8 = new TextDecoder('utf-8', { fatal: true });

function present(value: Buffer | null): Buffer {
  if (value === null) throw new Error('record has no value (tombstone)');
  return value;
}

/** UTF-8 text; invalid UTF-8 and missing values fail. */
export const stringDeserializer: Deserializer<string> = (value) => utf8.decode(present(value));

/** UTF-8 JSON; invalid UTF-8, invalid JSON and missing values fail. */
export const jsonDeserializer: Deserializer<unknown> = (value) => JSON.parse(utf8.decode(present(value))) as unknown;

/** The bytes as they are (null for a tombstone). */
export const bytesDeserializer: Deserializer<Buffer | null> = (value) => value;

export function deserializerFor(name: DeserializerName): Deserializer<unknown> {
  switch (name) {
    case 'string':
      return stringDeserializer;
    case 'json':
      return jsonDeserializer;
    case 'bytes':
      return bytesDeserializer;
  }
}
