/**
 * `@rxml/kafka/internal`: the client seam (`client.ts`) and the operators that take a client
 * factory, for benchmarks (rxml's own CPU per record without a client library) and for plugging
 * in another Kafka client. Not part of the stable API: it follows the seam, not semver.
 */
export { fromKafkaWith } from '../from-kafka.js';
export { toKafkaWith } from '../to-kafka.js';
export type * from './client.js';
