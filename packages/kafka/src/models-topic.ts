import type { RawHeaders } from './internal/client.js';

/**
 * The record format of a models topic (`modelsFromKafka` reads it, `publishModel` writes it):
 *
 * | part | content |
 * |---|---|
 * | key | the model name (UTF-8): compaction keeps the latest record per model |
 * | value | the artifact bytes (`rxml-model-location: inline`, the default), or the artifact's http(s) URL as UTF-8 (`rxml-model-location: url`) |
 * | header `rxml-model-version` | the version reported by results (`model.version`, the sink's `rxml-model-version` header) |
 * | header `rxml-model-sha256` | SHA-256 of the artifact bytes, 64 lower-case hex digits: checked before loading, both for inline and URL artifacts |
 * | header `rxml-model-location` | `inline` or `url` |
 */
export const MODEL_HEADERS = {
  version: 'rxml-model-version',
  sha256: 'rxml-model-sha256',
  location: 'rxml-model-location',
} as const;

/** One header's value as text (the first, if repeated). */
export function headerText(headers: RawHeaders | undefined, name: string): string | undefined {
  const raw = headers?.[name];
  const first = Array.isArray(raw) ? (raw as readonly (Buffer | string)[])[0] : (raw as Buffer | string | undefined);
  return first === undefined ? undefined : first.toString();
}
