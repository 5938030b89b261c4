/**
 * The simulator's broadcaster: synthetic chunks of a given bitrate, one every `chunkDurationMs`,
 * with seeded sizes around the mean, and a cheap tag in place of the Ed25519 signature.
 *
 * Why a tag and not signatures: verifying Ed25519 and SHA-256 over every chunk at every peer
 * costs more than the rest of a thousand-peer run. What the simulator must catch is a chunk that
 * arrives different from what the source made: cut at the wrong place, assembled from the wrong
 * frames, mixed with another chunk, truncated, or with metadata (seq, length, timing) that does
 * not match its bytes. The bytes of each chunk are a pseudo-random pattern keyed by its seq, so
 * any such damage changes most of the bytes it touches; the tag is a keyed 64-bit hash over the
 * metadata and every `TAG_STRIDE`-th byte (from a keyed offset), and misses only damage confined
 * to unsampled bytes, which no misassembly of whole frames produces. It is not a defence against
 * an adversary who knows the key; attack experiments that need one use the real verifier.
 */
import type { Clock, TimerHandle } from '../common/clock.js';
import { VerificationError } from '../common/errors.js';
import type { Random } from '../common/random.js';
import type { ChunkVerifier } from '../crypto/chunk-signing.js';
import { DIGEST_BYTES, SIGNATURE_BYTES, writeUint32, type Chunk } from '../protocol/chunk.js';

/** Every this-many-th byte is covered by the tag (prime, so it drifts across any alignment). */
const TAG_STRIDE = 61;

export interface SimSourceOptions {
  /** Mean bitrate of the stream. */
  bitrateKbps: number;
  chunkDurationMs: number;
  segmentDurationMs: number;
  /** Chunk sizes vary uniformly within ± this fraction of the mean. @default 0.25 */
  sizeJitter?: number;
  /** Key of the tag (both the source and `simVerifier` use it). */
  tagKey: number;
}

export interface SimSourceComponents {
  clock: Clock;
  /** Draws the chunk sizes. */
  random: Random;
}

/** Makes a chunk every `chunkDurationMs` of the clock from `start()` on. */
export class SimSource {
  readonly #clock: Clock;
  readonly #random: Random;
  readonly #o: Required<SimSourceOptions>;
  readonly #chunksPerSegment: number;
  #timer: TimerHandle | undefined;
  #seq = 0;
  #startedAt = 0;

  constructor(components: SimSourceComponents, options: SimSourceOptions) {
    if (!(options.bitrateKbps > 0)) throw new TypeError('bitrateKbps must be positive');
    const chunksPerSegment = options.segmentDurationMs / options.chunkDurationMs;
    if (!Number.isInteger(chunksPerSegment) || chunksPerSegment < 1) {
      throw new TypeError('segmentDurationMs must be a whole number of chunks');
    }
    this.#clock = components.clock;
    this.#random = components.random;
    this.#o = { sizeJitter: 0.25, ...options };
    this.#chunksPerSegment = chunksPerSegment;
  }

  /** Chunks made so far. */
  get chunks(): number {
    return this.#seq;
  }

  /**
   * Starts the stream: chunk `k` is captured from `k × chunkDurationMs` after now and handed to
   * `publish` when its last frame is captured, one chunk duration later.
   */
  start(publish: (chunk: Chunk) => void): void {
    if (this.#timer !== undefined) return;
    this.#startedAt = this.#clock.now();
    const next = (): void => {
      publish(this.#make());
      this.#timer = this.#clock.setTimeout(next, this.#o.chunkDurationMs);
    };
    this.#timer = this.#clock.setTimeout(next, this.#o.chunkDurationMs);
  }

  stop(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
  }

  #make(): Chunk {
    const { bitrateKbps, chunkDurationMs, sizeJitter, tagKey } = this.#o;
    const seq = this.#seq++;
    const meanBytes = (bitrateKbps * chunkDurationMs) / 8;
    const byteLength = Math.max(
      1,
      Math.round(meanBytes * (1 + sizeJitter * (2 * this.#random.next() - 1))),
    );
    const bytes = patternBytes(seq, byteLength);
    const meta = {
      rendition: 0,
      seq,
      segment: Math.floor(seq / this.#chunksPerSegment),
      index: seq % this.#chunksPerSegment,
      mediaTimeMs: seq * chunkDurationMs,
      durationMs: chunkDurationMs,
      captureTimeMs: this.#startedAt + seq * chunkDurationMs,
      byteLength,
      signature: new Uint8Array(SIGNATURE_BYTES),
    };
    const digest = new Uint8Array(DIGEST_BYTES);
    writeTag(digest, knownTag(tagKey, meta, bytes));
    return { ...meta, digest, bytes };
  }
}

/**
 * The verifier the simulated peers use: checks the tag the source put in the digest field, at
 * once (no promise, so the engine has no microtasks to wait for): returns nothing, or throws
 * `VerificationError`.
 */
export function simVerifier(tagKey: number): ChunkVerifier {
  const expected = new Uint8Array(8);
  return {
    verify: (chunk) => {
      if (chunk.bytes.byteLength !== chunk.byteLength) {
        throw new VerificationError(`chunk ${chunk.seq}: length mismatch`);
      }
      writeTag(expected, knownTag(tagKey, chunk, chunk.bytes));
      for (let i = 0; i < expected.length; i++) {
        if (expected[i] !== chunk.digest[i]) {
          throw new VerificationError(`chunk ${chunk.seq}: tag mismatch`);
        }
      }
      return undefined;
    },
  };
}

interface TaggedMeta {
  readonly seq: number;
  readonly byteLength: number;
  readonly mediaTimeMs: number;
  readonly captureTimeMs: number;
  readonly durationMs: number;
}

/** A tag computed over some bytes, with where they lie, and the key and metadata used. */
interface KnownTag extends TaggedMeta {
  readonly byteOffset: number;
  /** Of the bytes (`byteLength` is the metadata's). */
  readonly length: number;
  readonly key: number;
  readonly tag: [number, number];
}

/** The last tag computed over bytes of each buffer. */
const knownTags = new WeakMap<ArrayBufferLike, KnownTag>();

/**
 * `tag(key, meta, bytes)`, computed once for the same bytes and metadata: every peer of a run
 * verifies the very same memory (messages are handed over, not copied, and relays pass on the
 * messages they got), which no one modifies once made. The bytes are found by their buffer, not
 * their `Uint8Array`: each peer's chunk is a view of its own on the DATA message's buffer.
 */
function knownTag(key: number, meta: TaggedMeta, bytes: Uint8Array): [number, number] {
  const known = knownTags.get(bytes.buffer);
  if (
    known?.byteOffset === bytes.byteOffset &&
    known.length === bytes.byteLength &&
    known.key === key &&
    known.seq === meta.seq &&
    known.byteLength === meta.byteLength &&
    known.mediaTimeMs === meta.mediaTimeMs &&
    known.captureTimeMs === meta.captureTimeMs &&
    known.durationMs === meta.durationMs
  ) {
    return known.tag;
  }
  const computed = tag(key, meta, bytes);
  knownTags.set(bytes.buffer, {
    byteOffset: bytes.byteOffset,
    length: bytes.byteLength,
    key,
    seq: meta.seq,
    byteLength: meta.byteLength,
    mediaTimeMs: meta.mediaTimeMs,
    captureTimeMs: meta.captureTimeMs,
    durationMs: meta.durationMs,
    tag: computed,
  });
  return computed;
}

/** Two 32-bit FNV-1a-style lanes over the metadata and the sampled bytes. */
function tag(key: number, meta: TaggedMeta, bytes: Uint8Array): [number, number] {
  const lanes = new TagLanes(key);
  lanes.mix(meta.seq);
  lanes.mix(meta.byteLength);
  lanes.mix(meta.durationMs);
  lanes.mix(meta.mediaTimeMs);
  lanes.mix(Math.floor(meta.captureTimeMs / 0x1_0000_0000));
  lanes.mix(meta.captureTimeMs >>> 0);
  const n = bytes.byteLength;
  for (let i = (key >>> 0) % TAG_STRIDE; i < n; i += TAG_STRIDE) lanes.mix(bytes[i] ?? 0);
  if (n > 0) lanes.mix(bytes[n - 1] ?? 0);
  return [lanes.a, lanes.b];
}

/** The state of `tag`'s two lanes. */
class TagLanes {
  a: number;
  b: number;

  constructor(key: number) {
    this.a = (0x811c9dc5 ^ key) >>> 0;
    this.b = (0x1b873593 ^ Math.imul(key, 0x9e3779b1)) >>> 0;
  }

  mix(value: number): void {
    this.a = Math.imul(this.a ^ value, 0x01000193) >>> 0;
    this.b = Math.imul(this.b ^ value, 0x5bd1e995) >>> 0;
    this.b ^= this.b >>> 15;
  }
}

/** Writes the two lanes big-endian (without a DataView per chunk verified). */
function writeTag(out: Uint8Array, [a, b]: [number, number]): void {
  writeUint32(out, 0, a);
  writeUint32(out, 4, b);
}

/** `length` bytes of a xorshift32 stream seeded by `seq`. */
function patternBytes(seq: number, length: number): Uint8Array {
  const words = new Uint32Array(Math.ceil(length / 4));
  let x = (Math.imul(seq + 1, 0x9e3779b9) ^ 0xdeadbeef) >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  return new Uint8Array(words.buffer, 0, length);
}
