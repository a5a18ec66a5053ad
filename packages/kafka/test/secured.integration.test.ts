import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isRxmlError } from '@rxml/core/contract';
import { loadIrisModel, predictIris, type Model } from '@rxml/core';
import { generateTls, startKafka, type KafkaTestBroker, type SecuredConnection } from '@rxml/kafka-testkit';
import { AclOperationTypes, AclPermissionTypes, AclResourceTypes, logLevel, ResourcePatternTypes } from 'kafkajs';
import { count, lastValueFrom, tap } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromKafka, toKafka } from '../src/index.js';
import { lifeAfterMarker } from './support/process-exit.js';
import { fresh, irisCsv, irisExamples, untilCommittedTo } from './support/index.js';

const allow = (principal: string, resourceType: AclResourceTypes, resourceName: string, operation: AclOperationTypes) => ({
  principal,
  resourceType,
  resourceName,
  resourcePatternType: ResourcePatternTypes.PREFIXED,
  host: '*',
  operation,
  permissionType: AclPermissionTypes.ALLOW,
});

/** Runs the Iris pipeline with `connection` until every input offset is committed, or until it fails. */
async function pipeline(
  kafka: KafkaTestBroker,
  model: Model,
  connection: SecuredConnection,
  names: { input: string; output: string; dead: string; group: string },
  waitForCommits: boolean,
  producer: 'kafkajs' | 'platformatic',
  sinkConnection: SecuredConnection = connection,
  extra: { readonly exactlyOnce?: boolean; readonly giveUpMs?: number } = {},
): Promise<{ error: unknown; ms: number; delivered: number }> {
  const controller = new AbortController();
  let delivered = 0;
  const started = Date.now();
  const eos = extra.exactlyOnce === true ? { exactlyOnce: true, transactionalId: fresh('sec-tx') } : {};
  // A stream that neither fails nor ends (a sink that waits for a record that never comes) is stopped here.
  const giveUp = extra.giveUpMs === undefined ? undefined : setTimeout(() => controller.abort(), extra.giveUpMs);
  const done = lastValueFrom(
    fromKafka({ ...connection, topic: names.input, groupId: names.group, fromBeginning: true, signal: controller.signal, logLevel: logLevel.NOTHING }).pipe(
      predictIris(model, { select: (r) => r.value, batch: { size: 64 } }),
      toKafka({ ...sinkConnection, topic: names.output, deadLetterTopic: names.dead, producer, logLevel: logLevel.NOTHING, ...eos }),
      tap(() => delivered++),
      count(),
    ),
  ).then(
    () => undefined,
    (error: unknown) => error,
  );
  if (waitForCommits) {
    const ends = await kafka.endOffsets(names.input);
    await untilCommittedTo(ends, () => kafka.committedOffsets(names.group, names.input), 'every offset committed on the secured broker');
    controller.abort();
  }
  const error = await done;
  clearTimeout(giveUp);
  return { error, ms: Date.now() - started, delivered };
}

const FAILING_PIPELINE = fileURLToPath(new URL('./fixtures/failing-pipeline.mjs', import.meta.url));

/**
 * Runs fixtures/failing-pipeline.mjs (built dist) with `config` and measures, from outside, how long
 * the process lives after it printed the stream's error. Kills it after `giveUpMs` without an error line.
 */
async function failingProcess(config: Record<string, unknown>, giveUpMs = 60_000): Promise<{ error: string | undefined; afterErrorMs: number | undefined; code: number | null; stderr: string }> {
  const run = await lifeAfterMarker(FAILING_PIPELINE, { PIPELINE: JSON.stringify(config) }, /^error (.*)$/m, giveUpMs);
  return { error: run.match, afterErrorMs: run.afterMs, code: run.code, stderr: run.stderr };
}

describe.skipIf(process.env['KAFKA_BROKERS'] !== undefined && process.env['KAFKA_BROKERS'] !== '')('secured cluster: SASL_SSL (PLAIN, SCRAM-SHA-256/512), ACLs (real broker)', () => {
  let kafka: KafkaTestBroker;
  let model: Model;
  let otherCa: string;
  let otherDir: string;
  const TOTAL = 500;

  beforeAll(async () => {
    otherDir = await mkdtemp(join(tmpdir(), 'rxml-other-ca-'));
    let other: string;
    [kafka, model, other] = await Promise.all([
      startKafka({
        ignoreEnv: true,
        // plain_only: a second SASL_SSL listener that offers PLAIN alone (a client asking for SCRAM there is refused).
        security: { users: { alice: 'alice-secret', mallory: 'mallory-secret', trudy: 'trudy-secret', victor: 'victor-secret', dora: 'dora-secret' }, acls: true, listeners: { plain_only: ['plain'] } },
      }),
      loadIrisModel(),
      generateTls(otherDir, 'other').then((t) => t.caPem),
    ]);
    otherCa = other;
    // alice may do everything on sec-* topics and groups; mallory may read sec-* and use sec-* groups, not write.
    await kafka.security!.grant([
      allow('User:alice', AclResourceTypes.TOPIC, 'sec-', AclOperationTypes.ALL),
      allow('User:alice', AclResourceTypes.GROUP, 'sec-', AclOperationTypes.ALL),
      allow('User:mallory', AclResourceTypes.TOPIC, 'sec-', AclOperationTypes.READ),
      allow('User:mallory', AclResourceTypes.TOPIC, 'sec-', AclOperationTypes.DESCRIBE),
      allow('User:mallory', AclResourceTypes.GROUP, 'sec-', AclOperationTypes.READ),
      // trudy may use sec-* groups but no topic; victor may do everything on sec-* topics but use no group.
      allow('User:trudy', AclResourceTypes.GROUP, 'sec-', AclOperationTypes.READ),
      allow('User:victor', AclResourceTypes.TOPIC, 'sec-', AclOperationTypes.ALL),
      // dora may read sec-* and use sec-* groups, and write sec-out-* topics only: not the dead-letter topics (sec-dlq-*).
      allow('User:dora', AclResourceTypes.TOPIC, 'sec-', AclOperationTypes.READ),
      allow('User:dora', AclResourceTypes.TOPIC, 'sec-', AclOperationTypes.DESCRIBE),
      allow('User:dora', AclResourceTypes.GROUP, 'sec-', AclOperationTypes.READ),
      allow('User:dora', AclResourceTypes.TOPIC, 'sec-out-', AclOperationTypes.WRITE),
    ]);
  });
  afterAll(async () => {
    model?.dispose();
    await kafka?.stop();
    if (otherDir !== undefined) await rm(otherDir, { recursive: true, force: true });
  });

  async function topics(): Promise<{ input: string; output: string; dead: string; group: string }> {
    const names = { input: fresh('sec-in'), output: fresh('sec-out'), dead: fresh('sec-dlq'), group: fresh('sec-group') };
    await kafka.createTopic(names.input, 2);
    await kafka.createTopic(names.output, 2);
    await kafka.createTopic(names.dead, 1);
    const examples = irisExamples();
    await kafka.produce(names.input, Array.from({ length: TOTAL }, (_, i) => ({ key: `r${i}`, value: irisCsv(examples[i % examples.length]!) })));
    return names;
  }

  it('fails fast naming the ACL when the input topic may not be read (it does not wait for the topic to appear), and commits nothing', async () => {
    const names = await topics();
    const { error, ms } = await pipeline(kafka, model, kafka.security!.connection('trudy'), names, false, 'platformatic');
    console.log(`[secured] no topic ACL: failed after ${ms} ms: ${String((error as Error).message)}`);
    expect(isRxmlError(error)).toBe(true);
    expect((error as Error).message).toMatch(/not authorized to read input topic .*Topic authorization failed/i);
    expect(ms).toBeLessThan(15_000);
    expect((await kafka.committedOffsets(names.group, names.input)).size).toBe(0);
  });

  it('fails fast naming the ACL when the group may not be used (kafkajs calls it "Failed to find group coordinator"), and commits nothing', async () => {
    const names = await topics();
    const { error, ms } = await pipeline(kafka, model, kafka.security!.connection('victor'), names, false, 'platformatic');
    console.log(`[secured] no group ACL: failed after ${ms} ms: ${String((error as Error).message)}`);
    expect(isRxmlError(error)).toBe(true);
    expect((error as Error).message).toMatch(/Group authorization failed/i);
    expect(ms).toBeLessThan(15_000);
    expect((await kafka.committedOffsets(names.group, names.input)).size).toBe(0);
  });

  it('fails with a hint when the consumer forgot ssl and sasl (the SASL_SSL listener closes the connection), and commits nothing', async () => {
    const names = await topics();
    const alice = kafka.security!.connection('alice');
    const { error, ms } = await pipeline(kafka, model, { brokers: alice.brokers } as unknown as SecuredConnection, names, false, 'platformatic', alice);
    console.log(`[secured] consumer without ssl/sasl: failed after ${ms} ms: ${String((error as Error).message)}`);
    expect(isRxmlError(error)).toBe(true);
    // kafkajs alone would retry the closed connection for ~10 s; one TLS probe of the listener ends that.
    expect((error as Error).message).toMatch(/cannot consume .*listener at .* speaks TLS.*set `ssl`/);
    expect(ms).toBeLessThan(5_000);
    expect((await kafka.committedOffsets(names.group, names.input)).size).toBe(0);
  });

  it('names the mechanism asked for and the ones the broker offers when the consumer asks for a SASL mechanism the listener does not enable, and commits nothing', async () => {
    const names = await topics();
    const alice = kafka.security!.connection('alice');
    const { error, ms } = await pipeline(kafka, model, kafka.security!.connection('alice', undefined, 'scram-sha-512', 'plain_only'), names, false, 'platformatic', alice);
    console.log(`[secured] consumer asks SCRAM-SHA-512 of a PLAIN-only listener: failed after ${ms} ms: ${String((error as Error).message)}`);
    expect(isRxmlError(error)).toBe(true);
    expect((error as Error).message).toMatch(/cannot consume .*SASL mechanism SCRAM-SHA-512 \(sasl\.mechanism "scram-sha-512"\) is not enabled on the broker's listener; it offers PLAIN/);
    expect(ms).toBeLessThan(10_000);
    expect((await kafka.committedOffsets(names.group, names.input)).size).toBe(0);
  });

  // kafkajs retries a connection that fails (certificate, closed, refused) for ~9 s by default: a
  // client rxml gave up on must not keep the process alive through those retries.
  const failedStarts: readonly { what: string; source: (alice: SecuredConnection) => unknown; sink: (alice: SecuredConnection) => unknown; producer: 'kafkajs' | 'platformatic'; exactlyOnce?: boolean }[] = [
    { what: "fromKafka does not trust the broker's certificate", source: (alice) => ({ ...alice, ssl: { ca: [otherCa] } }), sink: (alice) => alice, producer: 'platformatic' },
    { what: "toKafka (kafkajs) does not trust the broker's certificate", source: (alice) => alice, sink: (alice) => ({ ...alice, ssl: { ca: [otherCa] } }), producer: 'kafkajs' },
    {
      what: 'fromKafka has a wrong password while the kafkajs producer (no ssl/sasl) is still retrying its connection',
      source: (alice) => ({ ...alice, sasl: { ...alice.sasl, password: 'wrong-password' } }),
      sink: (alice) => ({ brokers: alice.brokers }),
      producer: 'kafkajs',
    },
    // The platformatic producer is failed by rxml while the client still retries its Metadata request.
    { what: 'toKafka (platformatic) forgot ssl and sasl', source: (alice) => alice, sink: (alice) => ({ brokers: alice.brokers }), producer: 'platformatic' },
    { what: 'toKafka (platformatic) has a wrong password', source: (alice) => alice, sink: (alice) => ({ ...alice, sasl: { ...alice.sasl, password: 'wrong-password' } }), producer: 'platformatic' },
    { what: 'toKafka (exactly-once) forgot ssl and sasl', source: (alice) => alice, sink: (alice) => ({ brokers: alice.brokers }), producer: 'kafkajs', exactlyOnce: true },
  ];
  it.each(failedStarts)('a process whose pipeline fails at its start exits within 3 s of the error when $what', async ({ what, source, sink, producer, exactlyOnce }) => {
    const names = await topics();
    const alice = kafka.security!.connection('alice');
    const run = await failingProcess({ source: source(alice), sink: sink(alice), ...names, producer, exactlyOnce: exactlyOnce === true });
    console.log(`[secured] failed start (${what}): exit ${String(run.afterErrorMs)} ms after the error: ${String(run.error)}`);
    expect(run.error, `no error line; stderr: ${run.stderr}`).toBeDefined();
    expect(run.code, run.stderr).toBe(0);
    expect(run.afterErrorMs, run.stderr).toBeLessThanOrEqual(3_000);
    expect((await kafka.committedOffsets(names.group, names.input)).size).toBe(0);
  });

  // Both producers: the consumer is always kafkajs; the output goes through the producer under test.
  describe.each(['kafkajs', 'platformatic'] as const)('%s producer', (producer) => {
    it.each(['plain', 'scram-sha-256', 'scram-sha-512'] as const)('runs the pipeline over SASL_SSL with %s and ACLs', async (mechanism) => {
      const names = await topics();
      const { error, delivered } = await pipeline(kafka, model, kafka.security!.connection('alice', undefined, mechanism), names, true, producer);
      expect(error).toBeUndefined();
      expect(delivered).toBe(TOTAL);
      expect((await kafka.readTopic(names.output)).length).toBe(TOTAL);
    });

    it('fails fast with a clear error on a wrong password, and commits nothing', async () => {
      const names = await topics();
      const { error, ms } = await pipeline(kafka, model, kafka.security!.connection('alice', 'wrong-password'), names, false, producer);
      console.log(`[secured, ${producer} producer] wrong password: failed after ${ms} ms: ${String((error as Error).message)}`);
      expect(isRxmlError(error)).toBe(true);
      expect((error as Error).message).toMatch(/SASL|authentication/i);
      expect(ms).toBeLessThan(10_000);
      expect((await kafka.committedOffsets(names.group, names.input)).size).toBe(0);
    });

    // The source is configured right, the sink alone is not: the producer's own failure must stop the stream.
    const sinkOnly: readonly { what: string; label: string; sink: (alice: SecuredConnection) => SecuredConnection; says: RegExp; withinMs: number }[] = [
      { what: 'with a clear error when only the producer has a wrong password', label: "producer's wrong password", sink: () => kafka.security!.connection('alice', 'wrong-password'), says: /SASL|authentication/i, withinMs: 10_000 },
      { what: 'with a clear error when only the producer distrusts the broker certificate', label: "producer's wrong CA", sink: (alice) => ({ ...alice, ssl: { ca: [otherCa] } }), says: /certificate/i, withinMs: 10_000 },
      {
        what: 'with a hint when only the producer forgot ssl and sasl (the SASL_SSL listener closes the connection)',
        label: 'producer without ssl/sasl',
        sink: (alice) => ({ brokers: alice.brokers }) as unknown as SecuredConnection,
        says: /cannot connect the producer .*set `ssl`/,
        // Either producer: one TLS probe of the listener that closed the plaintext connection (platformatic
        // alone retried its Metadata request 4 times, ~15 s).
        withinMs: 5_000,
      },
    ];
    it.each(sinkOnly)('fails fast $what, and commits nothing', async ({ label, sink, says, withinMs }) => {
      const names = await topics();
      const alice = kafka.security!.connection('alice');
      const { error, ms } = await pipeline(kafka, model, alice, names, false, producer, sink(alice));
      console.log(`[secured, ${producer} producer] ${label}: failed after ${ms} ms: ${String((error as Error).message)}`);
      expect(isRxmlError(error)).toBe(true);
      expect((error as Error).message).toMatch(says);
      expect(ms).toBeLessThan(withinMs);
      expect((await kafka.committedOffsets(names.group, names.input)).size).toBe(0);
      expect((await kafka.readTopic(names.output)).length).toBe(0);
    });

    // The sink's connection alone is wrong and the input is empty: the stream fails at its start, with
    // the same texts whether the sink is at-least-once or exactly-once (which connects its kafkajs
    // client at subscribe time, whatever `producer` says).
    const beforeAnyRecord: readonly { what: string; sink: (alice: SecuredConnection) => SecuredConnection; says: RegExp; withinMs: number }[] = [
      // SASL authentication failure: permanent, no retries (platformatic retried its Metadata request 4 times, ~4 s).
      { what: 'wrong password', sink: () => kafka.security!.connection('alice', 'wrong-password'), says: /cannot connect the producer for sec-out-\S+: .*SASL.* authentication failed/i, withinMs: 3_000 },
      {
        what: 'no ssl/sasl',
        sink: (alice) => ({ brokers: alice.brokers }) as unknown as SecuredConnection,
        says: /cannot connect the producer for sec-out-\S+: .*speaks TLS.*set `ssl`/,
        withinMs: 3_000,
      },
      {
        what: 'SASL mechanism not offered',
        sink: () => kafka.security!.connection('alice', undefined, 'scram-sha-512', 'plain_only'),
        says: /cannot connect the producer for sec-out-\S+: SASL mechanism SCRAM-SHA-512 \(sasl\.mechanism "scram-sha-512"\) is not enabled on the broker's listener; it offers PLAIN/,
        withinMs: 3_000,
      },
    ];
    // The exactly-once sink runs on kafkajs whatever `producer` says: its cases run once, here.
    const sinkKinds = [
      { sinkKind: 'at-least-once', exactlyOnce: false },
      ...(producer === 'kafkajs' ? [{ sinkKind: 'exactly-once', exactlyOnce: true }] : []),
    ];
    describe.each(sinkKinds)('$sinkKind sink', ({ sinkKind, exactlyOnce }) => {
      it.each(beforeAnyRecord)('fails at the start when only the producer cannot connect ($what), before any record arrives: the input topic is empty', async ({ what, sink, says, withinMs }) => {
        const names = { input: fresh('sec-in'), output: fresh('sec-out'), dead: fresh('sec-dlq'), group: fresh('sec-group') };
        await kafka.createTopic(names.input, 1);
        const alice = kafka.security!.connection('alice');
        const { error, ms } = await pipeline(kafka, model, alice, names, false, producer, sink(alice), { exactlyOnce, giveUpMs: 20_000 });
        console.log(`[secured, ${producer} producer, ${sinkKind}] producer's ${what}, empty input: failed after ${ms} ms: ${String((error as Error | undefined)?.message)}`);
        expect(isRxmlError(error), `no error after ${ms} ms`).toBe(true);
        expect((error as { code?: unknown }).code).toBe('KAFKA_ERROR');
        expect((error as Error).message).toMatch(says);
        expect(ms).toBeLessThan(withinMs);
      });
    });

    it('fails fast with a clear error when the broker certificate is not signed by the trusted CA, and commits nothing', async () => {
      const names = await topics();
      const connection = { ...kafka.security!.connection('alice'), ssl: { ca: [otherCa] } };
      const { error, ms } = await pipeline(kafka, model, connection, names, false, producer);
      console.log(`[secured, ${producer} producer] wrong CA: failed after ${ms} ms: ${String((error as Error).message)}`);
      expect(isRxmlError(error)).toBe(true);
      expect((error as Error).message).toMatch(/certificate/i);
      expect(ms).toBeLessThan(10_000);
      expect((await kafka.committedOffsets(names.group, names.input)).size).toBe(0);
    });

    it('names the mechanism asked for and the ones the broker offers when the producer asks for a SASL mechanism the listener does not enable, and commits nothing', async () => {
      const names = await topics();
      const alice = kafka.security!.connection('alice');
      const { error, ms } = await pipeline(kafka, model, alice, names, false, producer, kafka.security!.connection('alice', undefined, 'scram-sha-512', 'plain_only'));
      console.log(`[secured, ${producer} producer] producer asks SCRAM-SHA-512 of a PLAIN-only listener: failed after ${ms} ms: ${String((error as Error).message)}`);
      expect(isRxmlError(error)).toBe(true);
      expect((error as Error).message).toMatch(/cannot connect the producer for .*SASL mechanism SCRAM-SHA-512 \(sasl\.mechanism "scram-sha-512"\) is not enabled on the broker's listener; it offers PLAIN/);
      expect(ms).toBeLessThan(10_000);
      expect((await kafka.committedOffsets(names.group, names.input)).size).toBe(0);
      expect((await kafka.readTopic(names.output)).length).toBe(0);
    });

    it('names the dead-letter topic alone when only it may not be written (Write on the output topic only), and commits nothing past the record', async () => {
      const names = { input: fresh('sec-in'), output: fresh('sec-out'), dead: fresh('sec-dlq'), group: fresh('sec-group') };
      await kafka.createTopic(names.input, 1);
      await kafka.createTopic(names.output, 1);
      await kafka.createTopic(names.dead, 1);
      const examples = irisExamples();
      // Offset 10 is not Iris measurements: its error result goes to the dead-letter topic, with the others' outputs.
      const BAD = 10;
      await kafka.produce(names.input, Array.from({ length: 20 }, (_, i) => ({ key: `r${i}`, value: i === BAD ? 'five,three,one,zero' : irisCsv(examples[i % examples.length]!) })));
      const { error, ms } = await pipeline(kafka, model, kafka.security!.connection('dora'), names, false, producer);
      const message = String((error as Error).message);
      console.log(`[secured, ${producer} producer] no Write on the dead-letter topic: failed after ${ms} ms: ${message}`);
      expect(isRxmlError(error)).toBe(true);
      expect((error as { code?: unknown }).code).toBe('KAFKA_ERROR');
      expect(message).toContain(`dead-letter topic ${names.dead}`);
      expect(message).not.toContain(names.output);
      expect(message).toMatch(/authoriz/i);
      expect(ms).toBeLessThan(10_000);
      const committed = (await kafka.committedOffsets(names.group, names.input)).get(0);
      expect(committed === undefined || BigInt(committed) <= BigInt(BAD), `committed ${String(committed)}`).toBe(true);
      expect((await kafka.readTopic(names.dead)).length).toBe(0);
    });

    it('fails with a clear error when an ACL is missing (no Write on the output topic), and commits nothing', async () => {
      const names = await topics();
      const { error, ms } = await pipeline(kafka, model, kafka.security!.connection('mallory'), names, false, producer);
      console.log(`[secured, ${producer} producer] missing ACL: failed after ${ms} ms: ${String((error as Error).message)}`);
      expect(isRxmlError(error)).toBe(true);
      expect((error as Error).message).toMatch(/authoriz/i);
      expect(ms).toBeLessThan(10_000);
      expect((await kafka.committedOffsets(names.group, names.input)).size).toBe(0);
      expect((await kafka.readTopic(names.output)).length).toBe(0);
    });
  });
});
