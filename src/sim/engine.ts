/**
 * The simulator's discrete-event engine: a virtual clock whose timers sit in a 4-ary heap ordered
 * by (time, insertion sequence), and a loop that runs them in that order.
 *
 * Promises: the cores await origin fetches and credential checks, so work started at one virtual
 * instant continues in microtasks. The loop runs every timer due at an instant, then, if a
 * simulated component handed a promise to a core during that instant (`markAsync()`), waits until
 * every microtask chain has settled before time moves on. It waits on `process.nextTick`: Node runs
 * a tick queued from a microtask only once the microtask queue is empty, chains of any depth
 * included (`processTicksAndRejections` drains the microtasks, then the ticks queued meanwhile),
 * and this costs far less than a macrotask (`setImmediate`: a turn of the event loop and a poll).
 * The loop always queues it from a microtask (it runs after an `await`), and yields a macrotask
 * every `DRAINS_PER_MACROTASK` drains, and between instants every `YIELD_EVERY_MS` of host time,
 * so that the host's timers and I/O are not starved. Only instants that settled a promise wait
 * for microtasks; yielding at every instant, or awaiting a fixed number of microtask turns, is
 * either slower or not guaranteed to settle a chain of any depth.
 *
 * Determinism: nothing here reads `Math.random`, and the host's clock only decides when the loop
 * yields to the host, which changes nothing simulated; one seed gives one `SeededRandom` per named
 * sub-stream (`random(label)`), so adding a consumer of randomness does not shift the draws of
 * the others.
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
 * The keys sit in a typed array beside the calls, so sifting compares them without touching an
 * object, and an entry is no object of its own: the simulator's components set a timer or two per
 * message, and need no handle for most of them. Each entry's time and id are side by side, and so
 * are its callback and argument: a level of the heap costs one cache line of each array, not two.
 */
class TimerHeap {
  /** Entry `i`'s due time at `2i`, its id at `2i + 1`. */
  #keys = new Float64Array(2048);
  /** Entry `i`'s callback at `2i`, its argument at `2i + 1`. */
  readonly #calls: unknown[] = [];
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** Due time of the earliest entry, or Infinity when there is none. */
  get topAt(): number {
    return this.#size === 0 ? Infinity : (this.#keys[0] ?? Infinity);
  }

  /**
   * Whether the earliest entry is due at `at`: a boolean, where comparing `topAt` would box the
   * time it returns (a number the caller only compares), once per event.
   */
  topIsAt(at: number): boolean {
    return this.#size > 0 && this.#keys[0] === at;
  }

  /** Callback of the earliest entry. */
  get topCallback(): ((arg: unknown) => void) | undefined {
    return this.#calls[0] as ((arg: unknown) => void) | undefined;
  }

  /** Argument of the earliest entry. */
  get topArg(): unknown {
    return this.#calls[1];
  }

  push(callback: (arg: unknown) => void, arg: unknown, at: number, id: number): void {
    if (2 * this.#size === this.#keys.length) this.#grow();
    const keys = this.#keys;
    const calls = this.#calls;
    let i = this.#size++;
    while (i > 0) {
      const parent = ((i - 1) / ARITY) | 0;
      const parentAt = keys[2 * parent] ?? 0;
      const parentId = keys[2 * parent + 1] ?? 0;
      if (parentAt < at || (parentAt === at && parentId < id)) break;
      keys[2 * i] = parentAt;
      keys[2 * i + 1] = parentId;
      calls[2 * i] = calls[2 * parent];
      calls[2 * i + 1] = calls[2 * parent + 1];
      i = parent;
    }
    keys[2 * i] = at;
    keys[2 * i + 1] = id;
    calls[2 * i] = callback;
    calls[2 * i + 1] = arg;
  }

  /** Removes the earliest entry. */
  pop(): void {
    if (this.#size === 0) return;
    const n = --this.#size;
    const keys = this.#keys;
    const calls = this.#calls;
    const lastAt = keys[2 * n] ?? 0;
    const lastId = keys[2 * n + 1] ?? 0;
    const lastCallback = calls[2 * n];
    const lastArg = calls[2 * n + 1];
    calls[2 * n] = undefined;
    calls[2 * n + 1] = undefined;
    if (n === 0) return;
    let i = 0;
    for (;;) {
      const first = ARITY * i + 1;
      if (first >= n) break;
      let child = first;
      let childAt = keys[2 * first] ?? 0;
      let childId = keys[2 * first + 1] ?? 0;
      const end = Math.min(first + ARITY, n);
      for (let c = first + 1; c < end; c++) {
        const cAt = keys[2 * c] ?? 0;
        const cId = keys[2 * c + 1] ?? 0;
        if (cAt < childAt || (cAt === childAt && cId < childId)) {
          child = c;
          childAt = cAt;
          childId = cId;
        }
      }
      if (!(childAt < lastAt || (childAt === lastAt && childId < lastId))) break;
      keys[2 * i] = childAt;
      keys[2 * i + 1] = childId;
      calls[2 * i] = calls[2 * child];
      calls[2 * i + 1] = calls[2 * child + 1];
      i = child;
    }
    keys[2 * i] = lastAt;
    keys[2 * i + 1] = lastId;
    calls[2 * i] = lastCallback;
    calls[2 * i + 1] = lastArg;
  }

  #grow(): void {
    const keys = new Float64Array(this.#keys.length * 2);
    keys.set(this.#keys);
    this.#keys = keys;
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
    return this.#timerAt(callback, arg, this.#now + Math.max(0, delayMs));
  }

  setTimeoutAt(callback: () => void, atMs: number): TimerHandle {
    return this.#timerAt(callback, undefined, Math.max(this.#now, atMs));
  }

  #timerAt<A>(callback: (arg: A) => void, arg: A, atMs: number): TimerHandle {
    const timer = new Timer(++this.#seq, callback as (arg: unknown) => void, arg);
    this.#heap.push(fireTimer, timer, atMs, timer.id);
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

  /** Moves time to `ms`; only the engine calls this, never backwards. */
  moveTo(ms: number): void {
    if (ms > this.#now) this.#now = ms;
  }

  /**
   * Moves time to the earliest timer's and runs every timer due then, including those they set
   * for the same instant; false, doing nothing, if there is none by `untilMs`. One call per
   * instant: the time stays unboxed here (a getter returning it allocated a number per instant).
   */
  runNextInstant(untilMs: number): boolean {
    const heap = this.#heap;
    const at = heap.topAt;
    if (at > untilMs) return false;
    this.moveTo(at);
    for (;;) {
      const callback = heap.topCallback;
      if (callback === undefined || !heap.topIsAt(at)) return true;
      const arg = heap.topArg;
      heap.pop();
      // A cleared timer is skipped: it was counted out of `pending` when cleared.
      if (callback === fireTimer && (arg as Timer).callback === undefined) continue;
      this.#pending--;
      callback(arg);
      this.events++;
    }
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
  /** Virtual instants at which a settled promise made the loop wait for microtasks to settle. */
  readonly drains: number;
  readonly virtualMs: number;
}

/** Drains settled on ticks in a row before one yields a macrotask to the host (see the header). */
const DRAINS_PER_MACROTASK = 64;
/**
 * However few promises settle (most instants settle none), the loop looks at the host's clock
 * every `EVENTS_PER_YIELD_CHECK` events, between instants, and yields a macrotask once
 * `YIELD_EVERY_MS` have passed since the last: a run inside a server (the monitor's lab) never
 * holds its event loop for long, and a long run pays about a hundred yields a second.
 */
const EVENTS_PER_YIELD_CHECK = 1000;
const YIELD_EVERY_MS = 10;

/** The event loop of one simulation run. */
export class SimEngine {
  readonly clock: SimClock;
  readonly seed: number;
  #asyncPending = false;
  #running = false;
  #drains = 0;
  /** `clock.events` when the loop last looked at the host's clock, and that clock's time then. */
  #checkedAtEvents = 0;
  #yieldedAtMs = 0;

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
      // What the caller started settles first. This wait may be asked from outside a microtask:
      // it yields a macrotask if a promise was marked.
      await (this.#asyncPending ? this.#drain(false) : undefined);
      for (;;) {
        // After an await, this runs in a microtask: a tick it queues waits for every microtask.
        while (this.#asyncPending) await this.#drain(true);
        if (clock.events - this.#checkedAtEvents >= EVENTS_PER_YIELD_CHECK) {
          this.#checkedAtEvents = clock.events;
          if (performance.now() - this.#yieldedAtMs >= YIELD_EVERY_MS) {
            await new Promise<void>((resolve) => setImmediate(resolve));
            this.#yieldedAtMs = performance.now();
          }
        }
        if (!clock.runNextInstant(untilMs)) break;
        // Most instants settle no promise: they go on without an await (the loop above).
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

  /**
   * Counts a drain and resolves once every microtask queued so far, and every one those queue, has
   * run. `fromMicrotask`: the caller runs in a microtask, so a tick it queues runs only then.
   */
  #drain(fromMicrotask: boolean): Promise<void> {
    this.#asyncPending = false;
    this.#drains++;
    return new Promise<void>((resolve) => {
      if (fromMicrotask && this.#drains % DRAINS_PER_MACROTASK !== 0) process.nextTick(resolve);
      else setImmediate(resolve);
    });
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
