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
 *
 * Observation (`recordBatches: true`): the header of each record batch in each Produce request
 * (producer id, epoch, first sequence number, record count) and the broker's error code for its
 * partition, in the order the requests reached the proxy (`produceBatches`).
 */
export interface KafkaProxy {
  /** `host:port` to give clients as their bootstrap broker. */
  readonly address: string;
  /** Produce requests seen so far (retries included). */
  readonly produceRequests: number;
  /** Connections closed by the fault. */
  readonly dropped: number;
  /** With `recordBatches`: every record batch of every Produce request so far (retries included), in arrival order. */
  readonly produceBatches: readonly ProducedBatch[];
  /** With `recordBatches`: Produce requests or responses the proxy could not decode (forwarded as they were). */
  readonly undecoded: readonly string[];
  dropProduceResponse(nth: number): void;
  holdResponses(apiKey: number, ms: number): void;
  /** Resolves when the `nth` request (from 1, over all connections) of `apiKey` has reached the broker. */
  requested(apiKey: number, nth?: number): Promise<void>;
  /** Client connections accepted so far, and those still open. */
  readonly accepted: number;
  readonly open: number;
  close(): Promise<void>;
}

export interface KafkaProxyOptions {
  /** Decode the record batch headers of Produce requests and the answers to them (`produceBatches`). */
  readonly recordBatches?: boolean;
}

/** One record batch as a Produce request carried it, and the broker's answer for its partition. */
export interface ProducedBatch {
  readonly topic: string;
  readonly partition: number;
  readonly producerId: bigint;
  readonly producerEpoch: number;
  /** The batch's first sequence number (record batch v2 header `baseSequence`). */
  readonly baseSequence: number;
  readonly records: number;
  /** The broker's error code for the partition (0: written, or recognised as a repeat); undefined while (or if never) answered. */
  errorCode: number | undefined;
}

const API_PRODUCE = 0;
/** Produce requests and responses use the flexible encoding from v9. */
const PRODUCE_FLEXIBLE = 9;
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

/** A reader over a request or response frame, for the fields the proxy decodes. */
class FrameReader {
  constructor(
    private readonly frame: Buffer,
    public at: number,
    private readonly flexible: boolean,
  ) {}
  int16(): number {
    const value = this.frame.readInt16BE(this.at);
    this.at += 2;
    return value;
  }
  int32(): number {
    const value = this.frame.readInt32BE(this.at);
    this.at += 4;
    return value;
  }
  skip(bytes: number): void {
    this.at += bytes;
  }
  tags(): void {
    if (this.flexible) this.at = skipTags(this.frame, this.at);
  }
  /** Array length (compact in flexible versions); -1 for null. */
  count(): number {
    if (!this.flexible) return this.int32();
    let n: number;
    [n, this.at] = readUVarInt(this.frame, this.at);
    return n - 1;
  }
  /** Length of a (nullable) string or byte field; -1 for null. */
  length(int16: boolean): number {
    if (this.flexible) return this.count();
    return int16 ? this.int16() : this.int32();
  }
  string(): string | null {
    const n = this.length(true);
    if (n < 0) return null;
    const text = this.frame.toString('utf8', this.at, this.at + n);
    this.at += n;
    return text;
  }
  bytes(): Buffer | null {
    const n = this.length(false);
    if (n < 0) return null;
    const bytes = this.frame.subarray(this.at, this.at + n);
    this.at += n;
    return bytes;
  }
}

/** The record batches of a Produce request frame (size prefix included), by topic and partition. */
function decodeProduceRequest(frame: Buffer, version: number): ProducedBatch[] {
  const flexible = version >= PRODUCE_FLEXIBLE;
  // size, api key, api version, correlation id; client id is an INT16 string in every header version
  const header = new FrameReader(frame, 4 + 2 + 2 + 4, false);
  header.string();
  const r = new FrameReader(frame, header.at, flexible);
  r.tags(); // request header v2
  r.string(); // transactional_id
  r.skip(2 + 4); // acks, timeout_ms
  const batches: ProducedBatch[] = [];
  for (let t = r.count(); t > 0; t--) {
    const topic = r.string() ?? '';
    for (let p = r.count(); p > 0; p--) {
      const partition = r.int32();
      const records = r.bytes() ?? Buffer.alloc(0);
      // record batch v2: baseOffset int64, batchLength int32, partitionLeaderEpoch int32, magic int8,
      // crc int32, attributes int16, lastOffsetDelta int32, baseTimestamp int64, maxTimestamp int64,
      // producerId int64, producerEpoch int16, baseSequence int32, records count int32
      for (let at = 0; at + 61 <= records.length; at += 12 + records.readInt32BE(at + 8)) {
        batches.push({
          topic,
          partition,
          producerId: records.readBigInt64BE(at + 43),
          producerEpoch: records.readInt16BE(at + 51),
          baseSequence: records.readInt32BE(at + 53),
          records: records.readInt32BE(at + 57),
          errorCode: undefined,
        });
      }
      r.tags();
    }
    r.tags();
  }
  return batches;
}

/** Error code by `topic\0partition` of a Produce response frame (size prefix included). */
function decodeProduceResponse(frame: Buffer, version: number): Map<string, number> {
  const flexible = version >= PRODUCE_FLEXIBLE;
  const r = new FrameReader(frame, 4 + 4, flexible); // size, correlation id
  r.tags(); // response header v1
  const errors = new Map<string, number>();
  for (let t = r.count(); t > 0; t--) {
    const topic = r.string() ?? '';
    for (let p = r.count(); p > 0; p--) {
      const partition = r.int32();
      errors.set(`${topic}\0${partition}`, r.int16());
      r.skip(8); // base_offset
      if (version >= 2) r.skip(8); // log_append_time_ms
      if (version >= 5) r.skip(8); // log_start_offset
      if (version >= 8) {
        for (let e = r.count(); e > 0; e--) {
          r.skip(4); // batch_index
          r.string(); // batch_index_error_message
          r.tags();
        }
        r.string(); // error_message
      }
      r.tags();
    }
    r.tags();
  }
  return errors;
}

/** Rewrites, in place, every broker port `from` to `to` in a Metadata response frame (size prefix included). */
function rewriteMetadataPorts(frame: Buffer, version: number, from: number, to: number): void {
  const r = new FrameReader(frame, 4 + 4, version >= METADATA_FLEXIBLE); // size, correlation id
  r.tags(); // response header v1
  if (version >= 3) r.skip(4); // throttle_time_ms
  for (let b = r.count(); b > 0; b--) {
    r.skip(4); // node_id
    r.string(); // host
    if (frame.readInt32BE(r.at) === from) frame.writeInt32BE(to, r.at);
    r.skip(4); // port
    if (version >= 1) r.string(); // rack: nullable string
    r.tags();
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

export async function startKafkaProxy(broker: string, options: KafkaProxyOptions = {}): Promise<KafkaProxy> {
  const [brokerHost, brokerPortText] = broker.split(':') as [string, string];
  const brokerPort = Number(brokerPortText);
  let produceRequests = 0;
  let dropped = 0;
  const produceBatches: ProducedBatch[] = [];
  const undecoded: string[] = [];
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
    /** correlation id → what the response needs: the request's api key and version, whether to drop it, its batches. */
    const requests = new Map<number, { apiKey: number; version: number; drop: boolean; batches?: ProducedBatch[] }>();
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
        let batches: ProducedBatch[] | undefined;
        if (apiKey === API_PRODUCE) {
          drop = dropAt.has(++produceRequests);
          if (options.recordBatches === true) {
            try {
              batches = decodeProduceRequest(frame, version);
              produceBatches.push(...batches);
            } catch (error) {
              undecoded.push(`Produce v${version} request: ${String(error)}`);
            }
          }
        }
        requests.set(correlationId, { apiKey, version, drop, ...(batches === undefined ? {} : { batches }) });
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
        if (request?.batches !== undefined) {
          try {
            const errors = decodeProduceResponse(frame, request.version);
            for (const batch of request.batches) batch.errorCode = errors.get(`${batch.topic}\0${batch.partition}`);
          } catch (error) {
            undecoded.push(`Produce v${request.version} response: ${String(error)}`);
          }
        }
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
    produceBatches,
    undecoded,
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
