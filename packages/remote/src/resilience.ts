import {
  BrokenCircuitError,
  ConsecutiveBreaker,
  ExponentialBackoff,
  TaskCancelledError,
  TimeoutStrategy,
  bulkhead,
  circuitBreaker,
  handleWhen,
  retry,
  timeout,
  type BulkheadPolicy,
  type CircuitBreakerPolicy,
  type RetryPolicy,
  type TimeoutPolicy,
} from 'cockatiel';
import { RxmlError, isRxmlError, toRxmlError, type RxmlErrorCode } from '@rxml/core/contract';

/** Retries with exponential backoff and jitter, for retriable failures only. */
export interface RetryOptions {
  /** Tries after the first one; 0 turns retrying off. Default 3. */
  readonly retries?: number;
  /** Backoff before the first retry, ms (then ×2 per retry, with decorrelated jitter). Default 100. */
  readonly initialDelayMs?: number;
  /** Longest backoff between two tries, ms. Default 2000. */
  readonly maxDelayMs?: number;
}

/**
 * A circuit breaker (cockatiel's `ConsecutiveBreaker`): after `failures` retriable failures in a row
 * the circuit opens and calls fail at once, without a request, with a retriable `MODEL_ERROR`;
 * after `halfOpenAfterMs` one call probes the server, and its success closes the circuit.
 */
export interface CircuitBreakerOptions {
  /** Consecutive retriable failures (connect errors, 429/502/503/504, UNAVAILABLE, deadlines) that open it. Default 5. */
  readonly failures?: number;
  /** Time the circuit stays open before a probe, ms. Default 5000. */
  readonly halfOpenAfterMs?: number;
}

export interface CallPolicyOptions {
  readonly timeoutMs: number;
  readonly retry: Required<RetryOptions>;
  readonly circuitBreaker: Required<CircuitBreakerOptions> | false;
  readonly maxInFlight: number;
  readonly url: string;
}

export type AttemptOutcome = 'ok' | 'retry' | 'failed' | 'circuit-open';

/** Reported after every try of a call. `attempt` is 1 for the first try. */
export type AttemptListener = (attempt: number, outcome: AttemptOutcome, durationMs: number, error: RxmlError | undefined) => void;

const retriable = (error: Error): boolean => isRxmlError(error) && error.retriable;

/** The error a call cancelled by its caller rejects with: the signal's reason when it is an `RxmlError`. */
function abortedError(signal: AbortSignal): RxmlError {
  const reason: unknown = signal.reason;
  if (isRxmlError(reason)) return reason;
  return new RxmlError('ABORTED', `the call was aborted by its caller${reason instanceof Error ? `: ${reason.message}` : ''}`, { cause: reason });
}

/**
 * Every remote call goes through this: at most `maxInFlight` calls at once (a bulkhead; more wait
 * their turn), each try under the circuit breaker and a deadline of `timeoutMs`, retriable failures
 * retried with backoff. The outcome of each try is reported to the listener.
 */
export class CallPolicy {
  private readonly bulkhead: BulkheadPolicy;
  private readonly retry: RetryPolicy;
  private readonly breaker: CircuitBreakerPolicy | undefined;
  private readonly deadline: TimeoutPolicy;

  constructor(private readonly options: CallPolicyOptions) {
    this.bulkhead = bulkhead(options.maxInFlight, Number.MAX_SAFE_INTEGER);
    this.retry = retry(handleWhen(retriable), {
      maxAttempts: options.retry.retries,
      backoff: new ExponentialBackoff({ initialDelay: options.retry.initialDelayMs, maxDelay: options.retry.maxDelayMs }),
    });
    this.breaker =
      options.circuitBreaker === false
        ? undefined
        : circuitBreaker(handleWhen(retriable), {
            halfOpenAfter: options.circuitBreaker.halfOpenAfterMs,
            breaker: new ConsecutiveBreaker(options.circuitBreaker.failures),
          });
    this.deadline = timeout(options.timeoutMs, TimeoutStrategy.Aggressive);
  }

  /**
   * Runs `fn` under the policy; rejects with the last try's `RxmlError` (code `code`). `signal`
   * (optional) cancels the call: a call waiting for a slot leaves the queue, a try in flight is
   * aborted (its `signal` fires), no retry follows, and the call rejects at once with
   * `signal.reason` when it is an `RxmlError` (else a non-retriable `ABORTED` error) — not retriable,
   * so the circuit breaker does not count it.
   */
  execute<T>(code: RxmlErrorCode, fn: (signal: AbortSignal) => Promise<T>, onAttempt?: AttemptListener, signal?: AbortSignal): Promise<T> {
    if (signal?.aborted === true) return Promise.reject(abortedError(signal));
    const work = this.bulkhead.execute(
      ({ signal: slotSignal }) =>
        this.retry.execute(async ({ attempt, signal: trySignal }) => {
          const startedAt = performance.now();
          try {
            const value = await (this.breaker === undefined ? this.once(code, fn, trySignal) : this.breaker.execute(() => this.once(code, fn, trySignal), trySignal));
            onAttempt?.(attempt + 1, 'ok', performance.now() - startedAt, undefined);
            return value;
          } catch (thrown) {
            const open = thrown instanceof BrokenCircuitError;
            const error = open ? this.circuitOpenError(code) : toRxmlError(thrown, code);
            const outcome: AttemptOutcome = open ? 'circuit-open' : error.retriable && attempt < this.options.retry.retries && !trySignal.aborted ? 'retry' : 'failed';
            onAttempt?.(attempt + 1, outcome, performance.now() - startedAt, error);
            throw error;
          }
        }, slotSignal),
      signal,
    );
    if (signal === undefined) return work;
    // Settle at once on abort, also for a call still queued for a slot (cockatiel drops it when its turn comes).
    return new Promise<T>((resolve, reject) => {
      const onAbort = (): void => reject(abortedError(signal));
      signal.addEventListener('abort', onAbort, { once: true });
      work.then(
        (value) => {
          signal.removeEventListener('abort', onAbort);
          resolve(value);
        },
        (error: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(signal.aborted ? abortedError(signal) : toRxmlError(error, code));
        },
      );
    });
  }

  /** One try under the deadline; a missed deadline is a retriable `code` error, an abort of the caller's `signal` the caller's error. */
  private async once<T>(code: RxmlErrorCode, fn: (signal: AbortSignal) => Promise<T>, signal: AbortSignal): Promise<T> {
    try {
      return await this.deadline.execute((_context, trySignal) => fn(trySignal), signal);
    } catch (thrown) {
      if (signal.aborted) throw abortedError(signal);
      if (thrown instanceof TaskCancelledError) {
        throw new RxmlError(code, `deadline exceeded: no answer from ${this.options.url} within timeoutMs (${this.options.timeoutMs} ms)`, { cause: thrown, retriable: true });
      }
      throw toRxmlError(thrown, code);
    }
  }

  private circuitOpenError(code: RxmlErrorCode): RxmlError {
    const breaker = this.options.circuitBreaker as Required<CircuitBreakerOptions>;
    const last = this.breaker?.lastFailure;
    const reason = last !== undefined && 'error' in last ? `; last failure: ${last.error.message}` : '';
    return new RxmlError(
      code,
      `circuit open: ${this.options.url} failed ${breaker.failures} times in a row, failing fast until a probe after ${breaker.halfOpenAfterMs} ms succeeds${reason}`,
      { retriable: true, ...(last !== undefined && 'error' in last ? { cause: last.error } : {}) },
    );
  }
}
