import type * as OrtModule from 'onnxruntime-node';
import { RxmlError } from '@rxml/core/contract';

/** The `onnxruntime-node` module, typed; only ever obtained through `loadOrt()`. */
export type Ort = typeof OrtModule;

const ORT_PACKAGE = 'onnxruntime-node';
const loaded = new Map<string, Promise<Ort>>();

/**
 * Imports `onnxruntime-node` on first use. It is a peer dependency of `@rxml/onnx` (a ~290 MB
 * native package), imported lazily so that importing `@rxml/onnx` (e.g. for `tfjsToOnnx`) never
 * loads it; the entry points that run a session fail with `BACKEND_UNAVAILABLE` instead of a module
 * error when it is absent.
 *
 * @param specifier which module to import; only tests pass another one, to see the failure path.
 */
export function loadOrt(specifier: string = ORT_PACKAGE): Promise<Ort> {
  let pending = loaded.get(specifier);
  if (pending === undefined) {
    pending = (import(specifier) as Promise<Ort>).catch((cause: unknown) => {
      // A later call may succeed (e.g. after installing), so do not cache the failure.
      loaded.delete(specifier);
      throw new RxmlError(
        'BACKEND_UNAVAILABLE',
        `ONNX Runtime is not available: cannot import "${specifier}" (${cause instanceof Error ? cause.message.split('\n')[0] : String(cause)}). ` +
          `Install it next to @rxml/onnx with \`ONNXRUNTIME_NODE_INSTALL=skip npm install ${ORT_PACKAGE}\` (or pnpm add); ` +
          'its bundled CPU binaries need no download.',
        { cause },
      );
    });
    loaded.set(specifier, pending);
  }
  return pending;
}
