import { RxmlError } from '../../contract/errors.js';

export const IRIS_SPECIES = ['setosa', 'versicolor', 'virginica'] as const;
export type IrisSpecies = (typeof IRIS_SPECIES)[number];

export const IRIS_FEATURES = ['sepalLength', 'sepalWidth', 'petalLength', 'petalWidth'] as const;
export type IrisFeature = (typeof IRIS_FEATURES)[number];

/** One flower's measurements in centimetres. */
export type IrisMeasurements = Readonly<Record<IrisFeature, number>>;

/** What `predictIris` accepts: `"5.4,3.9,1.7,0.4"`, `[5.4, 3.9, 1.7, 0.4]`, or named measurements. */
export type IrisInput = string | readonly number[] | IrisMeasurements;

/** Larger than any flower; a value above it is a unit or data error, not an iris. */
const MAX_CM = 100;

function invalid(message: string): RxmlError {
  return new RxmlError('INVALID_INPUT', `iris input: ${message}`);
}

function check(field: IrisFeature, value: unknown): number {
  if (typeof value === 'string') {
    if (value.trim() === '') throw invalid(`${field} is empty`);
    value = Number(value);
  }
  if (typeof value !== 'number' || Number.isNaN(value)) throw invalid(`${field} is not a number`);
  if (!Number.isFinite(value)) throw invalid(`${field} is not finite`);
  if (value < 0) throw invalid(`${field} is negative (${value} cm)`);
  if (value > MAX_CM) throw invalid(`${field} is ${value} cm, more than ${MAX_CM} cm`);
  return value;
}

function fromList(values: readonly unknown[], what: string): [number, number, number, number] {
  if (values.length !== IRIS_FEATURES.length) {
    throw invalid(`expected 4 values (${IRIS_FEATURES.join(', ')}), got ${values.length} in ${what}`);
  }
  return [check('sepalLength', values[0]), check('sepalWidth', values[1]), check('petalLength', values[2]), check('petalWidth', values[3])];
}

/** Validates one record and returns its four measurements in model order; throws `INVALID_INPUT`. */
export function parseIrisInput(input: unknown): [number, number, number, number] {
  if (typeof input === 'string') {
    if (input.trim() === '') throw invalid('the record is empty');
    return fromList(input.split(','), `"${input.length > 60 ? `${input.slice(0, 60)}…` : input}"`);
  }
  if (Array.isArray(input)) return fromList(input as unknown[], 'the array');
  if (typeof input === 'object' && input !== null && !ArrayBuffer.isView(input)) {
    const record = input as Record<string, unknown>;
    return fromList(
      IRIS_FEATURES.map((field) => {
        if (!(field in record)) throw invalid(`${field} is missing`);
        return record[field];
      }),
      'the object',
    );
  }
  throw invalid(`expected a CSV string, an array of 4 numbers or an object with ${IRIS_FEATURES.join(', ')}; got ${input === null ? 'null' : typeof input}`);
}
