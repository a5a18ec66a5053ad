import { dirname, join } from 'node:path';
import { startKafka } from '@rxml/kafka-testkit';
import type { TestProject } from 'vitest/node';

/** One broker for every Kafka test file (or the cluster in KAFKA_BROKERS); tests use fresh topics and groups. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = Date.now();
  const kafka = await startKafka({ defaultPartitions: 3 });
  project.provide('kafkaBrokers', kafka.brokers);
  // The broker's storage (tests read record batch headers from it); none for an external cluster.
  project.provide('kafkaDataDir', kafka.logFile === undefined ? undefined : join(dirname(kafka.logFile), 'data'));
  console.log(`[kafka] broker ${kafka.brokers.join(',')} ready in ${Date.now() - started} ms${kafka.external ? ' (KAFKA_BROKERS)' : `; log ${kafka.logFile ?? ''}`}`);
  return () => kafka.stop();
}

declare module 'vitest' {
  export interface ProvidedContext {
    kafkaBrokers: string[];
    kafkaDataDir: string | undefined;
  }
}
