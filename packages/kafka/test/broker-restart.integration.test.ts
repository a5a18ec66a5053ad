import { loadIrisModel, predictIris, type Model } from '@rxml/core';
import { startKafka, type KafkaTestBroker } from '@rxml/kafka-testkit';
import { logLevel } from 'kafkajs';
import { lastValueFrom, count, tap } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromKafka, toKafka, type KafkaSourceEvent } from '../src/index.js';
import { fresh, irisCsv, irisExamples, slowed, until, untilCommittedTo } from './support/index.js';

const TOTAL = 8_000;

// restart() needs a broker of its own: the shared one serves the other test files meanwhile.
describe.skipIf(process.env['KAFKA_BROKERS'] !== undefined && process.env['KAFKA_BROKERS'] !== '')('broker restart mid-stream (real broker)', () => {
  let kafka: KafkaTestBroker;
  let model: Model;
  beforeAll(async () => {
    [kafka, model] = await Promise.all([startKafka({ ignoreEnv: true, defaultPartitions: 3 }), loadIrisModel()]);
  });
  afterAll(async () => {
    model?.dispose();
    await kafka?.stop();
  });

  it('recovers after the broker restarts and loses nothing', async () => {
    const [input, output, dead, group] = [fresh('restart-in'), fresh('restart-out'), fresh('restart-dlq'), fresh('restart-group')];
    await kafka.createTopic(input, 3);
    await kafka.createTopic(output, 3);
    await kafka.createTopic(dead, 1);
    const examples = irisExamples();
    await kafka.produce(input, Array.from({ length: TOTAL }, (_, i) => ({ key: `r${i}`, value: irisCsv(examples[i % examples.length]!) })));

    const controller = new AbortController();
    const events: KafkaSourceEvent['type'][] = [];
    let delivered = 0;
    const retry = { retries: 30, initialRetryTime: 300, maxRetryTime: 3_000 };
    const done = lastValueFrom(
      fromKafka({
        brokers: kafka.brokers,
        topic: input,
        groupId: group,
        fromBeginning: true,
        maxInFlight: 500,
        sessionTimeout: 10_000,
        heartbeatInterval: 1_000,
        signal: controller.signal,
        logLevel: logLevel.NOTHING,
        retry,
        onEvent: (e) => events.push(e.type),
      }).pipe(
        // ~1,600 records/s at most, so the restart surely lands mid-stream.
        predictIris(slowed(model, 40), { select: (r) => r.value, batch: { size: 64 } }),
        toKafka({ brokers: kafka.brokers, topic: output, deadLetterTopic: dead, logLevel: logLevel.NOTHING, retry, maxBatchMessages: 200 }),
        tap(() => delivered++),
        count(),
      ),
    );

    const ends = await kafka.endOffsets(input);
    await until(() => delivered >= 1_500, 60_000, 'records before the restart');
    const before = delivered;
    await kafka.restart();
    const afterRestart = delivered;
    await untilCommittedTo(ends, () => kafka.committedOffsets(group, input), 'every offset committed after the restart');
    controller.abort();
    await done;

    const outputs = await kafka.readTopic(output);
    const keys = new Set(outputs.map((o) => o.key));
    const missing = Array.from({ length: TOTAL }, (_, i) => `r${i}`).filter((k) => !keys.has(k));
    expect(missing).toEqual([]);
    expect(afterRestart).toBeLessThan(TOTAL);
    console.log(
      `[broker restart] restart began after ${before} and ended after ${afterRestart} deliveries; ${outputs.length} outputs for ${TOTAL} inputs ` +
        `(${outputs.length - keys.size} duplicates); source events: ${[...new Set(events)].join(', ')}`,
    );
  });
});
