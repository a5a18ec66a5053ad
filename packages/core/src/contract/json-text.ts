/**
 * Values that write their own JSON text. A sink's default serializer (`toKafka`'s) calls
 * `value[JSON_TEXT]()` when the value has it, instead of `JSON.stringify(value)`: a family's
 * prediction (e.g. `predictIris`'s) knows its fixed shape and writes it without walking the object.
 * The text must be valid JSON of the same fields and key order `JSON.stringify` would write.
 */
export const JSON_TEXT: unique symbol = Symbol.for('rxml.jsonText') as never;

export interface WithJsonText {
  /** The value as JSON text (UTF-8 when written as bytes). */
  [JSON_TEXT](): string;
}

/** `value[JSON_TEXT]()` when the value has it, else `undefined`. */
export function jsonTextOf(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const write = (value as Partial<WithJsonText>)[JSON_TEXT];
  return typeof write === 'function' ? write.call(value) : undefined;
}

/** 10^0 … 10^22: exact doubles. */
const POW10 = Array.from({ length: 23 }, (_, n) => 10 ** n);
const ZEROS = Array.from({ length: 23 }, (_, n) => '0'.repeat(n));

/**
 * A float32 value (a model's output, e.g. a probability) as JSON number text: the shortest decimal
 * that reads back (`Math.fround(Number(text))`) as the same float32 — `0.9` for the float32 nearest
 * 0.9, which `JSON.stringify` prints as `0.8999999761581421` (the widened double's 17 digits). Like
 * NumPy's `repr(np.float32(x))`. Values in [1e-7, 1) take an integer-arithmetic fast path (about
 * 80 ns vs 145 ns for V8's double formatting, measured); other finite float32 values (a softmax's
 * `3.2701544e-19`, a regression's `123.45`) the shortest of `toPrecision(1 … 9)` that reads back, in
 * `JSON.stringify`'s notation (a few hundred ns). Numbers that are not float32 are written as
 * `JSON.stringify` writes them; NaN and ±Infinity as `null`, as `JSON.stringify` does.
 */
/**
 * The fewest significant digits (1 … 9; 9 always read back as the same float32) whose decimal reads
 * back as `x`, by binary search (if p digits read back, so do p + 1), printed as `String` prints
 * that decimal's double: JSON number notation (`1e-9`, `123.45`, `-0.5`).
 */
function shortestFloat32Text(x: number): string {
  let lo = 1;
  let hi = 9;
  let best = x.toPrecision(9);
  while (lo <= hi) {
    const p = (lo + hi) >> 1;
    const text = x.toPrecision(p);
    if (Math.fround(Number(text)) === x) {
      best = text;
      hi = p - 1;
    } else lo = p + 1;
  }
  return String(Number(best));
}

export function float32Text(x: number): string {
  if (!Number.isFinite(x)) return 'null';
  if (Math.fround(x) !== x) return String(x);
  if (!(x >= 1e-7 && x < 1)) return shortestFloat32Text(x);
  // Decimal places before the first significant digit (an estimate: every candidate is checked).
  let lead = 0;
  while (x * POW10[lead + 1]! < 1) lead++;
  // Binary search on the decimal places n (lead + 1 … lead + 9: 9 significant digits always read
  // back as the same float32): if n places read back, so do n + 1 (x · 10^n is exact in doubles for
  // n ≤ 12, i.e. x ≥ 1e-3; below that the result still reads back, it may be a digit longer).
  let lo = lead + 1;
  let hi = lead + 9;
  let best = -1;
  let places = 0;
  while (lo <= hi) {
    const n = (lo + hi) >> 1;
    const scale = POW10[n]!;
    const m = Math.round(x * scale);
    if (Math.fround(m / scale) === x) {
      best = m;
      places = n;
      hi = n - 1;
    } else lo = n + 1;
  }
  if (best < 1) return String(x);
  while (best % 10 === 0) {
    best /= 10;
    places--;
  }
  const digits = String(best);
  return `0.${ZEROS[places - digits.length]!}${digits}`;
}
