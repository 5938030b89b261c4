import { ProtocolError } from '../common/errors.js';
import type { ChunkMeta } from '../protocol/chunk.js';
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

/** A chunk being received on a link: its signed metadata and the bytes so far. */
interface Assembly {
  readonly meta: ChunkMeta;
  readonly requestId: number;
  readonly bytes: Uint8Array;
  received: number;
}

/** A chunk fully received on a link, not yet verified. */
export interface ReceivedChunk {
  readonly meta: ChunkMeta;
  readonly requestId: number;
  readonly bytes: Uint8Array;
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
  /** The chunks a child asked us to push: `seq % count === index` (SUBSCRIBE). */
  stripe = { index: 0, count: 1 };
  /** Seqs the remote is known to hold (its HAVE map, what it sent us, what we sent it). */
  readonly remoteHas = new Set<number>();
  bytesIn = 0;
  bytesOut = 0;
  readonly #assemblies = new Map<number, Assembly>();
  readonly #queue: Uint8Array[] = [];
  #queueHead = 0;
  #queuedBytes = 0;

  constructor(link: Link) {
    this.link = link;
  }

  get remoteId(): string {
    return this.link.remoteId;
  }

  /** Drops what the remote holds that the window has left. */
  forgetExpired(isExpired: (seq: number) => boolean): void {
    for (const seq of this.remoteHas) if (isExpired(seq)) this.remoteHas.delete(seq);
  }

  /** Whether the remote's subscription covers chunk `seq`. */
  subscribed(seq: number): boolean {
    return seq % this.stripe.count === this.stripe.index;
  }

  /** Whether a chunk is being received on this link. */
  receiving(seq: number): boolean {
    return this.#assemblies.has(seq);
  }

  /** Starts receiving a chunk announced by a CHUNK frame. */
  beginChunk(meta: ChunkMeta, requestId: number): void {
    if (this.#assemblies.has(meta.seq)) {
      throw new ProtocolError('malformed-frame', `chunk ${meta.seq} announced twice`);
    }
    if (this.#assemblies.size >= MAX_CHUNKS_IN_FLIGHT) {
      throw new ProtocolError(
        'malformed-frame',
        `more than ${MAX_CHUNKS_IN_FLIGHT} chunks open at once`,
      );
    }
    this.#assemblies.set(meta.seq, {
      meta,
      requestId,
      bytes: new Uint8Array(meta.byteLength),
      received: 0,
    });
  }

  /** Adds a DATA frame; returns the chunk once its last byte arrived. */
  addData(seq: number, offset: number, bytes: Uint8Array): ReceivedChunk | undefined {
    const assembly = this.#assemblies.get(seq);
    if (assembly === undefined) {
      throw new ProtocolError('malformed-frame', `data for chunk ${seq} that was not announced`);
    }
    if (offset !== assembly.received || offset + bytes.byteLength > assembly.bytes.byteLength) {
      throw new ProtocolError('malformed-frame', `data for chunk ${seq} at a wrong offset`);
    }
    assembly.bytes.set(bytes, offset);
    assembly.received += bytes.byteLength;
    if (assembly.received < assembly.bytes.byteLength) return undefined;
    this.#assemblies.delete(seq);
    return { meta: assembly.meta, requestId: assembly.requestId, bytes: assembly.bytes };
  }

  /** Queues frames and sends as many as the channel takes below `highWaterBytes`. */
  enqueue(frames: readonly Uint8Array[], highWaterBytes: number): void {
    for (const frame of frames) {
      this.#queue.push(frame);
      this.#queuedBytes += frame.byteLength;
    }
    this.pump(highWaterBytes);
  }

  /** Whether the send queue has room for `bytes` more. */
  hasRoomFor(bytes: number): boolean {
    return this.#queuedBytes + bytes <= MAX_QUEUED_BYTES;
  }

  /** Sends queued frames while the channel's buffer is below `highWaterBytes`. */
  pump(highWaterBytes: number): void {
    while (this.#queueHead < this.#queue.length && this.link.bufferedAmount < highWaterBytes) {
      const frame = this.#queue[this.#queueHead++];
      if (frame === undefined) break;
      this.link.send(frame);
      this.#queuedBytes -= frame.byteLength;
      this.bytesOut += frame.byteLength;
    }
    if (this.#queueHead === this.#queue.length) {
      this.#queue.length = 0;
      this.#queueHead = 0;
    }
  }
}
