import type { Subscriber } from 'rxjs';
import { CHANNELS, guardCallback, publish, type ModelLifecycleMessage } from '../contract/diagnostics.js';
import { toRxmlError } from '../contract/errors.js';
import type { Model } from '../contract/model.js';

/** A version a source found, not loaded yet. */
export interface ModelCandidate {
  /** Identifies the content (e.g. its SHA-256): a candidate with the key last tried is skipped. */
  readonly key: string;
  /** Version announced in a refusal (the content hash or the published version). */
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
    this.waiting = candidates;
    if (!this.loading) void this.drain();
  }

  /** Announces a version refused before it could be offered (bad record, size limit, …). */
  refuse(version: string, error: unknown, name: string = this.name): void {
    const rxml = toRxmlError(error, 'MODEL_LOAD_ERROR');
    const event: ModelLifecycleMessage = { type: 'refused', name, version, reason: rxml.message, source: this.source, error: rxml };
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
