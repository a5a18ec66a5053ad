/**
 * The seed's Iris Kafka Streams app (DL4J + Kafka Streams) as an rxml pipeline:
 *
 *   IrisInputTopic ──► fromKafka ──► predictIris ──► toKafka ──► IrisOutputTopic
 *                                                        └─────► IrisDeadLetters (malformed input)
 *
 * Uses the cluster in KAFKA_BROKERS, or starts a local single-node broker (Java 17 + Maven needed).
 * Writes the seed's three flowers, the 150 flowers of the Iris data set and two malformed lines to the
 * input topic, prints each seed prediction and the progress, and runs until SIGTERM/SIGINT, when it
 * drains what is in flight, commits and disconnects.
 *
 * Run: pnpm --filter @rxml/example-iris-kafka start [path/to/iris.txt]
 */
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadIrisModel, predictIris, readIrisDataset } from '@rxml/core';
import { fromKafka, toKafka } from '@rxml/kafka';
import { committedOffsets, createTopics, produce, startKafka } from '@rxml/kafka-testkit';
import { logLevel } from 'kafkajs';
import { lastValueFrom, tap, count } from 'rxjs';

// A path given on the command line is relative to where you ran it (pnpm's INIT_CWD), not to the example's folder.
const dataPath = process.argv[2] !== undefined ? resolve(process.env['INIT_CWD'] ?? process.cwd(), process.argv[2]) : fileURLToPath(new URL('../../../../shared/seed/iris.txt', import.meta.url));
// Topic names of the seed; a suffix keeps runs against a shared cluster apart.
const suffix = process.env['IRIS_TOPIC_SUFFIX'] ?? '';
const inputTopic = `IrisInputTopic${suffix}`;
const outputTopic = `IrisOutputTopic${suffix}`;
const deadLetterTopic = `IrisDeadLetters${suffix}`;
const groupId = process.env['IRIS_GROUP_ID'] ?? `iris-kafka-example-${randomUUID().slice(0, 8)}`;

const kafka = await startKafka({ defaultPartitions: 3 });
const brokers = kafka.brokers;
console.log(`kafka ${brokers.join(',')}${kafka.external ? ' (KAFKA_BROKERS)' : ' (local broker started)'}`);
const model = await loadIrisModel();
console.log(`model ${model.name}@${model.version} on ${model.runtime}`);

await createTopics(brokers, [
  { topic: inputTopic, partitions: 3 },
  { topic: outputTopic, partitions: 3 },
  { topic: deadLetterTopic, partitions: 1 },
]);
const seedInputs = ['5.4,3.9,1.7,0.4', '7.0,3.2,4.7,1.4', '4.6,3.4,1.4,0.3'];
const flowers = (await readIrisDataset(dataPath)).map((f) => f.features.join(','));
const malformed = ['5.1,3.5', 'sepal,petal,what,ever'];
const inputs = [...seedInputs, ...flowers, ...malformed];
await produce(brokers, inputTopic, inputs.map((value, i) => ({ key: `flower-${i}`, value })));
console.log(`produced ${inputs.length} records to ${inputTopic}`);

const controller = new AbortController();
const shutdown = (signal: string): void => {
  console.log(`${signal}: draining in-flight records, committing, disconnecting`);
  controller.abort();
};
process.once('SIGTERM', () => shutdown('SIGTERM'));
process.once('SIGINT', () => shutdown('SIGINT'));

let ok = 0;
let dead = 0;
let reported = -1;
const progress = setInterval(() => {
  if (ok + dead !== reported) {
    reported = ok + dead;
    console.log(`progress: ${ok + dead} records, ${ok} predictions, ${dead} dead-lettered`);
  }
}, 500);

const total = await lastValueFrom(
  fromKafka({ brokers, topic: inputTopic, groupId, fromBeginning: true, signal: controller.signal, logLevel: logLevel.ERROR }).pipe(
    predictIris(model, { select: (record) => record.value, batch: { size: 64, maxLatencyMs: 5 } }),
    toKafka({ brokers, topic: outputTopic, deadLetterTopic, logLevel: logLevel.ERROR }),
    tap((delivered) => {
      const { result } = delivered;
      if (!result.ok) {
        dead++;
        console.log(`dead letter ${result.input.key?.toString() ?? ''}: ${result.error.code} ${result.error.message}`);
        return;
      }
      ok++;
      if (Number(result.input.key?.toString().replace('flower-', '')) < seedInputs.length) {
        const p = result.value.probabilities;
        console.log(
          `${result.input.value} -> ${result.value.species} ` +
            `(Prediction: Iris Probability => setosa ${p.setosa.toFixed(3)}, versicolor ${p.versicolor.toFixed(3)}, virginica ${p.virginica.toFixed(3)})`,
        );
      }
    }),
    count(),
  ),
);
clearInterval(progress);
const committed = await committedOffsets(brokers, groupId, inputTopic);
console.log(`progress: ${ok + dead} records, ${ok} predictions, ${dead} dead-lettered`);
console.log(`stopped after ${total} records; committed offsets ${[...committed].map(([p, o]) => `${p}:${o}`).join(' ')}`);
model.dispose();
await kafka.stop();
