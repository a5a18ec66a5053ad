import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { headerListOf, isPerRecordError, isTooLarge, refusedDeadLetter } from '../src/internal/dead-letters.js';
import { isTransientCrash } from '../src/internal/kafkajs-client.js';

describe('refused records', () => {
  it('tells per-record produce errors (kafkajs and @platformatic/kafka shapes) from the rest', () => {
    const kafkajsTooLarge = { name: 'KafkaJSProtocolError', type: 'MESSAGE_TOO_LARGE', message: 'The request included a message larger than the max message size the server will accept' };
    expect(isPerRecordError(kafkajsTooLarge)).toBe(true);
    expect(isTooLarge(kafkajsTooLarge)).toBe(true);
    expect(isPerRecordError({ name: 'KafkaJSNumberOfRetriesExceeded', cause: { type: 'INVALID_RECORD' } })).toBe(true);
    const platformatic = { code: 'PLT_KFK_MULTIPLE', message: 'Producing messages failed.', errors: [{ code: 'PLT_KFK_PROTOCOL', apiId: 'MESSAGE_TOO_LARGE', errorCode: 10 }] };
    expect(isPerRecordError(platformatic)).toBe(true);
    expect(isTooLarge(platformatic)).toBe(true);
    // kafkajs encoding a null header value
    expect(isPerRecordError(Object.assign(new TypeError('The "string" argument must be of type string'), { code: 'ERR_INVALID_ARG_TYPE' }))).toBe(true);
    expect(isTooLarge({ type: 'INVALID_RECORD' })).toBe(false);
    // Not about one record: authorization, unknown topic, connection loss.
    expect(isPerRecordError({ type: 'TOPIC_AUTHORIZATION_FAILED', message: 'Not authorized to access topics' })).toBe(false);
    expect(isPerRecordError({ type: 'UNKNOWN_TOPIC_OR_PARTITION' })).toBe(false);
    expect(isPerRecordError({ code: 'PLT_KFK_NETWORK', message: 'Connection to 127.0.0.1:9092 failed.' })).toBe(false);
  });

  it('headers come as a list: repeated names in order, null values kept', () => {
    const list = headerListOf({ tenant: null, hop: [Buffer.from('a'), Buffer.from('b')], x: Buffer.from('1') } as never);
    expect(list).toEqual([
      ['tenant', null],
      ['hop', Buffer.from('a')],
      ['hop', Buffer.from('b')],
      ['x', Buffer.from('1')],
    ]);
  });

  it("a refused record's dead letter has no value, says why, and carries the value's size and SHA-256", () => {
    const value = Buffer.alloc(2_000_000, 7);
    const message = { topic: 'out', key: 'k', value, headers: {}, headerList: [['tenant', null], ['hop', 'a'], ['hop', 'b']] as const };
    const error = { type: 'MESSAGE_TOO_LARGE', message: 'too large' };
    const letter = refusedDeadLetter(message, 'dlq', error, 'LIMIT_EXCEEDED', { topic: 'in', partition: 2, offset: '41' }, 1);
    expect(letter.topic).toBe('dlq');
    expect(letter.key).toBe('k');
    expect(letter.value).toBeNull();
    const h = new Map(letter.headerList!.map(([n, v]) => [n, v]));
    // The message's own headers as they are, the null value included.
    expect(letter.headerList!.slice(0, 3)).toEqual([['tenant', null], ['hop', 'a'], ['hop', 'b']]);
    expect(h.get('rxml-error-code')).toBe('LIMIT_EXCEEDED');
    expect(h.get('rxml-source-offset')).toBe('41');
    expect(h.get('rxml-refused-topic')).toBe('out');
    expect(h.get('rxml-refused-reason')).toBe('MESSAGE_TOO_LARGE: too large');
    expect(h.get('rxml-refused-value-bytes')).toBe('2000000');
    expect(h.get('rxml-refused-value-sha256')).toBe(createHash('sha256').update(value).digest('hex'));
    // Level 2 keeps only rxml's headers.
    const bare = refusedDeadLetter(message, 'dlq', error, 'LIMIT_EXCEEDED', undefined, 2);
    expect(bare.headerList!.every(([n]) => n.startsWith('rxml-'))).toBe(true);
  });

  it('the kafkajs seam restarts a consumer after a coordinator-not-found crash, not after a codec failure', () => {
    expect(isTransientCrash({ name: 'KafkaJSGroupCoordinatorNotFound', retriable: false })).toBe(true);
    expect(isTransientCrash({ name: 'KafkaJSNonRetriableError', retriable: false, cause: { name: 'KafkaJSProtocolError', type: 'NOT_COORDINATOR' } })).toBe(true);
    expect(isTransientCrash({ name: 'KafkaJSNotImplemented', retriable: false, message: 'ZSTD compression not implemented' })).toBe(false);
  });
});
