import { randomUUID } from 'node:crypto';
import type { ImageModel, ImagePrediction, PredictResult } from '@rxml/core';
import { fromKafka, toKafka, type KafkaRecord } from '@rxml/kafka';
import { createTopics, MissingToolError, produce, readTopic, startKafka, type KafkaTestBroker } from '@rxml/kafka-testkit';
import { logLevel } from 'kafkajs';
import { lastValueFrom, tap, toArray } from 'rxjs';
import { describe, labelJson, recognizeImages, type ImageMessage, type Mode } from './pipeline.js';

export interface KafkaRun {
  readonly labelled: number;
  readonly refused: number;
  /** From the first fetch to the last acked output, without broker start-up. */
  readonly ms: number;
}

/**
 * The seed's scenario on a real broker: the embedded single-node broker (or `KAFKA_BROKERS`), image
 * messages produced to the input topic, `fromKafka → recognizeImages → toKafka` labelling them onto
 * the output topic (bad images onto the dead-letter topic), then the output topic read back.
 */
/**
 * Starts the embedded broker (or attaches to `KAFKA_BROKERS`). Undefined when a tool it needs (Java,
 * or Maven for the first jar download) is missing, so the caller can run without Kafka instead.
 */
export async function startBroker(): Promise<{ kafka: KafkaTestBroker; startedInMs: number } | { missing: string }> {
  const started = Date.now();
  try {
    return { kafka: await startKafka(), startedInMs: Date.now() - started };
  } catch (error) {
    if (error instanceof MissingToolError) return { missing: error.message };
    throw error;
  }
}

export async function runOnKafka(
  model: ImageModel,
  messages: readonly ImageMessage[],
  broker: { kafka: KafkaTestBroker; startedInMs: number },
  options: { mode: Mode; root: string; print: (line: string) => void; onResult: (key: string, result: PredictResult<unknown, ImagePrediction>, value: Buffer | null) => void },
): Promise<KafkaRun> {
  const { print } = options;
  const { kafka } = broker;
  print(
    kafka.external
      ? `using the Kafka cluster at KAFKA_BROKERS=${kafka.brokers.join(',')}`
      : `embedded Kafka broker at ${kafka.brokers.join(',')} (started in ${(broker.startedInMs / 1000).toFixed(1)} s)`,
  );
  const stopBroker = (): void => void kafka.stop().then(() => process.exit(130));
  process.once('SIGINT', stopBroker);
  try {
    // On a shared cluster each run gets its own topics so that earlier runs' records stay out.
    const suffix = kafka.external ? `-${randomUUID().slice(0, 8)}` : '';
    const [input, output, dead] = [`ImageInputTopic${suffix}`, `ImageOutputTopic${suffix}`, `ImageDeadLetters${suffix}`];
    await createTopics(kafka.brokers, [{ topic: input }, { topic: output }, { topic: dead }]);
    await produce(kafka.brokers, input, messages.map((m) => ({ key: m.key, value: m.value })));
    print(`${messages.length} messages on ${input} -> ${output} (dead letters: ${dead})`);

    const keyOf = (record: KafkaRecord<Buffer | null>): string => record.key?.toString('utf8') ?? '(no key)';
    const stop = new AbortController();
    let seen = 0;
    // A fresh broker answers "group coordinator not available" for a moment; kafkajs retries it but
    // logs each try as an ERROR. Real failures still fail the stream.
    const quiet = { logLevel: logLevel.NOTHING };
    const consuming = performance.now();
    const delivered = await lastValueFrom(
      fromKafka({ brokers: kafka.brokers, topic: input, groupId: `image-recognition${suffix}`, fromBeginning: true, deserialize: 'bytes', signal: stop.signal, ...quiet }).pipe(
        recognizeImages(model, { mode: options.mode, root: options.root, value: (record) => record.value }),
        toKafka({ brokers: kafka.brokers, topic: output, deadLetterTopic: dead, serialize: (value, result) => labelJson(keyOf(result.input), value), ...quiet }),
        tap(({ result }) => {
          print(describe(keyOf(result.input), result));
          options.onResult(keyOf(result.input), result, result.input.rawValue);
          if (++seen === messages.length) stop.abort();
        }),
        toArray(),
      ),
    );
    const ms = performance.now() - consuming;
    const labels = await readTopic(kafka.brokers, output);
    const letters = await readTopic(kafka.brokers, dead);
    print(`read back: ${labels.length} ${labels.length === 1 ? 'label' : 'labels'} on ${output}, ${letters.length} on ${dead}`);
    const refused = delivered.filter((d) => d.deadLetter).length;
    return { labelled: delivered.length - refused, refused, ms };
  } finally {
    process.removeListener('SIGINT', stopBroker);
    await kafka.stop();
  }
}
