import { logLevel, type Kafka, type KafkaConfig, type RetryOptions, type SASLOptions } from 'kafkajs';
import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import { invalidConfig } from '@rxml/core/contract';

/**
 * How to reach the cluster: either `brokers` (plus optional TLS/SASL and client settings, passed to
 * kafkajs as they are) or a ready `kafka` client instance.
 */
export interface KafkaConnectionOptions {
  /** Bootstrap brokers, `host:port`. Required unless `kafka` is given. */
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
  /** kafkajs log level. Default `logLevel.WARN`. */
  readonly logLevel?: logLevel;
}

/** Builds the kafkajs client config from the options. */
export function kafkaConfig(options: KafkaConnectionOptions): KafkaConfig {
  if (options.brokers === undefined || options.brokers.length === 0) {
    throw invalidConfig('kafka', 'brokers', 'a non-empty list of host:port (or pass a `kafka` client)', options.brokers);
  }
  const config: KafkaConfig = {
    clientId: options.clientId ?? 'rxml',
    brokers: [...options.brokers],
    logLevel: options.logLevel ?? logLevel.WARN,
  };
  if (options.ssl !== undefined) config.ssl = options.ssl;
  if (options.sasl !== undefined) config.sasl = options.sasl;
  if (options.connectionTimeout !== undefined) config.connectionTimeout = options.connectionTimeout;
  if (options.requestTimeout !== undefined) config.requestTimeout = options.requestTimeout;
  if (options.retry !== undefined) config.retry = options.retry;
  return config;
}
