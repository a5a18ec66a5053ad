import { RxmlError } from '@rxml/core/contract';
import { logLevel, type Kafka, type KafkaConfig, type RetryOptions, type SASLOptions } from 'kafkajs';
import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import { resolvedConnection } from './env.js';
import { consoleKafkaLogger, kafkaLogCreator, type KafkaLogger, type LogGate } from './internal/logger.js';

/**
 * How to reach the cluster: either `brokers` (plus optional TLS/SASL and client settings, passed to
 * kafkajs as they are) or a ready `kafka` client instance.
 */
export interface KafkaConnectionOptions {
  /**
   * Bootstrap brokers, `host:port`. Without `brokers` or `kafka`, the connection is read from the
   * environment (`KAFKA_BROKERS` and the other variables of `kafkaConnectionFromEnv`).
   */
  readonly brokers?: readonly string[];
  /** An existing kafkajs client; when set, `brokers`, `ssl`, `sasl` and the other client fields are ignored. */
  readonly kafka?: Kafka;
  /** Client id sent to the brokers. Default `rxml`. */
  readonly clientId?: string;
  /** TLS: `true` for defaults or Node TLS options (ca, cert, key, …). */
  readonly ssl?: boolean | TlsConnectionOptions;
  /** SASL authentication (plain, scram-sha-256/512, aws, oauthbearer). */
  readonly sasl?: SASLOptions;
  /** Time to establish a connection, ms. kafkajs default 1000. */
  readonly connectionTimeout?: number;
  /** Time to wait for a request's response, ms. kafkajs default 30000. */
  readonly requestTimeout?: number;
  /**
   * Retries of the client's own requests, incl. connecting at start: a broker that is down at start
   * fails the stream after these. Default 5 retries from 300 ms, doubling.
   */
  readonly retry?: RetryOptions;
  /** Least severe kafkajs log entry printed. Default `logLevel.WARN`. */
  readonly logLevel?: logLevel;
  /**
   * Where the client's log lines go. Default: one line each on stderr (`[rxml:kafka] WARN …`).
   * Transient conditions kafkajs retries by itself (coordinator or leader not available yet while a
   * group forms or a topic is auto-created) are logged at DEBUG, and nothing is logged once the
   * stream that owns the client has ended.
   */
  readonly logger?: KafkaLogger;
}

const SASL_MECHANISMS = ['plain', 'scram-sha-256', 'scram-sha-512', 'aws', 'oauthbearer'] as const;

/**
 * Refuses a SASL mechanism no client knows (a typo such as `'scram-sha-1'`) with `INVALID_CONFIG`,
 * instead of the broker's "does not support the requested SASL mechanism" at connect. Names are
 * compared case-insensitively, as kafkajs does; a custom mechanism with kafkajs'
 * `authenticationProvider` is let through.
 * @throws RxmlError INVALID_CONFIG
 */
export function checkSaslMechanism(sasl: KafkaConnectionOptions['sasl']): void {
  if (sasl === undefined) return;
  const given = sasl as { mechanism?: unknown; authenticationProvider?: unknown };
  if (typeof given.authenticationProvider === 'function') return;
  const mechanism = typeof given.mechanism === 'string' ? given.mechanism.toLowerCase() : given.mechanism;
  if (!(SASL_MECHANISMS as readonly unknown[]).includes(mechanism)) {
    throw new RxmlError('INVALID_CONFIG', `sasl.mechanism ${JSON.stringify(given.mechanism)} is not one of ${SASL_MECHANISMS.join(', ')} (or a custom mechanism with a kafkajs authenticationProvider)`);
  }
}

/** Builds the kafkajs client config from the options. */
export function kafkaConfig(given: KafkaConnectionOptions, gate: LogGate = { closed: false }): KafkaConfig {
  const options = resolvedConnection(given);
  if (options.brokers === undefined || options.brokers.length === 0) {
    throw new RxmlError('INVALID_CONFIG', 'Kafka options need `brokers` (a list of host:port) or a `kafka` client, or KAFKA_BROKERS in the environment');
  }
  const level = options.logLevel ?? logLevel.WARN;
  const config: KafkaConfig = {
    clientId: options.clientId ?? 'rxml',
    brokers: [...options.brokers],
    // With a watcher, kafkajs must emit at least its ERROR entries (the creator still drops what is below `level`).
    logLevel: gate.watch === undefined ? level : Math.max(level, logLevel.ERROR),
    logCreator: kafkaLogCreator(options.logger ?? consoleKafkaLogger, level, gate),
  };
  if (options.ssl !== undefined) config.ssl = options.ssl;
  checkSaslMechanism(options.sasl);
  if (options.sasl !== undefined) config.sasl = options.sasl;
  if (options.connectionTimeout !== undefined) config.connectionTimeout = options.connectionTimeout;
  if (options.requestTimeout !== undefined) config.requestTimeout = options.requestTimeout;
  if (options.retry !== undefined) config.retry = options.retry;
  return config;
}
