import type { KafkaOffset } from '@rxml/core/contract';
import type { RawHeaders } from './internal/client.js';

/** Header values as Kafka delivers them (bytes; arrays for repeated header names). */
export type KafkaHeaders = RawHeaders;

/**
 * One consumed record. `value` is the deserialized value; when deserialization failed the record
 * carries the error (`inputErrorOf(record)` from `@rxml/core`), `value` is `undefined` and `predict`
 * turns it into a failure result, which `toKafka` routes to the dead-letter topic.
 *
 * Every emitted record must be completed (`complete()`, done by `toKafka` after the broker acked
 * its output): its offset is committed only then, and at most `maxInFlight` records are emitted but
 * not completed.
 */
export interface KafkaRecord<V> {
  readonly topic: string;
  readonly partition: number;
  /** The record's offset, a decimal string (`KafkaOffset`: Kafka offsets are 64-bit; compare with `BigInt`). */
  readonly offset: KafkaOffset;
  readonly key: Buffer | null;
  readonly value: V;
  /** The value's bytes as received, kept for the dead-letter topic. */
  readonly rawValue: Buffer | null;
  readonly headers: KafkaHeaders;
  /** Producer or broker timestamp, ms since the epoch. */
  readonly timestamp: number;
  /**
   * Marks the record done: its output is safely stored. Idempotent. The source then commits the
   * contiguous prefix of completed offsets of its partition.
   */
  complete(): void;
}

/** Anything with a source position: used by the sink for dead-letter headers and completion. */
export interface KafkaSourced {
  readonly topic: string;
  readonly partition: number;
  readonly offset: KafkaOffset;
  readonly key: Buffer | null;
  readonly rawValue: Buffer | null;
  readonly headers: KafkaHeaders;
  complete(): void;
}
