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

/** 10^0 … 10^60: exact doubles up to 10^22, the nearest doubles beyond (only `tinyFloat32Text` reads those). */
const POW10 = Array.from({ length: 61 }, (_, n) => 10 ** n);
const ZEROS = Array.from({ length: 23 }, (_, n) => '0'.repeat(n));

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

/** Set by {@link shortestDigits} with its result: the candidate's decimal places, and whether its check was exact. */
let foundPlaces = 0;
let foundExact = false;

/**
 * The fast paths' search: the fewest significant digits p (1 … 9; 9 always read back as the same
 * float32) whose candidate, x rounded to p digits, m · 10^−places with places = p − 1 − e, reads
 * back as `x` — by binary search (if p digits read back, so do p + 1). `e` is x's decimal exponent
 * (x ≈ f · 10^e, f in [1, 10)). With places ≤ 22, 10^places is an exact double: m = round(x · 10^places)
 * and the check m / 10^places is a correctly rounded division, the very double `Number(text)` reads
 * (exact). Beyond (x below ~1e-13), m comes from `y` = x scaled to [1, 10) and the check divides
 * twice (approximate: the caller checks its text). Returns m (−1: none found) and sets
 * `foundPlaces` / `foundExact`. m may be a digit longer than the shortest in rare cases (a
 * candidate within a few double ulps of the float32's rounding boundary); it always reads back.
 */
function shortestDigits(x: number, e: number, y: number): number {
  let lo = 1;
  let hi = 9;
  let best = -1;
  while (lo <= hi) {
    const p = (lo + hi) >> 1;
    const places = p - 1 - e;
    const exact = places <= 22;
    const m = exact ? Math.round(x * POW10[places]!) : Math.round(y * POW10[p - 1]!);
    const candidate = exact ? m / POW10[places]! : m / POW10[22]! / POW10[places - 22]!;
    if (Math.fround(candidate) === x) {
      best = m;
      foundPlaces = places;
      foundExact = exact;
      hi = p - 1;
    } else lo = p + 1;
  }
  return best;
}

/**
 * Tiny values, (0, 1e-7) (a softmax's unlikely classes: 19 % of the Iris model's probabilities,
 * 1e-15 and below), in exponent notation as `JSON.stringify` writes them: {@link shortestDigits}
 * (about 250 ns instead of 1,250 ns for `toPrecision`'s search, measured). Its checks are exact for
 * x ≥ ~1e-13; below, the text found is checked with `Math.fround(Number(text)) === x`, and
 * `undefined` means "take the slow path".
 */
function tinyFloat32Text(x: number): string | undefined {
  // x ≈ y · 10^e with y in [1, 10): 10^k is an exact double for k ≤ 22 (and −e ≤ 45 for a float32).
  let e = Math.floor(Math.log10(x));
  const k = -e;
  let y = k <= 22 ? x * POW10[k]! : x * POW10[22]! * POW10[k - 22]!;
  if (y >= 10) {
    y /= 10;
    e++;
  } else if (y < 1) {
    y *= 10;
    e--;
  }
  let best = shortestDigits(x, e, y);
  if (best < 1) return undefined;
  const exact = foundExact;
  // Rounded up to 10^p (one more digit than p = places + e + 1): the exponent moves up.
  if (best >= POW10[foundPlaces + e + 1]!) e++;
  while (best % 10 === 0) best /= 10;
  const text = String(best);
  const written = text.length === 1 ? `${text}e${e}` : `${text[0]!}.${text.slice(1)}e${e}`;
  return exact || Math.fround(Number(written)) === x ? written : undefined;
}

/**
 * A float32 value (a model's output, e.g. a probability) as JSON number text: the shortest decimal
 * that reads back (`Math.fround(Number(text))`) as the same float32 — `0.9` for the float32 nearest
 * 0.9, which `JSON.stringify` prints as `0.8999999761581421` (the widened double's 17 digits). Like
 * NumPy's `repr(np.float32(x))`. Values in [1e-7, 1) take an integer-arithmetic fast path (about
 * 80 ns vs 145 ns for V8's double formatting, measured), values in (0, 1e-7) the same search in
 * exponent notation (`tinyFloat32Text`, ~250–450 ns vs ~1,250 ns), whole numbers below 2^24 print as
 * integers; other finite float32 values (a regression's `123.45`, negative values) the shortest of
 * `toPrecision(1 … 9)` that reads back, in `JSON.stringify`'s notation (about a microsecond).
 * Numbers that are not float32 are written as `JSON.stringify` writes them; NaN and ±Infinity as
 * `null`, as `JSON.stringify` does.
 */
export function float32Text(x: number): string {
  if (!Number.isFinite(x)) return 'null';
  if (Math.fround(x) !== x) return String(x);
  if (!(x >= 1e-7 && x < 1)) {
    // Whole numbers below 2^24 (a saturated probability's 1): the integer is the shortest text.
    if (x >= 1 && x < 16_777_216 && Number.isInteger(x)) return String(x);
    if (x > 0 && x < 1e-7) return tinyFloat32Text(x) ?? shortestFloat32Text(x);
    return shortestFloat32Text(x);
  }
  // Decimal places before the first significant digit (an estimate: every candidate is checked):
  // x ≈ f · 10^−(lead + 1). Every candidate has at most lead + 9 ≤ 15 places: the checks are exact.
  let lead = 0;
  while (x * POW10[lead + 1]! < 1) lead++;
  let best = shortestDigits(x, -(lead + 1), 0);
  if (best < 1) return String(x);
  let places = foundPlaces;
  while (best % 10 === 0) {
    best /= 10;
    places--;
  }
  const digits = String(best);
  return `0.${ZEROS[places - digits.length]!}${digits}`;
}
