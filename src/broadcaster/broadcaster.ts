/**
 * The broadcaster: runs ffmpeg on a source, parses the fragmented MP4 it writes to stdout, cuts
 * it into chunks (one moof+mdat each) grouped into segments (one GOP each), and signs every chunk.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { every, type Clock, type TimerHandle } from '../common/clock.js';
import { InvalidStateError, SwarmcastError, errorMessage } from '../common/errors.js';
import { Emitter } from '../common/events.js';
import type { Logger } from '../common/logger.js';
import { ed25519Sealer, type ChunkSealer, type UnsignedChunk } from '../crypto/chunk-signing.js';
import { publicKeyToBase64Url, type SigningKeyPair } from '../crypto/keys.js';
import { STREAM_ID_PATTERN, type Chunk } from '../protocol/chunk.js';
import type { InitSegment } from '../protocol/media.js';
import { buildFfmpegArgs, findFfmpeg, type EncodingOptions, type FfmpegInfo } from './ffmpeg.js';
import { Fmp4Parser, type FragmentItem } from './fmp4.js';

/** Default of `BroadcasterOptions.startupTimeoutMs`. */
export const DEFAULT_STARTUP_TIMEOUT_MS = 15_000;
/** Default of `BroadcasterOptions.stallTimeoutMs`. */
export const DEFAULT_STALL_TIMEOUT_MS = 10_000;
/** After SIGTERM, ffmpeg gets this long to exit before SIGKILL. */
export const KILL_GRACE_MS = 2000;
/** Lines of ffmpeg's stderr kept for error messages. */
export const STDERR_TAIL_LINES = 10;
/** How often the startup and stall timeouts are checked. */
const WATCHDOG_PERIOD_MS = 250;
/** Longest stderr line kept (ffmpeg's lines are short; anything longer is cut). */
const MAX_STDERR_LINE_CHARS = 1000;

export interface BroadcasterComponents {
  readonly logger: Logger;
  readonly clock: Clock;
}

export interface BroadcasterOptions extends Partial<EncodingOptions> {
  /** Stream id (`STREAM_ID_PATTERN`); part of every chunk signature. */
  readonly stream: string;
  /**
   * `'synthetic'` (test pattern and tone), a file path (looped forever), or an ffmpeg input URL
   * (`srt://…`, `rtmp://…`).
   */
  readonly source: string;
  /** The broadcaster's Ed25519 key pair; viewers verify chunks with its public key. */
  readonly keys: SigningKeyPair;
  /**
   * How each chunk is authenticated: `hmacSealer(streamKey)` for an `hmac-sha256` stream.
   * @default an Ed25519 signature with `keys` (`ed25519Sealer`)
   */
  readonly seal?: ChunkSealer;
  /** ffmpeg binary to run; found on the PATH, else from `@ffmpeg-installer/ffmpeg`, when absent. */
  readonly ffmpegPath?: string;
  /** Rendition number put in every chunk (0-255). @default 0 */
  readonly rendition?: number;
  /** ffmpeg must produce its first chunk within this time. @default 15000 */
  readonly startupTimeoutMs?: number;
  /** Once running, ffmpeg must write something at least this often. @default 10000 */
  readonly stallTimeoutMs?: number;
}

export type BroadcasterEndReason = 'stopped' | 'error' | 'source-ended';

export interface BroadcasterEvents {
  /** The init segment; fires once, before the first chunk. */
  init: { readonly init: InitSegment };
  /** A signed chunk; chunks fire in `seq` order. */
  chunk: { readonly chunk: Chunk };
  /**
   * ffmpeg failed (code `ffmpeg-failed`, with the tail of its stderr) or wrote something the
   * parser refused (`malformed-media`). Fires at most once; the broadcaster then stops ffmpeg.
   */
  error: { readonly error: SwarmcastError };
  /** ffmpeg has exited and every chunk has been emitted. Fires once, last. */
  end: { readonly reason: BroadcasterEndReason };
}

export interface BroadcasterStats {
  /** Chunks emitted. */
  readonly chunks: number;
  /** Bytes of the chunks emitted. */
  readonly bytes: number;
  /** Segments begun by the chunks emitted. */
  readonly segments: number;
}

type State = 'idle' | 'starting' | 'running' | 'stopped';

/**
 * Runs ffmpeg and turns its output into signed chunks. `seq` counts chunks from 0; a fragment
 * that starts with a keyframe begins a new segment (`segment` from 0, `index` from 0 within it).
 *
 * `captureTimeMs` is the wall time (`clock.now()`) at which the chunk's first frame was captured,
 * estimated as an anchor fixed at the first chunk (its arrival time minus its duration minus its
 * media time) plus the chunk's media time. The estimate takes the first chunk's last frame as
 * captured the moment the chunk arrived, so latencies measured from `captureTimeMs` exclude only
 * the encoder's own delay (encoding, muxing, the pipe; small with x264's zerolatency tuning).
 */
export class Broadcaster {
  /** The broadcaster's public key, base64url (what viewers use to verify chunks). */
  readonly publicKey: string;

  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #events: Emitter<BroadcasterEvents>;
  readonly #options: BroadcasterOptions;
  readonly #seal: ChunkSealer;
  readonly #args: string[];
  readonly #rendition: number;
  readonly #startupTimeoutMs: number;
  readonly #stallTimeoutMs: number;

  #state: State = 'idle';
  #child: ChildProcess | undefined;
  readonly #parser = new Fmp4Parser();
  #stopping = false;
  #failed = false;
  #startedAt = 0;
  #lastDataAt = 0;
  #stopWatchdog: (() => void) | undefined;
  #killTimer: TimerHandle | undefined;
  readonly #stderrTail: string[] = [];
  #stderrPartial = '';

  #nextSeq = 0;
  #segment = -1;
  #index = 0;
  /** `clock.now()` of media time 0, fixed by the first chunk. */
  #captureAnchorMs: number | undefined;
  /** Emissions in order: signing is asynchronous, chunks must not overtake each other. */
  #queue: Promise<void> = Promise.resolve();
  #stats: BroadcasterStats = { chunks: 0, bytes: 0, segments: 0 };
  readonly #ended: Promise<void>;
  #resolveEnded: () => void = () => undefined;

  constructor(components: BroadcasterComponents, options: BroadcasterOptions) {
    if (!STREAM_ID_PATTERN.test(options.stream)) {
      throw new TypeError(
        `stream id '${options.stream}' does not match ${STREAM_ID_PATTERN.source}`,
      );
    }
    if (options.source === '') throw new TypeError('source must not be empty');
    this.#rendition = options.rendition ?? 0;
    if (!Number.isInteger(this.#rendition) || this.#rendition < 0 || this.#rendition > 255) {
      throw new TypeError(`rendition must be an integer 0-255, got ${this.#rendition}`);
    }
    this.#startupTimeoutMs = positive(
      'startupTimeoutMs',
      options.startupTimeoutMs,
      DEFAULT_STARTUP_TIMEOUT_MS,
    );
    this.#stallTimeoutMs = positive(
      'stallTimeoutMs',
      options.stallTimeoutMs,
      DEFAULT_STALL_TIMEOUT_MS,
    );
    this.#args = buildFfmpegArgs(options);
    this.#logger = components.logger;
    this.#clock = components.clock;
    this.#events = new Emitter(components.logger);
    this.#options = options;
    this.#seal = options.seal ?? ed25519Sealer(options.keys.privateKey);
    this.publicKey = publicKeyToBase64Url(options.keys);
    this.#ended = new Promise((resolve) => {
      this.#resolveEnded = resolve;
    });
  }

  on<K extends keyof BroadcasterEvents>(
    event: K,
    listener: (payload: BroadcasterEvents[K]) => void,
  ): () => void {
    return this.#events.on(event, listener);
  }

  get stats(): BroadcasterStats {
    return this.#stats;
  }

  /** PID of the running ffmpeg, if any. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /**
   * Finds and spawns ffmpeg. Resolves once it runs; failures after that (bad input, ffmpeg
   * exiting, no output in time) arrive as one `error` event. Rejects if no ffmpeg can run.
   */
  async start(): Promise<{ ffmpeg: FfmpegInfo }> {
    if (this.#state !== 'idle') {
      throw new InvalidStateError(`Broadcaster.start() when ${this.#state}`);
    }
    this.#state = 'starting';
    let ffmpeg: FfmpegInfo;
    try {
      ffmpeg = await findFfmpeg(this.#options.ffmpegPath);
    } catch (error) {
      this.#finish();
      throw error;
    }
    if (this.#stopping) {
      this.#finish();
      throw new InvalidStateError('Broadcaster.stop() was called during start()');
    }
    // ffmpeg gets a process group of its own, so a Ctrl-C in the terminal reaches our process
    // (which stops it) and not ffmpeg directly; if we die, its stdout pipe breaks and it exits.
    const child = spawn(ffmpeg.path, this.#args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    this.#child = child;
    this.#state = 'running';
    this.#startedAt = this.#clock.now();
    this.#lastDataAt = this.#startedAt;
    child.stdout.on('data', (data: Buffer) => {
      this.#onData(data);
    });
    child.stderr.on('data', (data: Buffer) => {
      this.#onStderr(data.toString('utf8'));
    });
    child.on('error', (error) => {
      this.#fail(
        new SwarmcastError('ffmpeg-failed', `ffmpeg could not run: ${error.message}`, {
          cause: error,
        }),
      );
      // A process that never spawned has no 'close' to wait for.
      if (child.pid === undefined) this.#finish();
    });
    child.on('close', (code, signal) => {
      this.#onClose(code, signal);
    });
    this.#stopWatchdog = every(this.#clock, WATCHDOG_PERIOD_MS, () => {
      this.#watchdog();
    });
    this.#logger.info('ffmpeg started', {
      path: ffmpeg.path,
      version: ffmpeg.version,
      pid: child.pid,
      source: this.#options.source,
    });
    return { ffmpeg };
  }

  /**
   * Stops ffmpeg (SIGTERM, then SIGKILL after `KILL_GRACE_MS`) and resolves once it has exited
   * and `end` has fired. Idempotent.
   */
  async stop(): Promise<void> {
    this.#stopping = true;
    if (this.#state === 'idle') this.#finish();
    this.#terminate();
    await this.#ended;
  }

  #onData(data: Buffer): void {
    this.#lastDataAt = this.#clock.now();
    if (this.#failed) return;
    let items;
    try {
      items = this.#parser.push(data);
    } catch (error) {
      this.#fail(asSwarmcastError(error));
      return;
    }
    for (const item of items) {
      if (item.kind === 'init') {
        const init = item.init;
        this.#logger.info('init segment', { tracks: init.tracks.map((t) => t.codec).join(',') });
        this.#enqueue(() => {
          this.#events.emit('init', { init });
        });
      } else {
        this.#cut(item);
      }
    }
  }

  #cut(fragment: FragmentItem): void {
    if (this.#failed) return;
    if (fragment.startsWithKeyframe) {
      this.#segment++;
      this.#index = 0;
    } else if (this.#nextSeq === 0) {
      this.#fail(
        new SwarmcastError('malformed-media', 'the first fragment does not start with a keyframe'),
      );
      return;
    } else {
      this.#index++;
    }
    const now = this.#clock.now();
    this.#captureAnchorMs ??= now - fragment.durationMs - fragment.startTimeMs;
    const unsigned: UnsignedChunk = {
      rendition: this.#rendition,
      seq: this.#nextSeq++,
      segment: this.#segment,
      index: this.#index,
      mediaTimeMs: fragment.startTimeMs,
      durationMs: fragment.durationMs,
      captureTimeMs: this.#captureAnchorMs + fragment.startTimeMs,
      bytes: fragment.bytes,
    };
    this.#enqueue(async () => {
      const chunk = await this.#seal(this.#options.stream, unsigned);
      const stats = this.#stats;
      this.#stats = {
        chunks: stats.chunks + 1,
        bytes: stats.bytes + chunk.byteLength,
        segments: stats.segments + (chunk.index === 0 ? 1 : 0),
      };
      this.#logger.debug('chunk', {
        seq: chunk.seq,
        segment: chunk.segment,
        index: chunk.index,
        bytes: chunk.byteLength,
      });
      this.#events.emit('chunk', { chunk });
    });
  }

  #onStderr(text: string): void {
    const lines = (this.#stderrPartial + text).split(/\r?\n|\r/);
    this.#stderrPartial = (lines.pop() ?? '').slice(0, MAX_STDERR_LINE_CHARS);
    for (const line of lines) this.#keepStderrLine(line);
  }

  #keepStderrLine(line: string): void {
    if (line.trim() === '') return;
    this.#logger.debug('ffmpeg', { line });
    this.#stderrTail.push(line.slice(0, MAX_STDERR_LINE_CHARS));
    if (this.#stderrTail.length > STDERR_TAIL_LINES) this.#stderrTail.shift();
  }

  #watchdog(): void {
    const now = this.#clock.now();
    if (this.#nextSeq === 0 && now - this.#startedAt > this.#startupTimeoutMs) {
      this.#failFfmpeg(`ffmpeg produced no chunk within ${this.#startupTimeoutMs} ms`);
    } else if (this.#nextSeq > 0 && now - this.#lastDataAt > this.#stallTimeoutMs) {
      this.#failFfmpeg(`ffmpeg wrote nothing for ${this.#stallTimeoutMs} ms`);
    }
  }

  #onClose(code: number | null, signal: NodeJS.Signals | null): void {
    this.#keepStderrLine(this.#stderrPartial);
    this.#stderrPartial = '';
    this.#logger.info('ffmpeg exited', { code, signal });
    if (!this.#stopping && !this.#failed) {
      if (code === 0) {
        this.#endParser();
      } else {
        this.#failFfmpeg(
          signal === null
            ? `ffmpeg exited with code ${code ?? 'unknown'}`
            : `ffmpeg was killed by ${signal}`,
        );
      }
    }
    this.#finish();
  }

  /** A clean exit: the source ended. Whatever ffmpeg left half-written is an error. */
  #endParser(): void {
    try {
      this.#parser.end();
      this.#logger.warn('the source ended');
    } catch (error) {
      this.#fail(asSwarmcastError(error));
    }
  }

  #failFfmpeg(message: string): void {
    const tail =
      this.#stderrTail.length === 0
        ? ' (no output on stderr)'
        : `:\n${this.#stderrTail.join('\n')}`;
    this.#fail(new SwarmcastError('ffmpeg-failed', `${message}${tail}`));
  }

  #fail(error: SwarmcastError): void {
    if (this.#failed || this.#stopping) return;
    this.#failed = true;
    this.#logger.error('broadcast failed', { code: error.code, error: error.message });
    this.#enqueue(() => {
      this.#events.emit('error', { error });
    });
    this.#terminate();
  }

  #enqueue(task: () => void | Promise<void>): void {
    this.#queue = this.#queue.then(task).catch((error: unknown) => {
      this.#fail(asSwarmcastError(error));
    });
  }

  /** Asks a running ffmpeg to exit, and kills it if it does not within the grace period. */
  #terminate(): void {
    const child = this.#child;
    if (child?.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    if (this.#killTimer !== undefined) return;
    signalPid(child.pid, 'SIGTERM');
    const pid = child.pid;
    this.#killTimer = this.#clock.setTimeout(() => {
      this.#logger.warn('ffmpeg ignored SIGTERM; killing it', { pid });
      signalPid(pid, 'SIGKILL');
    }, KILL_GRACE_MS);
  }

  /** ffmpeg is gone (or never ran): stop the timers and fire `end` after every queued emission. */
  #finish(): void {
    if (this.#state === 'stopped') return;
    this.#state = 'stopped';
    this.#stopWatchdog?.();
    if (this.#killTimer !== undefined) this.#clock.clearTimeout(this.#killTimer);
    const reason: BroadcasterEndReason = this.#failed
      ? 'error'
      : this.#stopping
        ? 'stopped'
        : 'source-ended';
    const started = this.#child !== undefined;
    this.#enqueue(() => {
      if (started) this.#events.emit('end', { reason });
      this.#resolveEnded();
    });
  }
}

function positive(name: string, value: number | undefined, fallback: number): number {
  const resolved = value ?? fallback;
  if (!Number.isFinite(resolved) || resolved <= 0) {
    throw new TypeError(`${name} must be a positive number of milliseconds, got ${resolved}`);
  }
  return resolved;
}

function signalPid(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already exited
  }
}

function asSwarmcastError(error: unknown): SwarmcastError {
  return error instanceof SwarmcastError
    ? error
    : new SwarmcastError('ffmpeg-failed', errorMessage(error), { cause: error });
}
