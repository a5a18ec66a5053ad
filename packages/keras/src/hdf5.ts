import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Dataset, Group, File as H5File } from 'h5wasm/node';
import { kerasLoadError } from './errors.js';

/** One weight array read from an HDF5 dataset, always as float32. */
export interface H5Weight {
  /** Path of the dataset inside the file, for error messages. */
  readonly path: string;
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

type H5Wasm = typeof import('h5wasm/node');

let readyOnce: Promise<H5Wasm> | undefined;
let h5wasm: H5Wasm | undefined;

/** Loads the HDF5 WebAssembly module on first use, so importing rxml does not pay for it. */
function ready(): Promise<H5Wasm> {
  readyOnce ??= import('h5wasm/node').then(async (mod) => {
    const module = await mod.ready;
    // Without this, HDF5 prints its whole error stack to stderr and h5wasm throws a vague message.
    module.activate_throwing_error_handler();
    h5wasm = mod;
    return mod;
  });
  return readyOnce;
}

/**
 * Opens HDF5 bytes, hands the open file to `read`, and always closes it. h5wasm's Node build
 * reads through the real file system, so the bytes go to a private temp file for the duration.
 */
export async function withHdf5<T>(bytes: Uint8Array, what: string, read: (file: H5File) => T): Promise<T> {
  const lib = await ready();
  const dir = await mkdtemp(join(tmpdir(), 'rxml-keras-'));
  const path = join(dir, 'model.h5');
  try {
    await writeFile(path, bytes);
    let file: H5File;
    try {
      file = new lib.File(path, 'r');
    } catch (cause) {
      throw kerasLoadError(`${what} is not a readable HDF5 file (corrupt or truncated?): ${firstLine(cause)}`, cause);
    }
    try {
      return read(file);
    } finally {
      file.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function firstLine(cause: unknown): string {
  const text = cause instanceof Error ? cause.message : String(cause);
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l.length > 0);
  // HDF5's error stack runs outermost first; the last frame says what actually went wrong
  // ("truncated file: eof = …", "file signature not found").
  const frames = lines.filter((l) => /^#\d+:/.test(l));
  const innermost = frames.at(-1);
  const detail = innermost === undefined ? lines[0] : innermost.slice(innermost.indexOf('(): ') + 4);
  return (detail ?? 'unknown error').slice(0, 300);
}

// Only called on entities of an open file, i.e. after ready().
export function isGroup(entity: unknown): entity is Group {
  return h5wasm !== undefined && entity instanceof h5wasm.Group;
}

export function isDataset(entity: unknown): entity is Dataset {
  return h5wasm !== undefined && entity instanceof h5wasm.Dataset;
}

/** A string attribute (Keras writes them as fixed or variable length, bytes or UTF-8). */
export function stringAttr(node: Group | H5File, name: string): string | undefined {
  const attr = node.attrs[name];
  if (attr === undefined) return undefined;
  const value = attr.value;
  if (typeof value === 'string') return value;
  if (value instanceof Uint8Array) return new TextDecoder().decode(value);
  return undefined;
}

/** A list-of-strings attribute such as `layer_names` / `weight_names`; empty lists come back as []. */
export function stringListAttr(node: Group | H5File, name: string): string[] | undefined {
  const attr = node.attrs[name];
  if (attr === undefined) return undefined;
  const value = attr.value;
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) {
    return value.map((v) => (typeof v === 'string' ? v : v instanceof Uint8Array ? new TextDecoder().decode(v) : JSON.stringify(v)));
  }
  // An empty list is stored as an empty float array by h5py.
  if (ArrayBuffer.isView(value) && (value as ArrayLike<number>).length === 0) return [];
  return undefined;
}

export function readWeight(dataset: Dataset, path: string): H5Weight {
  const shape = dataset.shape ?? [];
  let value: unknown;
  try {
    value = dataset.value;
  } catch (cause) {
    throw kerasLoadError(`cannot read weight '${path}' (corrupt file?): ${firstLine(cause)}`, cause);
  }
  const size = shape.reduce((a, b) => a * b, 1);
  let data: Float32Array;
  if (value instanceof Float32Array) data = value;
  else if (value instanceof Float64Array) data = Float32Array.from(value);
  else if (typeof value === 'number') data = Float32Array.of(value);
  else {
    // float16 (mixed precision) and integer weights would need a cast that changes results.
    throw kerasLoadError(`weight '${path}' has unsupported type ${JSON.stringify(dataset.dtype)}`);
  }
  if (data.length !== size) {
    throw kerasLoadError(`weight '${path}' holds ${data.length} values for shape [${shape.join(', ')}]`);
  }
  return { path, shape, data };
}
