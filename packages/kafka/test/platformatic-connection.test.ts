/**
 * The `@platformatic/kafka` producer honours kafkajs' `requestTimeout` (the client's wait for an
 * answer), against a real TCP listener that accepts connections and never answers (a hung broker).
 */
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { platformaticConnection, platformaticProducer } from '../src/internal/platformatic-producer.js';

let server: Server;
let address: string;
const sockets = new Set<Socket>();

beforeAll(async () => {
  server = createServer((socket) => {
    sockets.add(socket); // accepted, never answered
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const at = server.address();
  if (at === null || typeof at === 'string') throw new Error('no port');
  address = `127.0.0.1:${at.port}`;
});
afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('platformatic producer timeouts', () => {
  it('maps requestTimeout to the client-side wait (and the broker-side timeout)', () => {
    expect(platformaticConnection({ brokers: [address], requestTimeout: 1234 })).toMatchObject({ requestTimeout: 1234, timeout: 1234 });
    expect(platformaticConnection({ brokers: [address] })).toMatchObject({ requestTimeout: 30_000, timeout: 30_000 });
  });

  it('a broker that accepts connections and never answers fails the request after requestTimeout, not the 30 s default', async () => {
    const producer = platformaticProducer({ brokers: [address], requestTimeout: 300, connectionTimeout: 300 }, { compression: 'none' });
    const started = Date.now();
    try {
      await expect(producer.connect()).rejects.toThrow();
      // platformatic retries its own requests (3 by default, ~1 s apart): well under one 30 s wait.
      expect(Date.now() - started).toBeLessThan(15_000);
    } finally {
      await producer.disconnect().catch(() => undefined);
    }
  }, 20_000);

  it('a producer closed while its connect is in flight retries no more (patched: the retry timers would keep the process alive ~3 s)', async () => {
    const producer = platformaticProducer({ brokers: [address], requestTimeout: 30_000, connectionTimeout: 5_000 }, { compression: 'none' });
    const connecting = producer.connect();
    connecting.catch(() => undefined);
    // The Metadata request is on the wire (the listener never answers) when the sink gives up.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const closed = Date.now();
    await producer.disconnect();
    await expect(connecting).rejects.toThrow();
    expect(Date.now() - closed).toBeLessThan(500);
  });
});
