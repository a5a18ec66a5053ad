/** toKafka's rxml-model-variant header on the real broker: a splitModels A/B split's results say which variant answered. */
import { loadIrisModel, predictIris, splitModels } from '@rxml/core';
import { createTopics, readTopic } from '@rxml/kafka-testkit';
import { logLevel } from 'kafkajs';
import { from, lastValueFrom, toArray } from 'rxjs';
import { expect, it } from 'vitest';
import { toKafka } from '../src/index.js';
import { brokers, fresh, irisCsv, irisExamples } from './support/index.js';

it('each output record of an A/B split carries rxml-model-variant = the variant that scored it (as in the result)', async () => {
  const topic = fresh('variant-out');
  await createTopics(brokers(), [{ topic }]);
  const [control, candidate] = await Promise.all([loadIrisModel(), loadIrisModel()]);
  try {
    const rows = irisExamples()
      .slice(0, 60)
      .map((e, i) => `${irisCsv(e)}#${i}`);
    const split = splitModels<string>(
      [
        { name: 'control', model: control!, weight: 50 },
        { name: 'candidate', model: candidate!, weight: 50 },
      ],
      { key: (row) => row },
    );
    const delivered = await lastValueFrom(
      from(rows).pipe(predictIris(split, { select: (row) => row.split('#')[0]! }), toKafka({ brokers: brokers(), topic, key: (r) => r.input, logLevel: logLevel.NOTHING }), toArray()),
    );
    const variantOf = new Map(delivered.map((d) => [d.result.input, d.result.ok ? d.result.variant : undefined]));
    const written = await readTopic(brokers(), topic);
    expect(written).toHaveLength(rows.length);
    expect(new Set(written.map((r) => r.headers['rxml-model-variant']))).toEqual(new Set(['control', 'candidate']));
    for (const record of written) expect(record.headers['rxml-model-variant']).toBe(variantOf.get(record.key!));
  } finally {
    control!.dispose();
    candidate!.dispose();
  }
});
