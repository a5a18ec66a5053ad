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
 *    was scored exactly once;
 * 4. publishes a candidate v3 as 'iris-candidate' and runs it as a shadow of v2 over the same
 *    flowers: prints the agreement rate (and the same rate computed offline, for reference).
 *
 * Uses the cluster in KAFKA_BROKERS, or starts a local single-node broker (Java 17 + Maven needed).
 * Run: pnpm --filter @rxml/example-model-rollout start [path/to/iris.txt]
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { evaluateIris, loadModelBytes, predictIris, readIrisDataset, saveModelBytes, splitIrisDataset, trainIrisNetwork, type IrisExample } from '@rxml/core';
import { createModelsTopic, fromKafka, modelsFromKafka, publishModel, toKafka } from '@rxml/kafka';
import { createTopics, produce, readTopic, startKafka } from '@rxml/kafka-testkit';
import { logLevel } from 'kafkajs';
import { count, from, lastValueFrom, tap, toArray } from 'rxjs';

// A path given on the command line is relative to where you ran it (pnpm's INIT_CWD), not to the example's folder.
const dataPath = process.argv[2] !== undefined ? resolve(process.env['INIT_CWD'] ?? process.cwd(), process.argv[2]) : fileURLToPath(new URL('../../../../shared/seed/iris.txt', import.meta.url));
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
async function version(label: string, data: readonly IrisExample[], epochs: number, seed = 42): Promise<Uint8Array> {
  const network = await trainIrisNetwork(data, { seed, epochs });
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

// Phase 2, shadow: a candidate v3 (another seed, fewer epochs) published as 'iris-candidate' is scored on the
// same records as v2, which keeps serving; only comparisons come out of it.
const v3 = await version('v3', train, 25, 7);
await publishModel({ ...connection, topic: modelsTopic, name: 'iris-candidate', bytes: v3, version: 'v3' });
let compared = 0;
let agreed = 0;
let sumDifference = 0;
let dropped = 0;
const shadowController = new AbortController();
let scored = 0;
await lastValueFrom(
  fromKafka({ ...connection, topic: flowersTopic, groupId: `shadow${suffix}`, fromBeginning: true, signal: shadowController.signal }).pipe(
    predictIris(modelsFromKafka({ ...connection, topic: modelsTopic, name: 'iris' }), {
      select: (record) => record.value,
      shadow: {
        model: modelsFromKafka({ ...connection, topic: modelsTopic, name: 'iris-candidate' }),
        // Phase 2 replays a backlog: the main path races ahead while the shadow's own model is still
        // being read, so the shadow may hold up to this many records (beyond: dropped, counted).
        maxQueued: 32_768,
        // A judgement run over a backlog: every record compared matters more here than the main path's
        // throughput, so the shadow may take all of the event loop it needs (a live stream keeps the
        // default 0.03, and records beyond it are dropped, counted).
        maxEventLoopShare: 1,
        drainTimeoutMs: 30_000,
        onComparison: (c) => {
          compared++;
          if (c.value.agree) agreed++;
          sumDifference += c.value.difference ?? 0;
          dropped = c.value.dropped;
        },
      },
    }),
    tap((result) => {
      result.input.complete(); // no sink here: the records are done once scored
      if (++scored === RECORDS) shadowController.abort();
    }),
    count(),
  ),
);
// The same comparison done offline, model against model on the same inputs, for reference.
const [main, candidate] = await Promise.all([loadModelBytes(v2, { name: 'iris', version: 'v2' }), loadModelBytes(v3, { name: 'iris-candidate', version: 'v3' })]);
const inputs = Array.from({ length: RECORDS }, (_, i) => examples[i % examples.length]!.features);
const speciesOf = async (model: typeof main): Promise<string[]> => (await lastValueFrom(from(inputs).pipe(predictIris(model, { select: (x) => x }), toArray()))).map((r) => (r.ok ? r.value.species : r.error.code));
const [mainSpecies, candidateSpecies] = [await speciesOf(main), await speciesOf(candidate)];
main.dispose();
candidate.dispose();
const offline = mainSpecies.filter((s, i) => s === candidateSpecies[i]).length / RECORDS;
console.log(
  `shadow v3 vs v2: ${compared} compared, ${dropped} dropped, agreement ${(100 * agreed / compared).toFixed(2)}%, ` +
    `mean max|Δp| ${(sumDifference / compared).toFixed(4)} (offline on the same ${RECORDS} inputs: ${(100 * offline).toFixed(2)}%)`,
);
await kafka.stop();
