/**
 * The simulator's discrete-event engine: a virtual clock whose timers sit in a 4-ary heap ordered
 * by (time, insertion sequence), and a loop that runs them in that order.
 *
 * Promises: the cores await chunk verification and origin fetches, so work started at one virtual
 * instant continues in microtasks. The loop runs every timer due at an instant, then, if a
 * simulated component handed a promise to a core during that instant (`markAsync()`), yields one
 * macrotask (`setImmediate`) so that every microtask chain settles before time moves on. Measured:
 * a macrotask costs about 2.4 µs, and only instants that settled a promise pay it; yielding at
 * every instant, or awaiting a fixed number of microtask turns, is either slower or not
 * guaranteed to settle a chain of any depth.
 *
 * Determinism: nothing here reads the host's clock or `Math.random`; one seed gives one
 * `SeededRandom` per named sub-stream (`random(label)`), so adding a consumer of randomness does
 * not shift the draws of the others.
 */
import type { Clock, TimerHandle } from '../common/clock.js';
import { InvalidStateError } from '../common/errors.js';
import { SeededRandom } from '../common/random.js';

/** A cancellable timer, and its own handle: `id` is its insertion sequence. */
class Timer implements TimerHandle {
  readonly id: number;
  /** Called with `arg`; undefined once the timer fired or was cleared. */
  callback: ((arg: unknown) => void) | undefined;
  readonly arg: unknown;

  constructor(id: number, callback: (arg: unknown) => void, arg: unknown) {
    this.id = id;
    this.callback = callback;
    this.arg = arg;
  }
}

/** A heap entry's callback that runs a cancellable `Timer` (the entry's argument). */
function fireTimer(timer: unknown): void {
  const t = timer as Timer;
  const callback = t.callback;
  if (callback === undefined) return;
  t.callback = undefined;
  callback(t.arg);
}

/** Children per node of the heap: a 4-ary heap is shallower than a binary one. */
const ARITY = 4;

/**
 * A min-heap of calls `callback(arg)` by (due time, id): `id` breaks ties in insertion order.
 * The keys sit in typed arrays beside the calls, so sifting compares them without touching an
 * object, and an entry is no object of its own: the simulator's components set a timer or two per
 * message, and need no handle for most of them.
 */
class TimerHeap {
  #at = new Float64Array(1024);
  #id = new Float64Array(1024);
  readonly #callbacks: (((arg: unknown) => void) | undefined)[] = [];
  readonly #args: unknown[] = [];
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** Due time of the earliest entry, or Infinity when there is none. */
  get topAt(): number {
    return this.#size === 0 ? Infinity : (this.#at[0] ?? Infinity);
  }

  /** Callback of the earliest entry. */
  get topCallback(): ((arg: unknown) => void) | undefined {
    return this.#callbacks[0];
  }

  /** Argument of the earliest entry. */
  get topArg(): unknown {
    return this.#args[0];
  }

  push(callback: (arg: unknown) => void, arg: unknown, at: number, id: number): void {
    if (this.#size === this.#at.length) this.#grow();
    const ats = this.#at;
    const ids = this.#id;
    const callbacks = this.#callbacks;
    const args = this.#args;
    let i = this.#size++;
    while (i > 0) {
      const parent = ((i - 1) / ARITY) | 0;
      const parentAt = ats[parent] ?? 0;
      const parentId = ids[parent] ?? 0;
      if (parentAt < at || (parentAt === at && parentId < id)) break;
      ats[i] = parentAt;
      ids[i] = parentId;
      callbacks[i] = callbacks[parent];
      args[i] = args[parent];
      i = parent;
    }
    ats[i] = at;
    ids[i] = id;
    callbacks[i] = callback;
    args[i] = arg;
  }

  /** Removes the earliest entry. */
  pop(): void {
    if (this.#size === 0) return;
    const n = --this.#size;
    const ats = this.#at;
    const ids = this.#id;
    const callbacks = this.#callbacks;
    const args = this.#args;
    const lastAt = ats[n] ?? 0;
    const lastId = ids[n] ?? 0;
    const lastCallback = callbacks[n];
    const lastArg = args[n];
    callbacks[n] = undefined;
    args[n] = undefined;
    if (n === 0) return;
    let i = 0;
    for (;;) {
      const first = ARITY * i + 1;
      if (first >= n) break;
      let child = first;
      let childAt = ats[first] ?? 0;
      let childId = ids[first] ?? 0;
      const end = Math.min(first + ARITY, n);
      for (let c = first + 1; c < end; c++) {
        const cAt = ats[c] ?? 0;
        const cId = ids[c] ?? 0;
        if (cAt < childAt || (cAt === childAt && cId < childId)) {
          child = c;
          childAt = cAt;
          childId = cId;
        }
      }
      if (!(childAt < lastAt || (childAt === lastAt && childId < lastId))) break;
      ats[i] = childAt;
      ids[i] = childId;
      callbacks[i] = callbacks[child];
      args[i] = args[child];
      i = child;
    }
    ats[i] = lastAt;
    ids[i] = lastId;
    callbacks[i] = lastCallback;
    args[i] = lastArg;
  }

  #grow(): void {
    const at = new Float64Array(this.#at.length * 2);
    at.set(this.#at);
    this.#at = at;
    const id = new Float64Array(this.#id.length * 2);
    id.set(this.#id);
    this.#id = id;
  }
}

/** Virtual time in milliseconds; moved only by `SimEngine.run()`. */
export class SimClock implements Clock {
  #now: number;
  #seq = 0;
  readonly #heap = new TimerHeap();
  #pending = 0;

  constructor(startMs = 0) {
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    return this.setTimeoutWith(callback, undefined, delayMs);
  }

  /**
   * `setTimeout(() => callback(arg), delayMs)` without a closure: for the simulator's own
   * components, which set a timer or two per message.
   */
  setTimeoutWith<A>(callback: (arg: A) => void, arg: A, delayMs: number): TimerHandle {
    const timer = new Timer(++this.#seq, callback as (arg: unknown) => void, arg);
    this.#heap.push(fireTimer, timer, this.#now + Math.max(0, delayMs), timer.id);
    this.#pending++;
    return timer;
  }

  /**
   * `setTimeoutWith` that cannot be cleared: no handle (no object) is made. For the network's
   * timers, one or two per message.
   */
  schedule<A>(callback: (arg: A) => void, arg: A, delayMs: number): void {
    this.#heap.push(
      callback as (arg: unknown) => void,
      arg,
      this.#now + Math.max(0, delayMs),
      ++this.#seq,
    );
    this.#pending++;
  }

  clearTimeout(handle: TimerHandle): void {
    if (!(handle instanceof Timer) || handle.callback === undefined) return;
    // Cancelled timers stay in the heap until their time comes and are skipped then.
    handle.callback = undefined;
    this.#pending--;
  }

  /** Timers set and not yet fired or cleared. */
  get pending(): number {
    return this.#pending;
  }

  /** Time of the earliest timer in the heap (possibly cancelled), or Infinity. */
  nextAt(): number {
    return this.#heap.topAt;
  }

  /** Moves time to `ms`; only the engine calls this, never backwards. */
  moveTo(ms: number): void {
    if (ms > this.#now) this.#now = ms;
  }

  /** Runs the earliest timer if it is due at `at`; false when there is none. */
  runNextAt(at: number): boolean {
    const heap = this.#heap;
    const callback = heap.topCallback;
    if (callback === undefined || heap.topAt !== at) return false;
    const arg = heap.topArg;
    heap.pop();
    // A cleared timer is skipped: it was counted out of `pending` when cleared.
    if (callback === fireTimer && (arg as Timer).callback === undefined) return true;
    this.#pending--;
    callback(arg);
    this.events++;
    return true;
  }

  /** Timers fired so far. */
  events = 0;
}

export interface SimEngineOptions {
  /** Seed of every random draw of the run. */
  seed: number;
  /** Virtual time at which the run starts, in ms. @default 0 */
  startMs?: number;
}

/** What one call of `run()` did. */
export interface SimRunStats {
  readonly events: number;
  /** Virtual instants at which a settled promise made the loop yield a macrotask. */
  readonly drains: number;
  readonly virtualMs: number;
}

/** The event loop of one simulation run. */
export class SimEngine {
  readonly clock: SimClock;
  readonly seed: number;
  #asyncPending = false;
  #running = false;
  #drains = 0;

  constructor(options: SimEngineOptions) {
    if (!Number.isInteger(options.seed)) throw new TypeError('seed must be an integer');
    this.seed = options.seed;
    this.clock = new SimClock(options.startMs ?? 0);
  }

  /**
   * A random stream of its own for `label` (a node, the network, the source), derived from the
   * run's seed and the label only.
   */
  random(label: string): SeededRandom {
    return new SeededRandom(deriveSeed(this.seed, label));
  }

  /**
   * Tells the loop that a promise a core awaits was settled (or handed out) at this instant, so it
   * must let microtasks settle before moving time on.
   */
  markAsync(): void {
    this.#asyncPending = true;
  }

  /** Runs every timer due up to `untilMs` (inclusive), then leaves the clock at `untilMs`. */
  async run(untilMs: number): Promise<SimRunStats> {
    if (this.#running) throw new InvalidStateError('the engine is already running');
    this.#running = true;
    const clock = this.clock;
    const eventsBefore = clock.events;
    const drainsBefore = this.#drains;
    const startMs = clock.now();
    try {
      await this.#settle();
      for (;;) {
        const at = clock.nextAt();
        if (at > untilMs) break;
        clock.moveTo(at);
        while (clock.runNextAt(at)) {
          // Every timer of this instant, including those it sets for the same instant.
        }
        // Most instants settle no promise: they go on without an await.
        if (this.#asyncPending) await this.#settle();
      }
      clock.moveTo(untilMs);
    } finally {
      this.#running = false;
    }
    return {
      events: clock.events - eventsBefore,
      drains: this.#drains - drainsBefore,
      virtualMs: clock.now() - startMs,
    };
  }

  /** Yields macrotasks until no settled promise is left to run. */
  async #settle(): Promise<void> {
    while (this.#asyncPending) {
      this.#asyncPending = false;
      this.#drains++;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
}

/** A 32-bit seed from a run seed and a label (FNV-1a over the label, mixed with the seed). */
export function deriveSeed(seed: number, label: string): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < label.length; i++) {
    h = Math.imul(h ^ label.charCodeAt(i), 0x01000193) >>> 0;
  }
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 0;
  return (h ^ (h >>> 12)) >>> 0;
}
