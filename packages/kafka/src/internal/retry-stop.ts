import { setMaxListeners } from 'node:events';
import type { KafkaConfig, RetryOptions } from 'kafkajs';

/**
 * Where rxml's kafkajs patch (patches/kafkajs@2.2.4.patch: retry/index.js, consumer/index.js) looks
 * for the signal that ends a client's retry loops: an own enumerable property of the retry options,
 * copied with them into every client kafkajs makes from the config (cluster, consumer, producer, admin).
 */
export const RETRY_ABORT: unique symbol = Symbol.for('rxml.kafka.retryAbort') as never;

/**
 * `config` with a signal in its retry options, and the switch that aborts it. kafkajs' `disconnect()`
 * does not end a connect that is between retries: its backoff timers (and the connection each
 * attempt then makes) keep the process alive for the rest of the retries, ~9 s with the defaults,
 * after rxml has given up on the client. Once `stopRetries()` is called every retry loop of those
 * clients ends at once (rejecting with its last error, not retriable) and the kafkajs consumer no
 * longer restarts itself after a crash. Call it when the client is disconnected and abandoned.
 */
export function withRetryStop(config: KafkaConfig): { readonly config: KafkaConfig; readonly stopRetries: () => void } {
  const controller = new AbortController();
  // One listener per retry loop waiting for its next attempt: many may wait at once (a broker restart).
  setMaxListeners(0, controller.signal);
  const retry: RetryOptions & { [RETRY_ABORT]?: AbortSignal } = { ...config.retry, [RETRY_ABORT]: controller.signal };
  return { config: { ...config, retry }, stopRetries: () => controller.abort() };
}
