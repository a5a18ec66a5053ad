/** True for a promise or any other thenable. */
export function isThenable<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

/**
 * Calls `call` and hands its outcome to exactly one of `ok` / `fail`: a plain value or a throw at
 * once, a thenable when it settles. Unlike `Promise.resolve(call())` this adds no microtask of its
 * own, so a thenable that settles in virtual time (a model or `select` driven by RxJS's
 * `TestScheduler`) settles the stage in that same virtual frame. `ok` and `fail` must not throw;
 * if they do (an engine bug), `bug` gets the error rather than an unhandled rejection.
 */
export function whenSettled<T>(call: () => T | PromiseLike<T>, ok: (value: T) => void, fail: (error: unknown) => void, bug: (error: unknown) => void): void {
  let value: T | PromiseLike<T>;
  try {
    value = call();
  } catch (error) {
    fail(error);
    return;
  }
  if (!isThenable(value)) {
    ok(value);
    return;
  }
  let settled = false;
  const once = <A>(handler: (arg: A) => void) => (arg: A): void => {
    if (settled) return;
    settled = true;
    try {
      handler(arg);
    } catch (error) {
      bug(error);
    }
  };
  // The engine never chains on what `then` returns (a test thenable may return nothing).
  void value.then(once(ok), once(fail));
}
