export { startKafka, brokersFromEnv, type KafkaTestBroker, type KafkaTestSecurity, type StartKafkaOptions } from './broker.js';
export { generateTls, type GeneratedTls, type KafkaSecurityOptions, type SecuredConnection, type SecuredMechanism, type SecuredSasl } from './security.js';
export {
  committedOffsets,
  createTopics,
  connectionOf,
  endOffsets,
  produce,
  readTopic,
  type KafkaTarget,
  topicExists,
  type ProduceRecord,
  type ReadTopicOptions,
  type TopicRecord,
} from './helpers.js';
export { DEFAULT_KAFKA_VERSION, ensureKafkaJars, MissingToolError, type KafkaJarsOptions } from './jars.js';
/** Offsets are decimal strings (the one type shared by every rxml package, from `@rxml/core/contract`). */
export type { KafkaOffset } from '@rxml/core/contract';
