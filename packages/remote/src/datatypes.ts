import { RxmlError, type DType } from '@rxml/core/contract';

/**
 * Tensor datatypes of the Open Inference Protocol (KServe v2, "Tensor Data Types" table). `FP16`,
 * `BF16` and `BYTES` are not supported by rxml's `Model` contract (plain `Float32Array` /
 * `Int32Array`); a model using them fails to load with `MODEL_LOAD_ERROR` naming the tensor.
 */
export type V2Datatype = 'BOOL' | 'UINT8' | 'UINT16' | 'UINT32' | 'UINT64' | 'INT8' | 'INT16' | 'INT32' | 'INT64' | 'FP32' | 'FP64';

type NumberArray = Float32Array | Float64Array | Int8Array | Int16Array | Int32Array | Uint8Array | Uint16Array | Uint32Array;
type BigIntArray = BigInt64Array | BigUint64Array;
/** A tensor's elements as they go on the wire. */
export type WireArray = NumberArray | BigIntArray;

interface DatatypeInfo {
  /** What rxml's contract carries for it. */
  readonly dtype: DType;
  readonly bytes: number;
  readonly from: (values: ArrayLike<number>) => WireArray;
  readonly view: (buffer: ArrayBuffer, offset: number, length: number) => WireArray;
}

const number = (ctor: { from(v: ArrayLike<number>): NumberArray; new (b: ArrayBuffer, o: number, l: number): NumberArray; BYTES_PER_ELEMENT: number }, dtype: DType): DatatypeInfo => ({
  dtype,
  bytes: ctor.BYTES_PER_ELEMENT,
  from: (v) => ctor.from(v),
  view: (b, o, l) => new ctor(b, o, l),
});
const bigint = (ctor: { from(v: ArrayLike<bigint>): BigIntArray; new (b: ArrayBuffer, o: number, l: number): BigIntArray }): DatatypeInfo => ({
  dtype: 'int32',
  bytes: 8,
  from: (v) => {
    const out = new Array<bigint>(v.length);
    for (let i = 0; i < v.length; i++) out[i] = BigInt(Math.trunc(v[i]!));
    return ctor.from(out);
  },
  view: (b, o, l) => new ctor(b, o, l),
});

const DATATYPES: Readonly<Record<V2Datatype, DatatypeInfo>> = {
  BOOL: number(Uint8Array, 'int32'),
  UINT8: number(Uint8Array, 'int32'),
  UINT16: number(Uint16Array, 'int32'),
  UINT32: number(Uint32Array, 'int32'),
  UINT64: bigint(BigUint64Array),
  INT8: number(Int8Array, 'int32'),
  INT16: number(Int16Array, 'int32'),
  INT32: number(Int32Array, 'int32'),
  INT64: bigint(BigInt64Array),
  FP32: number(Float32Array, 'float32'),
  FP64: number(Float64Array, 'float32'),
};

/** TensorFlow `DataType` enum names (TF-Serving metadata) → v2 datatypes. */
const TF_DATATYPES: Readonly<Record<string, V2Datatype>> = {
  DT_FLOAT: 'FP32',
  DT_DOUBLE: 'FP64',
  DT_INT8: 'INT8',
  DT_INT16: 'INT16',
  DT_INT32: 'INT32',
  DT_INT64: 'INT64',
  DT_UINT8: 'UINT8',
  DT_UINT16: 'UINT16',
  DT_UINT32: 'UINT32',
  DT_UINT64: 'UINT64',
  DT_BOOL: 'BOOL',
};

export function isSupportedDatatype(datatype: string): datatype is V2Datatype {
  return Object.hasOwn(DATATYPES, datatype);
}

/** The v2 datatype of a TF-Serving `DT_*` name, or `undefined`. */
export function datatypeOfTf(tfType: string): V2Datatype | undefined {
  return TF_DATATYPES[tfType];
}

/** rxml dtype for a v2 datatype: every float type is carried as `float32`, every integer/bool type as `int32`. */
export function dtypeOf(datatype: V2Datatype): DType {
  return DATATYPES[datatype].dtype;
}

export function bytesPerElement(datatype: V2Datatype): number {
  return DATATYPES[datatype].bytes;
}

/** Converts contract data to the wire datatype (a copy unless it already is, e.g. `Float32Array` → `FP32`). */
export function toWire(data: Float32Array | Int32Array, datatype: V2Datatype): WireArray {
  if ((datatype === 'FP32' && data instanceof Float32Array) || (datatype === 'INT32' && data instanceof Int32Array)) return data;
  return DATATYPES[datatype].from(data);
}

/** Converts wire data to contract data: floats → `Float32Array` (FP64 is rounded to float32), integers → `Int32Array`. */
export function fromWire(values: ArrayLike<number | bigint | boolean>, datatype: V2Datatype): Float32Array | Int32Array {
  const dtype = DATATYPES[datatype].dtype;
  if (dtype === 'float32') {
    if (values instanceof Float32Array) return values;
    const out = new Float32Array(values.length);
    for (let i = 0; i < values.length; i++) out[i] = Number(values[i]);
    return out;
  }
  if (values instanceof Int32Array) return values;
  const out = new Int32Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = Number(values[i]);
  return out;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function assertLittleEndian(): void {
  if (!LITTLE_ENDIAN) throw new RxmlError('MODEL_ERROR', 'binary tensor data is little-endian; this host is big-endian: use JSON (binaryData: false)');
}

/** The bytes of a wire array: row-major, little-endian, no padding (v2 binary data / raw contents). */
export function toBytes(values: WireArray): Buffer {
  assertLittleEndian();
  return Buffer.from(values.buffer, values.byteOffset, values.byteLength);
}

/** Reads `count` elements of `datatype` from raw bytes (copied, so alignment does not matter). */
export function fromBytes(bytes: Uint8Array, datatype: V2Datatype, tensor: string): Float32Array | Int32Array {
  assertLittleEndian();
  const info = DATATYPES[datatype];
  if (bytes.byteLength % info.bytes !== 0) {
    throw new RxmlError('MODEL_ERROR', `output ${tensor}: ${bytes.byteLength} bytes is not a whole number of ${datatype} elements (${info.bytes} bytes each)`);
  }
  const copy = new ArrayBuffer(bytes.byteLength);
  new Uint8Array(copy).set(bytes);
  return fromWire(info.view(copy, 0, bytes.byteLength / info.bytes), datatype);
}

/** Plain JSON numbers for a wire array (int64 values beyond 2^53 lose precision, as in every JSON client). */
export function toJsonNumbers(values: WireArray): number[] {
  const out = new Array<number>(values.length);
  for (let i = 0; i < values.length; i++) out[i] = Number(values[i]);
  return out;
}

/**
 * Bytes of `data` as raw `datatype` elements (v2 binary tensor data, gRPC raw contents), without
 * converting it: `toBytes(toWire(data, datatype)).length`, exactly.
 */
export function rawByteLength(data: { readonly length: number }, datatype: V2Datatype): number {
  return data.length * bytesPerElement(datatype);
}

/**
 * A lower bound, in bytes, on the JSON text that `count` numbers add to a request, however they are
 * nested: each number takes at least 1 character (`0`; `null` for NaN) and any two of them are
 * separated by at least 1 (`,` or `],[`), so at least `2 × count − 1` bytes (0 for none).
 * Lets a batch be refused by size before it is encoded (`checkRequestSize`).
 */
export function jsonNumbersMinBytes(count: number): number {
  return count > 0 ? 2 * count - 1 : 0;
}

/** Element count of a fully known shape. */
export function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Flattens JSON tensor data that a server sent nested (row-major) instead of flat. */
export function flattenJson(value: unknown, tensor: string): (number | boolean)[] {
  if (!Array.isArray(value)) {
    if (typeof value === 'number' || typeof value === 'boolean') return [value];
    throw new RxmlError('MODEL_ERROR', `output ${tensor}: expected numbers, got ${value === null ? 'null' : typeof value}`);
  }
  const out: (number | boolean)[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) for (const x of v) walk(x);
    else if (typeof v === 'number' || typeof v === 'boolean') out.push(v);
    else throw new RxmlError('MODEL_ERROR', `output ${tensor}: expected numbers, got ${v === null ? 'null' : typeof v}`);
  };
  walk(value);
  return out;
}

/** Nests flat row-major data by `shape` (TF-Serving's row format: one nested array per instance). */
export function nest(values: readonly number[], shape: readonly number[]): unknown[] {
  if (shape.length <= 1) return values.slice();
  const [head, ...rest] = shape;
  const step = elementCount(rest);
  const out: unknown[] = [];
  for (let i = 0; i < head!; i++) out.push(nest(values.slice(i * step, (i + 1) * step), rest));
  return out;
}
