import { describe, expect, it } from 'vitest';
import { describeClientError, permanentConnectionFailure, refusedTopics, unsupportedSaslMechanism } from '../src/internal/connection-errors.js';
import { isRetriableKafkaError } from '../src/internal/kafkajs-client.js';
import { isRetriablePlatformaticError } from '../src/internal/platformatic-producer.js';

// The shapes below are what the two libraries threw against the testkit's SASL_SSL broker
// (kafkajs 2.2.4, @platformatic/kafka 1.35; probed with a wrong CA, a wrong password, a missing ACL).
const withFields = <T extends object>(error: Error, fields: T): Error & T => Object.assign(error, fields);

const kafkajsUntrustedCa = () =>
  withFields(new Error('Connection error: self-signed certificate in certificate chain'), {
    name: 'KafkaJSNumberOfRetriesExceeded',
    retriable: false,
    cause: withFields(new Error('Connection error: self-signed certificate in certificate chain'), {
      name: 'KafkaJSConnectionError',
      retriable: true,
      code: 'SELF_SIGNED_CERT_IN_CHAIN',
    }),
  });

const platformaticNetwork = (inner: Error) => {
  const network = withFields(new Error('Connection to 127.0.0.1:9093 failed.'), { code: 'PLT_KFK_NETWORK', canRetry: true, cause: inner });
  const brokers = withFields(new AggregateError([network], 'Cannot connect to any broker.'), { code: 'PLT_KFK_MULTIPLE' });
  return withFields(new AggregateError([brokers, brokers], 'metadata failed 4 times.'), { code: 'PLT_KFK_MULTIPLE' });
};
const platformaticWrongPassword = () =>
  platformaticNetwork(
    withFields(new Error('SASL authentication failed.'), {
      code: 'PLT_KFK_AUTHENTICATION',
      canRetry: false,
      cause: withFields(new Error('SASL authentication failed.'), { code: 'PLT_KFK_PROTOCOL', canRetry: false }),
    }),
  );
const platformaticUntrustedCa = () => platformaticNetwork(withFields(new Error('self-signed certificate in certificate chain'), { code: 'SELF_SIGNED_CERT_IN_CHAIN' }));

describe('connection failures no retry can fix', () => {
  it('finds an untrusted certificate under kafkajs\' retriable connection error, and kafkajs\' classifier stops retrying it', () => {
    expect(permanentConnectionFailure(kafkajsUntrustedCa())).toMatch(/TLS.*SELF_SIGNED_CERT_IN_CHAIN/);
    expect(isRetriableKafkaError(kafkajsUntrustedCa())).toBe(false);
    // A plain connection loss (a broker restarting) is still retried.
    expect(isRetriableKafkaError(withFields(new Error('Connection error: connect ECONNREFUSED'), { name: 'KafkaJSConnectionError', retriable: true, code: 'ECONNREFUSED' }))).toBe(true);
  });

  it('finds refused SASL credentials and untrusted certificates inside platformatic\'s canRetry network errors', () => {
    expect(permanentConnectionFailure(platformaticWrongPassword())).toBe('SASL authentication failed');
    expect(isRetriablePlatformaticError(platformaticWrongPassword())).toBe(false);
    expect(permanentConnectionFailure(platformaticUntrustedCa())).toMatch(/SELF_SIGNED_CERT_IN_CHAIN/);
    expect(isRetriablePlatformaticError(platformaticUntrustedCa())).toBe(false);
    const refused = platformaticNetwork(withFields(new Error('connect ECONNREFUSED 127.0.0.1:9093'), { code: 'ECONNREFUSED' }));
    expect(permanentConnectionFailure(refused)).toBeUndefined();
    expect(isRetriablePlatformaticError(refused)).toBe(true);
  });

  it('retries the idempotent producer\'s sequence errors: after a failed call the client takes a new producer id', () => {
    // As @platformatic/kafka 1.35 reported OUT_OF_ORDER_SEQUENCE_NUMBER (idempotent-produce.integration's probe).
    const protocol = (apiId: string) => withFields(new Error('The broker received an out of order sequence number.'), { code: 'PLT_KFK_PROTOCOL', apiId, canRetry: false });
    const response = (apiId: string) => withFields(new AggregateError([protocol(apiId), protocol(apiId)], 'Received response with error while executing API Produce(v11)'), { code: 'PLT_KFK_RESPONSE' });
    const failed = (apiId: string) => withFields(new AggregateError([response(apiId)], 'Producing messages failed.'), { code: 'PLT_KFK_MULTIPLE' });
    for (const apiId of ['OUT_OF_ORDER_SEQUENCE_NUMBER', 'UNKNOWN_PRODUCER_ID', 'INVALID_PRODUCER_EPOCH']) expect(isRetriablePlatformaticError(failed(apiId)), apiId).toBe(true);
    expect(isRetriablePlatformaticError(failed('MESSAGE_TOO_LARGE'))).toBe(false);
    const kafkajs = (type: string) => withFields(new Error('The broker received an out of order sequence number'), { name: 'KafkaJSProtocolError', type, retriable: false });
    for (const type of ['OUT_OF_ORDER_SEQUENCE_NUMBER', 'UNKNOWN_PRODUCER_ID', 'INVALID_PRODUCER_EPOCH']) expect(isRetriableKafkaError(kafkajs(type)), type).toBe(true);
    expect(isRetriableKafkaError(kafkajs('MESSAGE_TOO_LARGE'))).toBe(false);
  });

  it('treats a failed TLS handshake (e.g. TLS to a plaintext listener) as permanent', () => {
    expect(permanentConnectionFailure(withFields(new Error('wrong version number'), { code: 'ERR_SSL_WRONG_VERSION_NUMBER' }))).toMatch(/TLS handshake/);
  });

  it('survives cycles and non-errors', () => {
    const a: { cause?: unknown; message: string } = { message: 'a' };
    a.cause = a;
    expect(permanentConnectionFailure(a)).toBeUndefined();
    expect(permanentConnectionFailure('text')).toBeUndefined();
    expect(describeClientError('text')).toBe('text');
  });
});

describe('describeClientError', () => {
  it('adds the broker\'s reason that platformatic\'s aggregate message hides', () => {
    const acl = withFields(
      new AggregateError(
        [withFields(new AggregateError([withFields(new Error('Topic authorization failed.'), { code: 'PLT_KFK_PROTOCOL' })], 'Received response with error while executing API Produce(v11)'), { code: 'PLT_KFK_RESPONSE' })],
        'Producing messages failed.',
      ),
      { code: 'PLT_KFK_MULTIPLE' },
    );
    expect(describeClientError(acl)).toBe('Producing messages failed. (Topic authorization failed.)');
    expect(describeClientError(platformaticWrongPassword())).toBe('metadata failed 4 times. (SASL authentication failed.)');
    // The broker's own text of the refusal, when it sent one (the protocol error's serverErrorMessage).
    const withServerText = platformaticNetwork(
      withFields(new Error('SASL authentication failed.'), {
        code: 'PLT_KFK_AUTHENTICATION',
        cause: withFields(new Error('SASL authentication failed.'), { code: 'PLT_KFK_PROTOCOL', serverErrorMessage: 'Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512' }),
      }),
    );
    expect(describeClientError(withServerText)).toBe('metadata failed 4 times. (SASL authentication failed.; Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512)');
  });

  it('does not repeat what the message already says', () => {
    expect(describeClientError(kafkajsUntrustedCa())).toBe('Connection error: self-signed certificate in certificate chain');
  });
});

// As thrown against the testkit's broker by a principal with Write on the output topic only, for a
// produce call carrying the output topic and the dead-letter topic.
const kafkajsRefusedDlq = () =>
  withFields(new Error('Not authorized to access topics: [Topic authorization failed]'), {
    name: 'KafkaJSProtocolError',
    type: 'TOPIC_AUTHORIZATION_FAILED',
    code: 29,
    retriable: false,
    partitionErrors: [{ topic: 'dlq', partition: 0, errorCode: 29, type: 'TOPIC_AUTHORIZATION_FAILED' }],
  });
const platformaticRefusedDlq = () =>
  withFields(
    new AggregateError(
      [
        withFields(new AggregateError([withFields(new Error('Topic authorization failed.'), { code: 'PLT_KFK_PROTOCOL', apiId: 'TOPIC_AUTHORIZATION_FAILED', path: '/responses/1/partition_responses/0' })], 'Received response with error while executing API Produce(v11)'), {
          code: 'PLT_KFK_RESPONSE',
          response: { responses: [{ name: 'out', partitionResponses: [{ index: 0, errorCode: 0 }] }, { name: 'dlq', partitionResponses: [{ index: 0, errorCode: 29 }] }] },
        }),
      ],
      'Producing messages failed.',
    ),
    { code: 'PLT_KFK_MULTIPLE' },
  );

describe('refusedTopics: which topics of a produce call the broker refused', () => {
  it("reads kafkajs' (patched) per-partition errors and platformatic's produce response", () => {
    expect([...refusedTopics(kafkajsRefusedDlq())]).toEqual([['dlq', 'TOPIC_AUTHORIZATION_FAILED']]);
    expect([...refusedTopics(platformaticRefusedDlq())]).toEqual([['dlq', 'TOPIC_AUTHORIZATION_FAILED']]);
  });

  it('is empty for errors without per-topic answers', () => {
    expect(refusedTopics(kafkajsUntrustedCa()).size).toBe(0);
    expect(refusedTopics(platformaticWrongPassword()).size).toBe(0);
    expect(refusedTopics('text').size).toBe(0);
  });
});

// A client asking SCRAM-SHA-512 of a listener that enables PLAIN only (the broker's SaslHandshake answer).
const kafkajsUnsupportedMechanism = () =>
  withFields(new Error('The broker does not support the requested SASL mechanism'), { name: 'KafkaJSProtocolError', type: 'UNSUPPORTED_SASL_MECHANISM', code: 33, retriable: false, enabledMechanisms: ['PLAIN'] });
const platformaticUnsupportedMechanism = () =>
  platformaticNetwork(
    withFields(new Error('Cannot find a suitable SASL mechanism.'), {
      code: 'PLT_KFK_AUTHENTICATION',
      canRetry: false,
      cause: withFields(new AggregateError([withFields(new Error('The broker does not support the requested SASL mechanism.'), { code: 'PLT_KFK_PROTOCOL', apiId: 'UNSUPPORTED_SASL_MECHANISM' })], 'Received response with error while executing API SaslHandshake(v1)'), {
        code: 'PLT_KFK_RESPONSE',
        response: { errorCode: 33, mechanisms: ['PLAIN'] },
      }),
    }),
  );

describe('unsupportedSaslMechanism', () => {
  it('names the mechanism asked for and the ones the listener offers, from either library', () => {
    const says = 'SASL mechanism SCRAM-SHA-512 (sasl.mechanism "scram-sha-512") is not enabled on the broker\'s listener; it offers PLAIN';
    expect(unsupportedSaslMechanism(kafkajsUnsupportedMechanism(), 'scram-sha-512')).toBe(says);
    expect(unsupportedSaslMechanism(platformaticUnsupportedMechanism(), 'scram-sha-512')).toBe(says);
    expect(permanentConnectionFailure(kafkajsUnsupportedMechanism())).toMatch(/SASL mechanism/);
    expect(isRetriablePlatformaticError(platformaticUnsupportedMechanism())).toBe(false);
  });

  it('says what it knows without the asked mechanism (a ready kafka instance) or the list (an unpatched kafkajs)', () => {
    expect(unsupportedSaslMechanism(kafkajsUnsupportedMechanism(), undefined)).toBe("the SASL mechanism asked for is not enabled on the broker's listener; it offers PLAIN");
    const bare = withFields(new Error('The broker does not support the requested SASL mechanism'), { type: 'UNSUPPORTED_SASL_MECHANISM' });
    expect(unsupportedSaslMechanism(bare, 'plain')).toBe('SASL mechanism PLAIN (sasl.mechanism "plain") is not enabled on the broker\'s listener; it did not say which it offers');
  });

  it('is undefined for other errors', () => {
    expect(unsupportedSaslMechanism(platformaticWrongPassword(), 'plain')).toBeUndefined();
    expect(unsupportedSaslMechanism(kafkajsRefusedDlq(), 'plain')).toBeUndefined();
  });
});
