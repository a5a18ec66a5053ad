/**
 * A Kafka offset (a record's position in its partition, or a committed/end position = the next
 * offset to read), as a **decimal string**: `'0'`, `'42'`, `'9007199254740993'`.
 *
 * Why a string: Kafka offsets are signed 64-bit integers (the protocol's INT64), which a JavaScript
 * `number` holds exactly only up to 2^53 − 1; a `bigint` is exact but `JSON.stringify` throws on
 * it. kafkajs (`message.offset`, `commitOffsets`, `fetchTopicOffsets`), `@platformatic/kafka`'s
 * JSON and Kafka's own REST/JSON tools all use decimal strings, so one passes through unchanged.
 * Every rxml package uses this type at its public edge: `KafkaRecord.offset` and the source's
 * events in `@rxml/kafka`, the `rxml:source` payload here, and the testkit's `readTopic`,
 * `endOffsets` and `committedOffsets`.
 *
 * How to compare or do arithmetic: convert with `BigInt` — `BigInt(a) < BigInt(b)`,
 * `BigInt(end) - BigInt(committed)` — never compare the strings (`'10' < '9'`) and never go
 * through `Number` past 2^53. Equality of two offsets from Kafka is plain `===` (canonical decimal,
 * no leading zeros or sign). Write one back with `String(n)` or `n.toString()`.
 */
export type KafkaOffset = string;
