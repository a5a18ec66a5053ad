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
import { headerText, produceWithHeaders, readHeaderLists } from './patched-kafkajs.js';

const kafka = await startKafka({ defaultPartitions: 3 }); // or your cluster: KAFKA_BROKERS=host:port
const brokers = kafka.brokers;
const run = Date.now().toString(36);
const [input, output, deadLetters] = [`IrisInputTopic-${run}`, `IrisOutputTopic-${run}`, `IrisDeadLetters-${run}`];
await createTopics(brokers, [{ topic: input, partitions: 3 }, { topic: output, partitions: 3 }, { topic: deadLetters, partitions: 1 }]);
const rows = ['5.4,3.9,1.7,0.4', '7.0,3.2,4.7,1.4', '4.6,3.4,1.4,0.3'];
await produce(brokers, input, rows.map((value) => ({ value })));
// CI's proof that the patched kafkajs runs (not an app's business): the bad row carries headers
// a=1, b=null, a=2, which its dead letter must keep in that order.
const inputHeaders = [{ key: 'a', value: Buffer.from('1') }, { key: 'b', value: null }, { key: 'a', value: Buffer.from('2') }];
await produceWithHeaders(brokers, input, 'not,a,flower,at all', inputHeaders);

const model = await loadIrisModel(); // yours: dispose it when done
const controller = new AbortController();
const pipeline = fromKafka({ brokers, topic: input, groupId: `iris-${run}`, fromBeginning: true, signal: controller.signal }).pipe(
  predictIris(model, { select: (record) => record.value }),
  toKafka({ brokers, topic: output, deadLetterTopic: deadLetters }),
);
const done = lastValueFrom(pipeline, { defaultValue: undefined });

const deadline = Date.now() + 60_000;
let out = await readTopic(brokers, output);
while (out.length < 3 && Date.now() < deadline) {
  await new Promise((resolve) => setTimeout(resolve, 500));
  out = await readTopic(brokers, output);
}
// The dead letter, read with its exact header list (the testkit's readTopic flattens headers).
const [dead] = await readHeaderLists(brokers, deadLetters, 1, Math.max(deadline - Date.now(), 10_000));
controller.abort();
await done;
model.dispose();
await kafka.stop();

const species = out.map((r) => (JSON.parse(r.value ?? '{}') as { species?: string }).species).sort();
const deadHeaders = headerText(dead?.headers);
console.log(`output: ${species.join(', ')}; dead letter headers: ${deadHeaders}`);
const expected = ['setosa', 'setosa', 'versicolor'];
if (JSON.stringify(species) !== JSON.stringify(expected) || !deadHeaders.startsWith('a=1,b=null,a=2,rxml-error-code=INVALID_INPUT,')) {
  console.error(`FAILED: expected ${expected.join(', ')} and one INVALID_INPUT dead letter with headers a=1,b=null,a=2 first (patched kafkajs)`);
  process.exit(1);
}
console.log('app outside the workspace: OK');
