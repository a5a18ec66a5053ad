import { createHash } from 'node:crypto';
import { RxmlError, invalidConfig } from '../contract/errors.js';
import { isModelStream, type ModelSource } from '../contract/model-source.js';

/**
 * One arm of an A/B split: a name for the results, its model and its share of the keys. `M` is
 * what the operator takes as a model: a `ModelSource` (`predict`, `predictIris`, `predictKeras`,
 * `predictTask`) or an `ImageModelSource` (`predictImage`).
 */
export interface ModelVariant<M = ModelSource> {
  /** Names the variant in results (`PredictResult.variant`) and events; non-empty, unique within the split. */
  readonly name: string;
  /**
   * The model source that scores this variant's records: a `Model` (the caller's, never disposed
   * by the operator) or an `Observable<Model>` of versions, which the operator owns and swaps
   * between batches like any `ModelSource` (its lifecycle events name the operator
   * `<operator>:<variant name>`, e.g. `predictIris:candidate`).
   */
  readonly model: M;
  /**
   * Share of the key space, relative to the sum of all weights (e.g. 90 and 10, or 0.9 and 0.1);
   * a finite number >= 0. A variant of weight 0 gets no records.
   */
  readonly weight: number;
}

export interface SplitModelsOptions<In> {
  /**
   * The routing key of a record (a user id, a Kafka record's key, …): records with the same key
   * always go to the same variant while the variants and weights stay the same. Throwing, or
   * returning anything but a string or bytes, fails that record with `INVALID_INPUT`.
   */
  readonly key: (input: In) => string | Uint8Array;
}

/**
 * An A/B split over models, made by {@link splitModels}; `predict`, `predictTask`, `predictIris`
 * and `predictKeras` accept it in place of a model (variants of `ModelSource`s), `predictImage`
 * one whose variants are `ImageModelSource`s.
 */
export interface SplitModels<In, M = ModelSource> {
  readonly kind: 'split-models';
  readonly variants: readonly ModelVariant<M>[];
  readonly key: (input: In) => string | Uint8Array;
  /**
   * The index in `variants` of the variant a key goes to. `SHA-256(key)`'s first 48 bits, read
   * as a fraction of 2^48 in [0, 1), falls in one variant's slice of the cumulative weights (in
   * the order of `variants`).
   */
  variantIndexOf(key: string | Uint8Array): number;
}

/** True for a value made by {@link splitModels}. */
export function isSplitModels(value: unknown): value is SplitModels<never, unknown> {
  return typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'split-models';
}

const WHERE = 'splitModels';

/** A `Model` (with `run`) or an `ImageModel` (a `Model` in `model`); which one fits is the operator's check. */
function isModelLike(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as { run?: unknown; model?: { run?: unknown } | null };
  return typeof v.run === 'function' || (typeof v.model === 'object' && v.model !== null && typeof v.model.run === 'function');
}

/** Checks without narrowing (`Array.isArray` would turn the readonly list into `any[]`). */
function isNonEmptyArray(value: unknown): boolean {
  return Array.isArray(value) && value.length > 0;
}
const TWO_POW_48 = 2 ** 48;

/**
 * An A/B split (Seldon Core's "experiment", Beam's keyed routing): each record goes to one variant
 * chosen by a stable hash of its key, so one key (one user, one device) always sees the same
 * model while the weights don't change, and the share of keys per variant matches the weights
 * (tested within statistical tolerance on 10,000 keys). Under the operator each variant has its
 * own micro-batches and its own model calls (`concurrency` each); results come out in input order
 * (unless `ordered: false`) and carry `variant`, the name of the variant that answered.
 *
 * The hash is SHA-256 (`node:crypto`) of the key's UTF-8 bytes (or the bytes given), so the routing
 * is the same in every process and every release: keys move only when variants or weights change
 * (adding a variant at the end moves only the keys of the slices it takes over).
 *
 * @throws RxmlError `INVALID_CONFIG` naming the variant and field: no variants, a name missing or
 *   repeated, a model that is not a `Model`, a weight not finite or below 0, weights summing to 0,
 *   a `key` that is not a function.
 *
 * @example
 * const split = splitModels(
 *   [{ name: 'current', model: irisV1, weight: 90 }, { name: 'candidate', model: irisV2, weight: 10 }],
 *   { key: (record: KafkaRecord<string>) => record.key ?? '' },
 * );
 * records$.pipe(predictIris(split, { select: (r) => r.value })).subscribe((r) => console.log(r.variant));
 */
export function splitModels<In, M extends object = ModelSource>(variants: readonly ModelVariant<M>[], options: SplitModelsOptions<In>): SplitModels<In, M> {
  if (!isNonEmptyArray(variants)) throw invalidConfig(WHERE, 'variants', 'a non-empty array of { name, model, weight }', variants);
  if (typeof options !== 'object' || options === null || typeof options.key !== 'function') throw invalidConfig(WHERE, 'key', 'a function (input) => string | Uint8Array', options?.key);
  const names = new Set<string>();
  let total = 0;
  variants.forEach((variant: ModelVariant<M> | null | undefined, i) => {
    if (typeof variant !== 'object' || variant === null) throw invalidConfig(WHERE, `variants[${i}]`, 'an object { name, model, weight }', variant);
    const { name, model, weight } = variant;
    if (typeof name !== 'string' || name === '') throw invalidConfig(WHERE, `variants[${i}].name`, 'a non-empty string', name);
    if (names.has(name)) throw new RxmlError('INVALID_CONFIG', `${WHERE}: variants[${i}].name "${name}" is used by another variant; names must be unique`);
    names.add(name);
    if (!isModelStream(model as unknown as ModelSource) && !isModelLike(model)) {
      throw invalidConfig(WHERE, `variants[${i}].model ("${name}")`, 'a Model (an object with run(inputs)), an ImageModel (loadImageModel) or an Observable of them', model);
    }
    if (typeof weight !== 'number' || !Number.isFinite(weight) || weight < 0) throw invalidConfig(WHERE, `variants[${i}].weight ("${name}")`, 'a finite number >= 0', weight);
    total += weight;
  });
  if (total <= 0) throw new RxmlError('INVALID_CONFIG', `${WHERE}: the weights sum to 0; at least one variant needs a weight > 0`);

  // Upper bound of each variant's slice of [0, 1); the last positive one is exactly 1.
  let running = 0;
  const bounds = variants.map((v) => (running += v.weight) / total);
  const last = bounds.length - 1 - [...variants].reverse().findIndex((v) => v.weight > 0);
  bounds[last] = 1;
  const frozen = Object.freeze(variants.map((v) => Object.freeze({ name: v.name, model: v.model, weight: v.weight })));

  return Object.freeze({
    kind: 'split-models' as const,
    variants: frozen,
    key: options.key,
    variantIndexOf(key: string | Uint8Array): number {
      const digest = createHash('sha256').update(key).digest();
      const point = digest.readUIntBE(0, 6) / TWO_POW_48;
      for (let i = 0; i < bounds.length; i++) if (point < bounds[i]! && frozen[i]!.weight > 0) return i;
      return last;
    },
  });
}

/**
 * The variant of one record, or the `INVALID_INPUT` error of a key that throws or is not a string
 * or bytes.
 */
export function routeRecord<In>(split: SplitModels<In>, input: In): number | RxmlError {
  let key: unknown;
  try {
    key = split.key(input);
  } catch (cause) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    return new RxmlError('INVALID_INPUT', `${WHERE}: key(record) threw: ${detail}`, { cause });
  }
  if (typeof key !== 'string' && !(key instanceof Uint8Array)) {
    return new RxmlError('INVALID_INPUT', `${WHERE}: key(record) returned ${key === null ? 'null' : typeof key}, expected a string or a Uint8Array`);
  }
  return split.variantIndexOf(key);
}

/** @internal The same split (names, weights, routing) with each variant's model turned into another by `to`. */
export function mapSplitModels<In, A, B>(split: SplitModels<In, A>, to: (model: A) => B): SplitModels<In, B> {
  return {
    kind: 'split-models',
    variants: split.variants.map((v) => ({ name: v.name, model: to(v.model), weight: v.weight })),
    key: split.key,
    variantIndexOf: (key) => split.variantIndexOf(key),
  };
}

/** The same split with the key read through `from` (the engine wraps records in envelopes). */
export function withSplitKey<In, Outer>(split: SplitModels<In>, from: (outer: Outer) => In): SplitModels<Outer> {
  return { kind: 'split-models', variants: split.variants, key: (outer) => split.key(from(outer)), variantIndexOf: (key) => split.variantIndexOf(key) };
}
