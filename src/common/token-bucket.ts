/** What a token bucket says about one more message. */
export type Verdict = 'accept' | 'first-drop' | 'drop';

/**
 * A rate limit on the caller's clock (sans-IO: every call takes the time). `dropped` counts
 * messages refused since the bucket was last full, i.e. since the sender last paused long enough
 * to be within its rate.
 */
export class TokenBucket {
  readonly #ratePerMs: number;
  readonly #capacity: number;
  #tokens: number;
  #updatedMs: number;
  dropped = 0;

  constructor(perSecond: number, capacity: number, nowMs: number) {
    this.#ratePerMs = perSecond / 1000;
    this.#capacity = capacity;
    this.#tokens = capacity;
    this.#updatedMs = nowMs;
  }

  take(nowMs: number): Verdict {
    const elapsedMs = Math.max(0, nowMs - this.#updatedMs);
    this.#updatedMs = nowMs;
    this.#tokens = Math.min(this.#capacity, this.#tokens + elapsedMs * this.#ratePerMs);
    if (this.#tokens >= this.#capacity) this.dropped = 0;
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return 'accept';
    }
    this.dropped++;
    return this.dropped === 1 ? 'first-drop' : 'drop';
  }
}
