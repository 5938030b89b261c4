/**
 * A model of a live player, driven by the caller's clock: it starts at the newest chunk it has,
 * planned to play a target latency behind its capture, starts when enough media is buffered, plays chunk after chunk in
 * real time, stalls when the chunk at the playhead is missing, and jumps back toward live after a
 * long stall. Node peers use it in place of a video element; it measures what a viewer would see.
 * Pure: every method takes the current time.
 */
import { percentileOfSorted } from '../common/stats.js';

/** What the model needs to know about a chunk. */
export interface PlayableChunk {
  readonly seq: number;
  readonly durationMs: number;
  readonly captureTimeMs: number;
}

export interface PlaybackOptions {
  /**
   * Latency behind live (capture time to play time) at which playback starts.
   * @default DEFAULTS.targetLatencyMs
   */
  targetLatencyMs: number;
  /**
   * Media that must be held, contiguous from the start position, before playback starts.
   * @default DEFAULTS.startBufferMs
   */
  startBufferMs: number;
  /** Nominal chunk duration, for positions not yet received. @default DEFAULTS.chunkDurationMs */
  chunkDurationMs: number;
  /**
   * A stall longer than this ends with a jump back to the target latency, skipping chunks.
   * @default DEFAULTS.liveJumpAfterStallMs
   */
  liveJumpAfterStallMs: number;
}

export type PlaybackState = 'idle' | 'buffering' | 'playing' | 'stalled';

/** What a viewer experienced, from the model's creation. */
export interface PlaybackReport {
  readonly state: PlaybackState;
  /** Time from creation to the first chunk played; null until then. */
  readonly startupMs: number | null;
  /** Stalls after startup (the playhead reached a chunk that was not there). */
  readonly stalls: number;
  /**
   * Total time stalled after startup, including a stall still in progress and the rebuffering
   * after a jump back to live.
   */
  readonly stalledMs: number;
  readonly chunksPlayed: number;
  /** Chunks the playhead skipped after a long stall: never played. */
  readonly chunksSkipped: number;
  /** Capture-to-play latency of the chunks played. */
  readonly latencyP50Ms: number | null;
  readonly latencyP95Ms: number | null;
  /** Latency of the chunk playing now. */
  readonly latencyMs: number | null;
  /** Seq of the chunk at the playhead; null before the start position is chosen. */
  readonly playheadSeq: number | null;
}

export class PlaybackModel {
  readonly #options: PlaybackOptions;
  readonly #createdAt: number;
  readonly #available = new Map<number, PlayableChunk>();
  /** `#forgetBefore` forgot every seq below this, but those added since (`#lateAdded`). */
  #forgottenBefore = 0;
  #lateAdded = false;
  #state: PlaybackState = 'idle';
  /** Seq at the playhead: the chunk playing, or the one awaited when buffering or stalled. */
  #seq = 0;
  /** When buffering: the time playback is planned to begin. When playing: when #seq began. */
  #at = 0;
  /** When playing: the duration of the chunk at #seq. */
  #playingMs = 0;
  /** When buffering: the time the start buffer became complete, if it has. */
  #readyAt: number | null = null;
  #startupMs: number | null = null;
  #stalls = 0;
  #stalledMs = 0;
  /** Start of the stall in progress (through a jump's rebuffering); null when none. */
  #stallStartedAt: number | null = null;
  #played = 0;
  #skipped = 0;
  #latencyMs: number | null = null;
  /** Latencies of the chunks played, kept sorted so that each report's percentiles cost O(1). */
  readonly #latencies: number[] = [];
  /** See `epoch`. */
  #epoch = 0;
  /**
   * `nextChangeAt` while playing: the first seq after the playhead not held when it last looked,
   * and when the chunks before it end. Valid while past the playhead; reset where `epoch` changes.
   */
  #runOutSeq = -1;
  #runOutAt = 0;
  /** The latest time `tick` was called with. */
  #advancedTo = -Infinity;

  constructor(options: PlaybackOptions, nowMs: number) {
    this.#options = options;
    this.#createdAt = nowMs;
  }

  get state(): PlaybackState {
    return this.#state;
  }

  /**
   * Changes whenever `dueTime` of some chunk may have come earlier than it was: a start position
   * chosen (the first, or a jump back to live), playback beginning after buffering or a stall,
   * or a chunk shorter than the nominal duration beginning. Otherwise a chunk's due time never
   * decreases as time passes: it is fixed while playing and moves with the clock while stalled.
   * A caller that planned with `dueTime` re-plans when it changed.
   */
  get epoch(): number {
    return this.#epoch;
  }

  /** The seq at the playhead, or null before a start position is chosen. */
  get playheadSeq(): number | null {
    return this.#state === 'idle' ? null : this.#seq;
  }

  /** Records that a chunk is available (verified and stored), then advances. */
  add(chunk: PlayableChunk, nowMs: number): void {
    this.#available.set(chunk.seq, chunk);
    if (chunk.seq < this.#forgottenBefore) this.#lateAdded = true;
    if (this.#state === 'playing' && chunk.seq === this.#seq) {
      if (chunk.durationMs < this.#playingMs) this.#epoch++;
      this.#playingMs = chunk.durationMs;
      this.#runOutSeq = -1;
    }
    if (this.#state === 'idle') this.#chooseStart();
    this.tick(nowMs);
  }

  /**
   * Forgets chunks the playhead has passed (the caller keeps its own store): the seqs from the
   * last point forgotten to `seq`, or, if that is more than the chunks held or a chunk came from
   * before that point since, every seq held below `seq`.
   */
  #forgetBefore(seq: number): void {
    const from = this.#forgottenBefore;
    if (!this.#lateAdded && seq - from <= this.#available.size) {
      for (let s = from; s < seq; s++) this.#available.delete(s);
      this.#forgottenBefore = Math.max(from, seq);
      return;
    }
    for (const key of this.#available.keys()) if (key < seq) this.#available.delete(key);
    this.#forgottenBefore = seq;
    this.#lateAdded = false;
  }

  /**
   * The time the chunk `seq` is needed by, given the state now; null when it is behind the
   * playhead or no start position is chosen yet. While buffering, every chunk of the start buffer
   * is needed by the start (playback waits for all of them), later ones when they play.
   */
  dueTime(seq: number, nowMs: number): number | null {
    if (this.#state === 'idle' || seq < this.#seq) return null;
    const { chunkDurationMs, startBufferMs } = this.#options;
    const ahead = (seq - this.#seq) * chunkDurationMs;
    switch (this.#state) {
      case 'buffering':
        return Math.max(this.#at, nowMs) + (ahead < startBufferMs ? 0 : ahead);
      case 'playing':
        return seq === this.#seq
          ? this.#at
          : this.#at + this.#playingMs + ahead - this.#options.chunkDurationMs;
      case 'stalled':
        return nowMs + ahead;
    }
  }

  /**
   * The time `tick()` must be called at, at the latest, to keep the model as exact as if it were
   * called all the time: until then every change it makes happens at a time it computes (a held
   * chunk begins as the one before it ends), whenever it is called. Playing: when the chunks held
   * from the playhead on run out (a stall begins); buffering with the start buffer held: the
   * planned start; stalled: the jump back to live. Infinity when only `add` changes it.
   */
  nextChangeAt(): number {
    switch (this.#state) {
      case 'idle':
        return Infinity;
      case 'buffering':
        return this.#readyAt === null ? Infinity : this.#at;
      case 'stalled':
        return (this.#stallStartedAt ?? Infinity) + this.#options.liveJumpAfterStallMs;
      case 'playing': {
        // From where the last call stopped, if the playhead only moved on seamlessly since: the
        // end of each chunk is the same sum of durations whichever chunk plays.
        let seq = this.#seq + 1;
        let endsAt = this.#at + this.#playingMs;
        if (this.#runOutSeq > this.#seq) {
          seq = this.#runOutSeq;
          endsAt = this.#runOutAt;
        }
        for (let chunk = this.#available.get(seq); chunk !== undefined;) {
          endsAt += chunk.durationMs;
          chunk = this.#available.get(++seq);
        }
        this.#runOutSeq = seq;
        this.#runOutAt = endsAt;
        return endsAt;
      }
    }
  }

  /** Advances the playhead to `nowMs` (a time before the last it was advanced to changes nothing). */
  tick(nowMs: number): void {
    if (nowMs < this.#advancedTo) return;
    this.#advancedTo = nowMs;
    for (;;) {
      if (this.#state === 'buffering') {
        if (this.#readyAt === null && this.#bufferedFrom(this.#seq)) this.#readyAt = nowMs;
        if (this.#readyAt === null || nowMs < this.#at) return;
        const startAt = Math.max(this.#at, this.#readyAt);
        this.#startupMs ??= startAt - this.#createdAt;
        this.#begin(this.#seq, startAt);
        continue;
      }
      if (this.#state === 'playing') {
        const endsAt = this.#at + this.#playingMs;
        if (nowMs < endsAt) return;
        const next = this.#seq + 1;
        if (this.#available.has(next)) {
          this.#begin(next, endsAt);
        } else {
          this.#state = 'stalled';
          this.#seq = next;
          this.#stallStartedAt = endsAt;
          this.#stalls++;
        }
        continue;
      }
      if (this.#state === 'stalled') {
        if (this.#available.has(this.#seq)) {
          this.#begin(this.#seq, nowMs);
          continue;
        }
        if (nowMs - (this.#stallStartedAt ?? nowMs) >= this.#options.liveJumpAfterStallMs) {
          const from = this.#seq;
          this.#chooseStart();
          this.#skipped += Math.max(0, this.#seq - from);
          continue;
        }
      }
      return;
    }
  }

  report(nowMs: number): PlaybackReport {
    const ongoing = this.#stallStartedAt === null ? 0 : nowMs - this.#stallStartedAt;
    return {
      state: this.#state,
      startupMs: this.#startupMs,
      stalls: this.#stalls,
      stalledMs: this.#stalledMs + ongoing,
      chunksPlayed: this.#played,
      chunksSkipped: this.#skipped,
      latencyP50Ms: this.#latencies.length === 0 ? null : percentileOfSorted(this.#latencies, 50),
      latencyP95Ms: this.#latencies.length === 0 ? null : percentileOfSorted(this.#latencies, 95),
      latencyMs: this.#latencyMs,
      playheadSeq: this.playheadSeq,
    };
  }

  #begin(seq: number, at: number): void {
    const chunk = this.#available.get(seq);
    if (chunk === undefined) return;
    if (this.#state !== 'playing' || chunk.durationMs < this.#options.chunkDurationMs) {
      this.#epoch++;
      this.#runOutSeq = -1;
    }
    if (this.#stallStartedAt !== null) {
      this.#stalledMs += at - this.#stallStartedAt;
      this.#stallStartedAt = null;
    }
    this.#state = 'playing';
    this.#seq = seq;
    this.#at = at;
    this.#playingMs = chunk.durationMs;
    this.#played++;
    this.#latencyMs = at - chunk.captureTimeMs;
    insertSorted(this.#latencies, this.#latencyMs);
    this.#forgetBefore(seq);
  }

  /**
   * Picks the start position: the newest chunk known, planned to begin exactly `targetLatencyMs`
   * after its capture. Older chunks are not fetched to start sooner: every viewer that joins
   * would otherwise pull seconds of stream at once from its neighbours or the origin, and a
   * swarm that fills up (or a wave of newcomers under churn) would saturate both.
   */
  #chooseStart(): void {
    let newest: PlayableChunk | undefined;
    for (const chunk of this.#available.values()) {
      if (newest === undefined || chunk.seq > newest.seq) newest = chunk;
    }
    if (newest === undefined) return;
    this.#epoch++;
    this.#runOutSeq = -1;
    this.#seq = newest.seq;
    this.#state = 'buffering';
    this.#readyAt = null;
    this.#at = newest.captureTimeMs + this.#options.targetLatencyMs;
  }

  #bufferedFrom(seq: number): boolean {
    let bufferedMs = 0;
    for (let s = seq; bufferedMs < this.#options.startBufferMs; s++) {
      const chunk = this.#available.get(s);
      if (chunk === undefined) return false;
      bufferedMs += chunk.durationMs;
    }
    return true;
  }
}

/** Inserts `value` into the ascending array `sorted`, after any equal values. */
function insertSorted(sorted: number[], value: number): void {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if ((sorted[mid] ?? value) <= value) low = mid + 1;
    else high = mid;
  }
  // By hand: `splice` allocates the array of what it removed, once per chunk played.
  sorted.push(value);
  for (let i = sorted.length - 1; i > low; i--) sorted[i] = sorted[i - 1] ?? value;
  sorted[low] = value;
}
