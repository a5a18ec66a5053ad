import { describe, expect, it } from 'vitest';
import { MissingToolError, startKafka } from '../src/index.js';

describe('startKafka without the tools it needs', () => {
  it('says what to install, or to set KAFKA_BROKERS', async () => {
    const path = process.env['PATH'];
    const brokers = process.env['KAFKA_BROKERS'];
    process.env['PATH'] = '/nonexistent';
    delete process.env['KAFKA_BROKERS'];
    try {
      const error = await startKafka().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(MissingToolError);
      expect(String(error)).toMatch(/java.*not found/);
      expect(String(error)).toMatch(/KAFKA_BROKERS/);
    } finally {
      process.env['PATH'] = path;
      if (brokers !== undefined) process.env['KAFKA_BROKERS'] = brokers;
    }
  });

  it('uses KAFKA_BROKERS without starting anything', async () => {
    const brokers = process.env['KAFKA_BROKERS'];
    process.env['KAFKA_BROKERS'] = 'host-a:9092, host-b:9093';
    try {
      const kafka = await startKafka();
      expect(kafka.external).toBe(true);
      expect(kafka.brokers).toEqual(['host-a:9092', 'host-b:9093']);
      await expect(kafka.restart()).rejects.toThrow(/external/);
    } finally {
      if (brokers === undefined) delete process.env['KAFKA_BROKERS'];
      else process.env['KAFKA_BROKERS'] = brokers;
    }
  });
});
