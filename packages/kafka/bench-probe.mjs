import { loadIrisModel, predictIris } from '@rxml/core';
import { produce, createTopics } from '@rxml/kafka-testkit';
import { lastValueFrom, tap, count } from 'rxjs';
import { fromKafka, toKafka } from './dist/index.js';
const brokers = [process.env.B];
const N = Number(process.env.N ?? 50000);
const t = `probe-${Date.now()}`;
await createTopics(brokers, [{ topic: t, partitions: 3 }, { topic: t + '-out', partitions: 3 }]);
let t0 = Date.now();
await produce(brokers, t, Array.from({ length: N }, (_, i) => ({ key: `k${i}`, value: '5.1,3.5,1.4,0.2' })));
console.log('produce', Date.now() - t0);
const model = await loadIrisModel();
const ac = new AbortController();
let n = 0, first;
t0 = Date.now();
const ev = [];
await lastValueFrom(fromKafka({ brokers, topic: t, groupId: t, fromBeginning: true, signal: ac.signal, maxInFlight: Number(process.env.MIF ?? 5000), onEvent: (e) => ev.push([Date.now() - t0, e.type]) }).pipe(
  tap(() => { if (first === undefined) first = Date.now() - t0; }),
  predictIris(model, { select: (r) => r.value, batch: { size: Number(process.env.BS ?? 256) } }),
  toKafka({ brokers, topic: t + '-out' }),
  tap(() => { if (++n === N) { console.log('all delivered', Date.now() - t0); ac.abort(); } }),
  count()));
console.log('first record at', first, 'total', Date.now() - t0, 'rate after first', Math.round(N / ((Date.now() - t0 - first) / 1000)));
console.log(ev.filter(e => e[1] !== 'committed').slice(0, 20));
model.dispose();
