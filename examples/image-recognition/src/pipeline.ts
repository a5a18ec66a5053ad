import { map, type OperatorFunction } from 'rxjs';
import { predictImage, type ImageModel, type ImagePrediction, type PredictResult } from '@rxml/core';

/** A record of the input topic: the key names the image, the value is its path (under the root) or its bytes. */
export interface ImageMessage {
  readonly key: string;
  readonly value: Buffer;
}

/** A record of the output topic: the image name and a JSON label (or error). */
export interface LabelMessage {
  readonly key: string;
  readonly value: string;
}

export type Mode = 'paths' | 'bytes';

export interface Labelled {
  readonly result: PredictResult<ImageMessage, ImagePrediction>;
  readonly output: LabelMessage;
}

/**
 * The example's whole pipeline, whatever carries the messages: each image message is labelled by
 * the model and turned into an output message. A bad image (or a path outside `root`) becomes an
 * error message for that key; the stream goes on.
 */
export function recognizeImages(model: ImageModel, options: { mode: Mode; root: string; topK?: number }): OperatorFunction<ImageMessage, Labelled> {
  return (messages) =>
    messages.pipe(
      predictImage<ImageMessage>(model, {
        root: options.root,
        topK: options.topK ?? 3,
        select: (message) => (options.mode === 'paths' ? { path: message.value.toString('utf8') } : message.value),
      }),
      map((result) => ({
        result,
        output: {
          key: result.input.key,
          value: JSON.stringify(
            result.ok
              ? { image: result.input.key, label: result.value.label, probability: result.value.probability, top: result.value.top }
              : { image: result.input.key, error: { code: result.error.code, message: result.error.message } },
          ),
        },
      })),
    );
}

/** One line per image for the console. */
export function describe(result: PredictResult<ImageMessage, ImagePrediction>): string {
  if (!result.ok) return `${result.input.key}: ${result.error.code} ${result.error.message}`;
  return `${result.input.key}: ${result.value.label} (${(result.value.probability * 100).toFixed(1)} %)`;
}
