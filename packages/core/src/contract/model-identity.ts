/**
 * The bound on a model's `name` and `version`: they travel with every result (and, through
 * `toKafka`, in the `rxml-model` / `rxml-model-version` headers of every output record), so they
 * must stay short. At most 256 bytes of UTF-8, not empty, no control characters (U+0000–U+001F,
 * U+007F–U+009F); printable Unicode otherwise. Enforced by `publishModel` (`INVALID_CONFIG`),
 * `modelsFromKafka` (a `refused` event) and an operator's model slot (a version from a model
 * stream with a longer name or version is `refused`).
 */
export const MAX_MODEL_ID_BYTES = 256;

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/**
 * Why `value` cannot be a model's `field` (`name` or `version`), or `undefined` when it can (see
 * {@link MAX_MODEL_ID_BYTES}). The text names the length in bytes and the bound, never echoes a long value.
 */
export function modelIdentityProblem(field: 'name' | 'version', value: unknown): string | undefined {
  if (typeof value !== 'string') return `model ${field} must be a string, got ${typeof value}`;
  if (value === '') return `model ${field} must not be empty`;
  const bytes = Buffer.byteLength(value, 'utf8');
  if (bytes > MAX_MODEL_ID_BYTES) return `model ${field} is ${bytes} bytes ('${value.slice(0, 32)}…'), over the limit of ${MAX_MODEL_ID_BYTES} bytes`;
  const control = CONTROL.exec(value);
  if (control !== null) return `model ${field} holds a control character (U+${control[0].charCodeAt(0).toString(16).padStart(4, '0').toUpperCase()}) at index ${control.index}`;
  return undefined;
}
