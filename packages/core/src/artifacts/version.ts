import { createHash } from 'node:crypto';

/**
 * A model's version: the first 16 hex digits (64 bits) of the SHA-256 of its files' bytes, in the
 * order given (tfjs: `model.json` then each weight file in manifest order; Keras and ONNX: the one
 * file). The one place a version is computed, so the same bytes give the same version whichever
 * format or runtime opens them.
 */
export function contentVersion(...parts: readonly Uint8Array[]): string {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest('hex').slice(0, 16);
}
