/**
 * An application outside the rxml workspace: what "Use rxml in your app" (README) shows, run by CI
 * (scripts/pack-app-check.mjs) from the packed tarballs installed with plain npm and type-checked
 * with `tsc --strict`. It writes Iris rows, runs the pipeline until the output holds one result per
 * good row and the dead-letter topic one record per bad row, then shuts down cleanly.
 */
import { loadIrisModel, predictIris } from '@rxml/core';
import { fromKafka, toKafka } from '@rxml/kafka';
import { createTopics, produce, readTopic, startKafka } from '@rxml/kafka-testkit';
import { lastValueFrom } from 'rxjs';

const kafka = await startKafka({ defaultPartitions: 3 }); // or your cluster: KAFKA_BROKERS=host:port
const brokers = kafka.brokers;
const run = Date.now().toString(36);
const [input, output, deadLetters] = [`IrisInputTopic-${run}`, `IrisOutputTopic-${run}`, `IrisDeadLetters-${run}`];
await createTopics(brokers, [{ topic: input, partitions: 3 }, { topic: output, partitions: 3 }, { topic: deadLetters, partitions: 1 }]);
const rows = ['5.4,3.9,1.7,0.4', '7.0,3.2,4.7,1.4', '4.6,3.4,1.4,0.3', 'not,a,flower,at all'];
await produce(brokers, input, rows.map((value) => ({ value })));

const model = await loadIrisModel(); // yours: dispose it when done
const controller = new AbortController();
const pipeline = fromKafka({ brokers, topic: input, groupId: `iris-${run}`, fromBeginning: true, signal: controller.signal }).pipe(
  predictIris(model, { select: (record) => record.value }),
  toKafka({ brokers, topic: output, deadLetterTopic: deadLetters }),
);
const done = lastValueFrom(pipeline, { defaultValue: undefined });

const deadline = Date.now() + 60_000;
let out = await readTopic(brokers, output);
let dead = await readTopic(brokers, deadLetters);
while ((out.length < 3 || dead.length < 1) && Date.now() < deadline) {
  await new Promise((resolve) => setTimeout(resolve, 500));
  [out, dead] = [await readTopic(brokers, output), await readTopic(brokers, deadLetters)];
}
controller.abort();
await done;
model.dispose();
await kafka.stop();

const species = out.map((r) => (JSON.parse(r.value ?? '{}') as { species?: string }).species).sort();
console.log(`output: ${species.join(', ')}; dead letters: ${dead.map((r) => r.headers['rxml-error-code']).join(', ')}`);
const expected = ['setosa', 'setosa', 'versicolor'];
if (JSON.stringify(species) !== JSON.stringify(expected) || dead.length !== 1 || dead[0]?.headers['rxml-error-code'] !== 'INVALID_INPUT') {
  console.error(`FAILED: expected ${expected.join(', ')} and one INVALID_INPUT dead letter`);
  process.exit(1);
}
console.log('app outside the workspace: OK');
