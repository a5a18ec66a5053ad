/**
 * Reads what an encoded image says about itself — its format from the magic bytes, its dimensions
 * from the header, and whether its structure is complete — without decoding a pixel. Everything
 * here depends on the input's bytes alone, so a failure reason built from it is the same whatever
 * else is being decoded at the same time (libvips' error text is not: it keeps one error buffer
 * per thread and sharp reports it whole, so it can hold lines of other images' failures).
 *
 * Formats: JPEG (ITU-T T.81 markers), PNG (ISO/IEC 15948 chunks), GIF (GIF89a blocks), WebP
 * (RIFF container, VP8/VP8L/VP8X headers). Other image formats are named by their signature.
 */

/** Formats `preprocessImage` decodes. */
export type AcceptedImageFormat = 'jpeg' | 'png' | 'webp' | 'gif';

/** A structural problem found in the bytes, before any decoding. */
export interface HeaderProblem {
  /**
   * `truncated` (the data ends early), `corrupt-header` (the header breaks the format's rules) or
   * `corrupt-data` (the structure after the header is broken although the data is complete).
   */
  readonly kind: 'truncated' | 'corrupt-header' | 'corrupt-data';
  /** Where and how, e.g. `the scan data ends at byte 4468 without an end-of-image marker`. */
  readonly detail: string;
}

export type ImageHeader =
  | {
      readonly format: AcceptedImageFormat;
      /** From the header; `undefined` when the problem came before the dimensions. */
      readonly width: number | undefined;
      readonly height: number | undefined;
      /** A problem that rules out decoding. */
      readonly problem: HeaderProblem | undefined;
      /**
       * Something decoders tolerate (e.g. stray bytes before a JPEG marker) but that explains a
       * decode failure if one follows.
       */
      readonly anomaly: string | undefined;
    }
  | { readonly format: 'other'; readonly name: string }
  | { readonly format: 'unknown' };

/** Upper-case display names, as the formats are usually written. */
export const FORMAT_NAMES: Readonly<Record<AcceptedImageFormat, string>> = { jpeg: 'JPEG', png: 'PNG', webp: 'WebP', gif: 'GIF' };

const ascii = (bytes: Uint8Array, at: number, length: number): string =>
  at + length <= bytes.length ? String.fromCharCode(...bytes.subarray(at, at + length)) : '';

const startsWith = (bytes: Uint8Array, signature: readonly number[], at = 0): boolean =>
  bytes.length >= at + signature.length && signature.every((b, i) => bytes[at + i] === b);

/** Image (and image-like) formats rxml does not decode, by signature, for `unsupported format: <name>`. */
function otherFormat(bytes: Uint8Array): string | undefined {
  if (startsWith(bytes, [0x49, 0x49, 0x2a, 0x00]) || startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2a])) return 'tiff';
  if (startsWith(bytes, [0x49, 0x49, 0x2b, 0x00]) || startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2b])) return 'bigtiff';
  if (ascii(bytes, 4, 4) === 'ftyp') {
    const brand = ascii(bytes, 8, 4);
    if (brand === 'avif' || brand === 'avis') return 'avif';
    if (['heic', 'heix', 'heim', 'heis', 'hevc', 'hevx', 'mif1', 'msf1'].includes(brand)) return 'heif';
  }
  if (startsWith(bytes, [0x42, 0x4d]) && bytes.length >= 26) return 'bmp';
  if (startsWith(bytes, [0xff, 0x0a]) || startsWith(bytes, [0, 0, 0, 0x0c, 0x4a, 0x58, 0x4c, 0x20])) return 'jxl';
  if (startsWith(bytes, [0, 0, 0, 0x0c, 0x6a, 0x50, 0x20, 0x20]) || startsWith(bytes, [0xff, 0x4f, 0xff, 0x51])) return 'jp2';
  if (ascii(bytes, 0, 4) === '8BPS') return 'psd';
  if (startsWith(bytes, [0, 0, 1, 0]) && bytes.length >= 22) return 'ico';
  if (ascii(bytes, 0, 5) === '%PDF-') return 'pdf';
  if (startsWith(bytes, [0x76, 0x2f, 0x31, 0x01])) return 'exr';
  if (ascii(bytes, 0, 9) === 'SIMPLE  =') return 'fits';
  if (ascii(bytes, 0, 10) === '#?RADIANCE' || ascii(bytes, 0, 6) === '#?RGBE') return 'hdr';
  if (/^P[1-7]\s/.test(ascii(bytes, 0, 3))) return 'ppm';
  if (startsWith(bytes, [0x08, 0xf2, 0xa6, 0xb6]) || startsWith(bytes, [0xb6, 0xa6, 0xf2, 0x08])) return 'vips';
  // SVG is text: an <svg element near the start (after an XML declaration, comments, a doctype).
  const head = new TextDecoder('utf-8', { fatal: false }).decode(bytes.subarray(0, 1024)).trimStart().toLowerCase();
  if ((head.startsWith('<?xml') || head.startsWith('<svg') || head.startsWith('<!--') || head.startsWith('<!doctype svg')) && head.includes('<svg')) {
    return 'svg';
  }
  return undefined;
}

/** Reads the format, the dimensions and the structure of an encoded image (no decoding). */
export function readImageHeader(bytes: Uint8Array): ImageHeader {
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return readJpeg(bytes);
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return readPng(bytes);
  if (ascii(bytes, 0, 6) === 'GIF87a' || ascii(bytes, 0, 6) === 'GIF89a') return readGif(bytes);
  if (ascii(bytes, 0, 4) === 'RIFF' && ascii(bytes, 8, 4) === 'WEBP') return readWebp(bytes);
  const other = otherFormat(bytes);
  return other === undefined ? { format: 'unknown' } : { format: 'other', name: other };
}

/**
 * How the start of a non-image looks in a message: printable text is quoted (cut to 24
 * characters), anything else shown as its first 8 bytes in hex.
 */
export function describeStart(bytes: Uint8Array): string {
  const head = bytes.subarray(0, 48);
  let text: string | undefined;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(head);
  } catch {
    // A multi-byte character cut at byte 48 is still text; anything else is binary.
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(head.subarray(0, Math.max(0, head.length - 3)));
    } catch {
      text = undefined;
    }
  }
  // eslint-disable-next-line no-control-regex
  if (text !== undefined && text.length > 0 && !/[\u0000-\u0008\u000e-\u001f\u007f]/.test(text)) {
    const cut = text.length > 24 ? `${JSON.stringify(text.slice(0, 24))}…` : JSON.stringify(text);
    return `starts with the text ${cut}`;
  }
  const hex = [...bytes.subarray(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
  return `starts with the bytes ${hex}${bytes.length > 8 ? ' …' : ''}`;
}

// ---------------------------------------------------------------- JPEG

function readJpeg(bytes: Uint8Array): ImageHeader {
  const n = bytes.length;
  let width: number | undefined;
  let height: number | undefined;
  let anomaly: string | undefined;
  let seenFrame = false;
  let seenScan = false;
  /** Quantization tables the frame's components use, and those DQT segments define. */
  const frameTables = new Set<number>();
  const quantTables = new Set<number>();
  const result = (problem?: HeaderProblem): ImageHeader => ({ format: 'jpeg', width, height, problem, anomaly });
  const hexByte = (b: number) => `0x${b.toString(16).padStart(2, '0')}`;
  const corrupt = (detail: string) => result({ kind: 'corrupt-header', detail });
  // A file that still ends with the end-of-image marker was not cut short: a length or marker that
  // runs past the end is corruption, not truncation.
  const complete = n >= 4 && bytes[n - 2] === 0xff && bytes[n - 1] === 0xd9;
  const truncated = (detail: string, ifComplete: string) =>
    complete ? result({ kind: seenScan ? 'corrupt-data' : 'corrupt-header', detail: ifComplete }) : result({ kind: 'truncated', detail });

  let pos = 2; // after SOI
  for (;;) {
    if (pos >= n) {
      return seenScan
        ? truncated(`the data ends at byte ${n} without an end-of-image marker`, 'no end-of-image marker')
        : truncated(`the data ends at byte ${n}, inside the header (before any image data)`, 'no image data before the end');
    }
    if (bytes[pos] !== 0xff) {
      // libjpeg skips stray bytes up to the next marker (a warning, not an error); so do we, and
      // keep the first such spot to explain a decode failure.
      const start = pos;
      while (pos < n && bytes[pos] !== 0xff) pos++;
      anomaly ??= `${pos - start} stray byte(s) at byte ${start} where a marker was expected${seenScan ? '' : ' in the header'}`;
      continue;
    }
    while (pos < n && bytes[pos] === 0xff) pos++; // fill bytes
    if (pos >= n) continue;
    const marker = bytes[pos] as number;
    const at = pos - 1;
    pos++;
    if (marker === 0xd9) {
      // EOI
      if (!seenScan) return corrupt(`end-of-image marker at byte ${at} before any image data`);
      return result();
    }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) continue; // TEM, RSTn: no length
    if (marker === 0xd8) return corrupt(`a second start-of-image marker at byte ${at}`);
    if (marker < 0xc0) {
      // Reserved codes (0x02-0xbf) are no marker; 0x00 only stuffs a 0xff inside scan data.
      const detail = `invalid marker 0xff${marker.toString(16).padStart(2, '0')} at byte ${at}`;
      return seenScan ? result({ kind: 'corrupt-data', detail: `${detail}, after the scan data` }) : corrupt(detail);
    }
    if (pos + 2 > n) return truncated(`the data ends at byte ${n}, inside segment ${hexByte(marker)} at byte ${at}`, `segment ${hexByte(marker)} at byte ${at} has no length`);
    const length = ((bytes[pos] as number) << 8) | (bytes[pos + 1] as number);
    if (length < 2) return corrupt(`segment ${hexByte(marker)} at byte ${at} has length ${length}`);
    const end = pos + length;
    if (end > n) {
      return truncated(
        `the data ends at byte ${n}, inside ${seenScan ? '' : 'the header, in '}segment ${hexByte(marker)} at byte ${at} (declares ${length} bytes)`,
        `segment ${hexByte(marker)} at byte ${at} declares ${length} bytes, past the end of the data`,
      );
    }
    const isFrame = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isFrame && !seenFrame) {
      if (length < 8) return corrupt(`frame header (SOF, marker ${hexByte(marker)}) at byte ${at} is ${length} bytes, too short`);
      height = ((bytes[pos + 3] as number) << 8) | (bytes[pos + 4] as number);
      width = ((bytes[pos + 5] as number) << 8) | (bytes[pos + 6] as number);
      seenFrame = true;
      if (width === 0 || height === 0) return corrupt(`frame header at byte ${at} declares ${width}×${height} pixels`);
      const components = bytes[pos + 7] as number;
      if (components === 0 || length !== 8 + 3 * components) {
        return corrupt(anomaly ?? `frame header at byte ${at} declares ${components} component(s) in ${length} bytes`);
      }
      // Lossless frames (SOF3, 7, 11, 15) use no quantization tables.
      const lossless = (marker & 3) === 3;
      if (!lossless) for (let k = 0; k < components; k++) frameTables.add(bytes[pos + 10 + 3 * k] as number);
    }
    if (marker === 0xdb) {
      // DQT: (precision/table id byte, 64 or 128 bytes) repeated, exactly filling the segment.
      let i = pos + 2;
      while (i < end) {
        const pq = (bytes[i] as number) >> 4;
        const tq = (bytes[i] as number) & 15;
        if (pq > 1 || tq > 3) break;
        quantTables.add(tq);
        i += 1 + (pq === 1 ? 128 : 64);
      }
      if (i !== end) return corrupt(anomaly ?? `quantization table segment (DQT) at byte ${at} does not hold whole tables`);
    }
    if (marker === 0xc4) {
      // DHT: (class/table id byte, 16 code counts, that many symbols) repeated, exactly filling the segment.
      let i = pos + 2;
      while (i + 17 <= end) {
        const tc = (bytes[i] as number) >> 4;
        const th = (bytes[i] as number) & 15;
        if (tc > 1 || th > 3) break;
        let symbols = 0;
        for (let k = 1; k <= 16; k++) symbols += bytes[i + k] as number;
        if (symbols > 256) break;
        i += 17 + symbols;
      }
      if (i !== end) return corrupt(anomaly ?? `Huffman table segment (DHT) at byte ${at} does not hold whole tables`);
    }
    pos = end;
    if (marker === 0xda) {
      // SOS: entropy-coded data follows, up to the next marker that is not a stuffed 0xFF00 or RSTn.
      if (!seenFrame) return corrupt(anomaly ?? `image data (start-of-scan at byte ${at}) before any frame header (SOF)`);
      const missing = [...frameTables].filter((t) => !quantTables.has(t));
      if (missing.length > 0) {
        // libjpeg stops here ("Quantization table 0x00 was not defined"); stray bytes over the table are the usual cause.
        return corrupt(anomaly ?? `quantization table ${missing.join(', ')} used by the frame is not defined before the image data (start-of-scan at byte ${at})`);
      }
      seenScan = true;
      for (;;) {
        while (pos < n && bytes[pos] !== 0xff) pos++;
        if (pos + 1 >= n) return truncated(`the scan data ends at byte ${n} without an end-of-image marker`, 'no end-of-image marker');
        const next = bytes[pos + 1] as number;
        if (next === 0x00 || next === 0xff || (next >= 0xd0 && next <= 0xd7)) {
          pos += next === 0xff ? 1 : 2;
          continue;
        }
        if (next < 0xc0 && next !== 0x01) {
          // Reserved marker codes do not occur in a valid file: garbled scan data.
          anomaly ??= `an invalid marker 0xff${next.toString(16).padStart(2, '0')} in the scan data at byte ${pos}`;
          pos += 2;
          continue;
        }
        break;
      }
    }
  }
}

// ---------------------------------------------------------------- PNG

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[i] = c >>> 0;
  }
  return table;
})();

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = (CRC_TABLE[(c ^ b) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const u32 = (bytes: Uint8Array, at: number): number =>
  (((bytes[at] as number) << 24) | ((bytes[at + 1] as number) << 16) | ((bytes[at + 2] as number) << 8) | (bytes[at + 3] as number)) >>> 0;

function readPng(bytes: Uint8Array): ImageHeader {
  const n = bytes.length;
  let width: number | undefined;
  let height: number | undefined;
  const result = (problem?: HeaderProblem): ImageHeader => ({ format: 'png', width, height, problem, anomaly: undefined });
  if (n < 8 + 8 + 13 + 4) return result({ kind: 'truncated', detail: `the data ends at byte ${n}, inside the header (IHDR chunk)` });
  if (ascii(bytes, 12, 4) !== 'IHDR' || u32(bytes, 8) !== 13) {
    return result({ kind: 'corrupt-header', detail: `the first chunk is ${JSON.stringify(ascii(bytes, 12, 4))} of ${u32(bytes, 8)} bytes, not IHDR of 13 bytes` });
  }
  if (crc32(bytes.subarray(12, 12 + 4 + 13)) !== u32(bytes, 12 + 4 + 13)) {
    return result({ kind: 'corrupt-header', detail: 'the IHDR chunk fails its CRC check' });
  }
  width = u32(bytes, 16);
  height = u32(bytes, 20);
  if (width === 0 || height === 0 || width > 0x7fffffff || height > 0x7fffffff) {
    const declared = `${width}×${height}`;
    width = undefined;
    height = undefined;
    return result({ kind: 'corrupt-header', detail: `IHDR declares ${declared} pixels` });
  }
  let pos = 8 + 12 + 13;
  let seenData = false;
  let last = 'IHDR';
  for (;;) {
    if (pos + 8 > n) {
      return result({ kind: 'truncated', detail: `the data ends at byte ${n} after chunk ${last}, without an IEND chunk${seenData ? '' : ' or any image data (IDAT)'}` });
    }
    const length = u32(bytes, pos);
    const type = ascii(bytes, pos + 4, 4);
    if (!/^[A-Za-z]{4}$/.test(type)) return result({ kind: 'corrupt-header', detail: `chunk at byte ${pos} has the type bytes ${JSON.stringify(type)}` });
    if (pos + 12 + length > n) {
      return result({ kind: 'truncated', detail: `the data ends at byte ${n}, inside chunk ${type} at byte ${pos} (declares ${length} bytes)` });
    }
    if (type === 'IDAT') seenData = true;
    if (type === 'IEND') {
      return seenData ? result() : result({ kind: 'corrupt-header', detail: 'IEND before any image data (IDAT)' });
    }
    last = type;
    pos += 12 + length;
  }
}

// ---------------------------------------------------------------- GIF

function readGif(bytes: Uint8Array): ImageHeader {
  const n = bytes.length;
  if (n < 13) {
    return { format: 'gif', width: undefined, height: undefined, anomaly: undefined, problem: { kind: 'truncated', detail: `the data ends at byte ${n}, inside the header (logical screen descriptor)` } };
  }
  const width = (bytes[6] as number) | ((bytes[7] as number) << 8);
  const height = (bytes[8] as number) | ((bytes[9] as number) << 8);
  const result = (problem?: HeaderProblem): ImageHeader => ({ format: 'gif', width, height, problem, anomaly: undefined });
  const truncated = (where: string) => result({ kind: 'truncated', detail: `the data ends at byte ${n}, ${where}` });
  if (width === 0 || height === 0) return result({ kind: 'corrupt-header', detail: `the logical screen is ${width}×${height} pixels` });
  const flags = bytes[10] as number;
  let pos = 13 + (flags & 0x80 ? 3 * (1 << ((flags & 7) + 1)) : 0);
  /** Skips data sub-blocks (a size byte, that many bytes, … up to a 0 size); false if the data ends first. */
  const skipSubBlocks = (): boolean => {
    for (;;) {
      if (pos >= n) return false;
      const size = bytes[pos] as number;
      pos += 1 + size;
      if (size === 0) return pos <= n;
    }
  };
  for (;;) {
    if (pos >= n) return truncated('before the first frame was complete');
    const block = bytes[pos] as number;
    if (block === 0x3b) return result({ kind: 'corrupt-header', detail: 'the trailer comes before any frame' });
    if (block === 0x21) {
      pos += 2;
      if (!skipSubBlocks()) return truncated('inside an extension block');
      continue;
    }
    if (block !== 0x2c) return result({ kind: 'corrupt-header', detail: `unknown block 0x${block.toString(16).padStart(2, '0')} at byte ${pos}` });
    if (pos + 10 > n) return truncated('inside the first frame\'s descriptor');
    const local = bytes[pos + 9] as number;
    pos += 10 + (local & 0x80 ? 3 * (1 << ((local & 7) + 1)) : 0);
    pos += 1; // LZW minimum code size
    // Only the first frame is decoded; once it is complete, the rest does not matter.
    return skipSubBlocks() ? result() : truncated('inside the first frame\'s image data');
  }
}

// ---------------------------------------------------------------- WebP

function readWebp(bytes: Uint8Array): ImageHeader {
  const n = bytes.length;
  let width: number | undefined;
  let height: number | undefined;
  const result = (problem?: HeaderProblem): ImageHeader => ({ format: 'webp', width, height, problem, anomaly: undefined });
  const riffSize = ((bytes[4] as number) | ((bytes[5] as number) << 8) | ((bytes[6] as number) << 16) | ((bytes[7] as number) << 24)) >>> 0;
  const chunk = ascii(bytes, 12, 4);
  if (n >= 30) {
    if (chunk === 'VP8 ' && startsWith(bytes, [0x9d, 0x01, 0x2a], 23)) {
      width = ((bytes[26] as number) | ((bytes[27] as number) << 8)) & 0x3fff;
      height = ((bytes[28] as number) | ((bytes[29] as number) << 8)) & 0x3fff;
    } else if (chunk === 'VP8L' && bytes[20] === 0x2f) {
      const bits = ((bytes[21] as number) | ((bytes[22] as number) << 8) | ((bytes[23] as number) << 16) | ((bytes[24] as number) << 24)) >>> 0;
      width = (bits & 0x3fff) + 1;
      height = ((bits >>> 14) & 0x3fff) + 1;
    } else if (chunk === 'VP8X') {
      width = ((bytes[24] as number) | ((bytes[25] as number) << 8) | ((bytes[26] as number) << 16)) + 1;
      height = ((bytes[27] as number) | ((bytes[28] as number) << 8) | ((bytes[29] as number) << 16)) + 1;
    } else {
      return result({ kind: 'corrupt-header', detail: `the first chunk is ${JSON.stringify(chunk)}, not VP8, VP8L or VP8X` });
    }
  }
  if (riffSize + 8 > n) {
    return result({ kind: 'truncated', detail: `the data ends at byte ${n}; the RIFF header declares ${riffSize + 8} bytes` });
  }
  if (width === undefined) return result({ kind: 'corrupt-header', detail: `the file is only ${n} bytes` });
  if (width === 0 || height === 0) return result({ kind: 'corrupt-header', detail: `the header declares ${width}×${height} pixels` });
  return result();
}
