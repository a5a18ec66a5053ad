import { RxmlError } from '@rxml/core/contract';
import { logLevel } from 'kafkajs';
import { checkSaslMechanism, type KafkaConnectionOptions } from '../options.js';
import { resolvedConnection } from '../env.js';
import type { ProducerClient } from './client.js';
import type { KafkaCompression } from './compression.js';
import { kafkajsProducer } from './kafkajs-client.js';
import { consoleKafkaLogger } from './logger.js';
import { platformaticProducer, platformaticRecordWriter, platformaticUnsupported } from './platformatic-producer.js';

/**
 * The producer client library of `toKafka`:
 * - `platformatic`: `@platformatic/kafka` 1.35 (pure TypeScript). Measured on a 2-core machine with a
 *   co-located broker: ~295k produced records/s at 100 B vs kafkajs' 121k, and a kafkajs-consumer
 *   passthrough at ~178k vs 91–94k records/s with half the CPU per record (docs/kafka.md, clients).
 * - `kafkajs`: kafkajs 2.2.4, the consumer's library (one client library for everything; needed
 *   for a ready `kafka` instance, SASL aws/oauthbearer, zstd on Node < 22.15).
 * - `auto` (default): `platformatic` unless the options need `kafkajs`. TLS and SASL PLAIN /
 *   SCRAM-SHA-256 / SCRAM-SHA-512 go to platformatic too: tested against a secured broker
 *   (packages/kafka/test/secured.integration.test.ts, both producers).
 */
export type ProducerLibrary = 'auto' | 'kafkajs' | 'platformatic';

const LIBRARIES: readonly ProducerLibrary[] = ['auto', 'kafkajs', 'platformatic'];

/**
 * `RXML_KAFKA_PRODUCER` replaces the `auto` default when `producer` is not given (tests run the
 * suite per producer with it). Unlike the option, `platformatic` from the environment still falls
 * back to kafkajs (saying why) for options only kafkajs serves.
 */
export const PRODUCER_ENV = 'RXML_KAFKA_PRODUCER';

export interface ChosenProducer {
  readonly library: 'kafkajs' | 'platformatic';
  /** Why this library, for the log line. */
  readonly reason: string;
}

export function chooseProducer(requested: ProducerLibrary | undefined, connection: KafkaConnectionOptions, compression: KafkaCompression): ChosenProducer {
  let wanted = requested ?? 'auto';
  let source = requested === undefined ? 'default' : 'option producer';
  const env = process.env[PRODUCER_ENV];
  if (requested === undefined && env !== undefined && env !== '') {
    if (!LIBRARIES.includes(env as ProducerLibrary)) {
      throw new RxmlError('INVALID_CONFIG', `${PRODUCER_ENV}=${env} is not one of ${LIBRARIES.join(', ')}`);
    }
    wanted = env as ProducerLibrary;
    source = PRODUCER_ENV;
  }
  if (!LIBRARIES.includes(wanted)) throw new RxmlError('INVALID_CONFIG', `producer '${String(wanted)}' is not one of ${LIBRARIES.join(', ')}`);
  // A typo'd mechanism fails here for either library, not as kafkajs-only.
  if (connection.kafka === undefined) checkSaslMechanism(resolvedConnection(connection).sasl);
  const unsupported = platformaticUnsupported(connection, compression);
  if (wanted === 'kafkajs') return { library: 'kafkajs', reason: `${source} '${wanted}'` };
  if (wanted === 'platformatic') {
    if (unsupported === undefined) return { library: 'platformatic', reason: `${source} '${wanted}'` };
    // The environment only changes the default: options that need kafkajs still get it.
    if (source === PRODUCER_ENV) return { library: 'kafkajs', reason: `${source} '${wanted}', but ${unsupported}` };
    throw new RxmlError('INVALID_CONFIG', `producer 'platformatic' cannot be used: ${unsupported}`);
  }
  if (unsupported !== undefined) return { library: 'kafkajs', reason: `${source} 'auto': ${unsupported}` };
  return { library: 'platformatic', reason: `${source} 'auto': ~2x kafkajs' produce throughput at half its CPU per record` };
}

const logged = new Set<string>();

/** The producer library, and whether its record writer is rxml's (see `platformaticRecordWriter`). */
const platformaticName = (): string =>
  platformaticRecordWriter === 'unpatched'
    ? '@platformatic/kafka 1.35 with its own record writer (installed without rxml\'s patch: ~1.5 × the CPU per record, measured)'
    : '@platformatic/kafka 1.35';

/**
 * Logs which clients a pipeline uses and why, at INFO on the connection's `logger`: with the default
 * (stderr) logger once per distinct line per process, with the caller's own logger every time;
 * nothing at `logLevel: NOTHING`.
 */
export function logClients(chosen: ChosenProducer, connection: KafkaConnectionOptions): void {
  if (connection.logLevel === logLevel.NOTHING) return;
  const message = `kafka clients: consumer kafkajs 2.2.4, producer ${chosen.library === 'kafkajs' ? 'kafkajs 2.2.4' : platformaticName()} (${chosen.reason})`;
  if (connection.logger !== undefined) {
    connection.logger.info(message, {});
    return;
  }
  if (logged.has(message)) return;
  logged.add(message);
  consoleKafkaLogger.info(message, {});
}

export function createProducer(chosen: ChosenProducer, connection: KafkaConnectionOptions, compression: KafkaCompression): ProducerClient {
  return chosen.library === 'kafkajs' ? kafkajsProducer(connection, { compression }) : platformaticProducer(connection, { compression });
}
