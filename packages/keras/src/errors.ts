import { RxmlError } from '@rxml/core/contract';
import { USER_CLASS_NAMES } from './gru-reset-after.js';

const INTERNAL_CLASS = new RegExp(Object.keys(USER_CLASS_NAMES).sort((a, b) => b.length - a.length).join('|'), 'g');

/**
 * Every failure while reading or converting a Keras file is a load-time `MODEL_LOAD_ERROR`. The
 * message names the user's layer classes: rxml's internal tfjs classes (`RxmlResetAfterGRU`) are
 * shown as the Keras class they implement (`GRU`).
 */
export function kerasLoadError(message: string, cause?: unknown): RxmlError {
  const shown = message.replace(INTERNAL_CLASS, (name) => USER_CLASS_NAMES[name] ?? name);
  return new RxmlError('MODEL_LOAD_ERROR', `Keras model: ${shown}`, cause === undefined ? {} : { cause });
}

/** The error for a layer rxml cannot run, naming its class and name as the user wrote them. */
export function unsupportedLayer(className: string, layerName: string, detail: string): RxmlError {
  return kerasLoadError(`layer '${layerName}' (${className}): ${detail}`);
}
