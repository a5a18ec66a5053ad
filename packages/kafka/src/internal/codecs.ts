import { AsyncLocalStorage } from 'node:async_hooks';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
// kafkajs is CommonJS and Node's ESM loader cannot see these two as named exports (plain `node`
// fails with "Named export 'CompressionCodecs' not found"; only bundlers/vitest accept it).
import kafkajs from 'kafkajs';

const { CompressionCodecs, CompressionTypes } = kafkajs;

/**
 * Compression codecs for kafkajs, which only implements gzip itself (snappy, lz4 and zstd batches
 * fail with `KafkaJSNotImplemented`). Registered on the kafkajs module rxml imports — the instance
 * its consumers and producers use — the first time a client is made:
 *
 * | codec | package | |
 * |---|---|---|
 * | snappy (2) | `kafkajs-snappy` (snappyjs, pure JS) | reads raw and xerial-framed snappy (the Java client writes xerial frames) |
 * | lz4 (3) | `@2l/kafkajs-lz4` (lz4-napi, prebuilt N-API binaries on npm) | LZ4 frame format, as KIP-57 / the Java client |
 * | zstd (4) | `zstd-napi` (libzstd, built from source by node-gyp) behind a small adapter | |
 *
 * A kafkajs instance of another copy of the package (a `kafka` option made with a different
 * kafkajs install) does not get them: call {@link registerKafkaCodecs} with that module's
 * `CompressionCodecs` and `CompressionTypes`.
 *
 * Every codec (gzip too) is registered **bounded**: a batch that would inflate to more than the
 * consuming source's `maxDecompressedBatchBytes` is not inflated (gzip and zstd stop at the bound;
 * snappy and lz4 are checked before, from the sizes their framing declares) and becomes one
 * stand-in record for the whole batch (see {@link SkippedBatch}), so a zip bomb never reaches memory.
 */

/** The codec interface of kafkajs (`CompressionCodecs[type]()` returns one). */
export interface KafkajsCodec {
  compress(encoder: { readonly buffer: Buffer }): Promise<Buffer>;
  decompress(buffer: Buffer): Promise<Buffer>;
}

type CodecFactory = () => KafkajsCodec;

const require = createRequire(import.meta.url);

/** A factory that fails with `reason` whenever kafkajs asks for the codec. */
function unavailable(name: string, reason: unknown): CodecFactory {
  const detail = reason instanceof Error ? reason.message : String(reason);
  return () => {
    throw new Error(`${name} compression is not available: ${detail}`);
  };
}

function snappy(): CodecFactory {
  try {
    return require('kafkajs-snappy') as CodecFactory;
  } catch (error) {
    return unavailable('Snappy', error);
  }
}

function lz4(): CodecFactory {
  try {
    const LZ4Codec = require('@2l/kafkajs-lz4') as new () => { codec: CodecFactory };
    return new LZ4Codec().codec;
  } catch (error) {
    return unavailable('LZ4', error);
  }
}

/**
 * zstd on `zstd-napi`. The Java client writes streaming frames without a content size;
 * `decompress` handles both kinds. Level 3 (zstd's default, as the Java client).
 */
function zstd(): CodecFactory {
  try {
    const binding = require('zstd-napi') as {
      compress(data: Buffer, parameters?: { compressionLevel?: number }): Buffer;
    };
    // The native context's streaming call, so inflating can stop at the bound (zstd-napi's own
    // `decompress` inflates everything first).
    const native = require('zstd-napi/binding') as {
      DCtx: new () => { decompressStream(out: Uint8Array, input: Uint8Array): [number, number, number] };
      dStreamOutSize(): number;
    };
    const chunkBytes = native.dStreamOutSize();
    const codec: KafkajsCodec = {
      compress: (encoder) => Promise.resolve(binding.compress(encoder.buffer, { compressionLevel: 3 })),
      decompress(buffer) {
        const limit = boundNow();
        const dctx = new native.DCtx();
        const chunks: Buffer[] = [];
        let total = 0;
        let input: Buffer = buffer;
        for (;;) {
          // At most one byte over the bound is ever produced.
          const room = limit + 1 - total;
          const out = Buffer.allocUnsafe(Math.min(room, Math.max(chunkBytes, input.length)));
          const [, produced, consumed] = dctx.decompressStream(out, input);
          total += produced;
          if (total > limit) return Promise.reject(new DecompressedSizeExceeded('zstd', total, limit));
          chunks.push(out.subarray(0, produced));
          input = input.subarray(consumed);
          // Done when the input is used up and the last call did not fill its buffer (nothing left to flush).
          if (input.length === 0 && produced < out.length) break;
          if (produced === 0 && consumed === 0) return Promise.reject(new Error('zstd: truncated or corrupt frame'));
        }
        return Promise.resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total));
      },
    };
    return () => codec;
  } catch (error) {
    return unavailable('ZSTD', error);
  }
}

/** What a fetch learns of a compressed record batch it did not inflate (over the bound). */
export interface SkippedBatch {
  /** Offset of the batch's first record (its base offset). */
  readonly firstOffset: string;
  /** Offset of its last record (base offset + last offset delta): the stand-in record's offset. */
  readonly lastOffset: string;
  /** Records the batch header says it holds (int32 from the header, not checked). */
  readonly records: number;
  readonly codec: 'gzip' | 'snappy' | 'lz4' | 'zstd';
  /** Bytes of the compressed records section. */
  readonly compressedBytes: number;
  /**
   * Bytes it inflates to, at least: for gzip and zstd where inflating stopped (bound + 1), for
   * snappy the sizes its blocks declare, for lz4 the most its frame's blocks can hold.
   */
  readonly decompressedBytes: number;
  /** The bound it was over (`maxDecompressedBatchBytes`). */
  readonly limit: number;
}

/** Default bound when a batch is decoded outside a source's context (10 MiB, kafkajs' default `maxBytes`). */
export const DEFAULT_MAX_DECOMPRESSED_BATCH_BYTES = 10 * 1024 * 1024;

/**
 * The bound of the source whose fetch is decoding: `fromKafka` runs its kafkajs consumer inside
 * `decompressionBound.run(maxDecompressedBatchBytes, …)`, and the async context follows kafkajs'
 * fetch loop down to the codec call (one kafkajs cluster, so one set of connections, per consumer).
 */
export const decompressionBound = new AsyncLocalStorage<number>();

/** What the patched kafkajs record-batch decoder passes to `standIn` (its batch context). */
interface BatchContext {
  readonly firstOffset: string;
  readonly lastOffsetDelta: number;
  readonly maxTimestamp: string;
  readonly magicByte: number;
  readonly isControlBatch: boolean;
  readonly recordCount: number;
  readonly compressedBytes: number;
}

/**
 * Thrown by a bounded codec. The patched kafkajs decoder (patches/kafkajs@2.2.4.patch) calls
 * `standIn` and puts the one record it returns in place of the batch's records: offset = the
 * batch's last offset, no key, no value, the batch's transactional context (so read_committed
 * still drops it when its transaction was aborted) and `skippedBatch`.
 */
export class DecompressedSizeExceeded extends Error {
  constructor(
    readonly codec: SkippedBatch['codec'],
    readonly decompressedBytes: number,
    readonly limit: number,
  ) {
    super(`${codec} batch decompresses to ${decompressedBytes} bytes or more, over the bound of ${limit}`);
    this.name = 'DecompressedSizeExceeded';
  }

  standIn(context: BatchContext): Record<string, unknown> {
    const lastOffset = (BigInt(context.firstOffset) + BigInt(context.lastOffsetDelta)).toString();
    const skippedBatch: SkippedBatch = {
      firstOffset: context.firstOffset,
      lastOffset,
      records: context.recordCount,
      codec: this.codec,
      compressedBytes: context.compressedBytes,
      decompressedBytes: this.decompressedBytes,
      limit: this.limit,
    };
    return {
      magicByte: context.magicByte,
      attributes: 0,
      timestamp: context.maxTimestamp,
      offset: lastOffset,
      key: null,
      value: null,
      headers: {},
      isControlRecord: context.isControlBatch,
      batchContext: context,
      skippedBatch,
    };
  }
}

const boundNow = (): number => decompressionBound.getStore() ?? DEFAULT_MAX_DECOMPRESSED_BATCH_BYTES;

const unzip = promisify<zlib.InputType, zlib.ZlibOptions, Buffer>(zlib.unzip);

/** gzip: zlib stops at `maxOutputLength` (ERR_BUFFER_TOO_LARGE). kafkajs' own compress. */
function boundedGzip(original: CodecFactory): CodecFactory {
  return () => {
    const codec = original();
    return {
      compress: (encoder) => codec.compress(encoder),
      async decompress(buffer) {
        const limit = boundNow();
        try {
          return await unzip(buffer, { maxOutputLength: limit });
        } catch (error) {
          if ((error as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') throw new DecompressedSizeExceeded('gzip', limit + 1, limit);
          throw error;
        }
      },
    };
  };
}

/** Snappy's uncompressed length: the varint at the start of a raw snappy block. */
function snappyLength(buffer: Buffer, at: number): number {
  let length = 0;
  for (let shift = 0, i = at; i < buffer.length && shift <= 28; shift += 7, i++) {
    const byte = buffer[i]!;
    length += (byte & 0x7f) * 2 ** shift;
    if ((byte & 0x80) === 0) return length;
  }
  return Number.POSITIVE_INFINITY; // malformed: refuse rather than guess
}

const XERIAL_HEADER = Buffer.from([130, 83, 78, 65, 80, 80, 89, 0]);

/**
 * Bytes a snappy payload declares it inflates to: the raw block's length, or for the xerial framing
 * the Java client writes (16-byte header, then blocks of int32 size + raw snappy) the sum of its
 * blocks'. snappyjs allocates exactly the declared length and refuses data that does not match it.
 */
export function snappyDeclaredBytes(buffer: Buffer): number {
  if (buffer.length < 16 || !buffer.subarray(0, 8).equals(XERIAL_HEADER)) return snappyLength(buffer, 0);
  let total = 0;
  for (let at = 16; at + 4 <= buffer.length; ) {
    const size = buffer.readUInt32BE(at);
    total += snappyLength(buffer, at + 4);
    at += 4 + size;
  }
  return total;
}

/** LZ4 frame block maximum sizes by the BD byte's bits 4–6 (LZ4 frame format 1.6). */
const LZ4_BLOCK_MAX: Readonly<Record<number, number>> = { 4: 64 * 1024, 5: 256 * 1024, 6: 1024 * 1024, 7: 4 * 1024 * 1024 };

/**
 * The most bytes an LZ4 frame (or several in a row) can inflate to, from its headers alone: a
 * stored block its own size; a compressed block of `c` bytes at most `min(block maximum size,
 * 255 × c)` (LZ4's densest encoding: each extra match-length byte adds at most 255 output bytes, and
 * a 3-byte sequence at most 19 + its literals). A declared content size is not trusted (it is not
 * what a decoder allocates by). Infinity when it is not an LZ4 frame.
 */
export function lz4BoundBytes(buffer: Buffer): number {
  let total = 0;
  let at = 0;
  while (at + 7 <= buffer.length) {
    if (buffer.readUInt32LE(at) !== 0x184d2204) return Number.POSITIVE_INFINITY;
    const flg = buffer[at + 4]!;
    const blockMax = LZ4_BLOCK_MAX[(buffer[at + 5]! >> 4) & 7];
    if (blockMax === undefined) return Number.POSITIVE_INFINITY;
    at += 6 + ((flg & 0x08) !== 0 ? 8 : 0) + ((flg & 0x01) !== 0 ? 4 : 0) + 1; // FLG BD [size] [dict id] HC
    const blockChecksum = (flg & 0x10) !== 0 ? 4 : 0;
    for (;;) {
      if (at + 4 > buffer.length) return total;
      const word = buffer.readUInt32LE(at);
      at += 4;
      if (word === 0) break; // EndMark
      const size = word & 0x7fffffff;
      total += (word & 0x80000000) !== 0 ? size : Math.min(blockMax, 255 * size);
      at += size + blockChecksum;
    }
    if ((flg & 0x04) !== 0) at += 4; // content checksum
  }
  return total;
}

/** A codec whose payload declares (an upper bound of) what it inflates to: checked before inflating. */
function checkedFirst(name: 'snappy' | 'lz4', original: CodecFactory, declared: (buffer: Buffer) => number): CodecFactory {
  return () => {
    const codec = original();
    return {
      compress: (encoder) => codec.compress(encoder),
      decompress(buffer) {
        const limit = boundNow();
        const bytes = declared(buffer);
        if (bytes > limit) return Promise.reject(new DecompressedSizeExceeded(name, Number.isFinite(bytes) ? bytes : limit + 1, limit));
        return codec.decompress(buffer);
      },
    };
  };
}

const registered = new WeakSet<object>();

/**
 * Registers snappy, lz4 and zstd on a kafkajs module's codec table (the one rxml imports when
 * called without arguments). Idempotent. A codec whose package failed to load registers a factory
 * that throws saying why, so a batch in that codec fails with that reason.
 */
export function registerKafkaCodecs(
  codecs: Record<number, CodecFactory | undefined> = CompressionCodecs,
  types: { readonly GZIP?: number; readonly Snappy: number; readonly LZ4: number; readonly ZSTD: number } = CompressionTypes,
): void {
  if (registered.has(codecs)) return;
  registered.add(codecs);
  const gzip = types.GZIP === undefined ? undefined : codecs[types.GZIP];
  if (types.GZIP !== undefined && gzip !== undefined) codecs[types.GZIP] = boundedGzip(gzip);
  codecs[types.Snappy] = checkedFirst('snappy', lazy(snappy), snappyDeclaredBytes);
  codecs[types.LZ4] = checkedFirst('lz4', lazy(lz4), lz4BoundBytes);
  codecs[types.ZSTD] = lazy(zstd);
}

/** Loads a codec's package the first time kafkajs meets a batch in that codec (not at start). */
function lazy(load: () => CodecFactory): CodecFactory {
  let factory: CodecFactory | undefined;
  return () => (factory ??= load())();
}
