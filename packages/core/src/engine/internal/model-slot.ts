import type { Observable, Subscription } from 'rxjs';
import { CHANNELS, UNKNOWN_MODEL, guardCallback, hasSubscribers, publish, type ModelLifecycleMessage } from '../../contract/diagnostics.js';
import { RxmlError, toRxmlError } from '../../contract/errors.js';
import type { Model, ModelIdentity, TensorData, TensorSpec } from '../../contract/model.js';
import { modelIdentityProblem } from '../../contract/model-identity.js';
import { whenSettled } from './settle.js';

/** A batch's hold on the model it runs on: taken when the batch starts, released when its call returns. */
export interface Lease {
  readonly model: Model;
  /** `{ name, version }` of `model`, one object per version (what results carry). */
  readonly identity: ModelIdentity;
  /** The call returned; a replaced model is disposed after its last lease is released. Idempotent. */
  release(): void;
}

/**
 * Stage 4a, model slot: which model the next batch runs on. A plain `Model` gives a fixed slot (one
 * constant lease, nothing owned, nothing to dispose); an `Observable<Model>` gives a swapping slot.
 */
export interface ModelSlot {
  /** A lease on the model serving now. Called only once the slot is ready (a fixed slot always is). */
  acquire(): Lease;
  /** The model serving now, `undefined` before the first; for results of records that never reached a model. */
  identity(): ModelIdentity | undefined;
  /** Teardown: stop taking versions; dispose what the slot owns once its last call has returned. */
  close(): void;
}

/** How a candidate version is judged before it may serve (see {@link swappingSlot}). */
export interface VersionCheck {
  /**
   * Throws (any error; its message becomes the refusal's reason) when `candidate` cannot serve this
   * operator. `first` is the first model this subscription accepted, `undefined` while there is none.
   */
  readonly check: (candidate: Model, first: Model | undefined) => void;
  /** Inputs of the trial batch; default {@link zeroProbe}. */
  readonly probe: ((candidate: Model) => readonly TensorData[]) | undefined;
}

export interface SwapStage extends VersionCheck {
  /** Operator name for events and errors, e.g. `predictIris`. */
  readonly operator: string;
  /** The user's `onModelEvent`, guarded here. */
  readonly onModelEvent: ((event: ModelLifecycleMessage) => unknown) | undefined;
  /** The first model passed validation and serves: records may flow. Called once. */
  readonly ready: (first: Model) => void;
  /** The model source ended (error or completion) before any version passed validation. */
  readonly failed: (error: RxmlError) => void;
  /** An engine bug (a stage callback threw): error the output. */
  readonly bug: (error: unknown) => void;
  /**
   * Longest wait for the first version to pass validation, ms (`Infinity`: no limit). Past it:
   * `failed` with a retriable `MODEL_LOAD_ERROR`, and the source is unsubscribed.
   */
  readonly firstModelTimeoutMs: number;
  /** Records the operator holds now (for the `waiting` event and the timeout's message). */
  readonly held: () => number;
}

/** When an operator still without a model announces `waiting`, ms (or half `firstModelTimeoutMs` when shorter). */
export const WAITING_EVENT_MS = 5_000;

/** A plain `Model`: the caller's, never disposed here; every batch gets the same lease. */
export function fixedSlot(model: Model): ModelSlot {
  const identity: ModelIdentity = { name: model.name, version: model.version };
  const lease: Lease = { model, identity, release: () => {} };
  return { acquire: () => lease, identity: () => identity, close: () => {} };
}

/** A version the slot accepted: its lease count and whether it has been replaced. */
interface Version {
  readonly model: Model;
  readonly identity: ModelIdentity;
  readonly key: string;
  leases: number;
  retired: string | undefined;
}

const keyOf = (model: Model): string => `${model.name}\u0000${model.version}`;
const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/**
 * The swapping slot for an `Observable<Model>` (subscribed here, once per subscription of the
 * operator: sources are cold, each subscription owns the models it receives):
 *
 * - each version the source emits is validated off the hot path — batches keep running on the
 *   current model meanwhile: `check` (the task's signature check, or the first model's signature),
 *   then a trial batch (`probe`, default zeros) whose float outputs must all be finite;
 * - a version that passes is swapped in between batches: a batch runs on the model current when it
 *   took its lease, so batches in flight finish on the old model, which is disposed after its last
 *   lease is released (`released`); the event is `swap`, or `rollback` for a version served before;
 * - a version that fails is disposed at once and announced (`refused`), the current one keeps
 *   serving; a version emitted while another is being validated waits (only the latest waits: an
 *   older waiting one is refused as superseded); the same name + version as the current or a
 *   waiting one is ignored (disposed), the very same object is ignored (not disposed);
 * - the source failing or completing before any version passed: `failed` with `MODEL_LOAD_ERROR`;
 *   after: the current model keeps serving (an error is announced as `source-error`);
 * - `close` (teardown): unsubscribes from the source, disposes a waiting version, aborts the trial
 *   batch of a version under trial (its `run` gets an aborted `signal`) and disposes that version
 *   when the trial returns, and the current one after its last lease is released.
 */
export function swappingSlot(models: Observable<Model>, stage: SwapStage): ModelSlot {
  const callback = guardCallback('onModelEvent', stage.onModelEvent);
  const { operator } = stage;
  const subscribedAt = performance.now();
  let current: Version | undefined;
  let first: Model | undefined;
  let validating: Model | undefined;
  /** Aborted by `close`: the trial batch of the version under validation is not wanted any more. */
  let trial: AbortController | undefined;
  let waiting: Model | undefined;
  const draining = new Set<Version>();
  const served = new Set<string>();
  let closed = false;
  let sourceEnded = false;
  let sourceError: RxmlError | undefined;
  /** The source's own error message, for the operator's error. */
  let sourceErrorDetail = '';
  let lastRefusal: string | undefined;

  function emit(event: Omit<ModelLifecycleMessage, 'operator'>): void {
    if (stage.onModelEvent === undefined && !hasSubscribers(CHANNELS.modelLifecycle)) return;
    const message: ModelLifecycleMessage = { ...event, operator };
    callback(message);
    publish(CHANNELS.modelLifecycle, message);
  }

  /** Disposes a model the slot owns; a throwing `dispose` is reported in the returned text, never thrown. */
  function dispose(model: Model): string | undefined {
    try {
      model.dispose();
      return undefined;
    } catch (error) {
      return `dispose() threw: ${messageOf(error)}`;
    }
  }

  function owns(model: Model): boolean {
    if (model === current?.model || model === validating || model === waiting) return true;
    for (const version of draining) if (version.model === model) return true;
    return false;
  }

  function refuse(model: Model, reason: string, error: RxmlError): void {
    lastRefusal = `${model.version}: ${reason}`;
    const disposeProblem = dispose(model);
    emit({ type: 'refused', name: model.name, version: model.version, reason: disposeProblem === undefined ? reason : `${reason}; ${disposeProblem}`, error });
  }

  function offer(model: Model): void {
    if (closed) {
      if (!owns(model)) dispose(model);
      return;
    }
    if (typeof model !== 'object' || model === null || typeof (model as Partial<Model>).run !== 'function') {
      const error = new RxmlError('MODEL_LOAD_ERROR', `${operator}: the model source emitted something that is not a Model (an object with run(inputs))`);
      lastRefusal = error.message;
      emit({ type: 'refused', name: String((model as Partial<Model> | null)?.name), version: String((model as Partial<Model> | null)?.version), reason: error.message, error });
      return;
    }
    if (owns(model)) return; // the same object again: already ours
    // Name and version travel with every result (and every output record's headers): bounded.
    const nameProblem = modelIdentityProblem('name', model.name);
    const idProblem = nameProblem ?? modelIdentityProblem('version', model.version);
    if (idProblem !== undefined) {
      const name = nameProblem === undefined ? model.name : UNKNOWN_MODEL;
      const version = modelIdentityProblem('version', model.version) === undefined ? model.version : UNKNOWN_MODEL;
      const disposeProblem = dispose(model);
      const error = new RxmlError('MODEL_LOAD_ERROR', `${operator}: ${idProblem}`);
      lastRefusal = `${version}: ${idProblem}`;
      emit({ type: 'refused', name, version, reason: disposeProblem === undefined ? idProblem : `${idProblem}; ${disposeProblem}`, error });
      return;
    }
    const key = keyOf(model);
    if (current?.key === key || (validating !== undefined && keyOf(validating) === key) || (waiting !== undefined && keyOf(waiting) === key)) {
      dispose(model); // the same version again (a source re-reading the same artifact)
      return;
    }
    if (validating === undefined) {
      validate(model);
      return;
    }
    if (waiting !== undefined) {
      const superseded = waiting;
      refuse(superseded, `superseded by version ${model.version} before it was validated`, new RxmlError('MODEL_LOAD_ERROR', `${operator}: version ${superseded.version} superseded`));
    }
    waiting = model;
  }

  function validate(model: Model): void {
    validating = model;
    let inputs: readonly TensorData[];
    try {
      stage.check(model, first);
      inputs = stage.probe?.(model) ?? zeroProbe(model.inputs);
    } catch (cause) {
      validating = undefined;
      refuse(model, messageOf(cause), toRxmlError(cause, 'MODEL_LOAD_ERROR', `${operator}: model '${model.name}' version ${model.version}`));
      afterValidation();
      return;
    }
    const controller = new AbortController();
    trial = controller;
    whenSettled(
      () => model.run(inputs, { signal: controller.signal }),
      (outputs) => {
        validating = undefined;
        if (closed) {
          dispose(model);
          return;
        }
        const problem = trialProblem(model, outputs);
        if (problem === undefined) swapIn(model);
        else refuse(model, problem, new RxmlError('MODEL_LOAD_ERROR', `${operator}: model '${model.name}' version ${model.version}: ${problem}`));
        afterValidation();
      },
      (cause) => {
        validating = undefined;
        if (closed) {
          dispose(model);
          return;
        }
        const reason = `trial batch failed: ${messageOf(cause)}`;
        refuse(model, reason, toRxmlError(cause, 'MODEL_LOAD_ERROR', `${operator}: model '${model.name}' version ${model.version}: trial batch failed`));
        afterValidation();
      },
      stage.bug,
    );
  }

  function afterValidation(): void {
    if (closed) return;
    if (waiting !== undefined) {
      const next = waiting;
      waiting = undefined;
      validate(next);
      return;
    }
    if (sourceEnded) announceSourceEnd();
  }

  function swapIn(model: Model): void {
    const key = keyOf(model);
    const version: Version = { model, identity: { name: model.name, version: model.version }, key, leases: 0, retired: undefined };
    const previous = current;
    const rollback = served.has(key);
    current = version;
    served.add(key);
    const isFirst = first === undefined;
    if (isFirst) first = model;
    emit({
      type: rollback ? 'rollback' : 'swap',
      name: model.name,
      version: model.version,
      ...(previous === undefined ? {} : { previousVersion: previous.identity.version }),
      ...(rollback ? { reason: `version ${model.version} was served before by this operator` } : {}),
    });
    if (previous !== undefined) retire(previous, `replaced by version ${model.version}`);
    if (isFirst) {
      stopFirstModelTimers();
      stage.ready(model);
    }
  }

  function retire(version: Version, reason: string): void {
    version.retired = reason;
    if (version.leases === 0) release(version);
    else draining.add(version);
  }

  function release(version: Version): void {
    draining.delete(version);
    const problem = dispose(version.model);
    const reason = version.retired ?? 'released';
    emit({ type: 'released', name: version.identity.name, version: version.identity.version, reason: problem === undefined ? reason : `${reason}; ${problem}` });
  }

  /** The source ended: before a first model this fails the operator (once nothing is left to validate); after it, an error is announced. */
  let announced = false;
  function announceSourceEnd(): void {
    if (announced || validating !== undefined || waiting !== undefined) return;
    announced = true;
    if (current !== undefined) {
      if (sourceError !== undefined) {
        emit({ type: 'source-error', name: current.identity.name, version: current.identity.version, reason: `the model source failed; version ${current.identity.version} keeps serving: ${sourceError.message}`, error: sourceError });
      }
      return;
    }
    const refused = lastRefusal === undefined ? '' : ` (last refused: ${lastRefusal})`;
    const message =
      sourceError === undefined
        ? `${operator}: the model source completed without a model that passed validation${refused}`
        : `${operator}: the model source failed before a first model passed validation: ${sourceErrorDetail}${refused}`;
    stopFirstModelTimers();
    stage.failed(new RxmlError('MODEL_LOAD_ERROR', message, sourceError === undefined ? {} : { cause: sourceError }));
  }

  // Before the first model: announce the wait once, and give up after firstModelTimeoutMs.
  let waitingTimer: NodeJS.Timeout | undefined;
  let timeoutTimer: NodeJS.Timeout | undefined;
  function stopFirstModelTimers(): void {
    if (waitingTimer !== undefined) clearTimeout(waitingTimer);
    if (timeoutTimer !== undefined) clearTimeout(timeoutTimer);
    waitingTimer = timeoutTimer = undefined;
  }
  const timeoutMs = stage.firstModelTimeoutMs;
  waitingTimer = setTimeout(
    () => {
      waitingTimer = undefined;
      if (closed || first !== undefined) return;
      const waitedMs = Math.round(performance.now() - subscribedAt);
      const heldRecords = stage.held();
      emit({
        type: 'waiting',
        name: UNKNOWN_MODEL,
        version: UNKNOWN_MODEL,
        heldRecords,
        waitedMs,
        reason: `no model has passed validation after ${waitedMs} ms; ${heldRecords} record(s) held${lastRefusal === undefined ? '' : `; last refused: ${lastRefusal}`}${Number.isFinite(timeoutMs) ? `; the operator fails after ${timeoutMs} ms (firstModelTimeoutMs)` : ''}`,
      });
    },
    Math.min(WAITING_EVENT_MS, timeoutMs / 2),
  );
  if (Number.isFinite(timeoutMs)) {
    timeoutTimer = setTimeout(() => {
      timeoutTimer = undefined;
      if (closed || first !== undefined) return;
      const waitedMs = Math.round(performance.now() - subscribedAt);
      const refused = lastRefusal === undefined ? '' : `; last refused: ${lastRefusal}`;
      const error = new RxmlError(
        'MODEL_LOAD_ERROR',
        `${operator}: no model version passed validation within ${timeoutMs} ms (firstModelTimeoutMs; waited ${waitedMs} ms, ${stage.held()} record(s) held, not processed)${refused}`,
        { retriable: true },
      );
      // Stop the source first (its timers, consumers): the process may exit once the output errored.
      subscription?.unsubscribe();
      subscription = undefined;
      stage.failed(error);
    }, timeoutMs);
  }

  let subscription: Subscription | undefined = models.subscribe({
    next: (model) => offer(model),
    error: (error: unknown) => {
      if (closed) return;
      sourceEnded = true;
      sourceError = toRxmlError(error, 'MODEL_LOAD_ERROR', `${operator}: model source`);
      sourceErrorDetail = messageOf(error);
      announceSourceEnd();
    },
    complete: () => {
      if (closed) return;
      sourceEnded = true;
      announceSourceEnd();
    },
  });
  if (closed) {
    subscription.unsubscribe();
    subscription = undefined;
  }

  return {
    acquire(): Lease {
      const version = current as Version;
      version.leases++;
      let released = false;
      return {
        model: version.model,
        identity: version.identity,
        release(): void {
          if (released) return;
          released = true;
          version.leases--;
          if (version.retired !== undefined && version.leases === 0) release(version);
        },
      };
    },
    identity: () => current?.identity,
    close(): void {
      if (closed) return;
      closed = true;
      stopFirstModelTimers();
      subscription?.unsubscribe();
      subscription = undefined;
      // A remote model's trial request stops now, and the version is disposed when it returns.
      trial?.abort(new RxmlError('ABORTED', `${operator}: the stream ended while version ${validating?.version ?? '?'} was on trial`));
      if (waiting !== undefined) {
        dispose(waiting);
        waiting = undefined;
      }
      if (current !== undefined && current.retired === undefined) retire(current, 'the stream ended');
    },
  };
}

/** The default trial batch: one sample of zeros per input, `null` dimensions taken as 1. */
export function zeroProbe(specs: readonly TensorSpec[]): TensorData[] {
  return specs.map((spec) => {
    const shape = spec.shape.map((d) => d ?? 1);
    const size = shape.reduce((n, d) => n * d, 1);
    return { data: spec.dtype === 'int32' ? new Int32Array(size) : new Float32Array(size), shape };
  });
}

/** Why a trial batch's outputs disqualify a version (missing outputs, a non-finite float), or `undefined`. */
export function trialProblem(model: Model, outputs: readonly TensorData[]): string | undefined {
  if (!Array.isArray(outputs)) return 'trial batch returned no list of outputs';
  if (model.outputs.length > 0 && outputs.length !== model.outputs.length) {
    return `trial batch returned ${outputs.length} output(s), the model declares ${model.outputs.length}`;
  }
  for (const [i, output] of outputs.entries()) {
    const data = (output as Partial<TensorData> | undefined)?.data;
    if (!(data instanceof Float32Array)) continue;
    for (let j = 0; j < data.length; j++) {
      const value = data[j] as number;
      if (!Number.isFinite(value)) return `trial batch output ${model.outputs[i]?.name ?? i} holds ${value} at index ${j} (finite values expected)`;
    }
  }
  return undefined;
}

/**
 * Why `candidate`'s signature differs from `first`'s, or `undefined`: the same number of inputs and
 * outputs, the same dtypes and ranks, and the same size wherever both fix a dimension (`null`
 * matches anything). Names may differ.
 */
export function signatureMismatch(candidate: Model, first: Model): string | undefined {
  for (const side of ['inputs', 'outputs'] as const) {
    const mine = candidate[side];
    const theirs = first[side];
    if (mine.length !== theirs.length) return `${mine.length} ${side}, the first model has ${theirs.length}`;
    for (const [i, spec] of mine.entries()) {
      const want = theirs[i] as TensorSpec;
      const what = `${side === 'inputs' ? 'input' : 'output'} ${i} (${spec.name})`;
      if (spec.dtype !== want.dtype) return `${what} is ${spec.dtype}, the first model's is ${want.dtype}`;
      const fits = spec.shape.length === want.shape.length && spec.shape.every((d, k) => d === null || want.shape[k] === null || d === want.shape[k]);
      if (!fits) return `${what} has shape ${shape(spec)}, the first model's is ${shape(want)}`;
    }
  }
  return undefined;
}

const shape = (spec: TensorSpec): string => `[${spec.shape.map((d) => d ?? '?').join(', ')}]`;
