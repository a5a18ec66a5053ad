import type { Observable } from 'rxjs';
import type { ImageMessage, Labelled } from './pipeline.js';

/** False until the Kafka packages land on this branch. */
export const kafkaTransportBuilt = false;

/** Sends the messages to the input topic, runs the pipeline between the topics, reads the output topic. */
export async function runOnKafka(
  _messages: readonly ImageMessage[],
  _pipeline: (in$: Observable<ImageMessage>) => Observable<Labelled>,
  _brokers: string | undefined,
  _print: (line: string) => void,
): Promise<Labelled[]> {
  // Filled in when @rxml/kafka and @rxml/kafka-testkit land (branch kafka).
  throw new Error('the Kafka transport is not built yet: run with --no-kafka');
}
