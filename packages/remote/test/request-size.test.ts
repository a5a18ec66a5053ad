/**
 * `maxRequestBytes` without a server: each transport refuses a batch over the limit before encoding
 * it when its size (exact: binary v2 REST, v2 gRPC) or a lower bound of it (JSON: v2 REST, TF
 * Serving) already exceeds the limit, and no request is made; a JSON batch the bound lets through is
 * still refused once encoded, with its exact size. The "servers" here only count what reaches them.
 */
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { isRxmlError, type RxmlError } from '@rxml/core/contract';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { CallContext, Transport, WireTensor, WireTensorSpec } from '../src/transports/transport.js';
import { TfServingRestTransport } from '../src/transports/tf-serving-rest.js';
import { V2GrpcTransport } from '../src/transports/v2-grpc.js';
import { V2RestTransport } from '../src/transports/v2-rest.js';

// The transports' encoders, wrapped in spies: "not encoded" means none of them ran.
vi.mock('../src/datatypes.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../src/datatypes.js')>();
  return { ...actual, toWire: vi.fn(actual.toWire), toBytes: vi.fn(actual.toBytes), toJsonNumbers: vi.fn(actual.toJsonNumbers) };
});
const datatypes = await import('../src/datatypes.js');
const encoders = { toWire: vi.mocked(datatypes.toWire), toBytes: vi.mocked(datatypes.toBytes), toJsonNumbers: vi.mocked(datatypes.toJsonNumbers) };

/** An HTTP server that counts the requests reaching it and answers each 500. */
let http: HttpServer;
let httpRequests = 0;
let httpBodies: number[] = [];
/** A TCP server (stands in for a gRPC server) that counts connections and closes each at once. */
let tcp: TcpServer;
let tcpConnections = 0;

beforeAll(async () => {
  http = createHttpServer((request, response) => {
    httpRequests++;
    let size = 0;
    request.on('data', (chunk: Buffer) => (size += chunk.length));
    request.on('end', () => {
      httpBodies.push(size);
      response.writeHead(500, { 'content-type': 'text/plain' }).end('test server: no model here');
    });
  });
  tcp = createTcpServer((socket) => {
    tcpConnections++;
    socket.destroy();
  });
  await Promise.all([new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve)), new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve))]);
});

afterAll(async () => {
  await Promise.all([new Promise((resolve) => http.close(resolve)), new Promise((resolve) => tcp.close(resolve))]);
});

afterEach(() => {
  vi.clearAllMocks();
  vi.restoreAllMocks();
  httpRequests = 0;
  httpBodies = [];
  tcpConnections = 0;
});

const port = (server: HttpServer | TcpServer): number => (server.address() as AddressInfo).port;

type Kind = 'v2 REST JSON' | 'v2 REST binary' | 'v2 gRPC' | 'TF Serving REST';

function transport(kind: Kind, maxRequestBytes: number): Transport {
  const common = { model: 'm', version: undefined, headers: {}, tls: undefined, maxResponseBytes: 1 << 20, maxRequestBytes };
  const url = `http://127.0.0.1:${port(http)}`;
  switch (kind) {
    case 'v2 REST JSON':
      return new V2RestTransport({ ...common, url, connections: 1, binaryData: false });
    case 'v2 REST binary':
      return new V2RestTransport({ ...common, url, connections: 1, binaryData: true });
    case 'v2 gRPC':
      return new V2GrpcTransport({ ...common, url: `127.0.0.1:${port(tcp)}` });
    case 'TF Serving REST':
      return new TfServingRestTransport({ ...common, url, connections: 1, signatureName: undefined });
  }
}

/** One FP64 input of `records` × 4 values (FP64, so that `toWire` converts, as it does for most datatypes). */
function batchOf(records: number, value = 0.5): WireTensor[] {
  return [{ name: 'x', datatype: 'FP64', shape: [records, 4], data: new Float32Array(records * 4).fill(value) }];
}
const outputs: WireTensorSpec[] = [{ name: 'y', datatype: 'FP64', shape: [-1, 3] }];

async function infer(kind: Kind, maxRequestBytes: number, inputs: WireTensor[]): Promise<RxmlError> {
  const t = transport(kind, maxRequestBytes);
  const context: CallContext = { signal: AbortSignal.timeout(10_000), code: 'MODEL_ERROR' };
  try {
    await t.infer(inputs, outputs, context);
  } catch (error) {
    if (isRxmlError(error)) return error;
    throw error;
  } finally {
    await t.close();
  }
  throw new Error('infer succeeded against a server that answers nothing');
}

const requestsMade = (kind: Kind): number => (kind === 'v2 gRPC' ? tcpConnections : httpRequests);
const limitMessage = (batch: number, bytes: string, limit: number): RegExp =>
  new RegExp(`the request for a batch of ${batch} records is ${bytes} bytes, more than maxRequestBytes \\(${limit}\\); send smaller batches \\(batch\\.size\\) or raise maxRequestBytes`);

const ALL: readonly Kind[] = ['v2 REST JSON', 'v2 REST binary', 'v2 gRPC', 'TF Serving REST'];

describe.each(ALL)('maxRequestBytes (%s)', (kind) => {
  const exact = kind === 'v2 REST binary' || kind === 'v2 gRPC';

  it('refuses a batch far over the limit before encoding it, and sends nothing', async () => {
    const stringify = vi.spyOn(JSON, 'stringify');
    // 250,000 records × 4 values: ≥ 2 MB as JSON, 8 MB as FP64 bytes; the limit is 64 KiB.
    const error = await infer(kind, 65_536, batchOf(250_000));
    expect(error.code).toBe('LIMIT_EXCEEDED');
    expect(error.retriable).toBe(false);
    expect(error.message).toMatch(limitMessage(250_000, exact ? '\\d+' : 'at least \\d+', 65_536));
    const bytes = Number(/ is (?:at least )?(\d+) bytes/.exec(error.message)![1]);
    // JSON: 2 bytes per value but the last, + the request around them; raw: 8 bytes per value.
    if (kind === 'v2 gRPC') expect(bytes).toBe(8_000_000);
    else if (kind === 'v2 REST binary') expect(bytes).toBeGreaterThan(8_000_000);
    else expect(bytes).toBeGreaterThanOrEqual(1_999_999);
    expect(encoders.toWire).not.toHaveBeenCalled();
    expect(encoders.toBytes).not.toHaveBeenCalled();
    expect(encoders.toJsonNumbers).not.toHaveBeenCalled();
    // Whatever was stringified (the request without its data, at most) is small.
    for (const result of stringify.mock.results) expect(String(result.value).length).toBeLessThan(1_000);
    expect(requestsMade(kind)).toBe(0);
  });

  if (exact) {
    it('counts the request exactly: at the limit it is sent, one byte under it is refused with that size', async () => {
      // Find the exact size: the HTTP server measures the body; gRPC counts the raw bytes (10 × 4 × 8).
      const size = kind === 'v2 gRPC' ? 320 : await (async () => {
        const sent = await infer(kind, 1 << 20, batchOf(10));
        expect(sent.code).not.toBe('LIMIT_EXCEEDED');
        return httpBodies[0]!;
      })();
      const requestsBefore = requestsMade(kind);
      const atLimit = await infer(kind, size, batchOf(10));
      expect(atLimit.code).not.toBe('LIMIT_EXCEEDED');
      expect(requestsMade(kind)).toBe(requestsBefore + 1);
      vi.clearAllMocks();
      const over = await infer(kind, size - 1, batchOf(10));
      expect(over.code).toBe('LIMIT_EXCEEDED');
      expect(over.message).toMatch(limitMessage(10, String(size), size - 1));
      expect(encoders.toBytes).not.toHaveBeenCalled();
      expect(requestsMade(kind)).toBe(requestsBefore + 1);
    });
  } else {
    it('refuses a batch the lower bound lets through once encoded, with its exact size, and sends nothing', async () => {
      // 100 records × 4 values of 0.123456789 (11 characters each as JSON): the bound is ~800 bytes, the body ~4,900.
      const error = await infer(kind, 2_000, batchOf(100, 0.123456789));
      expect(error.code).toBe('LIMIT_EXCEEDED');
      expect(error.retriable).toBe(false);
      expect(error.message).toMatch(limitMessage(100, '\\d+', 2_000));
      expect(error.message).not.toMatch(/at least/);
      expect(Number(/ is (\d+) bytes/.exec(error.message)![1])).toBeGreaterThan(4_000);
      expect(encoders.toJsonNumbers).toHaveBeenCalled();
      expect(requestsMade(kind)).toBe(0);
    });

    it('the lower bound never exceeds the encoded size: a batch of zeros at its exact size is sent', async () => {
      // Zeros are the shortest numbers ("0"), so the body is closest to the bound here.
      const sent = await infer(kind, 1 << 20, batchOf(50, 0));
      expect(sent.code).not.toBe('LIMIT_EXCEEDED');
      const size = httpBodies[0]!;
      const atLimit = await infer(kind, size, batchOf(50, 0));
      expect(atLimit.code).not.toBe('LIMIT_EXCEEDED');
      expect(httpRequests).toBe(2);
    });
  }
});
