import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { isRxmlError } from '@rxml/core/contract';
import { Kafka } from 'kafkajs';
import { assertPatchedKafkajs, kafkajsPatchProblems, warnIfForeignKafka } from '../src/internal/kafkajs-patch.js';
import type { KafkaLogger } from '../src/internal/logger.js';

const require = createRequire(import.meta.url);
const patchFile = resolve(fileURLToPath(new URL('../../../patches/kafkajs@2.2.4.patch', import.meta.url)));
const temp: string[] = [];
afterAll(() => temp.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

describe('the kafkajs patch guard', () => {
  it('passes on the kafkajs @rxml/kafka loads (patched)', () => {
    expect(kafkajsPatchProblems()).toEqual([]);
    expect(() => assertPatchedKafkajs()).not.toThrow();
  });

  it('names every missing fix of an unpatched kafkajs 2.2.4 (the patch reversed on a copy) and refuses to start', () => {
    const app = mkdtempSync(join(tmpdir(), 'rxml-unpatched-'));
    temp.push(app);
    const copy = join(app, 'node_modules', 'kafkajs');
    cpSync(realpathSync(dirname(require.resolve('kafkajs/package.json'))), copy, { recursive: true });
    execFileSync('patch', ['-R', '-p1', '-s', '-d', copy, '-i', patchFile]);
    const unpatched = createRequire(join(app, 'app.js'));
    const problems = kafkajsPatchProblems(unpatched);
    expect(problems).toHaveLength(9);
    expect(problems[0]).toMatch(/header/);
    expect(problems[1]).toMatch(/aborted transactions/);
    expect(problems[2]).toMatch(/oversized batch/);
    expect(problems[3]).toMatch(/retries end/);
    expect(problems[4]).toMatch(/produce requests .* call order/);
    expect(problems[5]).toMatch(/idempotent producer/);
    expect(problems[6]).toMatch(/sequence numbers wrap/);
    expect(problems[7]).toMatch(/re-join/);
    expect(problems[8]).toMatch(/require_stable/);
    let thrown: unknown;
    try {
      assertPatchedKafkajs(unpatched);
    } catch (error) {
      thrown = error;
    }
    expect(isRxmlError(thrown)).toBe(true);
    expect(thrown).toMatchObject({ code: 'KAFKA_ERROR', retriable: false });
    expect((thrown as Error).message).toContain(copy);
    expect((thrown as Error).message).toMatch(/refuses to start.*lacks rxml's kafkajs 2\.2\.4 patch.*tarball/);
  });

  it("logs one ERROR line per `kafka` client made with another kafkajs install, none for @rxml/kafka's own", () => {
    const lines: string[] = [];
    const logger: KafkaLogger = { error: (m) => lines.push(`ERROR ${m}`), warn: (m) => lines.push(`WARN ${m}`), info: () => {}, debug: () => {} };
    warnIfForeignKafka(new Kafka({ brokers: ['localhost:9'] }), logger);
    warnIfForeignKafka(undefined, logger);
    expect(lines).toEqual([]);
    // Another install's Kafka class: not an instance of the one @rxml/kafka loads.
    class OtherKafka {}
    const foreign = new OtherKafka();
    warnIfForeignKafka(foreign, logger);
    warnIfForeignKafka(foreign, logger);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^ERROR the `kafka` client given was made with another kafkajs install.*maxDecompressedBatchBytes.*leave `kafka` out/);
  });
});
