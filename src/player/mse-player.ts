/**
 * The browser's player: appends verified chunks to a Media Source Extensions `SourceBuffer` and
 * measures what the viewer sees.
 *
 * - Init segment first: fetched from `<origin>/live/<stream>/init.mp4` (retried while the stream
 *   is not live). The codecs string comes from the init segment itself, read with the same fMP4
 *   parser the broadcaster uses to write the MPD's codecs: the init has to be fetched anyway, it
 *   is the authority on what the SourceBuffer will receive, and it saves fetching and parsing an
 *   XML manifest.
 * - Then chunks in seq order. A chunk is one moof+mdat and only the first of a segment starts
 *   with a keyframe, so the player starts at a segment's first chunk and, after a lost chunk,
 *   can only resume at a later segment's first chunk (appending across a gap would make the
 *   browser drop frames up to the next keyframe anyway).
 * - Seeks to live (buffered end − target latency) at start and after a stall longer than
 *   `liveJumpAfterStallMs`.
 * - Keeps the buffer trimmed: media more than `backBufferMs` behind `currentTime` is removed.
 * - QoE: startup time, stalls (`waiting` after playback started) and stalled time, the longest
 *   stall, and the latency behind live: now − capture time of the media at `currentTime`.
 */
import { every, type Clock } from '../common/clock.js';
import { DEFAULTS } from '../common/defaults.js';
import { errorMessage, InvalidStateError, MediaError, SwarmcastError } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import { Fmp4Parser } from '../broadcaster/fmp4.js';
import type { Chunk, ChunkMeta } from '../protocol/chunk.js';
import { asBufferSource } from '../crypto/hash.js';

/** Defaults of `MsePlayerOptions` that are not in DEFAULTS. */
export const MSE_PLAYER_DEFAULTS = {
  /** Media kept behind `currentTime`; older media is removed from the SourceBuffer. */
  backBufferMs: 30_000,
  /** How often the player re-checks what to append, trim or seek. */
  checkIntervalMs: 250,
  /** Pause between two tries of the init segment while the stream is not live. */
  initRetryMs: 1000,
  /** Chunks held ahead of the next one to append; the oldest are dropped beyond. */
  maxHeldChunks: 240,
} as const;

export interface MsePlayerOptions {
  /** Base URL of the origin; the init segment is `<originUrl>/live/<stream>/init.mp4`. */
  originUrl: string;
  stream: string;
  /** Latency behind live the player seeks to at start and after a long stall. @default DEFAULTS.targetLatencyMs */
  targetLatencyMs?: number;
  /** Media buffered from the start position before playback starts. @default DEFAULTS.startBufferMs */
  startBufferMs?: number;
  /** A stall longer than this seeks back to live, skipping missing chunks. @default DEFAULTS.liveJumpAfterStallMs */
  liveJumpAfterStallMs?: number;
  /** @default MSE_PLAYER_DEFAULTS.backBufferMs */
  backBufferMs?: number;
  /** @default MSE_PLAYER_DEFAULTS.checkIntervalMs */
  checkIntervalMs?: number;
  /** @default MSE_PLAYER_DEFAULTS.initRetryMs */
  initRetryMs?: number;
}

export interface MsePlayerComponents {
  video: HTMLVideoElement;
  clock: Clock;
  logger: Logger;
}

/**
 * `waiting-for-stream`: the origin has no init segment yet (the stream is not live).
 * `buffering`: the init is in, playback has not started. `failed`: see `report().error`.
 */
export type MsePlayerState =
  'new' | 'waiting-for-stream' | 'buffering' | 'playing' | 'stalled' | 'failed' | 'stopped';

/** What the viewer experienced, from `start()`. */
export interface MsePlayerReport {
  readonly state: MsePlayerState;
  /** Time from `start()` to the first frame played; null until then. */
  readonly startupMs: number | null;
  /** `waiting` events after playback started. */
  readonly stalls: number;
  /** Time stalled after playback started, a stall in progress included. */
  readonly stalledMs: number;
  /** The longest single stall so far, a stall in progress included. */
  readonly longestStallMs: number;
  /** now − capture time of the media at `currentTime`; null before playback. */
  readonly latencyMs: number | null;
  /** The video element's `currentTime`, in seconds. */
  readonly currentTimeS: number;
  /** Seconds buffered ahead of `currentTime`. */
  readonly bufferAheadS: number;
  readonly chunksAppended: number;
  /** Chunks never appended because playback resumed past them. */
  readonly chunksSkipped: number;
  /** What made the player fail, when it did. */
  readonly error: string | null;
}

/** The MediaSource constructor of this browser (Safari's ManagedMediaSource included), if any. */
export function mediaSourceClass(): typeof MediaSource | undefined {
  const scope = globalThis as {
    MediaSource?: typeof MediaSource;
    ManagedMediaSource?: typeof MediaSource;
  };
  return scope.MediaSource ?? scope.ManagedMediaSource;
}

type Timing = Pick<ChunkMeta, 'seq' | 'mediaTimeMs' | 'durationMs' | 'captureTimeMs'>;

export class MsePlayer {
  readonly #video: HTMLVideoElement;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #o: Required<MsePlayerOptions>;
  readonly #held = new Map<number, Chunk>();
  /** Timing of the chunks appended and not yet trimmed, in seq order. */
  readonly #appended: Timing[] = [];
  readonly #abort = new AbortController();
  #state: MsePlayerState = 'new';
  #error: string | null = null;
  #objectUrl: string | undefined;
  #buffer: SourceBuffer | undefined;
  /** The next seq to append; null until a start position is chosen. */
  #nextSeq: number | null = null;
  /** Seek to live once the media just appended is buffered (at start and after a jump). */
  #seekPending = false;
  #startedAt = 0;
  #startupMs: number | null = null;
  #stalls = 0;
  #stalledMs = 0;
  #longestStallMs = 0;
  #stallStartedAt: number | null = null;
  #chunksAppended = 0;
  #chunksSkipped = 0;
  #stopCheck: (() => void) | undefined;
  readonly #listeners: [string, () => void][] = [];

  constructor(components: MsePlayerComponents, options: MsePlayerOptions) {
    this.#video = components.video;
    this.#clock = components.clock;
    this.#log = components.logger;
    this.#o = {
      targetLatencyMs: DEFAULTS.targetLatencyMs,
      startBufferMs: DEFAULTS.startBufferMs,
      liveJumpAfterStallMs: DEFAULTS.liveJumpAfterStallMs,
      backBufferMs: MSE_PLAYER_DEFAULTS.backBufferMs,
      checkIntervalMs: MSE_PLAYER_DEFAULTS.checkIntervalMs,
      initRetryMs: MSE_PLAYER_DEFAULTS.initRetryMs,
      ...options,
    };
    for (const name of [
      'targetLatencyMs',
      'startBufferMs',
      'liveJumpAfterStallMs',
      'backBufferMs',
      'checkIntervalMs',
      'initRetryMs',
    ] as const) {
      const value = this.#o[name];
      if (!Number.isFinite(value) || value < 0) {
        throw new SwarmcastError('invalid-argument', `${name} must be a non-negative number`);
      }
    }
  }

  get state(): MsePlayerState {
    return this.#state;
  }

  /**
   * Fetches the init segment (retrying while the stream is not live), opens the MediaSource on
   * the video element and starts appending the chunks `add()` hands over. Resolves once the init
   * segment is appended; rejects if the player fails on the way.
   */
  async start(): Promise<void> {
    if (this.#state !== 'new') throw new InvalidStateError('player already started');
    const Source = mediaSourceClass();
    if (Source === undefined) {
      this.#fail('this browser has no Media Source Extensions');
      throw new InvalidStateError('this browser has no Media Source Extensions');
    }
    this.#startedAt = this.#clock.now();
    this.#state = 'waiting-for-stream';
    this.#listen();
    try {
      const init = await this.#fetchInit();
      const mime = mimeOf(init);
      if (!Source.isTypeSupported(mime)) throw new MediaError(`this browser cannot play ${mime}`);
      const mediaSource = new Source();
      const opened = new Promise<void>((resolve) => {
        mediaSource.addEventListener(
          'sourceopen',
          () => {
            resolve();
          },
          { once: true },
        );
      });
      this.#objectUrl = URL.createObjectURL(mediaSource);
      this.#video.src = this.#objectUrl;
      await opened;
      if (this.#isStopped()) return;
      const buffer = mediaSource.addSourceBuffer(mime);
      buffer.mode = 'segments';
      this.#buffer = buffer;
      buffer.addEventListener('updateend', () => {
        this.#pump();
      });
      buffer.addEventListener('error', () => {
        this.#fail('the SourceBuffer failed to append');
      });
      buffer.appendBuffer(asBufferSource(init));
      this.#state = 'buffering';
      this.#log.info('player ready', { mime });
      this.#stopCheck = every(this.#clock, this.#o.checkIntervalMs, () => {
        this.#check();
      });
    } catch (error) {
      if (this.#isStopped()) return;
      this.#fail(errorMessage(error));
      throw error;
    }
  }

  /** Hands over a verified chunk; it is appended when its turn comes. */
  add(chunk: Chunk): void {
    if (this.#isStopped() || this.#state === 'failed') return;
    if (this.#nextSeq !== null && chunk.seq < this.#nextSeq) return;
    this.#held.set(chunk.seq, chunk);
    if (this.#held.size > MSE_PLAYER_DEFAULTS.maxHeldChunks) {
      this.#held.delete(Math.min(...this.#held.keys()));
    }
    this.#pump();
  }

  report(): MsePlayerReport {
    const now = this.#clock.now();
    const ongoing = this.#stallStartedAt === null ? 0 : now - this.#stallStartedAt;
    const currentTime = this.#video.currentTime;
    return {
      state: this.#state,
      startupMs: this.#startupMs,
      stalls: this.#stalls,
      stalledMs: this.#stalledMs + ongoing,
      longestStallMs: Math.max(this.#longestStallMs, ongoing),
      latencyMs: this.#startupMs === null ? null : this.#latencyAt(currentTime * 1000, now),
      currentTimeS: currentTime,
      bufferAheadS: Math.max(0, (this.#bufferedEnd() ?? currentTime) - currentTime),
      chunksAppended: this.#chunksAppended,
      chunksSkipped: this.#chunksSkipped,
      error: this.#error,
    };
  }

  /** Stops playback and detaches the MediaSource from the video element. Idempotent. */
  stop(): void {
    if (this.#isStopped()) return;
    this.#end('stopped');
  }

  #isStopped(): boolean {
    return this.#state === 'stopped';
  }

  async #fetchInit(): Promise<Uint8Array> {
    const url = new URL(
      `live/${encodeURIComponent(this.#o.stream)}/init.mp4`,
      this.#o.originUrl.endsWith('/') ? this.#o.originUrl : `${this.#o.originUrl}/`,
    );
    for (;;) {
      const signal = this.#abort.signal;
      try {
        const response = await globalThis.fetch(url, { signal, cache: 'no-store' });
        if (response.ok) return new Uint8Array(await response.arrayBuffer());
        this.#log.debug('no init segment yet', { status: response.status });
      } catch (error) {
        if (signal.aborted) throw error;
        this.#log.debug('init segment fetch failed', { error: errorMessage(error) });
      }
      await new Promise<void>((resolve) => {
        this.#clock.setTimeout(resolve, this.#o.initRetryMs);
      });
      if (signal.aborted) throw new InvalidStateError('player stopped');
    }
  }

  /** Appends the next chunk if the SourceBuffer is free and the chunk is here. */
  #pump(): void {
    const buffer = this.#buffer;
    if (buffer === undefined || buffer.updating || this.#isStopped() || this.#state === 'failed') {
      return;
    }
    if (this.#nextSeq === null) {
      this.#nextSeq = this.#startPosition();
      if (this.#nextSeq === null) return;
      this.#seekPending = true;
    }
    for (const seq of this.#held.keys()) if (seq < this.#nextSeq) this.#held.delete(seq);
    const chunk = this.#held.get(this.#nextSeq);
    if (chunk === undefined) {
      this.#trim(buffer);
      return;
    }
    try {
      buffer.appendBuffer(asBufferSource(chunk.bytes));
    } catch (error) {
      if (error instanceof DOMException && error.name === 'QuotaExceededError') {
        this.#log.warn('SourceBuffer full: trimming harder');
        this.#trim(buffer, this.#o.backBufferMs / 4);
        return;
      }
      this.#fail(`append failed: ${errorMessage(error)}`);
      return;
    }
    this.#held.delete(chunk.seq);
    const { seq, mediaTimeMs, durationMs, captureTimeMs } = chunk;
    this.#appended.push({ seq, mediaTimeMs, durationMs, captureTimeMs });
    this.#chunksAppended++;
    this.#nextSeq = chunk.seq + 1;
  }

  /** Periodic work: start playback, jump to live after a long stall, skip lost chunks. */
  #check(): void {
    if (this.#isStopped() || this.#state === 'failed') return;
    const now = this.#clock.now();
    if (this.#seekPending) {
      // At start, once the start buffer is in; after a jump, as soon as media past the gap is.
      const buffered = this.#video.buffered;
      const last = buffered.length - 1;
      const neededS = this.#startupMs === null ? this.#o.startBufferMs / 1000 : 0;
      if (
        last >= 0 &&
        buffered.end(last) - buffered.start(last) >= neededS &&
        buffered.end(last) > this.#video.currentTime
      ) {
        this.#seekToLive();
      }
    }
    const stalledFor = this.#stallStartedAt === null ? 0 : now - this.#stallStartedAt;
    if (stalledFor >= this.#o.liveJumpAfterStallMs) {
      const ahead = this.#bufferedEnd();
      if (ahead !== null && ahead > this.#video.currentTime + 0.1) {
        this.#log.info('long stall: seeking back to live', { stalledMs: stalledFor });
        this.#seekToLive();
      } else if (this.#nextSeq !== null && !this.#held.has(this.#nextSeq)) {
        const resume = this.#startPosition(this.#nextSeq + 1);
        if (resume !== null) {
          this.#log.info('long stall: skipping lost chunks', { from: this.#nextSeq, to: resume });
          this.#chunksSkipped += resume - this.#nextSeq;
          this.#nextSeq = resume;
          this.#seekPending = true;
        }
      }
    }
    this.#pump();
  }

  /**
   * The newest segment start (a chunk with index 0, at or after `fromSeq`) from which at least
   * `startBufferMs` of media is held contiguously; null if there is none yet.
   */
  #startPosition(fromSeq = 0): number | null {
    let best: number | null = null;
    for (const chunk of this.#held.values()) {
      if (chunk.index !== 0 || chunk.seq < fromSeq || (best !== null && chunk.seq < best)) continue;
      if (this.#contiguousMs(chunk.seq) >= this.#o.startBufferMs) best = chunk.seq;
    }
    return best;
  }

  /** Milliseconds of media held contiguously from `seq`. */
  #contiguousMs(seq: number): number {
    let ms = 0;
    for (let s = seq; ; s++) {
      const chunk = this.#held.get(s);
      if (chunk === undefined) return ms;
      ms += chunk.durationMs;
    }
  }

  /** Seeks to (buffered end − target latency), within the buffered range at the end, and plays. */
  #seekToLive(): void {
    const buffered = this.#video.buffered;
    if (buffered.length === 0) return;
    const last = buffered.length - 1;
    const end = buffered.end(last);
    const target = Math.max(buffered.start(last), end - this.#o.targetLatencyMs / 1000);
    this.#seekPending = false;
    this.#video.currentTime = target;
    if (this.#video.paused) {
      this.#video.play().catch((error: unknown) => {
        this.#log.warn('play() refused', { error: errorMessage(error) });
      });
    }
  }

  /** Removes media more than `backMs` behind `currentTime`. */
  #trim(buffer: SourceBuffer, backMs = this.#o.backBufferMs): void {
    if (buffer.updating) return;
    const start = this.#bufferedStart();
    const until = this.#video.currentTime - backMs / 1000;
    if (start === null || until <= start) return;
    buffer.remove(start, until);
    const untilMs = until * 1000;
    while (
      (this.#appended[0]?.mediaTimeMs ?? Infinity) + (this.#appended[0]?.durationMs ?? 0) <=
      untilMs
    ) {
      this.#appended.shift();
    }
  }

  #latencyAt(timeMs: number, now: number): number | null {
    for (const t of this.#appended) {
      if (timeMs >= t.mediaTimeMs && timeMs < t.mediaTimeMs + t.durationMs) {
        return now - (t.captureTimeMs + (timeMs - t.mediaTimeMs));
      }
    }
    return null;
  }

  #bufferedStart(): number | null {
    const buffered = this.#video.buffered;
    return buffered.length === 0 ? null : buffered.start(0);
  }

  #bufferedEnd(): number | null {
    const buffered = this.#video.buffered;
    return buffered.length === 0 ? null : buffered.end(buffered.length - 1);
  }

  #listen(): void {
    const on = (event: string, listener: () => void): void => {
      this.#video.addEventListener(event, listener);
      this.#listeners.push([event, listener]);
    };
    on('playing', () => {
      const now = this.#clock.now();
      this.#startupMs ??= now - this.#startedAt;
      if (this.#stallStartedAt !== null) {
        const stall = now - this.#stallStartedAt;
        this.#stalledMs += stall;
        this.#longestStallMs = Math.max(this.#longestStallMs, stall);
        this.#stallStartedAt = null;
      }
      this.#state = 'playing';
    });
    on('waiting', () => {
      // A seek within the buffer (to live) is not a stall.
      if (this.#startupMs === null || this.#stallStartedAt !== null || this.#video.seeking) return;
      this.#stalls++;
      this.#stallStartedAt = this.#clock.now();
      this.#state = 'stalled';
    });
    on('error', () => {
      this.#fail(`video error: ${this.#video.error?.message ?? 'unknown'}`);
    });
  }

  #fail(reason: string): void {
    if (this.#state === 'failed' || this.#isStopped()) return;
    this.#log.error('player failed', { reason });
    this.#error = reason;
    this.#end('failed');
  }

  #end(state: 'failed' | 'stopped'): void {
    this.#state = state;
    this.#abort.abort();
    this.#stopCheck?.();
    this.#held.clear();
    for (const [event, listener] of this.#listeners.splice(0)) {
      this.#video.removeEventListener(event, listener);
    }
    if (state === 'stopped') {
      this.#video.pause();
      this.#video.removeAttribute('src');
      this.#video.load();
      if (this.#objectUrl !== undefined) URL.revokeObjectURL(this.#objectUrl);
    }
  }
}

/** The MIME type of what the init segment describes, e.g. `video/mp4; codecs="avc1.64001f,mp4a.40.2"`. */
function mimeOf(init: Uint8Array): string {
  const parser = new Fmp4Parser();
  const item = parser.push(init).find((i) => i.kind === 'init');
  if (item?.kind !== 'init') throw new MediaError('the init segment has no moov');
  const codecs = item.init.tracks.map((track) => track.codec).join(',');
  const kind = item.init.tracks.some((track) => track.kind === 'video') ? 'video' : 'audio';
  return `${kind}/mp4; codecs="${codecs}"`;
}
