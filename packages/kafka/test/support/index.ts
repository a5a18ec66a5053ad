import { randomUUID } from 'node:crypto';
import diagnosticsChannel from 'node:diagnostics_channel';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { readTopic } from '@rxml/kafka-testkit';
import { inject } from 'vitest';
import { parseIrisDataset, withRun, type IrisExample, type Model } from '@rxml/core';
import { CHANNELS, type SinkMessage } from '@rxml/core/contract';

/** The shared test broker (global setup). */
export function brokers(): string[] {
  return inject('kafkaBrokers');
}

/** A topic or group name no other test (or earlier run against KAFKA_BROKERS) uses. */
export function fresh(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

/** The seed's Iris data set, resolved from the repo root (CI puts shared/ beside the clone). */
export function irisExamples(): IrisExample[] {
  const path = fileURLToPath(new URL('../../../../../shared/seed/iris.txt', import.meta.url));
  return parseIrisDataset(readFileSync(path, 'utf8'));
}

/** CSV measurements of an example, as the seed's producer writes them. */
export function irisCsv(example: IrisExample): string {
  return example.features.join(',');
}

/**
 * Polls `condition` until it holds; a throw counts as "not yet" (e.g. a broker still starting).
 * `what` names the wait in the timeout error; a function is called then, to say the state reached.
 */
export function until(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string | (() => string)): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  return new Promise((resolve, reject) => {
    const check = async (): Promise<void> => {
      try {
        if (await condition()) return resolve();
      } catch (error) {
        lastError = error;
      }
      if (Date.now() > deadline) {
        const described = typeof what === 'string' ? what : what();
        return reject(new Error(`timed out after ${timeoutMs} ms waiting for ${described}${lastError === undefined ? '' : ` (last error: ${String(lastError)})`}`));
      }
      setTimeout(() => void check(), 100);
    };
    void check();
  });
}

/** The same model, each call delayed by `delayMs` (a model that is slow, e.g. a big network on a busy CPU). */
export function slowed(model: Model, delayMs: number): Model {
  return withRun(model, async (inputs) => {
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    return model.run(inputs);
  });
}

/**
 * Waits until the committed offsets (read by `readCommitted`) equal `ends` on every partition: the
 * pipeline's "everything completed" condition in the fault tests.
 */
export function untilCommittedTo<P, O>(ends: ReadonlyMap<P, O>, readCommitted: () => Promise<ReadonlyMap<P, O>>, what: string): Promise<void> {
  return until(
    async () => {
      const committed = await readCommitted();
      return [...ends].every(([partition, end]) => committed.get(partition) === end);
    },
    120_000,
    what,
  );
}

/**
 * Pushes the message of every `produce-error` the sinks publish on `rxml:sink` (a produce call rxml
 * itself retries) into `into`, until the returned function is called.
 */
export function collectProduceErrors(into: string[]): () => void {
  const onSink = (message: unknown): void => {
    const m = message as SinkMessage;
    if (m.type === 'produce-error') into.push(m.error?.message ?? 'produce error');
  };
  diagnosticsChannel.subscribe(CHANNELS.sink, onSink);
  return () => diagnosticsChannel.unsubscribe(CHANNELS.sink, onSink);
}

/**
 * What a topic holds of `records` inputs numbered 0 … records − 1 (each value JSON `{ "i": n, … }`),
 * read back in offset order per partition: "0 missing, 0 copies, in order" when each input is there
 * once and, per partition, in input order; otherwise how many are missing, copied, and per partition
 * how many came after a later input.
 */
export async function writtenOutcome(topic: string, records: number): Promise<string> {
  const written = await readTopic(brokers(), topic);
  const indexes = written.map((r) => (JSON.parse(r.value ?? 'null') as { i: number }).i);
  const distinct = new Set(indexes).size;
  const latest = new Map<number, number>();
  const late = new Map<number, number>();
  written.forEach((r, k) => {
    const i = indexes[k]!;
    if (i < (latest.get(r.partition) ?? -1)) late.set(r.partition, (late.get(r.partition) ?? 0) + 1);
    latest.set(r.partition, Math.max(i, latest.get(r.partition) ?? -1));
  });
  const order = late.size === 0 ? 'in order' : [...late].sort(([a], [b]) => a - b).map(([p, n]) => `partition ${p}: ${n} records after a later input`).join('; ');
  return `${records - distinct} missing, ${written.length - distinct} copies, ${order}`;
}
