import { ProtocolError } from '../common/errors.js';
import type { ChunkMeta } from '../protocol/chunk.js';
import type { Link } from '../transport/types.js';

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
  /** The remote sent a valid HELLO for our stream. */
  greeted = false;
  /** Seqs the remote is known to hold (its HAVE map, what it sent us, what we sent it). */
  readonly remoteHas = new Set<number>();
  bytesIn = 0;
  bytesOut = 0;
  readonly #assemblies = new Map<number, Assembly>();
  readonly #queue: Uint8Array[] = [];
  #queueHead = 0;

  constructor(link: Link) {
    this.link = link;
  }

  get remoteId(): string {
    return this.link.remoteId;
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
    this.#queue.push(...frames);
    this.pump(highWaterBytes);
  }

  /** Bytes queued here and not yet handed to the channel. */
  get queuedBytes(): number {
    let total = 0;
    for (let i = this.#queueHead; i < this.#queue.length; i++)
      total += this.#queue[i]?.byteLength ?? 0;
    return total;
  }

  /** Sends queued frames while the channel's buffer is below `highWaterBytes`. */
  pump(highWaterBytes: number): void {
    while (this.#queueHead < this.#queue.length && this.link.bufferedAmount < highWaterBytes) {
      const frame = this.#queue[this.#queueHead++];
      if (frame === undefined) break;
      this.link.send(frame);
      this.bytesOut += frame.byteLength;
    }
    if (this.#queueHead === this.#queue.length) {
      this.#queue.length = 0;
      this.#queueHead = 0;
    }
  }
}
