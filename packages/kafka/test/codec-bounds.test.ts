import { createRequire } from 'node:module';
import { gzipSync } from 'node:zlib';
import kafkajs from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { decompressionBound, DecompressedSizeExceeded, lz4BoundBytes, registerKafkaCodecs, snappyDeclaredBytes, type KafkajsCodec } from '../src/internal/codecs.js';

const require = createRequire(import.meta.url);
const { CompressionCodecs, CompressionTypes } = kafkajs;
registerKafkaCodecs();
const codec = (type: number): KafkajsCodec => (CompressionCodecs as unknown as Record<number, () => KafkajsCodec>)[type]!();
const MiB = 1024 * 1024;

describe('bounded codecs (the real codec packages, no broker)', () => {
  it.each([
    ['gzip', CompressionTypes.GZIP],
    ['snappy', CompressionTypes.Snappy],
    ['lz4', CompressionTypes.LZ4],
    ['zstd', CompressionTypes.ZSTD],
  ] as const)('%s: inflates data within the bound byte for byte, refuses 3 MiB of zeros over a 1 MiB bound without inflating it', async (name, type) => {
    const c = codec(type);
    const small = Buffer.from('rxml '.repeat(50_000));
    const packed = await c.compress({ buffer: small });
    expect(await decompressionBound.run(MiB, () => c.decompress(packed))).toEqual(small);
    const bomb = await c.compress({ buffer: Buffer.alloc(3 * MiB) });
    const refused = await decompressionBound.run(MiB, () => c.decompress(bomb)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(DecompressedSizeExceeded);
    expect(refused).toMatchObject({ codec: name, limit: MiB });
    expect((refused as DecompressedSizeExceeded).decompressedBytes).toBeGreaterThan(MiB);
    // lz4's is an upper bound from its block headers (255 × a block's compressed size): just over.
    expect((refused as DecompressedSizeExceeded).decompressedBytes).toBeLessThan(3.1 * MiB);
  });

  it('the stand-in record of a refused batch sits at its last offset and keeps its transactional context', () => {
    const context = { firstOffset: '100', lastOffsetDelta: 7, maxTimestamp: '1700000000000', magicByte: 2, isControlBatch: false, recordCount: 8, compressedBytes: 9000, producerId: '42', inTransaction: true };
    const record = new DecompressedSizeExceeded('gzip', MiB + 1, MiB).standIn(context);
    expect(record).toMatchObject({ offset: '107', key: null, value: null, batchContext: context, skippedBatch: { firstOffset: '100', lastOffset: '107', records: 8, codec: 'gzip', compressedBytes: 9000, limit: MiB } });
  });

  it('reads declared sizes from snappy (raw and xerial-framed) and bounds LZ4 frames from their block headers', () => {
    const snappyjs = require('snappyjs') as { compress(b: Buffer): Buffer };
    const block = snappyjs.compress(Buffer.alloc(300_000));
    expect(snappyDeclaredBytes(block)).toBe(300_000);
    const size = Buffer.alloc(4);
    size.writeUInt32BE(block.length);
    const xerial = Buffer.concat([Buffer.from([130, 83, 78, 65, 80, 80, 89, 0, 0, 0, 0, 1, 0, 0, 0, 1]), size, block, size, block]);
    expect(snappyDeclaredBytes(xerial)).toBe(600_000);
    expect(lz4BoundBytes(Buffer.from('not a frame'))).toBe(Number.POSITIVE_INFINITY);
    // gzip data is not an LZ4 frame either.
    expect(lz4BoundBytes(gzipSync('x'))).toBe(Number.POSITIVE_INFINITY);
  });
});
