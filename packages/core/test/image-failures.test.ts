import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { from, lastValueFrom, toArray } from 'rxjs';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadImageModel, predictImage, preprocessImage, type ImageModel, type RxmlError } from '../src/index.js';
import { pngDeclaring, saveTinyModel } from './support/fixtures.js';
import { seedImages } from './support/shared.js';

// Every bad input is made here from the seed's real images: cut short, or with header bytes
// overwritten. Nothing is copied from another project's fixtures.
let dir: string;
let model: ImageModel;
let jpeg: Buffer;
let png: Buffer;
let mix: { name: string; format: string | undefined; bytes: Buffer; reason: RegExp | undefined }[];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rxml-image-failures-'));
  await saveTinyModel(join(dir, 'tiny'));
  await writeFile(join(dir, 'tiny', 'labels.txt'), 'a\nb\nc\nd\ne');
  model = await loadImageModel({
    path: join(dir, 'tiny'),
    inputSize: 32,
    normalization: { scale: 1 / 127.5, offset: -1 },
    labels: join(dir, 'tiny', 'labels.txt'),
  });
  jpeg = await readFile(join(seedImages, 'trained_airplane_2.jpg')); // 395×149 baseline JPEG, 13896 bytes
  png = await readFile(join(seedImages, 'devil.png')); // 2000×2000 PNG, 370572 bytes
  const corruptHeader = Buffer.from(jpeg);
  corruptHeader.fill(0x41, 20, 60); // over the quantization table segment that follows APP0
  const badIhdr = Buffer.from(png);
  badIhdr[17] = (badIhdr[17] as number) ^ 0xff; // a byte of the width: the IHDR CRC no longer matches
  const damagedIdat = Buffer.from(png);
  const idat = damagedIdat.indexOf(Buffer.from('IDAT'));
  damagedIdat[idat + 100] = (damagedIdat[idat + 100] as number) ^ 0xff;
  mix = [
    { name: 'good JPEG', format: 'jpeg', bytes: jpeg, reason: undefined },
    { name: 'truncated JPEG', format: 'jpeg', bytes: jpeg.subarray(0, jpeg.length >> 1), reason: /^truncated JPEG: the scan data ends at byte 6948 without an end-of-image marker \(6948 bytes, 395×149 from the header\)$/ },
    { name: 'truncated PNG', format: 'png', bytes: png.subarray(0, png.length >> 1), reason: /^truncated PNG: the data ends at byte 185286, inside chunk IDAT at byte \d+ \(declares \d+ bytes\) \(185286 bytes, 2000×2000 from the header\)$/ },
    { name: 'corrupt JPEG header', format: 'jpeg', bytes: corruptHeader, reason: /^corrupt JPEG header: 69 stray byte\(s\) at byte 20 where a marker was expected in the header/ },
    { name: 'good PNG', format: 'png', bytes: png, reason: undefined },
    { name: 'corrupt PNG header', format: 'png', bytes: badIhdr, reason: /^corrupt PNG header: the IHDR chunk fails its CRC check \(370572 bytes\)$/ },
    { name: 'text', format: undefined, bytes: Buffer.from('sepal_length,sepal_width\n5.1,3.5\n'), reason: /^not an image \(starts with the text "sepal_length,sepal_width"…, 33 bytes\)$/ },
    // The one case where the decoder itself fails (libpng on the chunk CRC), so libvips' shared error text is in play.
    { name: 'damaged PNG data', format: 'png', bytes: damagedIdat, reason: /^corrupt PNG data: the decoder failed inside the image data \(370572 bytes, 2000×2000 from the header\)$/ },
    { name: 'TIFF', format: 'tiff', bytes: await sharp(jpeg).tiff().toBuffer(), reason: /^unsupported format: tiff \(\d+ bytes\)$/ },
  ];
});
afterAll(async () => {
  model.dispose();
  await rm(dir, { recursive: true, force: true });
});

const FORMAT_WORDS = ['jpeg', 'jpg', 'png', 'tiff', 'gif', 'webp', 'vipsjpeg', 'vipspng', 'libpng'];

async function messages(decodeConcurrency: number, rounds: number): Promise<(string | undefined)[]> {
  const inputs = Array.from({ length: rounds }, () => mix.map((m) => m.bytes)).flat();
  const results = await lastValueFrom(from(inputs).pipe(predictImage(model, { decodeConcurrency, batch: { size: 8 } }), toArray()));
  return results.map((r) => (r.ok ? undefined : r.error.message));
}

describe('image decode failures are attributable and deterministic', () => {
  it('a mix of 9 records (good, truncated, corrupt header, corrupt data, text, TIFF) gives the same per-record messages at decodeConcurrency 1 and 8, each naming only its own format', async () => {
    const serial = await messages(1, 1);
    // Three rounds at 8 so that every bad image decodes next to others, in different company each round.
    const parallel = await messages(8, 3);
    mix.forEach((m, i) => {
      const message = serial[i];
      if (m.reason === undefined) {
        expect(message, m.name).toBeUndefined();
      } else {
        expect(message, m.name).toMatch(m.reason);
        const mentioned = FORMAT_WORDS.filter((w) => new RegExp(`\\b${w}\\b`, 'i').test(message ?? ''));
        const own = m.format === undefined ? [] : [m.format];
        expect(mentioned.filter((w) => !own.includes(w)), `${m.name}: ${message}`).toEqual([]);
      }
      for (let round = 0; round < 3; round++) expect(parallel[round * mix.length + i], `${m.name}, round ${round}`).toBe(message);
    });
  });

  it('every failure is INVALID_INPUT and the libvips text, if any, is only the cause', async () => {
    for (const m of mix.filter((x) => x.reason !== undefined)) {
      const error = (await preprocessImage(m.bytes, { inputSize: 32, normalization: { scale: 1, offset: 0 } }).catch((e: unknown) => e)) as RxmlError;
      expect(error.code, m.name).toBe('INVALID_INPUT');
      expect(error.message, m.name).not.toMatch(/vips|libpng|premature|Unknown error/i);
    }
  });

  it.each([
    ['empty input', () => Buffer.alloc(0), /^empty input: the image has 0 bytes$/],
    ['binary junk', () => Buffer.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]), /^not an image \(starts with the bytes 00 01 02 03 04 05 06 07 …, 10 bytes\)$/],
    ['JPEG cut inside its header', () => jpeg.subarray(0, 100), /^truncated JPEG: the data ends at byte 100, inside the header, in segment 0xdb at byte 89 \(declares 67 bytes\) \(100 bytes\)$/],
    ['JPEG without its frame header', () => {
      const b = Buffer.from(jpeg);
      b[b.indexOf(Buffer.from([0xff, 0xc0])) + 1] = 0xe5; // SOF0 becomes an APP5 segment
      return b;
    }, /^corrupt JPEG header: image data \(start-of-scan at byte \d+\) before any frame header \(SOF\)/],
    ['JPEG with a segment length past the end', () => {
      const b = Buffer.from(jpeg);
      b[22] = 0xff; // high byte of the quantization table's length
      return b;
    }, /^corrupt JPEG header: segment 0xdb at byte 20 declares 65347 bytes, past the end of the data/],
    ['JPEG with a quantization table segment that does not hold whole tables', () => {
      const b = Buffer.from(jpeg);
      b[b.indexOf(Buffer.from([0xff, 0xdb])) + 4] = 0x55; // precision 5, table 5: no such table
      return b;
    }, /^corrupt JPEG header: quantization table segment \(DQT\) at byte 20 does not hold whole tables \(13896 bytes\)$/],
    ['JPEG whose frame uses a quantization table never defined', () => {
      const b = Buffer.from(jpeg);
      b[b.indexOf(Buffer.from([0xff, 0xdb])) + 4] = 0x03; // the first table is defined as table 3 instead of 0
      return b;
    }, /^corrupt JPEG header: quantization table 0 used by the frame is not defined before the image data \(start-of-scan at byte \d+\) \(13896 bytes, 395×149 from the header\)$/],
    ['JPEG with a Huffman table segment that does not hold whole tables', () => {
      const b = Buffer.from(jpeg);
      b[b.indexOf(Buffer.from([0xff, 0xc4])) + 5] = 0xff; // the first code count: 255 codes of length 1
      return b;
    }, /^corrupt JPEG header: Huffman table segment \(DHT\) at byte \d+ does not hold whole tables/],
    ['PNG whose image data fails inside the decoder (a damaged IDAT)', () => {
      const b = Buffer.from(png);
      const idat = b.indexOf(Buffer.from('IDAT'));
      b[idat + 100] = (b[idat + 100] as number) ^ 0xff; // the chunk CRC no longer matches: libpng stops
      return b;
    }, /^corrupt PNG data: the decoder failed inside the image data \(370572 bytes, 2000×2000 from the header\)$/],
    ['PNG cut inside IHDR', () => png.subarray(0, 20), /^truncated PNG: the data ends at byte 20, inside the header \(IHDR chunk\)/],
    ['PNG without IEND', () => png.subarray(0, png.length - 12), /^truncated PNG: the data ends at byte 370560 after chunk IDAT, without an IEND chunk/],
    ['SVG', () => Buffer.from('<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>'), /^unsupported format: svg/],
    ['PDF', () => Buffer.from('%PDF-1.7\n%âãÏÓ\n'), /^unsupported format: pdf/],
  ] as [string, () => Buffer, RegExp][])('%s', async (_name, make, reason) => {
    const error = (await preprocessImage(make(), { inputSize: 32, normalization: { scale: 1, offset: 0 } }).catch((e: unknown) => e)) as RxmlError;
    expect(error.code).toBe('INVALID_INPUT');
    expect(error.message).toMatch(reason);
  });

  it('truncated GIF and WebP are named from their own structure', async () => {
    const gif = await sharp(jpeg).gif().toBuffer();
    const webp = await sharp(jpeg).webp().toBuffer();
    const opts = { inputSize: 32, normalization: { scale: 1, offset: 0 } } as const;
    await expect(preprocessImage(gif.subarray(0, 3000), opts)).rejects.toThrow(/^truncated GIF: the data ends at byte 3000, inside the first frame's image data \(3000 bytes, 395×149 from the header\)$/);
    await expect(preprocessImage(webp.subarray(0, 3000), opts)).rejects.toThrow(new RegExp(`^truncated WebP: the data ends at byte 3000; the RIFF header declares ${webp.length} bytes`));
    // Whole, they decode.
    expect(await preprocessImage(gif, opts)).toHaveLength(32 * 32 * 3);
    expect(await preprocessImage(webp, opts)).toHaveLength(32 * 32 * 3);
  });
});

describe('limits are named with the measured value and the option', () => {
  const opts = { inputSize: 32, normalization: { scale: 1, offset: 0 } } as const;

  it('a PNG declaring 65536×65536 is refused from its header, before decoding', async () => {
    const bomb = pngDeclaring(65536, 65536);
    const started = performance.now();
    const error = (await preprocessImage(bomb, opts).catch((e: unknown) => e)) as RxmlError;
    expect(error.code).toBe('LIMIT_EXCEEDED');
    expect(error.message).toBe('image is 65536×65536 = 4295 MP, over maxPixels 40 MP (option maxPixels)');
    // Not a timing assertion on speed, a guard that nothing was decoded: 4 GP would take minutes.
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it('a JPEG whose frame header says 20000×14000 names 280 MP; a custom maxPixels is named as set', async () => {
    const big = Buffer.from(jpeg);
    const sof = big.indexOf(Buffer.from([0xff, 0xc0]));
    big.writeUInt16BE(14000, sof + 5);
    big.writeUInt16BE(20000, sof + 7);
    await expect(preprocessImage(big, opts)).rejects.toMatchObject({
      code: 'LIMIT_EXCEEDED',
      message: 'image is 20000×14000 = 280 MP, over maxPixels 40 MP (option maxPixels)',
    });
    await expect(preprocessImage(jpeg, { ...opts, maxPixels: 50_000 })).rejects.toMatchObject({
      code: 'LIMIT_EXCEEDED',
      message: 'image is 395×149 = 0.0589 MP, over maxPixels 0.05 MP (option maxPixels)',
    });
  });

  it('input size and decode time name their option', async () => {
    await expect(preprocessImage(jpeg, { ...opts, maxInputBytes: 1000 })).rejects.toMatchObject({
      code: 'LIMIT_EXCEEDED',
      message: 'image is 13896 bytes, over maxInputBytes 1000 bytes (option maxInputBytes)',
    });
    await expect(preprocessImage(png, { ...opts, decodeTimeoutMs: 1 })).rejects.toMatchObject({
      code: 'LIMIT_EXCEEDED',
      message: 'image decode took longer than decodeTimeoutMs 1 ms (option decodeTimeoutMs)',
    });
  });
});
