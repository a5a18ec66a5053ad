import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { committedOffsets, createTopics, endOffsets, produce, readTopic } from '@rxml/kafka-testkit';
import { describe, expect, it } from 'vitest';
import { brokers, fresh, irisCsv, irisExamples, until, untilCommittedTo } from './support/index.js';

const TOTAL = 12_000;
const PIPELINE = fileURLToPath(new URL('./fixtures/iris-pipeline.mjs', import.meta.url));

interface Run {
  readonly child: ChildProcess;
  delivered: number;
  readonly exited: Promise<number | null>;
}

function startPipeline(env: Record<string, string>): Run {
  const child = spawn(process.execPath, [PIPELINE], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const run: Run = { child, delivered: 0, exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))) };
  let buffer = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    const lines = buffer.split('\n');
    buffer = lines.pop() ?? '';
    for (const line of lines) {
      const m = /^delivered (\d+)$/.exec(line);
      if (m !== null) run.delivered = Number(m[1]);
    }
  });
  child.stderr!.on('data', (chunk: Buffer) => process.stderr.write(`[pipeline] ${chunk.toString()}`));
  return run;
}

describe('kill -9 of the pipeline process (real broker)', () => {
  it('loses nothing over three hard kills and a restart', async () => {
    const [input, output, dead, group] = [fresh('kill-in'), fresh('kill-out'), fresh('kill-dlq'), fresh('kill-group')];
    await createTopics(brokers(), [
      { topic: input, partitions: 3 },
      { topic: output, partitions: 3 },
      { topic: dead, partitions: 1 },
    ]);
    const examples = irisExamples();
    await produce(
      brokers(),
      input,
      Array.from({ length: TOTAL }, (_, i) => ({ key: `r${i}`, value: irisCsv(examples[i % examples.length]!) })),
    );
    const env = { BROKERS: brokers().join(','), INPUT: input, OUTPUT: output, DLQ: dead, GROUP: group };

    const killedAt: number[] = [];
    for (let kill = 0; kill < 3; kill++) {
      const run = startPipeline(env);
      // Kill it mid-stream: after it delivered some records, well before the end.
      await until(() => run.delivered >= 1_500, 60_000, `pipeline run ${kill + 1} to deliver records`);
      run.child.kill('SIGKILL');
      expect(await run.exited).toBe(null);
      killedAt.push(run.delivered);
    }
    const committedBefore = [...(await committedOffsets(brokers(), group, input)).values()].reduce((a, b) => a + BigInt(b), 0n);
    expect(committedBefore).toBeLessThan(BigInt(TOTAL));

    const last = startPipeline(env);
    const ends = await endOffsets(brokers(), input);
    await untilCommittedTo(ends, () => committedOffsets(brokers(), group, input), 'the restarted pipeline to commit every offset');
    last.child.kill('SIGTERM');
    expect(await last.exited).toBe(0);

    const outputs = await readTopic(brokers(), output);
    const seen = new Map<string, number>();
    for (const o of outputs) seen.set(o.key ?? '', (seen.get(o.key ?? '') ?? 0) + 1);
    const missing = Array.from({ length: TOTAL }, (_, i) => `r${i}`).filter((k) => !seen.has(k));
    expect(missing).toEqual([]);
    expect((await readTopic(brokers(), dead)).length).toBe(0);
    const duplicates = outputs.length - seen.size;
    console.log(
      `[kill -9] killed after ${killedAt.join(', ')} deliveries; final run delivered ${last.delivered}; ` +
        `${outputs.length} outputs for ${TOTAL} inputs: ${duplicates} duplicates (${((100 * duplicates) / TOTAL).toFixed(2)} %), 0 lost`,
    );
  });
});
