import { describe, expect, it } from 'vitest';
import { parseIrisInput } from '@rxml/core';
import { bytesDeserializer, jsonDeserializer, stringDeserializer, type DeserializeContext } from '../src/index.js';

const ctx: DeserializeContext = { topic: 't', partition: 0, offset: '0', headers: {} };

describe('deserializers', () => {
  it('string: UTF-8, rejecting invalid bytes and tombstones', () => {
    expect(stringDeserializer(Buffer.from('5.1,3.5,1.4,0.2 ✓'), ctx)).toBe('5.1,3.5,1.4,0.2 ✓');
    expect(() => stringDeserializer(Buffer.from([0x35, 0xff, 0xfe]), ctx)).toThrow();
    expect(() => stringDeserializer(null, ctx)).toThrow(/tombstone/);
  });
  it('json: parsed values, rejecting invalid JSON', () => {
    expect(jsonDeserializer(Buffer.from('{"a":[1,2]}'), ctx)).toEqual({ a: [1, 2] });
    expect(() => jsonDeserializer(Buffer.from('{"a":'), ctx)).toThrow();
  });
  it('bytes: as they are', () => {
    const b = Buffer.from([0, 1, 255]);
    expect(bytesDeserializer(b, ctx)).toBe(b);
    expect(bytesDeserializer(null, ctx)).toBeNull();
  });

  /** A value as Confluent's serializers frame it: magic byte 0, schema id (4 bytes, big-endian), payload. */
  const framed = (schemaId: number, payload: string): Buffer => {
    const header = Buffer.alloc(5);
    header.writeUInt32BE(schemaId, 1);
    return Buffer.concat([header, Buffer.from(payload)]);
  };
  const json = '{"sepalLength":5.1,"sepalWidth":3.5,"petalLength":1.4,"petalWidth":0.2}';

  it.each([
    ['string', stringDeserializer],
    ['json', jsonDeserializer],
  ] as const)('%s: a Schema-Registry-framed value names the magic byte and schema id and says which deserializer fits', (_name, deserialize) => {
    // Schema id 200 is not valid UTF-8 in the frame, schema id 32 (0x20, a space) is: both are refused the same way.
    for (const id of [200, 32, 70000]) {
      expect(() => deserialize(framed(id, json), ctx)).toThrow(
        `starts with the Confluent Schema Registry magic byte, schema id ${id}: use a registry-aware deserializer`,
      );
    }
  });

  it('string/json: binary values say what they look like and point to deserialize: bytes', () => {
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]);
    expect(() => stringDeserializer(png, ctx)).toThrow("12 bytes of a PNG image (starts with 89 50 4e 47 0d 0a 1a 0a …): use deserialize: 'bytes'");
    expect(() => jsonDeserializer(Buffer.from([0x1f, 0x8b, 8, 0]), ctx)).toThrow('gzip-compressed data');
    expect(() => stringDeserializer(Buffer.from([0x35, 0xff, 0xfe]), ctx)).toThrow("3 bytes that are not valid UTF-8 text (starts with 35 ff fe): use deserialize: 'bytes'");
    expect(() => jsonDeserializer(Buffer.from('5.1,3.5,1.4,0.2'), ctx)).toThrow('not valid JSON');
    expect(() => jsonDeserializer(Buffer.from('5.1,3.5,1.4,0.2'), ctx)).toThrow('the value is "5.1,3.5,1.4,0.2"');
  });

  it("JSON read with the default 'string' deserializer reaches predictIris' parser as text: the error hints deserialize: 'json'", () => {
    const value = stringDeserializer(Buffer.from(json), ctx);
    expect(() => parseIrisInput(value)).toThrow(/the record is JSON text \("\{\\"sepalLength.*not CSV: parse it before predictIris, e\.g\. fromKafka\(\{ deserialize: 'json' \}\)/);
    // With deserialize: 'json' the same bytes are an object predictIris takes as it is.
    expect(parseIrisInput(jsonDeserializer(Buffer.from(json), ctx))).toEqual([5.1, 3.5, 1.4, 0.2]);
  });
});
