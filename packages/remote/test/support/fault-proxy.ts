/**
 * A loopback TCP proxy in front of a real model server that injects the faults a network and a
 * restarting server produce: added latency (a stall), refused/reset connections, and HTTP 503s.
 * It forwards bytes untouched otherwise (HTTP/1.1 REST and HTTP/2 gRPC alike).
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface FaultProxy {
  readonly url: string;
  readonly port: number;
  /** Bytes from the client wait this long before they are forwarded (0: none). */
  latencyMs: number;
  /** New connections are reset at once; `resetAll()` also drops the open ones. */
  refuse: boolean;
  /** HTTP/1.1 only: answer requests with 503 Service Unavailable instead of forwarding them. */
  serviceUnavailable: boolean;
  /** Requests seen (HTTP/1.1 request lines, or new HTTP/2 connections' data chunks). */
  readonly requests: number;
  /** Client connections closed so far (by either side). */
  readonly closedConnections: number;
  /** Drops every open connection with a TCP reset. */
  resetAll(): void;
  close(): Promise<void>;
}

const REQUEST_LINE = /^(GET|POST|PUT|DELETE|HEAD) \//;

export async function startFaultProxy(targetPort: number): Promise<FaultProxy> {
  const sockets = new Set<Socket>();
  let closedConnections = 0;
  let requests = 0;
  const state = { latencyMs: 0, refuse: false, serviceUnavailable: false };

  const server: Server = createServer((client) => {
    sockets.add(client);
    client.on('close', () => {
      sockets.delete(client);
      closedConnections++;
    });
    client.on('error', () => {});
    if (state.refuse) {
      client.resetAndDestroy();
      return;
    }
    const upstream = connect(targetPort, '127.0.0.1');
    sockets.add(upstream);
    upstream.on('close', () => {
      sockets.delete(upstream);
      client.destroy();
    });
    upstream.on('error', () => client.resetAndDestroy());
    client.on('close', () => upstream.destroy());
    upstream.on('data', (chunk: Buffer) => {
      if (!client.destroyed) client.write(chunk);
    });
    client.on('data', (chunk: Buffer) => {
      if (REQUEST_LINE.test(chunk.subarray(0, 8).toString('latin1'))) requests++;
      if (state.serviceUnavailable && REQUEST_LINE.test(chunk.subarray(0, 8).toString('latin1'))) {
        const body = '{"error":"fault proxy: service unavailable"}';
        client.end(`HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`);
        upstream.destroy();
        return;
      }
      const forward = (): void => {
        if (!upstream.destroyed) upstream.write(chunk);
      };
      if (state.latencyMs > 0) {
        // Stall: stop reading until the delay has passed, so order is kept.
        client.pause();
        setTimeout(() => {
          forward();
          client.resume();
        }, state.latencyMs);
      } else forward();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    get latencyMs() {
      return state.latencyMs;
    },
    set latencyMs(value: number) {
      state.latencyMs = value;
    },
    get refuse() {
      return state.refuse;
    },
    set refuse(value: boolean) {
      state.refuse = value;
    },
    get serviceUnavailable() {
      return state.serviceUnavailable;
    },
    set serviceUnavailable(value: boolean) {
      state.serviceUnavailable = value;
    },
    get requests() {
      return requests;
    },
    get closedConnections() {
      return closedConnections;
    },
    resetAll() {
      for (const socket of sockets) socket.resetAndDestroy();
    },
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
