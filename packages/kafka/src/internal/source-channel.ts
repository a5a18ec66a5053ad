import { CHANNELS, hasSubscribers, publish, RxmlError, type SourceMessage } from '@rxml/core/contract';
import type { KafkaSourceEvent } from './kafka-source.js';

const asRxmlError = (error: unknown): RxmlError =>
  error instanceof RxmlError ? error : new RxmlError('KAFKA_ERROR', error instanceof Error ? error.message : String(error), { cause: error });

/**
 * The source's `onEvent` events on the `rxml:source` channel (one message per partition for
 * assignments), then to the user's `onEvent`. `committed` is published by the source itself, with
 * the commit's duration and the lag it leaves.
 */
export function publishingSourceEvents(group: string, onEvent: ((event: KafkaSourceEvent) => void) | undefined): (event: KafkaSourceEvent) => void {
  return (event) => {
    if (hasSubscribers(CHANNELS.source)) {
      const base = { source: 'kafka', group } as const;
      const messages: SourceMessage[] = [];
      switch (event.type) {
        case 'assigned':
        case 'revoked':
          for (const { topic, partition } of event.partitions) messages.push({ ...base, type: event.type, topic, partition });
          break;
        case 'paused':
        case 'resumed':
        case 'rebalancing':
          messages.push({ ...base, type: event.type });
          break;
        case 'commit-failed':
          messages.push({ ...base, type: event.type, error: asRxmlError(event.error) });
          break;
        case 'crashed':
          messages.push({ ...base, type: event.type, restarting: event.restarting, error: asRxmlError(event.error) });
          break;
        case 'closed':
          messages.push({ ...base, type: event.type, count: event.inFlight });
          break;
        case 'batch-skipped':
          messages.push({ ...base, type: event.type, topic: event.topic, partition: event.partition, offset: event.lastOffset, count: event.records, error: event.error });
          break;
        case 'offset-reset':
          messages.push({
            ...base,
            type: event.type,
            topic: event.topic,
            partition: event.partition,
            offset: event.to,
            reason: event.reason,
            ...(event.topicId === undefined ? {} : { topicId: event.topicId }),
            ...(event.previousTopicId === undefined ? {} : { previousTopicId: event.previousTopicId }),
          });
          break;
        case 'topic-id-check-failed':
          messages.push({ ...base, type: event.type, topics: event.topics, error: asRxmlError(event.error) });
          break;
        default:
          break;
      }
      for (const message of messages) publish(CHANNELS.source, message);
    }
    onEvent?.(event);
  };
}
