import type { KafkaOffset } from '@rxml/core/contract';
import type { KafkaHeaders } from './record.js';

/** Where a value came from, for deserializers that look at headers or topics. */
export interface DeserializeContext {
  readonly topic: string;
  readonly partition: number;
  readonly offset: KafkaOffset;
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

/**
 * Binary formats recognised by their first bytes, with the option that reads them. The Confluent
 * Schema Registry wire format (magic byte 0, then the schema id as a 4-byte big-endian integer,
 * then the Avro/JSON/Protobuf payload) is checked separately: it needs the schema id.
 */
const SIGNATURES: readonly { readonly bytes: readonly number[]; readonly what: string }[] = [
  { bytes: [0x89, 0x50, 0x4e, 0x47], what: 'a PNG image' },
  { bytes: [0xff, 0xd8, 0xff], what: 'a JPEG image' },
  { bytes: [0x47, 0x49, 0x46, 0x38], what: 'a GIF image' },
  { bytes: [0x1f, 0x8b], what: 'gzip-compressed data' },
  { bytes: [0x28, 0xb5, 0x2f, 0xfd], what: 'zstd-compressed data' },
  { bytes: [0x50, 0x4b, 0x03, 0x04], what: 'a zip archive' },
  { bytes: [0x4f, 0x62, 0x6a, 0x01], what: 'an Avro object container file' },
];

/** 1 at the first byte of the Schema Registry framing (0) and of each signature. */
const SIGNATURE_START = new Uint8Array(256);
SIGNATURE_START[0] = 1;
for (const signature of SIGNATURES) SIGNATURE_START[signature.bytes[0]!] = 1;

const hex = (bytes: Buffer, n = 8): string =>
  [...bytes.subarray(0, n)].map((b) => b.toString(16).padStart(2, '0')).join(' ') + (bytes.length > n ? ' …' : '');

/**
 * What the bytes look like when they are not what the deserializer expects, and the option that
 * fits, e.g. "starts with the Confluent Schema Registry magic byte, schema id 200: use a
 * registry-aware deserializer". `undefined` when nothing is recognised.
 */
export function describeBinaryValue(value: Buffer): string | undefined {
  // Text (JSON, CSV) never starts with a signature's first byte: one table look-up per record.
  if (value.length === 0 || SIGNATURE_START[value[0]!] === 0) return undefined;
  if (value.length >= 5 && value[0] === 0) {
    const schemaId = value.readUInt32BE(1);
    return (
      `the value (${value.length} bytes) starts with the Confluent Schema Registry magic byte, schema id ${schemaId}: ` +
      'use a registry-aware deserializer (pass a function as fromKafka\'s deserialize option, e.g. one built on @kafkajs/confluent-schema-registry)'
    );
  }
  for (const signature of SIGNATURES) {
    if (signature.bytes.every((b, i) => value[i] === b)) {
      return `${value.length} bytes of ${signature.what} (starts with ${hex(value)}): use deserialize: 'bytes' or a deserializer for that format`;
    }
  }
  return undefined;
}

/** Decodes UTF-8, refusing framed/binary values with what they look like instead of a decoder error. */
function text(value: Buffer | null): string {
  const bytes = present(value);
  const binary = describeBinaryValue(bytes);
  if (binary !== undefined) throw new Error(binary);
  try {
    return utf8.decode(bytes);
  } catch {
    throw new Error(`${bytes.length} bytes that are not valid UTF-8 text (starts with ${hex(bytes)}): use deserialize: 'bytes' for binary values`);
  }
}

/**
 * UTF-8 text; invalid UTF-8, Schema-Registry-framed or recognisably binary values (images,
 * compressed data) and missing values fail with what the bytes look like.
 */
export const stringDeserializer: Deserializer<string> = (value) => text(value);

/** UTF-8 JSON; invalid UTF-8, framed or binary values, invalid JSON and missing values fail. */
export const jsonDeserializer: Deserializer<unknown> = (value) => {
  const json = text(value);
  try {
    return JSON.parse(json) as unknown;
  } catch (error) {
    const start = json.length > 40 ? `${JSON.stringify(json.slice(0, 40))}… (${json.length} characters)` : JSON.stringify(json);
    throw new Error(`not valid JSON (${error instanceof Error ? error.message : String(error)}); the value is ${start}`, { cause: error });
  }
};

/** The bytes as they are (null for a tombstone). */
export const bytesDeserializer: Deserializer<Buffer | null> = (value) => value;

/** The built-in deserializers: they never read their context, so the source passes none per record. */
export function isContextFree(deserialize: Deserializer<unknown>): boolean {
  return deserialize === jsonDeserializer || deserialize === stringDeserializer || deserialize === bytesDeserializer;
}

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
