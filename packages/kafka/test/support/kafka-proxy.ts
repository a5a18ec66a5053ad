import net from 'node:net';

/**
 * A TCP proxy in front of one real broker, for fault injection. Clients bootstrap through it; it
 * rewrites the broker port in Metadata responses (Metadata v0–v13, the only response that carries
 * broker addresses the producers use) so that every later connection comes through it too.
 *
 * Fault: `dropProduceResponse(n)` lets the n-th Produce request (counted from 1, over all
 * connections) reach the broker, waits for the broker's answer — so the records *are* written — and
 * then closes the client's connection instead of forwarding it. Requests pipelined behind it on that
 * connection have reached the broker too; their answers are lost with the connection. A client that
 * repeats such a request by itself writes its records again unless it is idempotent.
 *
 * Fault: `holdResponses(apiKey, ms)` delivers every answer to requests of that API (e.g. JoinGroup,
 * 11) `ms` late, so a client can be stopped while such a request is in flight and get its answer after.
 */
export interface KafkaProxy {
  /** `host:port` to give clients as their bootstrap broker. */
  readonly address: string;
  /** Produce requests seen so far (retries included). */
  readonly produceRequests: number;
  /** Connections closed by the fault. */
  readonly dropped: number;
  dropProduceResponse(nth: number): void;
  holdResponses(apiKey: number, ms: number): void;
  /** Resolves when the `nth` request (from 1, over all connections) of `apiKey` has reached the broker. */
  requested(apiKey: number, nth?: number): Promise<void>;
  /** Client connections accepted so far, and those still open. */
  readonly accepted: number;
  readonly open: number;
  close(): Promise<void>;
}

const API_PRODUCE = 0;
const API_METADATA = 3;
/** Metadata responses use the flexible (tagged-fields) encoding from v9. */
const METADATA_FLEXIBLE = 9;

function readUVarInt(buffer: Buffer, at: number): [value: number, next: number] {
  let value = 0;
  let shift = 0;
  for (;;) {
    const byte = buffer[at++]!;
    value |= (byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) return [value, at];
    shift += 7;
  }
}

/** Skips a tagged-fields section. */
function skipTags(buffer: Buffer, at: number): number {
  let count: number;
  [count, at] = readUVarInt(buffer, at);
  for (let i = 0; i < count; i++) {
    let size: number;
    [, at] = readUVarInt(buffer, at);
    [size, at] = readUVarInt(buffer, at);
    at += size;
  }
  return at;
}

/** Rewrites, in place, every broker port `from` to `to` in a Metadata response frame (size prefix included). */
function rewriteMetadataPorts(frame: Buffer, version: number, from: number, to: number): void {
  const flexible = version >= METADATA_FLEXIBLE;
  let at = 4 + 4; // size, correlation id
  if (flexible) at = skipTags(frame, at); // response header v1
  if (version >= 3) at += 4; // throttle_time_ms
  let brokers: number;
  if (flexible) {
    [brokers, at] = readUVarInt(frame, at);
    brokers -= 1;
  } else {
    brokers = frame.readInt32BE(at);
    at += 4;
  }
  for (let b = 0; b < brokers; b++) {
    at += 4; // node_id
    let hostLength: number;
    if (flexible) {
      [hostLength, at] = readUVarInt(frame, at);
      hostLength -= 1;
    } else {
      hostLength = frame.readInt16BE(at);
      at += 2;
    }
    at += hostLength;
    if (frame.readInt32BE(at) === from) frame.writeInt32BE(to, at);
    at += 4;
    if (version >= 1) {
      // rack: nullable string
      if (flexible) {
        let rackLength: number;
        [rackLength, at] = readUVarInt(frame, at);
        at += Math.max(0, rackLength - 1);
      } else {
        const rackLength = frame.readInt16BE(at);
        at += 2 + Math.max(0, rackLength);
      }
    }
    if (flexible) at = skipTags(frame, at);
  }
}

/** Splits a byte stream into Kafka frames (4-byte big-endian size prefix). */
function framer(onFrame: (frame: Buffer) => void): (chunk: Buffer) => void {
  let pending: Buffer = Buffer.alloc(0);
  return (chunk) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= 4) {
      const size = pending.readInt32BE(0);
      if (pending.length < 4 + size) break;
      onFrame(pending.subarray(0, 4 + size));
      pending = pending.subarray(4 + size);
    }
  };
}

export async function startKafkaProxy(broker: string): Promise<KafkaProxy> {
  const [brokerHost, brokerPortText] = broker.split(':') as [string, string];
  const brokerPort = Number(brokerPortText);
  let produceRequests = 0;
  let dropped = 0;
  const dropAt = new Set<number>();
  const held = new Map<number, number>();
  const seen = new Map<number, number>();
  const waiters: { apiKey: number; nth: number; resolve: () => void }[] = [];
  const sockets = new Set<net.Socket>();
  const clients = new Set<net.Socket>();
  let accepted = 0;
  let port = 0;

  const server = net.createServer((client) => {
    accepted++;
    clients.add(client);
    client.once('close', () => clients.delete(client));
    const upstream = net.connect({ host: brokerHost, port: brokerPort });
    sockets.add(client);
    sockets.add(upstream);
    /** correlation id → what the response needs: the request's api key and version, and whether to drop it. */
    const requests = new Map<number, { apiKey: number; version: number; drop: boolean }>();
    const end = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.on(
      'data',
      framer((frame) => {
        const apiKey = frame.readInt16BE(4);
        const version = frame.readInt16BE(6);
        const correlationId = frame.readInt32BE(8);
        let drop = false;
        if (apiKey === API_PRODUCE) drop = dropAt.has(++produceRequests);
        requests.set(correlationId, { apiKey, version, drop });
        upstream.write(frame);
        const count = (seen.get(apiKey) ?? 0) + 1;
        seen.set(apiKey, count);
        for (const w of waiters.filter((w) => w.apiKey === apiKey && w.nth <= count)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve();
        }
      }),
    );
    upstream.on(
      'data',
      framer((frame) => {
        const correlationId = frame.readInt32BE(4);
        const request = requests.get(correlationId);
        requests.delete(correlationId);
        if (request?.drop === true) {
          // Written by the broker (this is its answer), never told to the client.
          dropped++;
          end();
          return;
        }
        if (request?.apiKey === API_METADATA) rewriteMetadataPorts(frame, request.version, brokerPort, port);
        const delay = request === undefined ? undefined : held.get(request.apiKey);
        // Answers behind a held one are not held back (clients match answers by correlation id).
        if (delay === undefined) client.write(frame);
        else setTimeout(() => client.writable && client.write(frame), delay);
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as net.AddressInfo).port;
  return {
    address: `127.0.0.1:${port}`,
    get produceRequests() {
      return produceRequests;
    },
    get dropped() {
      return dropped;
    },
    get accepted() {
      return accepted;
    },
    get open() {
      return clients.size;
    },
    dropProduceResponse(nth) {
      dropAt.add(nth);
    },
    holdResponses(apiKey, ms) {
      held.set(apiKey, ms);
    },
    requested: (apiKey, nth = 1) => ((seen.get(apiKey) ?? 0) >= nth ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ apiKey, nth, resolve }))),
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
