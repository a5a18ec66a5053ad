import type { Subscriber } from 'rxjs';
import { CHANNELS, UNKNOWN_MODEL, guardCallback, publish, type ModelLifecycleMessage } from '../contract/diagnostics.js';
import { RxmlError, toRxmlError } from '../contract/errors.js';
import type { Model } from '../contract/model.js';

/** A version a source found, not loaded yet. */
export interface ModelCandidate {
  /** Identifies the content (e.g. its SHA-256): a candidate with the key last tried is skipped. */
  readonly key: string;
  /** Version announced in a refusal: the content version (`contentVersion`), or the published one (Kafka). */
  readonly version: string;
  /** Loads (and checks) the version; rejects when it must be refused. */
  load(): Promise<Model>;
}

/** Options every model source shares. */
export interface ModelSourceEventOptions {
  /**
   * Called with each lifecycle event the source publishes (`refused`: a version that could not be
   * read, verified or loaded); the same events go to the `rxml:model:lifecycle` channel. Guarded: a
   * throw is reported on `rxml:callback:error` and ignored.
   */
  readonly onModelEvent?: (event: ModelLifecycleMessage) => void;
}

/**
 * The part every model source shares: loads candidates one at a time (a candidate that arrives
 * during a load replaces any older one still waiting: only the newest matters), emits each loaded
 * model to the subscriber (who owns it from then on), announces a failed one as `refused` and goes
 * on, and disposes a model that finishes loading after the subscriber left.
 * @internal
 */
export class ModelVersions {
  private loading = false;
  private waiting: readonly ModelCandidate[] | undefined;
  private lastKey: string | undefined;
  private closed = false;
  private announcedWaiting = false;
  private readonly onEvent: (event: ModelLifecycleMessage) => void;

  constructor(
    private readonly subscriber: Subscriber<Model>,
    private readonly name: string,
    private readonly source: string,
    options: ModelSourceEventOptions,
  ) {
    this.onEvent = guardCallback('onModelEvent', options.onModelEvent);
  }

  /** True when `key` is the content last tried (loaded or refused). */
  seen(key: string): boolean {
    return this.lastKey === key;
  }

  /**
   * Offers versions, newest first: the first that loads is emitted; each one that fails before it is
   * refused. A later offer replaces one not started yet.
   */
  offer(candidates: readonly ModelCandidate[]): void {
    if (this.closed || candidates.length === 0) return;
    const superseded = this.waiting?.[0];
    const next = candidates[0] as ModelCandidate;
    if (superseded !== undefined && superseded.key !== next.key && superseded.key !== this.lastKey) {
      this.refuse(superseded.version, new RxmlError('MODEL_LOAD_ERROR', `${this.source}: version ${superseded.version} superseded by version ${next.version} before it was loaded`));
    }
    this.waiting = candidates;
    if (!this.loading) void this.drain();
  }

  /**
   * Announces a version refused before it could be offered (bad record, size limit, …): `version`
   * is its content version when the bytes were read, the published one (Kafka), else `UNKNOWN_MODEL`.
   */
  refuse(version: string, error: unknown, name: string = this.name): void {
    const rxml = toRxmlError(error, 'MODEL_LOAD_ERROR');
    this.announce({ type: 'refused', name, version, reason: rxml.message, source: this.source, error: rxml });
  }

  /** Nothing to read yet (`reason` says why): a `waiting` event, once until {@link available}. */
  nothingYet(reason: string): void {
    if (this.closed || this.announcedWaiting) return;
    this.announcedWaiting = true;
    this.announce({ type: 'waiting', name: this.name, version: UNKNOWN_MODEL, reason, source: this.source });
  }

  /** Something to read again after `waiting`: an `available` event (nothing when no `waiting` was announced). */
  available(reason: string): void {
    if (this.closed || !this.announcedWaiting) return;
    this.announcedWaiting = false;
    this.announce({ type: 'available', name: this.name, version: UNKNOWN_MODEL, reason, source: this.source });
  }

  private announce(event: ModelLifecycleMessage): void {
    publish(CHANNELS.modelLifecycle, event);
    this.onEvent(event);
  }

  /** The subscriber left: nothing more is emitted; a model still loading is disposed when it arrives. */
  close(): void {
    this.closed = true;
    this.waiting = undefined;
  }

  private async drain(): Promise<void> {
    this.loading = true;
    try {
      while (!this.closed && this.waiting !== undefined) {
        const candidates = this.waiting;
        this.waiting = undefined;
        for (const candidate of candidates) {
          if (this.lastKey === candidate.key) break;
          this.lastKey = candidate.key;
          let model: Model;
          try {
            model = await candidate.load();
          } catch (error) {
            if (this.closed) break;
            this.refuse(candidate.version, error);
            continue;
          }
          if (this.closed) model.dispose();
          else this.subscriber.next(model);
          break;
        }
      }
    } finally {
      this.loading = false;
    }
  }
}
