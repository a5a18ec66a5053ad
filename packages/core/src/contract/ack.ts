/**
 * The source-neutral acknowledgement of one record: a source attaches it to each element it emits,
 * and whoever makes the record's effect durable (a sink after the broker acknowledged the write, or
 * the application itself) calls `ack()`. Sources commit their position only past records whose
 * acknowledgement has been called, so a crash between reading and writing loses nothing.
 *
 * Kafka's `KafkaRecord` carries one; a sink that writes elsewhere (a database, a file) calls it after
 * its own write is durable.
 */
export interface Acknowledgement {
  /** Marks this record's effect durable. Idempotent: a second call does nothing. */
  ack(): void;
}

/** An element that carries its acknowledgement. */
export interface Acknowledgeable {
  readonly acknowledgement: Acknowledgement;
}
