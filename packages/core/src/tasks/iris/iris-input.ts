import { RxmlError } from '../../contract/errors.js';
import { describeValue, isNumericTypedArray, parseDecimal, quoteText, whyNotDecimal, type NumericTypedArray } from '../numbers.js';

export const IRIS_SPECIES = ['setosa', 'versicolor', 'virginica'] as const;
export type IrisSpecies = (typeof IRIS_SPECIES)[number];

export const IRIS_FEATURES = ['sepalLength', 'sepalWidth', 'petalLength', 'petalWidth'] as const;
export type IrisFeature = (typeof IRIS_FEATURES)[number];

/** One flower's measurements in centimetres. */
export type IrisMeasurements = Readonly<Record<IrisFeature, number>>;

/**
 * What `predictIris` accepts: CSV text `"5.4,3.9,1.7,0.4"` (decimal numbers only, fields may be
 * double-quoted), `[5.4, 3.9, 1.7, 0.4]`, a numeric typed array of 4 (e.g. `Float32Array`), or
 * named measurements (numbers or decimal text).
 */
export type IrisInput = string | readonly number[] | NumericTypedArray | IrisMeasurements;

/** Larger than any flower; a value above it is a unit or data error, not an iris. */
const MAX_CM = 100;

function invalid(message: string): RxmlError {
  return new RxmlError('INVALID_INPUT', `iris input: ${message}`);
}

function check(field: IrisFeature, value: unknown): number {
  if (typeof value === 'string') {
    const parsed = parseDecimal(value);
    if (parsed === undefined) throw invalid(`${field} is ${quoteText(value)}: ${whyNotDecimal(value) ?? 'not a decimal number'}`);
    value = parsed;
  }
  if (typeof value !== 'number') throw invalid(`${field} is ${describeValue(value)}, not a number`);
  if (Number.isNaN(value)) throw invalid(`${field} is NaN, not a number`);
  if (!Number.isFinite(value)) throw invalid(`${field} is ${value}, not finite`);
  if (value < 0) throw invalid(`${field} is negative (${value} cm)`);
  if (value > MAX_CM) throw invalid(`${field} is ${value} cm, more than ${MAX_CM} cm`);
  return value;
}

function fromList(values: ArrayLike<unknown>, what: string): [number, number, number, number] {
  if (values.length !== IRIS_FEATURES.length) {
    throw invalid(`expected 4 values (${IRIS_FEATURES.join(', ')}), got ${values.length} in ${what}`);
  }
  return [check('sepalLength', values[0]), check('sepalWidth', values[1]), check('petalLength', values[2]), check('petalWidth', values[3])];
}

/**
 * Splits one CSV line into fields as RFC 4180 reads it: a field may be enclosed in double quotes
 * (spreadsheet exports quote every field: `"5.1","3.5","1.4","0.2"`), and `""` inside a quoted
 * field is one quote. The quotes are the CSV's, not the value's, so `"5.1"` is the number 5.1;
 * a quoted `"5,1"` stays one field and is refused as a decimal comma.
 */
function splitCsv(line: string): string[] {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    // Whitespace before an opening quote is padding, as in `5.1, "3.5"`.
    const lead = /^[ \t]*"/.exec(line.slice(i));
    if (lead !== null) {
      i += lead[0].length;
      for (;;) {
        const close = line.indexOf('"', i);
        if (close === -1) throw invalid(`unterminated quoted field in ${quoteText(line)}`);
        field += line.slice(i, close);
        if (line[close + 1] === '"') {
          field += '"';
          i = close + 2;
          continue;
        }
        i = close + 1;
        break;
      }
      const rest = /^[ \t]*/.exec(line.slice(i))![0];
      i += rest.length;
      if (i < line.length && line[i] !== ',') throw invalid(`text after a closing quote in ${quoteText(line)}`);
    } else {
      const comma = line.indexOf(',', i);
      field = line.slice(i, comma === -1 ? line.length : comma);
      i = comma === -1 ? line.length : comma;
    }
    fields.push(field);
    if (i >= line.length) return fields;
    i++; // past the comma
  }
}

/** 10^0 … 10^22: exact doubles. */
const POW10 = Array.from({ length: 23 }, (_, n) => 10 ** n);

/**
 * The common CSV line — four unquoted plain decimals (`5.1,3.5,1.4,0.2`: digits with at most one
 * point, no sign, exponent or whitespace, at most 15 digits each) in range — read in one pass over
 * the characters, no substrings. `digits / 10^places` is one correctly rounded division of two
 * exact doubles, so it equals `Number(field)`. Anything else: `undefined`, and the general path
 * (quotes, padding, exponents, errors) reads the line.
 */
function plainCsv(text: string): [number, number, number, number] | undefined {
  const values: number[] = [];
  let m = 0;
  let digits = 0;
  let places = 0;
  let point = false;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 44; // the end closes the last field like a comma
    if (c >= 48 && c <= 57) {
      if (++digits > 15) return undefined;
      m = m * 10 + (c - 48);
      if (point) places++;
    } else if (c === 46 && !point) {
      point = true;
    } else if (c === 44 && digits > 0 && values.length < 4) {
      const value = m / POW10[places]!;
      if (value > MAX_CM) return undefined;
      values.push(value);
      m = 0;
      digits = 0;
      places = 0;
      point = false;
    } else return undefined;
  }
  return values.length === 4 ? [values[0]!, values[1]!, values[2]!, values[3]!] : undefined;
}

/** A measurement that needs no further checks: a finite number in [0, MAX_CM] (NaN fails both comparisons). */
const plain = (value: unknown): value is number => typeof value === 'number' && value >= 0 && value <= MAX_CM;

/** Validates one record and returns its four measurements in model order; throws `INVALID_INPUT`. */
export function parseIrisInput(input: unknown): [number, number, number, number] {
  if (typeof input === 'object' && input !== null && !Array.isArray(input) && !ArrayBuffer.isView(input)) {
    // Fast path for the common case (JSON objects of plain numbers); anything else takes the checks below.
    const { sepalLength, sepalWidth, petalLength, petalWidth } = input as Partial<Record<IrisFeature, unknown>>;
    if (plain(sepalLength) && plain(sepalWidth) && plain(petalLength) && plain(petalWidth)) return [sepalLength, sepalWidth, petalLength, petalWidth];
  }
  if (typeof input === 'string') {
    const plain = plainCsv(input);
    if (plain !== undefined) return plain;
    const text = input.trim();
    if (text === '') throw invalid(input === '' ? 'the record is empty' : 'the record is only whitespace');
    if (text.startsWith('{') || text.startsWith('[')) {
      // JSON that reached us as text: the source decoded bytes to a string (e.g. fromKafka's default
      // `deserialize: 'string'`) where a JSON parser was meant to run. Guessing would make every
      // string ambiguous, so say what it is and which option fits.
      throw invalid(
        `the record is JSON text (${quoteText(text)}), not CSV: parse it before predictIris, e.g. fromKafka({ deserialize: 'json' }) or select: (r) => JSON.parse(r)`,
      );
    }
    return fromList(splitCsv(text), quoteText(input));
  }
  if (Array.isArray(input)) return fromList(input as unknown[], 'the array');
  if (Buffer.isBuffer(input)) {
    // A Node Buffer is a message's raw bytes (fromKafka's `deserialize: 'bytes'`), never measurements.
    throw invalid(`got ${input.length} raw bytes (a Buffer): decode them first, e.g. fromKafka({ deserialize: 'string' }) for CSV text`);
  }
  if (isNumericTypedArray(input)) return fromList(input, `the ${input.constructor.name}`);
  if (typeof input === 'object' && input !== null && !ArrayBuffer.isView(input)) {
    const record = input as Record<string, unknown>;
    // A whole source record (fromKafka's: topic, partition, offset, value) where its value was meant:
    // the operator was used without `select`.
    if (!IRIS_FEATURES.some((field) => field in record) && 'value' in record && 'topic' in record && 'offset' in record) {
      throw invalid(
        `got a whole source record (${String(record['topic'])}[${String(record['partition'])}]@${String(record['offset'])}), not its value: pass select: (r) => r.value to predictIris`,
      );
    }
    return fromList(
      IRIS_FEATURES.map((field) => {
        if (!(field in record)) throw invalid(`${field} is missing`);
        return record[field];
      }),
      'the object',
    );
  }
  throw invalid(`expected a CSV string, an array of 4 numbers or an object with ${IRIS_FEATURES.join(', ')}; got ${describeValue(input)}`);
}
