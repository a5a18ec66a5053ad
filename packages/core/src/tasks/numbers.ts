/**
 * Strict number parsing for text inputs (CSV fields, string values in JSON objects) and the
 * quoting every input error uses to show the offending text.
 *
 * JavaScript's `Number()` reads far more than a measurement: `0x1F`, `0b101`, `0o17`, `''` (0),
 * `'  '` (0), `Infinity`, `1_000` (NaN, but `Number('1e3')` 1000). A record that says `0x5` is a
 * data error, not the number 5, so text must be a plain decimal: an optional sign, digits with an
 * optional decimal point (`5`, `5.`, `.5`, `5.1`), and an optional exponent (`1e-3`, `2.5E+2`).
 * Surrounding whitespace is ignored, as CSV exports often pad fields.
 */
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** Longest piece of a user's text an error message repeats. */
export const QUOTE_MAX_CHARS = 40;

/**
 * The text as a JSON string literal (control characters and quotes escaped, so a message stays on
 * one line), cut to `max` characters with `…` and the full length when longer.
 */
export function quoteText(text: string, max: number = QUOTE_MAX_CHARS): string {
  if (text.length <= max) return JSON.stringify(text);
  return `${JSON.stringify(text.slice(0, max))}… (${text.length} characters)`;
}

/** The decimal number the text spells, or `undefined` when it is not one (see the file comment). */
export function parseDecimal(text: string): number | undefined {
  const trimmed = text.trim();
  if (!DECIMAL.test(trimmed)) return undefined;
  const value = Number(trimmed);
  // '1e999' is decimal syntax but overflows to Infinity: not a usable measurement either.
  return Number.isFinite(value) ? value : undefined;
}

/**
 * Why the text is not a decimal number, in words a user recognizes (`hexadecimal`, `empty`, …),
 * for error messages; `undefined` when it is one.
 */
export function whyNotDecimal(text: string): string | undefined {
  const trimmed = text.trim();
  if (parseDecimal(trimmed) !== undefined) return undefined;
  if (trimmed === '') return text === '' ? 'empty' : 'only whitespace';
  if (/^[+-]?0x[0-9a-f]+$/i.test(trimmed)) return 'hexadecimal, not a decimal number';
  if (/^[+-]?0b[01]+$/i.test(trimmed)) return 'binary, not a decimal number';
  if (/^[+-]?0o[0-7]+$/i.test(trimmed)) return 'octal, not a decimal number';
  if (/^[+-]?(inf|infinity)$/i.test(trimmed)) return 'infinite, not a finite number';
  if (/^[+-]?nan$/i.test(trimmed)) return 'NaN, not a number';
  if (DECIMAL.test(trimmed)) return 'out of the float64 range';
  if (/^[+-]?\d+,\d+$/.test(trimmed)) return 'a decimal comma; use a decimal point';
  return 'not a decimal number';
}

/** A numeric typed array (not a DataView, not a BigInt array): accepted wherever a `number[]` is. */
export type NumericTypedArray =
  | Float32Array
  | Float64Array
  | Int8Array
  | Int16Array
  | Int32Array
  | Uint8Array
  | Uint8ClampedArray
  | Uint16Array
  | Uint32Array;

export function isNumericTypedArray(value: unknown): value is NumericTypedArray {
  return (
    ArrayBuffer.isView(value) &&
    !(value instanceof DataView) &&
    !(value instanceof BigInt64Array) &&
    !(value instanceof BigUint64Array)
  );
}

/** How a value looks in an error message: its type, and for text its quoted start. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'string') return `the text ${quoteText(value)}`;
  if (typeof value === 'number') return String(value);
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (isNumericTypedArray(value)) return `a ${value.constructor.name} of ${value.length}`;
  return typeof value;
}
