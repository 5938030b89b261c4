import { ProtocolError } from '../common/errors.js';
import { RingQueue } from '../common/ring-queue.js';
import type { TokenBucket } from '../common/token-bucket.js';
import type { ChunkMeta } from '../protocol/chunk.js';
import {
  CHUNK_FRAME_BYTES,
  FRAME_HEADER_BYTES,
  FrameType,
  hasPushHeader,
  MAX_DATA_BYTES,
} from '../protocol/frames.js';
import type { Link } from '../transport/types.js';

/**
 * Most chunks a link may have announced and not finished: chunks are sent whole, one after the
 * other, so an honest peer has one open at a time; a few more absorb nothing but abuse.
 */
export const MAX_CHUNKS_IN_FLIGHT = 4;
/**
 * Most bytes waiting in a link's send queue (about 10 s of a 1.5 Mbit/s stream, on top of the
 * channel's own buffer). A child that cannot keep up gets no more pushes
 * until it drains; what it misses it pulls from others or from the origin.
 */
export const MAX_QUEUED_BYTES = 2 * 1024 * 1024;

/**
 * A chunk being received on a link: its signed metadata and its DATA payloads so far, as views
 * of the messages they came in (no transport reuses a received message's memory). The bytes are
 * put together once the last one is in: a chunk that came in one frame is that frame's view, and
 * one that came in the same message objects as a chunk assembled before (the simulator hands
 * every receiver the sender's message, and relays pass on the messages they got) shares its
 * bytes. Either way nothing is copied per hop.
 */
interface Assembly {
  readonly meta: ChunkMeta;
  readonly requestId: number;
  /** Its CHUNK message, when it is the push frame `encodeFrame` makes of `meta` and its map. */
  readonly chunkFrame: Uint8Array | undefined;
  /** Its payloads so far, once a second one came (none are kept for a chunk in one frame). */
  parts: Uint8Array[] | undefined;
  /** Each message so far is the DATA frame `encodeFrame` makes of its part. */
  relayable: boolean;
  /** The messages of `parts`, while `relayable`. */
  frames: Uint8Array[] | undefined;
  received: number;
}

/** A chunk put together from several DATA frames. */
interface Assembled {
  readonly frames: readonly Uint8Array[];
  readonly bytes: Uint8Array;
}

/** Chunks put together from several frames, by their first frame's message. */
const assembledByFirstFrame = new WeakMap<Uint8Array, Assembled>();

/** A chunk fully received on a link, not yet verified. */
export interface ReceivedChunk {
  readonly meta: ChunkMeta;
  readonly requestId: number;
  readonly bytes: Uint8Array;
  /**
   * The DATA messages the chunk came in, when they are byte for byte the frames `chunkFrames`
   * makes of it (so they can be relayed as they are).
   */
  readonly dataFrames?: readonly Uint8Array[];
  /**
   * Its CHUNK message, when it is the push frame `chunkFrames` makes (so can be relayed too, by a
   * peer whose `heldBefore` for it is the same).
   */
  readonly chunkFrame?: Uint8Array;
}

/** Seqs the ring of a `HeldSeqs` covers: well over a window of chunks (240 in the lab). */
const RING_SEQS = 1024;
const RING_MASK = RING_SEQS - 1;

/**
 * A set of seqs (what a remote holds) that drops those at or below a point moving up (chunks
 * leaving a window) in time proportional to how far it moved, not to the set's size: a peer moves
 * its window at every new chunk, on every link. The seqs near the newest are bits of a ring (no
 * hashing, no table to grow and shrink: a peer adds and drops several seqs per chunk, per link);
 * the others (old HAVE bits, late copies) are in a set. Iterates in no particular order.
 */
export class HeldSeqs implements Iterable<number> {
  /**
   * Bit `seq & RING_MASK` tells whether `seq` is held, for `#low <= seq < #low + RING_SEQS` and
   * `seq > #forgottenThrough` (a seq is in the ring or in `#others`, never both).
   */
  readonly #ring = new Uint32Array(RING_SEQS / 32);
  #low = 0;
  /** Seqs held that the ring does not cover, or at or below `#forgottenThrough` (added late). */
  readonly #others = new Set<number>();
  #size = 0;
  /** `forgetThrough` dropped every seq at or below this, but those added since (in `#others`). */
  #forgottenThrough = Number.NEGATIVE_INFINITY;
  /** The highest seq held, -1 for none; unknown while `#newestStale` (it was deleted). */
  #newest = -1;
  #newestStale = false;

  get size(): number {
    return this.#size;
  }

  has(seq: number): boolean {
    return (
      (this.#inRing(seq) && this.#bit(seq)) || (this.#others.size > 0 && this.#others.has(seq))
    );
  }

  /** The highest seq held, or -1 for none: the seqs are not walked but after a delete of it. */
  newest(): number {
    if (this.#newestStale) {
      this.#newestStale = false;
      this.#newest = -1;
      for (const seq of this) if (seq > this.#newest) this.#newest = seq;
    }
    return this.#newest;
  }

  add(seq: number): void {
    if (seq > this.#newest) this.#newest = seq;
    if (seq > this.#forgottenThrough && seq >= this.#low + RING_SEQS) {
      this.#moveUp(seq - RING_SEQS + 1);
    }
    if (seq > this.#forgottenThrough && this.#inRing(seq)) {
      if (this.#bit(seq)) return;
      this.#ring[(seq & RING_MASK) >>> 5] = (this.#ring[(seq & RING_MASK) >>> 5] ?? 0) | bitOf(seq);
      this.#size++;
    } else if (!this.#others.has(seq)) {
      this.#others.add(seq);
      this.#size++;
    }
  }

  /** Adds the seqs a CHUNK frame of chunk `seq` says its sender holds (its `heldBefore` map). */
  addHeldBefore(seq: number, heldBefore: number): void {
    let bits = heldBefore >>> 0;
    while (bits !== 0) {
      const i = 31 - Math.clz32(bits);
      bits = (bits ^ (1 << i)) >>> 0;
      if (seq - 1 - i >= 0) this.add(seq - 1 - i);
    }
  }

  delete(seq: number): void {
    if (this.#inRing(seq) && this.#bit(seq)) this.#clear(seq);
    else if (this.#others.size > 0 && this.#others.delete(seq)) this.#size--;
    if (seq === this.#newest) this.#newestStale = true;
  }

  *[Symbol.iterator](): IterableIterator<number> {
    for (let word = 0; word < this.#ring.length; word++) {
      const bits = this.#ring[word] ?? 0;
      if (bits === 0) continue;
      for (let b = 0; b < 32; b++) {
        if ((bits & (1 << b)) !== 0) {
          yield this.#low + ((word * 32 + b - (this.#low & RING_MASK)) & RING_MASK);
        }
      }
    }
    yield* this.#others;
  }

  /** Drops every seq at or below `last`. */
  forgetThrough(last: number): void {
    if (last > this.#forgottenThrough) {
      const to = Math.min(last, this.#low + RING_SEQS - 1);
      for (let seq = Math.max(this.#forgottenThrough + 1, this.#low); seq <= to; seq++) {
        if (this.#bit(seq)) this.#clear(seq);
      }
      this.#forgottenThrough = last;
    }
    if (this.#newest <= last) this.#newestStale = true;
    if (this.#others.size === 0) return;
    for (const seq of this.#others) {
      if (seq <= last) {
        this.#others.delete(seq);
        this.#size--;
      }
    }
  }

  #inRing(seq: number): boolean {
    return seq >= this.#low && seq < this.#low + RING_SEQS;
  }

  #bit(seq: number): boolean {
    return ((this.#ring[(seq & RING_MASK) >>> 5] ?? 0) & bitOf(seq)) !== 0;
  }

  #clear(seq: number): void {
    this.#ring[(seq & RING_MASK) >>> 5] = (this.#ring[(seq & RING_MASK) >>> 5] ?? 0) & ~bitOf(seq);
    this.#size--;
  }

  /** Moves the ring up to start at `low`: the seqs it no longer covers go to `#others`. */
  #moveUp(low: number): void {
    if (low - this.#low >= RING_SEQS) {
      for (const seq of [...this]) {
        if (this.#inRing(seq)) {
          this.#clear(seq);
          this.#others.add(seq);
          this.#size++;
        }
      }
    } else {
      for (let seq = this.#low; seq < low; seq++) {
        if (this.#bit(seq)) {
          this.#clear(seq);
          this.#others.add(seq);
          this.#size++;
        }
      }
    }
    this.#low = low;
  }
}

/** The bit of `seq` in its word of a `HeldSeqs` ring. */
function bitOf(seq: number): number {
  return 1 << (seq & 31);
}

/**
 * Per-link state of a peer: the remote's HELLO, what it is known to hold, the chunks being
 * received from it, and the frames waiting for the data channel to drain (backpressure).
 */
export class PeerLinkState {
  readonly link: Link;
  /** The transport reported the link open (frames can be sent). */
  opened = false;
  /** The remote sent a valid HELLO for our stream. */
  greeted = false;
  /** Opened by a peer the tracker had not named (kept until its grace ends). */
  unexpected = false;
  /** No longer one of its owner's links (closed, or replaced by a newer link to the same peer). */
  retired = false;
  /**
   * The chunks a child asked us to push: `seq % stripeCount === stripeIndex` (SUBSCRIBE). Two
   * fields, not an object: they are read for every chunk pushed.
   */
  stripeIndex = 0;
  stripeCount = 1;
  /** Seqs the remote is known to hold (its HAVE map, what it sent us, what we sent it). */
  readonly remoteHas = new HeldSeqs();
  /** The point through which the owner last made `remoteHas` forget (its window had moved). */
  forgotThrough = Number.NEGATIVE_INFINITY;
  bytesIn = 0;
  bytesOut = 0;
  /** The rate limit on the remote's REQUEST frames, from its first one. */
  requests: TokenBucket | undefined;
  /** The rate limit on its REQUEST frames for chunks it holds or we sent it, from its first. */
  redundantRequests: TokenBucket | undefined;
  /** When it greeted us or last began sending a chunk: a parent silent long is passed over. */
  lastChunkAtMs = 0;
  /** CHUNK, DATA and ABSENT frames it sent: what could answer a request. */
  answers = 0;
  /** Our requests it let time out, sending nothing that answers, a request timeout apart. */
  unanswered = 0;
  lastUnansweredAtMs = -Infinity;
  /** `answers` at the last of those. */
  answersAtUnanswered = 0;
  /**
   * The chunk being received, and the others announced and not finished (an honest peer sends
   * one at a time): a field and a short list, where a map would be looked up, and its table
   * rebuilt, for every chunk.
   */
  #assembly: Assembly | undefined;
  readonly #moreAssemblies: Assembly[] = [];
  readonly #queue = new RingQueue<Uint8Array>();
  #queuedBytes = 0;

  constructor(link: Link) {
    this.link = link;
  }

  get remoteId(): string {
    return this.link.remoteId;
  }

  /** Whether the remote's subscription covers chunk `seq`. */
  subscribed(seq: number): boolean {
    return seq % this.stripeCount === this.stripeIndex;
  }

  /** Whether a chunk is being received on this link. */
  receiving(seq: number): boolean {
    return this.#assemblyOf(seq) !== undefined;
  }

  #assemblyOf(seq: number): Assembly | undefined {
    const assembly = this.#assembly;
    if (assembly === undefined || assembly.meta.seq === seq) return assembly;
    return this.#moreAssemblies.find((more) => more.meta.seq === seq);
  }

  #finish(assembly: Assembly): void {
    if (assembly === this.#assembly) {
      this.#assembly = this.#moreAssemblies.shift();
    } else {
      this.#moreAssemblies.splice(this.#moreAssemblies.indexOf(assembly), 1);
    }
  }

  /**
   * Starts receiving a chunk announced by a CHUNK frame with `heldBefore` (`message`: the message
   * it was decoded from, if known).
   */
  beginChunk(meta: ChunkMeta, requestId: number, heldBefore: number, message?: Uint8Array): void {
    if (this.receiving(meta.seq)) {
      throw new ProtocolError('malformed-frame', `chunk ${meta.seq} announced twice`);
    }
    if (this.#assembly !== undefined && 1 + this.#moreAssemblies.length >= MAX_CHUNKS_IN_FLIGHT) {
      throw new ProtocolError(
        'malformed-frame',
        `more than ${MAX_CHUNKS_IN_FLIGHT} chunks open at once`,
      );
    }
    // A decoded CHUNK payload is the one `encodeFrame` writes for its metadata: only the header
    // may differ from the push frame.
    const chunkFrame =
      requestId === 0 &&
      message?.byteLength === CHUNK_FRAME_BYTES &&
      hasPushHeader(message, FrameType.Chunk, meta.seq, heldBefore)
        ? message
        : undefined;
    const assembly: Assembly = {
      meta,
      requestId,
      chunkFrame,
      parts: undefined,
      relayable: true,
      frames: undefined,
      received: 0,
    };
    if (this.#assembly === undefined) this.#assembly = assembly;
    else this.#moreAssemblies.push(assembly);
  }

  /**
   * Adds a DATA frame (`message`: the message it was decoded from, if known); returns the chunk
   * once its last byte arrived.
   */
  addData(
    seq: number,
    offset: number,
    bytes: Uint8Array,
    message?: Uint8Array,
  ): ReceivedChunk | undefined {
    const assembly = this.#assemblyOf(seq);
    if (assembly === undefined) {
      throw new ProtocolError('malformed-frame', `data for chunk ${seq} that was not announced`);
    }
    const { meta } = assembly;
    if (offset !== assembly.received || offset + bytes.byteLength > meta.byteLength) {
      throw new ProtocolError('malformed-frame', `data for chunk ${seq} at a wrong offset`);
    }
    // The messages are kept while each is the DATA frame `encodeFrame` makes of its part.
    const relayable =
      assembly.relayable &&
      message !== undefined &&
      isEncodedData(message, seq, offset, bytes, meta.byteLength);
    assembly.received += bytes.byteLength;
    const complete = assembly.received === meta.byteLength;
    if (complete && assembly.parts === undefined) {
      // The whole chunk in one frame (any chunk up to `MAX_DATA_BYTES`): no parts are kept, and
      // the one message is kept in an array of its own size.
      this.#finish(assembly);
      return receivedChunk(assembly, bytes, relayable ? [message] : undefined);
    }
    const parts = (assembly.parts ??= []);
    parts.push(bytes);
    assembly.relayable = relayable;
    if (relayable) (assembly.frames ??= []).push(message);
    else assembly.frames = undefined;
    if (!complete) return undefined;
    this.#finish(assembly);
    const frames = assembly.frames;
    return receivedChunk(assembly, assembledBytes(meta.byteLength, parts, frames), frames);
  }

  /** Queues frames and sends as many as the channel takes below `highWaterBytes`. */
  enqueue(frames: readonly Uint8Array[], highWaterBytes: number): void {
    if (this.#queuedBytes === 0) {
      // Nothing queued (no frame is empty): frames go straight to the channel while it takes them.
      let blocked = false;
      for (const frame of frames) {
        blocked ||= this.link.bufferedAmount >= highWaterBytes;
        if (blocked) this.#push(frame);
        else this.#sendNow(frame);
      }
      return;
    }
    for (const frame of frames) this.#push(frame);
    this.pump(highWaterBytes);
  }

  #push(frame: Uint8Array): void {
    this.#queue.push(frame);
    this.#queuedBytes += frame.byteLength;
  }

  /** Whether it let a request of ours time out and has sent nothing that answers since. */
  get quiet(): boolean {
    return this.unanswered > 0 && this.answers === this.answersAtUnanswered;
  }

  /** Whether everything queued was handed to the channel. */
  get idle(): boolean {
    return this.#queue.size === 0;
  }

  /** Whether the send queue has room for `bytes` more. */
  hasRoomFor(bytes: number): boolean {
    return this.#queuedBytes + bytes <= MAX_QUEUED_BYTES;
  }

  /** Sends queued frames while the channel's buffer is below `highWaterBytes`. */
  pump(highWaterBytes: number): void {
    while (this.#queue.size > 0 && this.link.bufferedAmount < highWaterBytes) {
      const frame = this.#queue.shift();
      if (frame === undefined) break;
      this.#queuedBytes -= frame.byteLength;
      this.#sendNow(frame);
    }
  }

  #sendNow(frame: Uint8Array): void {
    this.link.send(frame);
    this.bytesOut += frame.byteLength;
  }
}

/** What `addData` returns for a chunk whose last byte came: `bytes`, and `frames` if relayable. */
function receivedChunk(
  assembly: Assembly,
  bytes: Uint8Array,
  frames: readonly Uint8Array[] | undefined,
): ReceivedChunk {
  const { meta, requestId, chunkFrame } = assembly;
  if (frames === undefined) return { meta, requestId, bytes };
  return chunkFrame === undefined
    ? { meta, requestId, bytes, dataFrames: frames }
    : { meta, requestId, bytes, dataFrames: frames, chunkFrame };
}

/**
 * Whether `message` is exactly the DATA frame `chunkFrames` makes for `bytes` at `offset` of a
 * chunk of `chunkBytes` (its header, and a payload of the size it cuts there).
 */
function isEncodedData(
  message: Uint8Array,
  seq: number,
  offset: number,
  bytes: Uint8Array,
  chunkBytes: number,
): boolean {
  if (
    bytes.byteLength !== Math.min(MAX_DATA_BYTES, chunkBytes - offset) ||
    message.byteLength !== FRAME_HEADER_BYTES + bytes.byteLength ||
    message.buffer !== bytes.buffer ||
    message.byteOffset + FRAME_HEADER_BYTES !== bytes.byteOffset
  ) {
    return false;
  }
  return hasPushHeader(message, FrameType.Data, seq, offset);
}

/** Whether two lists of messages are the very same messages, in the same order. */
export function sameMessages(a: readonly Uint8Array[], b: readonly Uint8Array[]): boolean {
  return a.length === b.length && a.every((message, i) => message === b[i]);
}

/**
 * The bytes of a chunk that came in several parts: those of the chunk assembled before from the
 * very same messages `frames`, if any, else the parts copied into one buffer.
 */
function assembledBytes(
  byteLength: number,
  parts: readonly Uint8Array[],
  frames: readonly Uint8Array[] | undefined,
): Uint8Array {
  const first = frames?.[0];
  if (frames !== undefined && first !== undefined) {
    const before = assembledByFirstFrame.get(first);
    if (before !== undefined && sameMessages(before.frames, frames)) return before.bytes;
  }
  const bytes = new Uint8Array(byteLength);
  let offset = 0;
  for (const part of parts) {
    bytes.set(part, offset);
    offset += part.byteLength;
  }
  if (frames !== undefined && first !== undefined) {
    assembledByFirstFrame.set(first, { frames, bytes });
  }
  return bytes;
}
