export { startKafka, brokersFromEnv, type KafkaTestBroker, type StartKafkaOptions } from './broker.js';
export {
  committedOffsets,
  createTopics,
  endOffsets,
  produce,
  readTopic,
  topicExists,
  type ProduceRecord,
  type TopicRecord,
} from './helpers.js';
export { DEFAULT_KAFKA_VERSION, ensureKafkaJars, MissingToolError, type KafkaJarsOptions } from './jars.js';
