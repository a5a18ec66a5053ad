import { describe, expect, it } from 'vitest';
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
});
