import { RxmlError } from '@rxml/core/contract';

/** Kafka's record-batch compression codecs (`compression.type`). */
export type KafkaCompression = 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';

/** kafkajs' `CompressionTypes` ids, which are Kafka's attribute bits: 0 none … 4 zstd. */
const BY_ID: readonly KafkaCompression[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];

/** The codec named by a `compression` option: a name or a kafkajs `CompressionTypes` id. */
export function compressionOf(value: KafkaCompression | number | undefined): KafkaCompression {
  if (value === undefined) return 'none';
  if (typeof value === 'number') {
    const name = BY_ID[value];
    if (name === undefined) throw new RxmlError('INVALID_CONFIG', `compression ${value} is not a Kafka codec id (0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd)`);
    return name;
  }
  if (!BY_ID.includes(value)) throw new RxmlError('INVALID_CONFIG', `compression '${String(value)}' is not one of ${BY_ID.join(', ')}`);
  return value;
}

/** kafkajs' `CompressionTypes` id of a codec. */
export function compressionId(codec: KafkaCompression): number {
  return BY_ID.indexOf(codec);
}
