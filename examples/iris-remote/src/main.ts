/**
 * The seed's Iris Kafka pipeline with the model served by a model server instead of embedded:
 *
 *   IrisInputTopic ──► fromKafka ──► predictIris(remote model) ──► toKafka ──► IrisOutputTopic
 *                                          │  one v2 request per micro-batch      └──► IrisDeadLetters
 *                                          ▼
 *                               Seldon MLServer (sklearn, same weights as the embedded model)
 *
 * Same operators, same output topic contents as examples/iris-kafka; only the model differs:
 * `loadRemoteModel` instead of `loadIrisModel`. Uses the cluster in KAFKA_BROKERS (or starts a local
 * broker) and the server at IRIS_MODEL_URL (or starts MLServer from .venv-models). IRIS_TRANSPORT
 * picks `rest` (default) or `grpc`. Runs until SIGTERM/SIGINT, then drains, commits and disconnects.
 *
 * Run: pnpm --filter @rxml/example-iris-remote start [path/to/iris.txt]
 */
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { predictIris, readIrisDataset } from '@rxml/core';
import { fromKafka, toKafka } from '@rxml/kafka';
import { committedOffsets, createTopics, produce, startKafka } from '@rxml/kafka-testkit';
import { loadRemoteModel } from '@rxml/remote';
import { logLevel } from 'kafkajs';
import { count, lastValueFrom, tap } from 'rxjs';
import { startModelServer } from './model-server.js';

// A path given on the command line is relative to where you ran it (pnpm's INIT_CWD), not to the example's folder.
const dataPath = process.argv[2] !== undefined ? resolve(process.env['INIT_CWD'] ?? process.cwd(), process.argv[2]) : fileURLToPath(new URL('../../../../shared/seed/iris.txt', import.meta.url));
const suffix = process.env['IRIS_TOPIC_SUFFIX'] ?? '';
const inputTopic = `IrisInputTopic${suffix}`;
const outputTopic = `IrisOutputTopic${suffix}`;
const deadLetterTopic = `IrisDeadLetters${suffix}`;
const groupId = process.env['IRIS_GROUP_ID'] ?? `iris-remote-example-${randomUUID().slice(0, 8)}`;
const transport = process.env['IRIS_TRANSPORT'] === 'grpc' ? 'grpc' : 'rest';

const kafka = await startKafka({ defaultPartitions: 3 });
const brokers = kafka.brokers;
console.log(`kafka ${brokers.join(',')}${kafka.external ? ' (KAFKA_BROKERS)' : ' (local broker started)'}`);
const server = await startModelServer();
const model = await loadRemoteModel({
  protocol: 'v2',
  transport,
  url: transport === 'grpc' ? server.grpcUrl : server.url,
  model: 'iris',
  timeoutMs: 2_000,
  retries: { retries: 5, initialDelayMs: 100, maxDelayMs: 2_000 },
  circuitBreaker: { failures: 5, halfOpenAfterMs: 2_000 },
});
console.log(`model ${model.name}@${model.version} on ${model.runtime} at ${transport === 'grpc' ? server.grpcUrl : server.url}${server.external ? ' (IRIS_MODEL_URL)' : ' (MLServer started)'}`);

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
console.log(`produced ${inputs.length} records to ${inputTopic}; results go to ${outputTopic}`);

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
    // Same operator as the embedded pipeline; batches of up to 64 records = one request each,
    // 4 requests in flight.
    predictIris(model, { select: (record) => record.value, batch: { size: 64, maxLatencyMs: 5 }, concurrency: 4 }),
    toKafka({ brokers, topic: outputTopic, deadLetterTopic, logLevel: logLevel.ERROR }),
    tap(({ result }) => {
      if (!result.ok) {
        dead++;
        console.log(`dead letter ${result.input.key?.toString() ?? ''}: ${result.error.code} ${result.error.message}`);
        return;
      }
      ok++;
      if (Number(result.input.key?.toString().replace('flower-', '')) < seedInputs.length) {
        const p = result.value.probabilities;
        console.log(`${result.input.value} -> ${result.value.species} (setosa ${p.setosa.toFixed(3)}, versicolor ${p.versicolor.toFixed(3)}, virginica ${p.virginica.toFixed(3)})`);
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
await server.stop();
await kafka.stop();
