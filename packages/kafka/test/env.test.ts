import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { kafkaConnectionFromEnv } from '../src/index.js';

describe('kafkaConnectionFromEnv', () => {
  it('reads brokers from KAFKA_BROKERS (or KAFKA_BOOTSTRAP_SERVERS), plaintext by default', () => {
    expect(kafkaConnectionFromEnv({ KAFKA_BROKERS: 'a:9092, b:9092' })).toEqual({ brokers: ['a:9092', 'b:9092'] });
    expect(kafkaConnectionFromEnv({ KAFKA_BOOTSTRAP_SERVERS: 'c:9093' })).toEqual({ brokers: ['c:9093'] });
    expect(kafkaConnectionFromEnv({})).toEqual({});
  });

  it('builds SASL_SSL with SCRAM and a CA file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rxml-env-'));
    writeFileSync(join(dir, 'ca.pem'), 'PEM');
    expect(
      kafkaConnectionFromEnv({
        KAFKA_BROKERS: 'k:9094',
        KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
        KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
        KAFKA_SASL_USERNAME: 'u',
        KAFKA_SASL_PASSWORD: 'p',
        KAFKA_SSL_CA_LOCATION: join(dir, 'ca.pem'),
      }),
    ).toEqual({ brokers: ['k:9094'], ssl: { ca: 'PEM' }, sasl: { mechanism: 'scram-sha-512', username: 'u', password: 'p' } });
  });

  it('refuses what it does not understand, naming the variable', () => {
    expect(() => kafkaConnectionFromEnv({ KAFKA_SECURITY_PROTOCOL: 'TLS' })).toThrow(/KAFKA_SECURITY_PROTOCOL=TLS/);
    expect(() => kafkaConnectionFromEnv({ KAFKA_SASL_MECHANISM: 'GSSAPI' })).toThrow(/KAFKA_SASL_MECHANISM=GSSAPI/);
    expect(() => kafkaConnectionFromEnv({ KAFKA_SECURITY_PROTOCOL: 'SSL', KAFKA_SSL_CA_LOCATION: '/nonexistent/ca.pem' })).toThrow(/KAFKA_SSL_CA_LOCATION/);
    // A SASL protocol without credentials names the missing variable (not the broker's "invalid credentials").
    expect(() => kafkaConnectionFromEnv({ KAFKA_SECURITY_PROTOCOL: 'SASL_SSL', KAFKA_SASL_PASSWORD: 'p' })).toThrow(/KAFKA_SASL_USERNAME is not set/);
    expect(() => kafkaConnectionFromEnv({ KAFKA_SECURITY_PROTOCOL: 'SASL_PLAINTEXT', KAFKA_SASL_USERNAME: 'u' })).toThrow(/KAFKA_SASL_PASSWORD is not set/);
  });

  it('takes credentials without a protocol as SASL_SSL with PLAIN, not as a plaintext connection that ignores them', () => {
    const options = kafkaConnectionFromEnv({ KAFKA_BROKERS: 'b:9093', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p' });
    expect(options.sasl).toEqual({ mechanism: 'plain', username: 'u', password: 'p' });
    expect(options.ssl).toBe(true);
  });
});
