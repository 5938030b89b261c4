/**
 * What the origin holds: per stream, the init segment and a sliding window of signed chunks,
 * assembled into the DASH media segments it serves. Sans-IO: time comes from the injected clock,
 * and nothing here touches a socket.
 */
import type { z } from 'zod';
import { concatBytes, equalBytes, toBase64Url } from '../common/bytes.js';
import type { Clock } from '../common/clock.js';
import { DEFAULTS } from '../common/defaults.js';
import { SwarmcastError } from '../common/errors.js';
import { silentLogger, type Logger } from '../common/logger.js';
import type { Chunk } from '../protocol/chunk.js';
import type { InitSegment } from '../protocol/media.js';
import { streamInfoSchema } from '../protocol/tracker.js';

/** What the origin knows about a stream when it is created (the tracker's StreamInfo minus the origin URL). */
export const streamDescriptionSchema = streamInfoSchema.omit({ originUrl: true });

/** A stream as the broadcaster declares it: id, signing key, chunk and segment duration. */
export type StreamDescription = z.infer<typeof streamDescriptionSchema>;

/** A chunk that would break the segment it belongs to, or contradicts one already held. */
export class OutOfOrderError extends SwarmcastError {
  constructor(message: string) {
    super('out-of-order', message);
  }
}

/** One line of the signed-digests list: enough to verify a chunk without its bytes. */
export interface ChunkDigest {
  readonly rendition: number;
  readonly seq: number;
  readonly segment: number;
  readonly index: number;
  readonly byteLength: number;
  /** SHA-256 of the chunk's bytes, base64url. */
  readonly digest: string;
  /** The broadcaster's Ed25519 signature (see `chunkSigningPayload`), base64url. */
  readonly signature: string;
}

/** Where the stream stands on the origin. */
export interface LiveEdge {
  /** Oldest chunk still held. */
  readonly firstSeq: number;
  /** Newest chunk held. */
  readonly lastSeq: number;
  /** Segment of the newest chunk (possibly still incomplete). */
  readonly lastSegment: number;
  /** Oldest complete segment still held; null before the first is complete. */
  readonly firstCompleteSegment: number | null;
  /** Newest complete segment (the newest one `getSegment` returns); null before the first. */
  readonly lastCompleteSegment: number | null;
  /** Media time at the end of the newest chunk. */
  readonly mediaTimeMs: number;
  /** Wall-clock capture time of the newest chunk's first frame. */
  readonly captureTimeMs: number;
}

export interface OriginStoreComponents {
  readonly clock: Clock;
  readonly logger?: Logger;
}

export interface OriginStoreOptions {
  /**
   * How long a segment stays after it completes (also the MPD's timeShiftBufferDepth).
   * @default DEFAULTS.originWindowMs
   */
  readonly windowMs?: number;
}

interface SegmentEntry {
  readonly number: number;
  readonly chunks: Chunk[];
  coveredMs: number;
  /** The concatenated chunks, once the segment is complete. */
  bytes: Uint8Array | undefined;
  /** When the segment stopped growing (complete, or abandoned with chunks missing). */
  closedAtMs: number | undefined;
}

/** Holds many streams; each is an `OriginStream`. */
export class OriginStore {
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #windowMs: number;
  readonly #streams = new Map<string, OriginStream>();

  constructor(components: OriginStoreComponents, options: OriginStoreOptions = {}) {
    this.#clock = components.clock;
    this.#logger = (components.logger ?? silentLogger).child('store');
    this.#windowMs = options.windowMs ?? DEFAULTS.originWindowMs;
    if (!Number.isFinite(this.#windowMs) || this.#windowMs <= 0) {
      throw new TypeError('windowMs must be a positive number of milliseconds');
    }
  }

  get windowMs(): number {
    return this.#windowMs;
  }

  /**
   * Creates (or starts over) a stream. A stream that already exists is replaced: a broadcaster
   * that declares its stream again is a new session, numbered from its first chunk again.
   * Throws `SwarmcastError('invalid-argument')` when the description does not validate.
   */
  createStream(description: StreamDescription): OriginStream {
    const parsed = streamDescriptionSchema.safeParse(description);
    if (!parsed.success) {
      throw new SwarmcastError(
        'invalid-argument',
        `invalid stream description: ${parsed.error.message}`,
      );
    }
    if (parsed.data.segmentDurationMs % parsed.data.chunkDurationMs !== 0) {
      throw new SwarmcastError(
        'invalid-argument',
        'segmentDurationMs must be a whole number of chunkDurationMs',
      );
    }
    const replaced = this.#streams.has(parsed.data.stream);
    const stream = new OriginStream(
      { clock: this.#clock, logger: this.#logger },
      { description: parsed.data, windowMs: this.#windowMs },
    );
    this.#streams.set(parsed.data.stream, stream);
    this.#logger.info(replaced ? 'stream restarted' : 'stream created', {
      stream: parsed.data.stream,
    });
    return stream;
  }

  getStream(stream: string): OriginStream | undefined {
    return this.#streams.get(stream);
  }

  /** Forgets a stream and everything it holds; false if there was none. */
  deleteStream(stream: string): boolean {
    return this.#streams.delete(stream);
  }
}

/**
 * One stream's window. Chunks must arrive in order: each segment starts at index 0 and grows by
 * one seq and one index at a time. A segment is complete when its chunks cover the segment
 * duration or when the first chunk of a later segment arrives; a segment left with a gap (a seq
 * skipped between it and the next) is abandoned: its chunks stay available one by one, but it is
 * never served as a segment. Complete and abandoned segments expire `windowMs` after they close.
 */
export class OriginStream {
  readonly description: StreamDescription;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #windowMs: number;
  #init: InitSegment | undefined;
  readonly #chunks = new Map<number, Chunk>();
  /** Held segments, oldest first (Map keeps insertion order and segments arrive in order). */
  readonly #segments = new Map<number, SegmentEntry>();
  #last: Chunk | undefined;
  #mediaZeroTimeMs: number | undefined;

  /** Created by `OriginStore.createStream`. */
  constructor(
    components: Required<OriginStoreComponents>,
    options: { description: StreamDescription; windowMs: number },
  ) {
    this.description = options.description;
    this.#clock = components.clock;
    this.#logger = components.logger;
    this.#windowMs = options.windowMs;
  }

  /**
   * Sets the init segment. Setting the same bytes again is a no-op (a retried upload); different
   * bytes throw `invalid-state`: a new init means a new session (`createStream` again).
   */
  setInit(init: InitSegment): void {
    if (init.bytes.byteLength === 0 || init.tracks.length === 0) {
      throw new SwarmcastError('invalid-argument', 'an init segment needs bytes and tracks');
    }
    if (this.#init !== undefined) {
      if (equalBytes(this.#init.bytes, init.bytes)) return;
      throw new SwarmcastError(
        'invalid-state',
        `stream ${this.description.stream} already has another init segment`,
      );
    }
    this.#init = init;
  }

  getInit(): InitSegment | undefined {
    return this.#init;
  }

  /**
   * Adds the next chunk. Returns false for a chunk already held (a retried upload); throws
   * `OutOfOrderError` for one that would break a segment or contradicts a held one, and
   * `invalid-argument` for a chunk whose length disagrees with its header or whose rendition is
   * not 0 (one rendition per stream until ABR lands). The chunk is expected verified.
   */
  addChunk(chunk: Chunk): boolean {
    if (chunk.bytes.byteLength !== chunk.byteLength || chunk.byteLength === 0) {
      throw new SwarmcastError(
        'invalid-argument',
        `chunk ${chunk.seq}: length disagrees with its header`,
      );
    }
    if (chunk.rendition !== 0) {
      throw new SwarmcastError(
        'invalid-argument',
        `chunk ${chunk.seq}: only rendition 0 is served`,
      );
    }
    this.#expire();
    const last = this.#last;
    if (last !== undefined) {
      if (chunk.seq <= last.seq) {
        const held = this.#chunks.get(chunk.seq);
        if (held !== undefined && equalBytes(held.digest, chunk.digest)) return false;
        throw new OutOfOrderError(`chunk ${chunk.seq} is behind the newest chunk ${last.seq}`);
      }
      if (chunk.segment < last.segment) {
        throw new OutOfOrderError(
          `chunk ${chunk.seq}: segment ${chunk.segment} is behind segment ${last.segment}`,
        );
      }
      const open = this.#segments.get(last.segment);
      if (chunk.segment === last.segment) {
        this.#continueSegment(open, last, chunk);
        return true;
      }
      checkStartsSegment(chunk);
      if (open !== undefined && open.closedAtMs === undefined) {
        if (chunk.seq === last.seq + 1) this.#complete(open);
        else this.#abandon(open, `chunks ${last.seq + 1}..${chunk.seq - 1} never arrived`);
      }
    } else {
      checkStartsSegment(chunk);
      this.#mediaZeroTimeMs = chunk.captureTimeMs - chunk.mediaTimeMs;
    }
    const entry: SegmentEntry = {
      number: chunk.segment,
      chunks: [],
      coveredMs: 0,
      bytes: undefined,
      closedAtMs: undefined,
    };
    this.#segments.set(chunk.segment, entry);
    this.#append(entry, chunk);
    return true;
  }

  /** The chunk `seq` if it is in the window. */
  getChunk(seq: number): Chunk | undefined {
    this.#expire();
    return this.#chunks.get(seq);
  }

  /** The bytes of media segment `n` (its chunks concatenated) if it is complete and in the window. */
  getSegment(n: number): Uint8Array | undefined {
    this.#expire();
    return this.#segments.get(n)?.bytes;
  }

  /** Signed digests of every chunk in the window, oldest first. */
  digests(): ChunkDigest[] {
    this.#expire();
    return [...this.#chunks.values()].map((chunk) => ({
      rendition: chunk.rendition,
      seq: chunk.seq,
      segment: chunk.segment,
      index: chunk.index,
      byteLength: chunk.byteLength,
      digest: toBase64Url(chunk.digest),
      signature: toBase64Url(chunk.signature),
    }));
  }

  /** Where the stream stands; undefined before its first chunk or once everything expired. */
  get liveEdge(): LiveEdge | undefined {
    this.#expire();
    const last = this.#last;
    const first = this.#chunks.values().next();
    if (last === undefined || first.done === true) return undefined;
    let firstComplete: number | null = null;
    let lastComplete: number | null = null;
    for (const entry of this.#segments.values()) {
      if (entry.bytes === undefined) continue;
      firstComplete ??= entry.number;
      lastComplete = entry.number;
    }
    return {
      firstSeq: first.value.seq,
      lastSeq: last.seq,
      lastSegment: last.segment,
      firstCompleteSegment: firstComplete,
      lastCompleteSegment: lastComplete,
      mediaTimeMs: last.mediaTimeMs + last.durationMs,
      captureTimeMs: last.captureTimeMs,
    };
  }

  /**
   * Wall-clock time at which media time 0 was captured (capture time minus media time of the
   * first chunk received); undefined before it. The MPD's availabilityStartTime derives from it.
   */
  get mediaZeroTimeMs(): number | undefined {
    return this.#mediaZeroTimeMs;
  }

  /**
   * Peak bitrate of the complete segments in the window (bits per second), or the average of the
   * chunks held while no segment is complete; undefined before the first chunk.
   */
  get peakBitrateBps(): number | undefined {
    this.#expire();
    let peak: number | undefined;
    for (const entry of this.#segments.values()) {
      if (entry.bytes === undefined || entry.coveredMs <= 0) continue;
      peak = Math.max(peak ?? 0, (entry.bytes.byteLength * 8_000) / entry.coveredMs);
    }
    if (peak !== undefined) return Math.ceil(peak);
    let bytes = 0;
    let durationMs = 0;
    for (const chunk of this.#chunks.values()) {
      bytes += chunk.byteLength;
      durationMs += chunk.durationMs;
    }
    return durationMs > 0 ? Math.ceil((bytes * 8_000) / durationMs) : undefined;
  }

  #continueSegment(open: SegmentEntry | undefined, last: Chunk, chunk: Chunk): void {
    if (open === undefined) {
      throw new OutOfOrderError(`chunk ${chunk.seq}: segment ${chunk.segment} has expired`);
    }
    if (open.closedAtMs !== undefined) {
      throw new OutOfOrderError(`chunk ${chunk.seq}: segment ${chunk.segment} is already complete`);
    }
    if (chunk.seq !== last.seq + 1 || chunk.index !== last.index + 1) {
      throw new OutOfOrderError(
        `chunk ${chunk.seq} (index ${chunk.index}) does not follow chunk ${last.seq} (index ${last.index}) in segment ${chunk.segment}`,
      );
    }
    this.#append(open, chunk);
  }

  #append(entry: SegmentEntry, chunk: Chunk): void {
    entry.chunks.push(chunk);
    entry.coveredMs += chunk.durationMs;
    this.#chunks.set(chunk.seq, chunk);
    this.#last = chunk;
    // Rounding leaves at most half a millisecond per chunk; a frame is far longer than that.
    if (entry.coveredMs + entry.chunks.length >= this.description.segmentDurationMs) {
      this.#complete(entry);
    }
  }

  #complete(entry: SegmentEntry): void {
    const bytes = concatBytes(entry.chunks.map((chunk) => chunk.bytes));
    // Keep one copy of the media: each chunk's bytes become a view into its segment.
    let offset = 0;
    for (const [i, chunk] of entry.chunks.entries()) {
      const view = bytes.subarray(offset, offset + chunk.byteLength);
      offset += chunk.byteLength;
      const shared: Chunk = { ...chunk, bytes: view };
      entry.chunks[i] = shared;
      this.#chunks.set(chunk.seq, shared);
      if (this.#last?.seq === chunk.seq) this.#last = shared;
    }
    entry.bytes = bytes;
    entry.closedAtMs = this.#clock.now();
    this.#logger.debug('segment complete', {
      stream: this.description.stream,
      segment: entry.number,
      bytes: bytes.byteLength,
    });
  }

  #abandon(entry: SegmentEntry, reason: string): void {
    entry.closedAtMs = this.#clock.now();
    this.#logger.warn('segment abandoned', {
      stream: this.description.stream,
      segment: entry.number,
      reason,
    });
  }

  #expire(): void {
    const horizon = this.#clock.now() - this.#windowMs;
    for (const entry of this.#segments.values()) {
      if (entry.closedAtMs === undefined || entry.closedAtMs > horizon) return;
      for (const chunk of entry.chunks) this.#chunks.delete(chunk.seq);
      this.#segments.delete(entry.number);
    }
  }
}

function checkStartsSegment(chunk: Chunk): void {
  if (chunk.index !== 0) {
    throw new OutOfOrderError(
      `chunk ${chunk.seq}: segment ${chunk.segment} must start with index 0, not ${chunk.index}`,
    );
  }
}
