/**
 * Every error rxml produces or reports. Like kafkajs' `KafkaJSError`: one base class with a
 * machine-readable `code`, the underlying `cause`, and whether retrying can help (`retriable`).
 * docs/errors.md lists every code (meaning, retriable or not, what to do) and who honours
 * `retriable`: `toKafka` (produce retries until `deliveryTimeoutMs`), the image model cache
 * (downloads), remote models (inside their `Model`); `predict` never retries.
 */
export type RxmlErrorCode =
  /** The record's input cannot be turned into model input (parse, validation, shape, decode). */
  | 'INVALID_INPUT'
  /** The model call itself failed for a batch. */
  | 'MODEL_ERROR'
  /** A model file could not be loaded, parsed or verified, or uses something unsupported. */
  | 'MODEL_LOAD_ERROR'
  /** The requested runtime/backend is not available on this machine. */
  | 'BACKEND_UNAVAILABLE'
  /** A record's value could not be deserialized by the source. */
  | 'DESERIALIZATION_ERROR'
  /** Producing to or consuming from a broker failed. */
  | 'KAFKA_ERROR'
  /** A limit (size, time, count) configured for safety was exceeded. */
  | 'LIMIT_EXCEEDED'
  /** Work was abandoned because the pipeline is shutting down. */
  | 'ABORTED'
  /** An option passed to an rxml function is missing, of the wrong type or out of range. */
  | 'INVALID_CONFIG';

/** Every `RxmlErrorCode`, for exporters and docs (docs/errors.md has one row per code; a test checks it). */
export const RXML_ERROR_CODES = [
  'INVALID_INPUT',
  'MODEL_ERROR',
  'MODEL_LOAD_ERROR',
  'BACKEND_UNAVAILABLE',
  'DESERIALIZATION_ERROR',
  'KAFKA_ERROR',
  'LIMIT_EXCEEDED',
  'ABORTED',
  'INVALID_CONFIG',
] as const satisfies readonly RxmlErrorCode[];
// Compile-time check that the list above names every code.
type MissingCodes = Exclude<RxmlErrorCode, (typeof RXML_ERROR_CODES)[number]>;
const everyCodeListed: MissingCodes extends never ? true : never = true;
void everyCodeListed;

export interface RxmlErrorOptions {
  readonly cause?: unknown;
  readonly retriable?: boolean;
}

/**
 * Brand carried by every `RxmlError`. `Symbol.for` makes it the same symbol in every copy of this
 * package loaded in one process (two versions side by side, ESM and a bundled copy), so
 * `isRxmlError` works where `instanceof` would not.
 */
const RXML_ERROR_BRAND: unique symbol = Symbol.for('rxml.error') as never;

export class RxmlError extends Error {
  override readonly name: string = 'RxmlError';
  /** @internal brand, see `isRxmlError` */
  readonly [RXML_ERROR_BRAND] = true;
  readonly code: RxmlErrorCode;
  readonly retriable: boolean;

  constructor(code: RxmlErrorCode, message: string, options: RxmlErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retriable = options.retriable ?? false;
  }
}

/** True for an `RxmlError` from any copy of rxml loaded in this process (a brand check, not `instanceof`). */
export function isRxmlError(value: unknown): value is RxmlError {
  return typeof value === 'object' && value !== null && (value as { [RXML_ERROR_BRAND]?: unknown })[RXML_ERROR_BRAND] === true;
}

/** Wraps anything thrown into an `RxmlError`, keeping an existing one as it is. */
export function toRxmlError(thrown: unknown, code: RxmlErrorCode, context?: string): RxmlError {
  if (isRxmlError(thrown)) return thrown;
  const detail = thrown instanceof Error ? thrown.message : String(thrown);
  return new RxmlError(code, context === undefined ? detail : `${context}: ${detail}`, { cause: thrown });
}

/** How a bad option's value is quoted in an `INVALID_CONFIG` message: `NaN`, `-1`, `"abc"`, `undefined`, `object`. */
function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint' || value === undefined || value === null) return String(value);
  if (typeof value === 'function') return 'a function';
  return Array.isArray(value) ? 'an array' : `an ${typeof value}`;
}

/**
 * The `INVALID_CONFIG` error for one bad option, naming the function, the option (as the caller
 * spells it, e.g. `batch.size`), what it must be and the value given:
 * `predict: batch.size must be a positive integer, got 0`. Never retriable: the same options fail
 * the same way.
 */
export function invalidConfig(where: string, option: string, expected: string, value: unknown): RxmlError {
  return new RxmlError('INVALID_CONFIG', `${where}: ${option} must be ${expected}, got ${describeValue(value)}`);
}
