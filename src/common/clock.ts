/** A handle for a pending timer; opaque to callers. */
export interface TimerHandle {
  readonly id: number;
}

/**
 * Time, injected into every core (DESIGN.md: cores are sans-IO). `now()` is wall-clock
 * milliseconds since the Unix epoch in real runs and virtual milliseconds in the simulator, so
 * latency "capture time to play time" is comparable across processes.
 */
export interface Clock {
  now(): number;
  setTimeout(callback: () => void, delayMs: number): TimerHandle;
  /**
   * Calls `callback` when the clock reads `atMs` (at once if that has passed): exactly then on a
   * clock that moves in steps, where `now() + (atMs - now())` may miss `atMs` by a rounding.
   */
  setTimeoutAt(callback: () => void, atMs: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/** The real clock: `Date.now()` and the host's timers (Node and browsers). */
export class SystemClock implements Clock {
  #nextId = 1;
  readonly #timers = new Map<number, ReturnType<typeof globalThis.setTimeout>>();

  now(): number {
    return Date.now();
  }

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    const id = this.#nextId++;
    const timer = globalThis.setTimeout(
      () => {
        this.#timers.delete(id);
        callback();
      },
      Math.max(0, delayMs),
    );
    this.#timers.set(id, timer);
    return { id };
  }

  setTimeoutAt(callback: () => void, atMs: number): TimerHandle {
    return this.setTimeout(callback, atMs - this.now());
  }

  clearTimeout(handle: TimerHandle): void {
    const timer = this.#timers.get(handle.id);
    if (timer !== undefined) {
      globalThis.clearTimeout(timer);
      this.#timers.delete(handle.id);
    }
  }
}

/**
 * A clock moved by hand, for unit tests and the simulator: timers fire in time order when
 * `advance()` passes them; ties fire in the order they were set.
 */
export class ManualClock implements Clock {
  #now: number;
  #nextId = 1;
  readonly #timers = new Map<number, { at: number; callback: () => void }>();

  constructor(startMs = 0) {
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    return this.setTimeoutAt(callback, this.#now + Math.max(0, delayMs));
  }

  setTimeoutAt(callback: () => void, atMs: number): TimerHandle {
    const id = this.#nextId++;
    this.#timers.set(id, { at: Math.max(this.#now, atMs), callback });
    return { id };
  }

  clearTimeout(handle: TimerHandle): void {
    this.#timers.delete(handle.id);
  }

  /** Moves time forward by `ms`, firing every timer due on the way. */
  advance(ms: number): void {
    const end = this.#now + ms;
    for (;;) {
      let nextId: number | undefined;
      let nextAt = Infinity;
      for (const [id, timer] of this.#timers) {
        if (timer.at < nextAt || (timer.at === nextAt && nextId !== undefined && id < nextId)) {
          nextAt = timer.at;
          nextId = id;
        }
      }
      if (nextId === undefined || nextAt > end) break;
      const timer = this.#timers.get(nextId);
      this.#timers.delete(nextId);
      this.#now = nextAt;
      timer?.callback();
    }
    this.#now = end;
  }
}

/** Calls `callback` every `periodMs` on `clock` until the returned function is called. */
export function every(clock: Clock, periodMs: number, callback: () => void): () => void {
  let handle: TimerHandle | undefined;
  let stopped = false;
  const tick = (): void => {
    if (stopped) return;
    handle = clock.setTimeout(tick, periodMs);
    callback();
  };
  handle = clock.setTimeout(tick, periodMs);
  return () => {
    stopped = true;
    if (handle !== undefined) clock.clearTimeout(handle);
  };
}
