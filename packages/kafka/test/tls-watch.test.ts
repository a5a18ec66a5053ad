import net from 'node:net';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { tlsWatch } from '../src/internal/tls-watch.js';

/** A plain TCP listener that keeps every connection open and counts those still open. */
let server: net.Server;
let open = 0;
let port = 0;
beforeEach(async () => {
  open = 0;
  server = net.createServer((socket) => {
    open++;
    socket.on('error', () => undefined).once('close', () => open--);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as net.AddressInfo).port;
});
afterEach(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const until = async (check: () => boolean): Promise<void> => {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
};

it('retire(): the sockets the client still holds are closed, and a connection it asks for later fails at once', async () => {
  const watch = tlsWatch();
  const connected = (): Promise<net.Socket> =>
    new Promise((resolve) => {
      const socket: net.Socket = watch.socketFactory({ host: '127.0.0.1', port, ssl: false as never, onConnect: () => resolve(socket) });
    });
  const [a, b] = await Promise.all([connected(), connected()]);
  await until(() => open === 2);
  expect(open).toBe(2);
  // kafkajs fails the requests waiting on a socket when it errors (not when it just closes).
  const errors = [a, b].map((socket) => new Promise<Error>((resolve) => socket.once('error', resolve)));

  watch.retire();
  expect([a.destroyed, b.destroyed]).toEqual([true, true]);
  expect((await Promise.all(errors)).map((e) => e.message)).toEqual(['the client was stopped: connection closed', 'the client was stopped: connection closed']);
  await until(() => open === 0);
  expect(open).toBe(0);

  // As kafkajs does: listeners are attached after the factory returns; the error comes after that.
  const late = watch.socketFactory({ host: '127.0.0.1', port, ssl: false as never, onConnect: () => undefined });
  const error = await new Promise<Error>((resolve) => late.once('error', resolve));
  expect(error.message).toMatch(/the client was stopped: no new connection to 127\.0\.0\.1:\d+/);
  expect(late.destroyed).toBe(true);
  await new Promise((resolve) => setTimeout(resolve, 100));
  expect(open).toBe(0);
});
