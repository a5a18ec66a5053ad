import { RxmlError } from '@rxml/core/contract';
import { resolvedConnection, saslMechanismOf } from '../env.js';
import type { KafkaConnectionOptions } from '../options.js';
import { describeClientError, permanentConnectionFailure, protocolMismatchHint, unsupportedSaslMechanism } from './connection-errors.js';
import { usesTlsOption } from './tls-watch.js';

/** Whether the sink's connection uses TLS (its `ssl` option, or the environment's when it names no brokers). */
function sinkUsesTls(options: KafkaConnectionOptions): boolean {
  return usesTlsOption(options.kafka === undefined ? resolvedConnection(options) : options);
}

/**
 * The client's error text, led by why it was not retried when that is a connection failure no retry
 * fixes ("SASL authentication failed: metadata failed 4 times. (…)"), unless the text already says so.
 */
export function withPermanentReason(error: unknown): string {
  const detail = describeClientError(error);
  const permanent = permanentConnectionFailure(error);
  // Reasons start with "TLS" or "SASL": the kafkajs texts already name them.
  return permanent === undefined || detail.includes(permanent.slice(0, permanent.search(/[ :]/))) ? detail : `${permanent}: ${detail}`;
}

/**
 * The stream's error when `toKafka`'s client cannot connect (either sink: at-least-once or
 * exactly-once): "cannot connect the producer for <topic>: <reason> (<hint>)". The reason names a
 * SASL mechanism the listener does not enable (and the ones it offers), or leads with why no retry
 * helps; the hint says which options to check when the listener closed the connection.
 */
export function sinkConnectFailure(error: unknown, options: KafkaConnectionOptions & { readonly topic: string }, retriable: boolean): RxmlError {
  const hint = protocolMismatchHint(error, sinkUsesTls(options));
  // A mechanism the listener does not enable: say which was asked for and which it offers.
  const mechanism = unsupportedSaslMechanism(error, saslMechanismOf(options));
  const reason = mechanism === undefined ? withPermanentReason(error) : `${mechanism} (${describeClientError(error)})`;
  return new RxmlError('KAFKA_ERROR', `cannot connect the producer for ${options.topic}: ${reason}${hint === undefined ? '' : ` (${hint})`}`, { cause: error, retriable });
}
