import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { inject } from 'vitest';
import { parseIrisDataset, type IrisExample } from '@rxml/core';

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
  const path = fileURLToPath(new URL('../../../../shared/seed/iris.txt', import.meta.url));
  return parseIrisDataset(readFileSync(path, 'utf8'));
}

/** CSV measurements of an example, as the seed's producer writes them. */
export function irisCsv(example: IrisExample): string {
  return example.features.join(',');
}

export function until(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const check = async (): Promise<void> => {
      try {
        if (await condition()) return resolve();
      } catch (error) {
        return reject(error as Error);
      }
      if (Date.now() > deadline) return reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      setTimeout(() => void check(), 100);
    };
    void check();
  });
}
