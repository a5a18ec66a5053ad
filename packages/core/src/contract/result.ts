import type { ModelIdentity } from './model.js';
import type { RxmlError } from './errors.js';

/** A record the model scored. `input` is the element that entered the operator, untouched. */
export interface PredictSuccess<In, Out> {
  readonly ok: true;
  readonly input: In;
  readonly value: Out;
  /** The model that ran this record's batch: with a `ModelSource` stream, the version serving when the batch started. */
  readonly model: ModelIdentity;
  /** Time from the record entering the operator to its batch's result, in milliseconds. */
  readonly latencyMs: number;
  /** Which variant of a `splitModels` A/B split answered (its `name`); absent without a split. */
  readonly variant?: string;
}

/** A record that could not be scored; every other record of the stream goes on. */
export interface PredictFailure<In> {
  readonly ok: false;
  readonly input: In;
  readonly error: RxmlError;
  /** The model whose call failed (`MODEL_ERROR` of a batch); absent when the record never reached a model. */
  readonly model?: ModelIdentity;
  /** The `splitModels` variant the record was routed to, when it got that far; absent without a split. */
  readonly variant?: string;
}

export type PredictResult<In, Out> = PredictSuccess<In, Out> | PredictFailure<In>;

/**
 * Sources mark an element they could not read (a Kafka value that failed to deserialize) with this
 * symbol; `predict` turns such an element into a failure result without calling `select`, so the
 * sink can route it to the dead-letter topic like any other failure.
 */
export const INPUT_ERROR: unique symbol = Symbol.for('rxml.inputError') as never;

export interface WithInputError {
  readonly [INPUT_ERROR]?: RxmlError;
}

/** Marks `element` as unreadable, for `predict` and the sinks to report. Returns the same object. */
export function withInputError<T extends object>(element: T, error: RxmlError): T & WithInputError {
  Object.defineProperty(element, INPUT_ERROR, { value: error, enumerable: false });
  return element;
}

export function inputErrorOf(element: unknown): RxmlError | undefined {
  if (typeof element !== 'object' || element === null) return undefined;
  return (element as WithInputError)[INPUT_ERROR];
}
