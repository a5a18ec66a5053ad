import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { preprocessImage } from '../src/index.js';
import { seedImages } from './support/shared.js';

const MOBILENET = { inputSize: 224, normalization: { scale: 1 / 127.5, offset: -1 } } as const;

function meanAbsDiff(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i]! - b[i]!);
  return sum / a.length;
}

describe('preprocessImage', () => {
  it('applies the normalization to every channel value', async () => {
    const white = await sharp({ create: { width: 50, height: 30, channels: 3, background: '#ffffff' } }).png().toBuffer();
    const out = await preprocessImage(white, MOBILENET);
    expect(out).toHaveLength(224 * 224 * 3);
    expect(out.every((v) => Math.abs(v - 1) < 1e-6)).toBe(true);
    const torch = await preprocessImage(white, { inputSize: 8, normalization: { mean: [255, 0, 127.5], std: [1, 255, 127.5] } });
    expect([torch[0], torch[1], torch[2]]).toEqual([0, 1, 1]);
  });

  it('turns an image by its EXIF orientation before resizing', async () => {
    const plane = await readFile(join(seedImages, 'trained_airplane_2.jpg'));
    const upright = await sharp(plane).jpeg({ quality: 95 }).toBuffer();
    // Stored turned a quarter to the left, tagged "rotate 90° clockwise to display" (orientation 6).
    const turned = await sharp(plane).rotate(-90).jpeg({ quality: 95 }).toBuffer();
    const tagged = await sharp(turned).withMetadata({ orientation: 6 }).jpeg({ quality: 95 }).toBuffer();
    const [a, b, c] = await Promise.all([upright, tagged, turned].map((img) => preprocessImage(img, { ...MOBILENET, fit: 'fill' })));
    // Measured: 0.076 when turned back (resampling and JPEG loss), 0.56 when not.
    expect(meanAbsDiff(a!, b!)).toBeLessThan(0.15);
    expect(meanAbsDiff(a!, c!)).toBeGreaterThan(0.4);
  });

  it('flattens transparency onto white', async () => {
    const clear = await sharp({ create: { width: 20, height: 20, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } }).png().toBuffer();
    const out = await preprocessImage(clear, { inputSize: 4, normalization: { scale: 1, offset: 0 } });
    expect(new Set(out)).toEqual(new Set([255]));
  });

  it('takes the first frame of an animated GIF', async () => {
    // Two 16x16 frames stacked: red, then blue.
    const frames = Buffer.alloc(16 * 32 * 3);
    for (let i = 0; i < 16 * 32; i++) frames.set(i < 256 ? [255, 0, 0] : [0, 0, 255], i * 3);
    const gif = await sharp(frames, { raw: { width: 16, height: 32, channels: 3, pageHeight: 16 } }).gif().toBuffer();
    expect((await sharp(gif).metadata()).pages).toBe(2);
    const out = await preprocessImage(gif, { inputSize: 4, normalization: { scale: 1, offset: 0 } });
    expect([out[0], out[1], out[2]]).toEqual([255, 0, 0]);
  });

  it('keeps the centre with cover and the whole picture with fill', async () => {
    // 300x100: a black left third, a white middle, a black right third.
    const wide = await sharp({ create: { width: 300, height: 100, channels: 3, background: '#000000' } })
      .composite([{ input: { create: { width: 100, height: 100, channels: 3, background: '#ffffff' } }, left: 100, top: 0 }])
      .png()
      .toBuffer();
    const opts = { inputSize: 30, normalization: { scale: 1, offset: 0 } } as const;
    const cover = await preprocessImage(wide, opts);
    const fill = await preprocessImage(wide, { ...opts, fit: 'fill' });
    const mean = (a: Float32Array): number => a.reduce((s, v) => s + v, 0) / a.length;
    expect(mean(cover)).toBeGreaterThan(250);
    expect(mean(fill)).toBeGreaterThan(70);
    expect(mean(fill)).toBeLessThan(100);
  });

  it('refuses SVG even though libvips could render it', async () => {
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>');
    await expect(preprocessImage(svg, MOBILENET)).rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringMatching(/^unsupported format: svg/) as unknown });
  });
});
