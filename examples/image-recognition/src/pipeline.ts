import type { OperatorFunction } from 'rxjs';
import { predictImage, type ImageModel, type ImagePrediction, type PredictResult } from '@rxml/core';

/** A message of the input topic: the key names the image, the value is its path (under the root) or its bytes. */
export interface ImageMessage {
  readonly key: string;
  readonly value: Buffer;
}

export type Mode = 'paths' | 'bytes';

export interface RecognizeOptions<In> {
  readonly mode: Mode;
  /** The only directory image paths are read from. */
  readonly root: string;
  /** The message value: a path (UTF-8) in `paths` mode, the encoded image in `bytes` mode. */
  readonly value: (input: In) => Buffer | null;
  readonly topK?: number;
}

/**
 * The example's pipeline, whatever carries the messages (Kafka records or plain objects): each
 * message's image is labelled by the model. A bad image, or a path outside `root`, is an
 * `INVALID_INPUT` result for that message; the stream goes on.
 */
export function recognizeImages<In>(model: ImageModel, options: RecognizeOptions<In>): OperatorFunction<In, PredictResult<In, ImagePrediction>> {
  return predictImage<In>(model, {
    root: options.root,
    topK: options.topK ?? 3,
    select: (input) => {
      const value = options.value(input);
      if (value === null) throw new Error('message has no value');
      return options.mode === 'paths' ? { path: value.toString('utf8') } : value;
    },
  });
}

/** The output topic's value for a labelled image. */
export function labelJson(image: string, prediction: ImagePrediction): string {
  return JSON.stringify({ image, label: prediction.label, probability: prediction.probability, top: prediction.top });
}

/** One console line per image. */
export function describe(image: string, result: PredictResult<unknown, ImagePrediction>): string {
  if (!result.ok) return `${image}: ${result.error.code} ${result.error.message}`;
  return `${image}: ${result.value.label} (${(result.value.probability * 100).toFixed(1)} %)`;
}
