import { readFileSync } from 'node:fs';
import { RxmlError } from '@rxml/core/contract';
import type { SASLOptions } from 'kafkajs';
import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import type { KafkaConnectionOptions } from './options.js';

/**
 * The connection settings rxml reads from the environment when `fromKafka`/`toKafka` get neither
 * `brokers` nor `kafka` (explicit options always win). Names follow what Kafka tooling already uses:
 * `KAFKA_BROKERS` (kafkajs apps, our testkit), `KAFKA_BOOTSTRAP_SERVERS` (Kafka's
 * `bootstrap.servers`), and librdkafka's `ssl.*.location` / `sasl.*` property names in upper case.
 *
 * | variable | meaning |
 * |---|---|
 * | `KAFKA_BROKERS` or `KAFKA_BOOTSTRAP_SERVERS` | comma-separated `host:port` list |
 * | `KAFKA_CLIENT_ID` | client id (default `rxml`) |
 * | `KAFKA_SECURITY_PROTOCOL` | `PLAINTEXT`, `SSL`, `SASL_PLAINTEXT`, `SASL_SSL`; default `SASL_SSL` when a `KAFKA_SASL_*` variable is set, else `PLAINTEXT` |
 * | `KAFKA_SASL_MECHANISM` | `PLAIN` (default), `SCRAM-SHA-256`, `SCRAM-SHA-512` |
 * | `KAFKA_SASL_USERNAME`, `KAFKA_SASL_PASSWORD` | SASL credentials (required with a SASL protocol) |
 * | `KAFKA_SSL_CA_LOCATION` | PEM file of the CA(s) to trust (default: the system's) |
 * | `KAFKA_SSL_CERTIFICATE_LOCATION`, `KAFKA_SSL_KEY_LOCATION` | client certificate and key (PEM), for mutual TLS |
 *
 * @throws RxmlError `INVALID_CONFIG` naming the variable when a value is not understood or a file
 *   cannot be read.
 */
export function kafkaConnectionFromEnv(env: NodeJS.ProcessEnv = process.env): KafkaConnectionOptions {
  const list = env['KAFKA_BROKERS'] ?? env['KAFKA_BOOTSTRAP_SERVERS'];
  const brokers = list?.split(',').map((b) => b.trim()).filter((b) => b !== '');
  // Credentials without a protocol mean SASL (over TLS, as Kafka services usually run it), not a
  // plaintext connection that would silently ignore them.
  const saslGiven = ['KAFKA_SASL_MECHANISM', 'KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD'].some((name) => env[name] !== undefined);
  const protocol = (env['KAFKA_SECURITY_PROTOCOL'] ?? (saslGiven ? 'SASL_SSL' : 'PLAINTEXT')).toUpperCase();
  if (!['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'].includes(protocol)) {
    throw new RxmlError('INVALID_CONFIG', `KAFKA_SECURITY_PROTOCOL=${protocol}: expected PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL`);
  }
  const options: { -readonly [K in keyof KafkaConnectionOptions]: KafkaConnectionOptions[K] } = {};
  if (brokers !== undefined && brokers.length > 0) options.brokers = brokers;
  if (env['KAFKA_CLIENT_ID'] !== undefined) options.clientId = env['KAFKA_CLIENT_ID'];
  if (protocol === 'SSL' || protocol === 'SASL_SSL') {
    const tls: TlsConnectionOptions = {};
    const file = (name: string): string | undefined => {
      const path = env[name];
      if (path === undefined || path === '') return undefined;
      try {
        return readFileSync(path, 'utf8');
      } catch (cause) {
        throw new RxmlError('INVALID_CONFIG', `${name}=${path}: cannot read the file`, { cause });
      }
    };
    const ca = file('KAFKA_SSL_CA_LOCATION');
    const cert = file('KAFKA_SSL_CERTIFICATE_LOCATION');
    const key = file('KAFKA_SSL_KEY_LOCATION');
    if (ca !== undefined) tls.ca = ca;
    if (cert !== undefined) tls.cert = cert;
    if (key !== undefined) tls.key = key;
    options.ssl = Object.keys(tls).length === 0 ? true : tls;
  }
  if (protocol === 'SASL_PLAINTEXT' || protocol === 'SASL_SSL') {
    const mechanism = (env['KAFKA_SASL_MECHANISM'] ?? 'PLAIN').toUpperCase();
    const username = env['KAFKA_SASL_USERNAME'] ?? '';
    const password = env['KAFKA_SASL_PASSWORD'] ?? '';
    let sasl: SASLOptions;
    if (mechanism === 'PLAIN') sasl = { mechanism: 'plain', username, password };
    else if (mechanism === 'SCRAM-SHA-256') sasl = { mechanism: 'scram-sha-256', username, password };
    else if (mechanism === 'SCRAM-SHA-512') sasl = { mechanism: 'scram-sha-512', username, password };
    else throw new RxmlError('INVALID_CONFIG', `KAFKA_SASL_MECHANISM=${mechanism}: expected PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512`);
    for (const [name, value] of [['KAFKA_SASL_USERNAME', username], ['KAFKA_SASL_PASSWORD', password]] as const) {
      if (value === '') throw new RxmlError('INVALID_CONFIG', `${name} is not set: KAFKA_SECURITY_PROTOCOL=${protocol} needs SASL credentials`);
    }
    options.sasl = sasl;
  }
  return options;
}

/**
 * The connection the clients use: `given` over the environment's ({@link kafkaConnectionFromEnv})
 * when it names no brokers; explicit options always win.
 * @throws RxmlError `INVALID_CONFIG` as {@link kafkaConnectionFromEnv} does.
 */
export function resolvedConnection(given: KafkaConnectionOptions): KafkaConnectionOptions {
  return given.brokers === undefined ? { ...kafkaConnectionFromEnv(), ...given } : given;
}

/**
 * The SASL mechanism the clients ask for (`sasl.mechanism` of {@link resolvedConnection}, as given:
 * kafkajs' spelling); undefined without SASL, and with a ready `kafka` instance (not known).
 */
export function saslMechanismOf(given: KafkaConnectionOptions): string | undefined {
  if (given.kafka !== undefined) return undefined;
  const mechanism = (resolvedConnection(given).sasl as { mechanism?: unknown } | undefined)?.mechanism;
  return typeof mechanism === 'string' ? mechanism : undefined;
}
