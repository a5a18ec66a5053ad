import { RxmlError } from '@rxml/core/contract';

/** Every failure while reading or converting a Keras file is a load-time `MODEL_LOAD_ERROR`. */
export function kerasLoadError(message: string, cause?: unknown): RxmlError {
  return new RxmlError('MODEL_LOAD_ERROR', `Keras model: ${message}`, cause === undefined ? {} : { cause });
}

/** The error for a layer rxml cannot run, naming its class and name as the user wrote them. */
export function unsupportedLayer(className: string, layerName: string, detail: string): RxmlError {
  return kerasLoadError(`layer '${layerName}' (${className}): ${detail}`);
}
