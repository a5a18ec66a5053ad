import { MOBILENET_V1_0_75_224_FILES } from './catalog-files.js';

/**
 * How raw RGB bytes (0..255) become model input. `{ scale, offset }` maps each channel value `x` to
 * `x * scale + offset` (MobileNet: `x / 127.5 - 1` is `{ scale: 1 / 127.5, offset: -1 }`);
 * `{ mean, std }` is the per-channel `(x - mean[c]) / std[c]` used by torchvision-style models.
 */
export type Normalization =
  | { readonly scale: number; readonly offset: number }
  | { readonly mean: readonly [number, number, number]; readonly std: readonly [number, number, number] };

/** One file of a catalog model, with the digest it must have. */
export interface CatalogFile {
  readonly name: string;
  /** Lower-case hex sha256 of the file's bytes. */
  readonly sha256: string;
  readonly bytes: number;
}

/** A known image model: where it is published and how to feed it. */
export interface CatalogEntry {
  readonly name: string;
  readonly description: string;
  /**
   * Public URL bases, tried in order for each file (`base + file.name`) until one serves bytes with
   * the expected digest; a mirror replaces them all.
   */
  readonly sources: readonly string[];
  /** Square input side in pixels. */
  readonly inputSize: number;
  readonly normalization: Normalization;
  /** File (one class name per line, in output order) among `files`. */
  readonly labelsFile: string;
  /** Every file the model needs, `model.json` first. */
  readonly files: readonly CatalogFile[];
}

export const IMAGE_MODEL_CATALOG: Readonly<Record<string, CatalogEntry>> = {
  'mobilenet_v1_0.75_224': {
    name: 'mobilenet_v1_0.75_224',
    description: 'MobileNet v1, width 0.75, 224x224, ImageNet-1k (top-1 68.4 %), TensorFlow.js LayersModel',
    sources: [
      'https://storage.googleapis.com/tfjs-models/tfjs/mobilenet_v1_0.75_224/',
      // The public copy the verified files were taken from (see docs/models.md), pinned to a commit.
      'https://raw.githubusercontent.com/tangmingsh/ml5featureExtractormodel/238fbc538b0dd3d3993a1ebaf5f68fa679c99fa7/mobilenet_v1_0.75_224/',
    ],
    inputSize: 224,
    normalization: { scale: 1 / 127.5, offset: -1 },
    labelsFile: 'labels.txt',
    files: MOBILENET_V1_0_75_224_FILES,
  },
};

/** Names of the models `loadImageModel` can fetch by name. */
export function imageModelNames(): string[] {
  return Object.keys(IMAGE_MODEL_CATALOG);
}
