import { loadIrisModel, predictIris, type Model } from '@rxml/core';
import { createTopics, produce, readTopic } from '@rxml/kafka-testkit';
import { lastValueFrom } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromKafka, toKafka, type KafkaLogger } from '../src/index.js';
import { brokers, fresh, until } from './support/index.js';

/** A logger that keeps every line, to check what a healthy run prints. */
function recordingLogger(): KafkaLogger & { lines: { level: string; message: string }[] } {
  const lines: { level: string; message: string }[] = [];
  const keep = (level: string) => (message: string) => void lines.push({ level, message });
  return { lines, error: keep('error'), warn: keep('warn'), info: keep('info'), debug: keep('debug') };
}

// What a new user meets first: the README pipeline with no tuning options.
describe('first run: defaults a Kafka user expects (real broker)', () => {
  let model: Model;
  beforeAll(async () => {
    model = await loadIrisModel();
  });
  afterAll(() => model.dispose());

  it('a new group starts at the earliest offset: rows written before the pipeline started are processed; a healthy run logs no WARN/ERROR and nothing after it ended', async () => {
    const [input, output, dead, group] = [fresh('first-in'), fresh('first-out'), fresh('first-dlq'), fresh('first-group')];
    await createTopics(brokers(), [{ topic: input, partitions: 3 }]);
    await produce(brokers(), input, ['5.4,3.9,1.7,0.4', '7.0,3.2,4.7,1.4', '4.6,3.4,1.4,0.3'].map((value) => ({ value })));
    const logger = recordingLogger();
    const controller = new AbortController();
    const done = lastValueFrom(
      fromKafka({ brokers: brokers(), topic: input, groupId: group, signal: controller.signal, logger, onEvent: (e) => logger.lines.push({ level: 'event', message: JSON.stringify(e) }) }).pipe(
        predictIris(model, { select: (r) => r.value }),
        toKafka({ brokers: brokers(), topic: output, deadLetterTopic: dead, logger }),
      ),
      { defaultValue: undefined },
    );
    // ≥: kafkajs' producer retries a whole batch while the output topic is being auto-created, so a
    // record can be written twice (at-least-once); docs/kafka.md's duplicates table.
    await until(async () => (await readTopic(brokers(), output)).length >= 3, 60_000, 'three outputs');
    controller.abort();
    await done;
    const loud = logger.lines.filter((l) => l.level === 'error' || l.level === 'warn');
    expect(loud).toEqual([]);
    const after = logger.lines.length;
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(logger.lines.length).toBe(after);
  });

  it('waits for an input topic that does not exist yet, then consumes it', async () => {
    const [input, output, group] = [fresh('first-late-in'), fresh('first-late-out'), fresh('first-late-group')];
    const controller = new AbortController();
    const done = lastValueFrom(
      fromKafka({ brokers: brokers(), topic: input, groupId: group, signal: controller.signal }).pipe(
        predictIris(model, { select: (r) => r.value }),
        toKafka({ brokers: brokers(), topic: output }),
      ),
      { defaultValue: undefined },
    );
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    await createTopics(brokers(), [{ topic: input, partitions: 1 }]);
    await produce(brokers(), input, [{ value: '5.4,3.9,1.7,0.4' }]);
    await until(async () => (await readTopic(brokers(), output)).length === 1, 60_000, 'the output of the late topic');
    controller.abort();
    await done;
  });

  it('fails with a KAFKA_ERROR naming the topic when it never appears within topicWaitMs', async () => {
    const input = fresh('first-never');
    const error = await lastValueFrom(fromKafka({ brokers: brokers(), topic: input, groupId: fresh('first-never-group'), topicWaitMs: 1_500 })).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: 'KAFKA_ERROR' });
    expect((error as Error).message).toContain(input);
    expect((error as Error).message).toContain('topicWaitMs');
  });
});
