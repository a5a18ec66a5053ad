/**
 * Rolling out a new model in a running Kafka pipeline, with nothing stopped, lost or scored twice:
 *
 *   flowers ──► fromKafka ──► predictIris(model source) ──► toKafka ──► species
 *                                   ▲
 *   models (compacted) ──► modelsFromKafka('iris')   ◄── publishModel(v2) mid-stream
 *
 * 1. trains Iris v1 (few epochs, on part of the data) and publishes it to the models topic;
 * 2. writes ROLLOUT_RECORDS flowers (default 30,000) to the input topic at ROLLOUT_RATE per second
 *    (default 5,000) while the pipeline runs, its model coming from the models topic; when a third
 *    of them are delivered it publishes v2 (retrained on more data, longer);
 * 3. reads the output topic back: each partition switches from v1 to v2 at one point, every flower
 *    was scored exactly once.
 *
 * Uses the cluster in KAFKA_BROKERS, or starts a local single-node broker (Java 17 + Maven needed).
 * Run: pnpm --filter @rxml/example-model-rollout start [path/to/iris.txt]
 */
import { fileURLToPath } from 'node:url';
import { evaluateIris, loadModelBytes, predictIris, readIrisDataset, saveModelBytes, splitIrisDataset, trainIrisNetwork, type IrisExample } from '@rxml/core';
import { createModelsTopic, fromKafka, modelsFromKafka, publishModel, toKafka } from '@rxml/kafka';
import { createTopics, produce, readTopic, startKafka } from '@rxml/kafka-testkit';
import { logLevel } from 'kafkajs';
import { count, lastValueFrom, tap } from 'rxjs';

const dataPath = process.argv[2] ?? fileURLToPath(new URL('../../../../shared/seed/iris.txt', import.meta.url));
const RECORDS = Number(process.env['ROLLOUT_RECORDS'] ?? 30_000);
const suffix = process.env['ROLLOUT_TOPIC_SUFFIX'] ?? `-${Date.now()}`;
const [flowersTopic, speciesTopic, modelsTopic] = [`flowers${suffix}`, `species${suffix}`, `models${suffix}`];

const kafka = await startKafka({ defaultPartitions: 3 });
const brokers = kafka.brokers;
const connection = { brokers, logLevel: logLevel.ERROR };
console.log(`kafka ${brokers.join(',')}${kafka.external ? ' (KAFKA_BROKERS)' : ' (local broker started)'}`);

// Two real versions: v1 trained briefly on the first half of the training split, v2 retrained on all of it.
const examples = await readIrisDataset(dataPath);
const { train, test } = splitIrisDataset(examples);
async function version(label: string, data: readonly IrisExample[], epochs: number): Promise<Uint8Array> {
  const network = await trainIrisNetwork(data, { seed: 42, epochs });
  const bytes = await saveModelBytes(network);
  network.dispose();
  const model = await loadModelBytes(bytes, { name: 'iris', version: label });
  console.log(`trained ${label}: ${bytes.byteLength} bytes, held-out accuracy ${(100 * (await evaluateIris(model, test))).toFixed(1)}%`);
  model.dispose();
  return bytes;
}
const v1 = await version('v1', train.filter((_, i) => i % 2 === 0), 10);
const v2 = await version('v2', train, 300);

await createTopics(brokers, [{ topic: flowersTopic, partitions: 3 }, { topic: speciesTopic, partitions: 3 }]);
await createModelsTopic({ ...connection, topic: modelsTopic });
await publishModel({ ...connection, topic: modelsTopic, name: 'iris', bytes: v1, version: 'v1' });
console.log(`published v1 to ${modelsTopic} (compacted)`);
// A live input: RATE flowers per second arrive while the pipeline runs.
const RATE = Number(process.env['ROLLOUT_RATE'] ?? 5_000);
const producing = (async () => {
  for (let start = 0; start < RECORDS; start += RATE / 10) {
    const end = Math.min(RECORDS, start + RATE / 10);
    await produce(brokers, flowersTopic, Array.from({ length: end - start }, (_, j) => ({ key: `flower-${start + j}`, value: examples[(start + j) % examples.length]!.features.join(',') })));
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  console.log(`produced ${RECORDS} flowers to ${flowersTopic} (${RATE}/s)`);
})();

const controller = new AbortController();
let delivered = 0;
let publishing: Promise<unknown> | undefined;
const total = await lastValueFrom(
  fromKafka({ ...connection, topic: flowersTopic, groupId: `rollout${suffix}`, fromBeginning: true, signal: controller.signal }).pipe(
    predictIris(modelsFromKafka({ ...connection, topic: modelsTopic, name: 'iris' }), {
      select: (record) => record.value,
      onModelEvent: (event) => console.log(`model event: ${event.type} ${event.name}@${event.version}${event.previousVersion === undefined ? '' : ` (was ${event.previousVersion})`}`),
    }),
    toKafka({ ...connection, topic: speciesTopic }),
    tap(() => {
      delivered++;
      if (delivered === Math.floor(RECORDS / 3)) {
        console.log(`${delivered} delivered: publishing v2`);
        publishing = publishModel({ ...connection, topic: modelsTopic, name: 'iris', bytes: v2, version: 'v2' });
      }
      if (delivered === RECORDS) controller.abort();
    }),
    count(),
  ),
);
await Promise.all([publishing, producing]);

// The output, read back: per partition, the version header of each record in offset order.
const written = await readTopic(brokers, speciesTopic);
for (const partition of [0, 1, 2]) {
  const versions = written.filter((r) => r.partition === partition).map((r) => r.headers['rxml-model-version']);
  const switchAt = versions.includes('v2') ? versions.indexOf('v2') : versions.length;
  const oneSwitch = switchAt > 0 && switchAt < versions.length && versions.slice(0, switchAt).every((v) => v === 'v1') && versions.slice(switchAt).every((v) => v === 'v2');
  console.log(`partition ${partition}: ${switchAt} × v1 then ${versions.length - switchAt} × v2 (switch at offset ${switchAt}${oneSwitch ? ', one switch' : ', NOT ONE SWITCH'})`);
}
const keys = new Set(written.map((r) => r.key));
console.log(`delivered ${total} of ${RECORDS}; output ${written.length} records, ${keys.size} distinct flowers: lost ${RECORDS - keys.size}, duplicated ${written.length - keys.size}`);
await kafka.stop();
