export { fromKafka, type FromKafkaBaseOptions, type FromKafkaOptions, type KafkaSourceEvent } from './from-kafka.js';
export { toKafka, type Delivered, type ToKafkaOptions } from './to-kafka.js';
export type { KafkaCompression } from './internal/compression.js';
export type { ProducerLibrary } from './internal/producers.js';
export type { KafkaRecord, KafkaHeaders, KafkaSourced } from './record.js';
/** Offsets are decimal strings everywhere (the one type, from `@rxml/core/contract`). */
export type { KafkaOffset } from '@rxml/core/contract';
export {
  bytesDeserializer,
  jsonDeserializer,
  stringDeserializer,
  type DeserializeContext,
  type Deserializer,
  type DeserializerName,
} from './deserialize.js';
export type { KafkaConnectionOptions } from './options.js';
export type { PartitionOffset, TopicPartition } from './internal/client.js';
export type { IsolationLevel } from './internal/partition-session.js';
export { registerKafkaCodecs, type KafkajsCodec } from './internal/codecs.js';
export { kafkaConnectionFromEnv } from './env.js';
export { consoleKafkaLogger, type KafkaLogger } from './internal/logger.js';
export { modelsFromKafka, type ModelRecordInfo, type ModelsFromKafkaOptions } from './models-from-kafka.js';
export { createModelsTopic, publishModel, type CreateModelsTopicOptions, type PublishedModel, type PublishModelOptions } from './publish-model.js';
export { MODEL_HEADERS } from './models-topic.js';
