import { RxmlError } from '../../contract/errors.js';
import type { Model, TensorData, TensorSpec } from '../../contract/model.js';
import { describeValue, isNumericTypedArray, parseDecimal, quoteText, whyNotDecimal, type NumericTypedArray } from '../numbers.js';

/** Numbers nested like the input's shape (batch dimension left out), e.g. `[[1, 2], [3, 4]]`. */
export type NestedNumbers = readonly (number | NestedNumbers)[];

/**
 * One model input of one sample: a flat list (`number[]` or a numeric typed array such as
 * `Float32Array`, `Int32Array`, `Float64Array`) in row-major order, a CSV string of decimal numbers
 * (`"0.5,1e-3,-2"`; hexadecimal, `Infinity` and empty fields are refused), or nested arrays in the
 * input's shape.
 */
export type KerasTensorInput = string | readonly number[] | NumericTypedArray | NestedNumbers;

/**
 * One sample. For a model with several inputs: an array in model-input order, or an object keyed
 * by the Keras input names.
 */
export type KerasInput = KerasTensorInput | readonly KerasTensorInput[] | Readonly<Record<string, KerasTensorInput>>;

/** One output of one sample: values in row-major order and their shape (batch dimension left out). */
export interface KerasOutput {
  readonly output: number[];
  readonly shape: number[];
}

/** A single-output model's `KerasOutput`, or one entry per output name for multi-output models. */
export type KerasPrediction = KerasOutput | Readonly<Record<string, KerasOutput>>;

/** A sample checked against the model: one flat array and its shape per model input. */
export interface KerasSample {
  readonly values: readonly (Float32Array | Int32Array)[];
  readonly shapes: readonly (readonly number[])[];
}

function invalid(message: string): RxmlError {
  return new RxmlError('INVALID_INPUT', `Keras input: ${message}`);
}

const fmt = (shape: readonly (number | null)[]): string => `[${shape.map((d) => (d === null ? '?' : d)).join(', ')}]`;

function shapeOfNested(value: NestedNumbers, path: string): number[] {
  const first = value[0];
  if (!Array.isArray(first)) return [value.length];
  const inner = shapeOfNested(first as NestedNumbers, `${path}[0]`);
  value.forEach((row, i) => {
    if (!Array.isArray(row)) throw invalid(`${path}[${i}] is a number where a nested array was expected (ragged input)`);
    const got = shapeOfNested(row as NestedNumbers, `${path}[${i}]`);
    if (got.length !== inner.length || got.some((d, k) => d !== inner[k])) {
      throw invalid(`${path}[${i}] has shape ${fmt(got)}, ${path}[0] has ${fmt(inner)} (ragged input)`);
    }
  });
  return [value.length, ...inner];
}

function flat(value: KerasTensorInput, name: string): { numbers: ArrayLike<unknown>; shape: number[] | undefined } {
  if (typeof value === 'string') {
    if (value.trim() === '') throw invalid(`input '${name}' is an empty string`);
    // Fields that are not decimal numbers stay text, so the error can quote what the user sent.
    return { numbers: value.split(',').map((s) => parseDecimal(s) ?? s), shape: undefined };
  }
  if (isNumericTypedArray(value)) return { numbers: value, shape: undefined };
  if (Array.isArray(value)) {
    if (value.length > 0 && Array.isArray(value[0])) {
      const shape = shapeOfNested(value as NestedNumbers, name);
      const numbers: unknown[] = (value as readonly unknown[]).flat(shape.length);
      return { numbers, shape };
    }
    return { numbers: value as readonly unknown[], shape: undefined };
  }
  throw invalid(`input '${name}' must be numbers, a CSV string or nested arrays; got ${describeValue(value)}`);
}

/** Checks one input of one sample against the model's spec and returns its values and shape. */
function parseTensor(value: KerasTensorInput, spec: TensorSpec): { data: Float32Array | Int32Array; shape: number[] } {
  const expected = spec.shape.slice(1);
  const { numbers, shape: given } = flat(value, spec.name);
  const isInt = spec.dtype === 'int32';
  const data = isInt ? new Int32Array(numbers.length) : new Float32Array(numbers.length);
  for (let i = 0; i < numbers.length; i++) {
    const v = numbers[i];
    if (typeof v === 'string') {
      throw invalid(`input '${spec.name}' value #${i} is the text ${quoteText(v)}, not a number (${whyNotDecimal(v) ?? 'not a decimal number'})`);
    }
    if (typeof v !== 'number') throw invalid(`input '${spec.name}' value #${i} is ${describeValue(v)}, not a number`);
    if (!Number.isFinite(v)) throw invalid(`input '${spec.name}' value #${i} is ${v}, not a finite number`);
    if (isInt && !Number.isInteger(v)) throw invalid(`input '${spec.name}' takes integers (e.g. token ids); value #${i} is ${v}`);
    data[i] = v;
  }
  const mismatch = (actual: string) =>
    invalid(`input '${spec.name}' expects shape ${fmt(expected)}${expected.every((d) => d !== null) ? ` (${expected.reduce<number>((a, b) => a * (b ?? 1), 1)} values)` : ''}, got ${actual}`);
  if (given !== undefined && given.reduce((a, b) => a * b, 1) !== data.length) {
    throw invalid(`input '${spec.name}' is ragged: nested arrays of shape ${fmt(given)} hold ${data.length} values`);
  }
  if (given !== undefined && given.length === expected.length) {
    if (given.some((d, i) => expected[i] !== null && expected[i] !== d)) throw mismatch(`shape ${fmt(given)}`);
    return { data, shape: given };
  }
  // A flat list: fill the shape row-major; one unknown dimension can be inferred from the count.
  const known = expected.reduce<number>((a, d) => a * (d ?? 1), 1);
  const unknown = expected.filter((d) => d === null).length;
  const what = given === undefined ? `${data.length} values` : `shape ${fmt(given)}`;
  if (unknown === 0 && data.length === known) return { data, shape: expected as number[] };
  if (unknown === 1 && known > 0 && data.length % known === 0 && data.length > 0) {
    return { data, shape: expected.map((d) => d ?? data.length / known) };
  }
  throw mismatch(what);
}

function isTensorInput(value: unknown): value is KerasTensorInput {
  return typeof value === 'string' || Array.isArray(value) || isNumericTypedArray(value);
}

/** Validates one record against the model's inputs; throws `INVALID_INPUT` naming the problem. */
export function parseKerasInput(input: unknown, inputs: readonly TensorSpec[]): KerasSample {
  let perInput: unknown[];
  if (inputs.length === 1) {
    const only = inputs[0]!;
    const keyed = typeof input === 'object' && input !== null && !isTensorInput(input) ? (input as Record<string, unknown>)[only.name] : undefined;
    perInput = [keyed ?? input];
  } else if (Array.isArray(input)) {
    if (input.length !== inputs.length) {
      throw invalid(`model takes ${inputs.length} inputs (${inputs.map((s) => s.name).join(', ')}), got an array of ${input.length}`);
    }
    perInput = input as unknown[];
  } else if (typeof input === 'object' && input !== null && !isTensorInput(input)) {
    const record = input as Record<string, unknown>;
    perInput = inputs.map((spec) => {
      if (!(spec.name in record)) throw invalid(`input '${spec.name}' is missing (model inputs: ${inputs.map((s) => s.name).join(', ')})`);
      return record[spec.name];
    });
  } else {
    throw invalid(`model takes ${inputs.length} inputs (${inputs.map((s) => s.name).join(', ')}): pass an array or an object keyed by input name`);
  }
  const values: (Float32Array | Int32Array)[] = [];
  const shapes: number[][] = [];
  perInput.forEach((value, i) => {
    const spec = inputs[i]!;
    if (!isTensorInput(value)) throw invalid(`input '${spec.name}' must be numbers, a CSV string or nested arrays; got ${describeValue(value)}`);
    const parsed = parseTensor(value, spec);
    values.push(parsed.data);
    shapes.push(parsed.shape);
  });
  return { values, shapes };
}

/** Stacks a batch of samples into one `TensorData` per model input. */
export function encodeKerasBatch(samples: readonly KerasSample[], inputs: readonly TensorSpec[]): TensorData[] {
  return inputs.map((spec, k) => {
    const shape = samples[0]?.shapes[k] ?? [];
    const size = shape.reduce((a, b) => a * b, 1);
    const data = spec.dtype === 'int32' ? new Int32Array(size * samples.length) : new Float32Array(size * samples.length);
    samples.forEach((s, i) => {
      const own = s.shapes[k]!;
      if (own.length !== shape.length || own.some((d, j) => d !== shape[j])) {
        // Only possible with unknown dimensions (e.g. sequence length): one batch, one shape.
        throw invalid(`input '${spec.name}' has shape ${fmt(own)} in a batch of shape ${fmt(shape)}; use batch size 1 for varying shapes`);
      }
      data.set(s.values[k]!, i * size);
    });
    return { data, shape: [samples.length, ...shape] };
  });
}

/** Splits the model's batch outputs into one prediction per sample. */
export function decodeKerasBatch(outputs: readonly TensorData[], count: number, model: Pick<Model, 'outputs'>): KerasPrediction[] {
  const perOutput = outputs.map((out) => {
    const shape = [...out.shape.slice(1)];
    const size = shape.reduce((a, b) => a * b, 1);
    return Array.from({ length: count }, (_, i): KerasOutput => ({ output: Array.from(out.data.subarray(i * size, (i + 1) * size)), shape }));
  });
  return Array.from({ length: count }, (_, i) => {
    if (perOutput.length === 1) return perOutput[0]![i]!;
    const entry: Record<string, KerasOutput> = {};
    perOutput.forEach((list, k) => {
      entry[model.outputs[k]?.name ?? `output_${k}`] = list[i]!;
    });
    return entry;
  });
}
