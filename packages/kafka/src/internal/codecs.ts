import { createRequire } from 'node:module';
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
      decompress(data: Buffer): Buffer;
    };
    const codec: KafkajsCodec = {
      compress: (encoder) => Promise.resolve(binding.compress(encoder.buffer, { compressionLevel: 3 })),
      decompress: (buffer) => Promise.resolve(binding.decompress(buffer)),
    };
    return () => codec;
  } catch (error) {
    return unavailable('ZSTD', error);
  }
}

const registered = new WeakSet<object>();

/**
 * Registers snappy, lz4 and zstd on a kafkajs module's codec table (the one rxml imports when
 * called without arguments). Idempotent. A codec whose package failed to load registers a factory
 * that throws saying why, so a batch in that codec fails with that reason.
 */
export function registerKafkaCodecs(
  codecs: Record<number, CodecFactory | undefined> = CompressionCodecs,
  types: { readonly Snappy: number; readonly LZ4: number; readonly ZSTD: number } = CompressionTypes,
): void {
  if (registered.has(codecs)) return;
  registered.add(codecs);
  codecs[types.Snappy] = lazy(snappy);
  codecs[types.LZ4] = lazy(lz4);
  codecs[types.ZSTD] = lazy(zstd);
}

/** Loads a codec's package the first time kafkajs meets a batch in that codec (not at start). */
function lazy(load: () => CodecFactory): CodecFactory {
  let factory: CodecFactory | undefined;
  return () => (factory ??= load())();
}
