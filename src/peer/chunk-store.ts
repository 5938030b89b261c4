import type { Chunk } from '../protocol/chunk.js';
import { MAX_HAVE_CHUNKS } from '../protocol/frames.js';

/**
 * The verified chunks a peer holds, by seq, for playing, relaying and answering requests.
 * Keeps a window of the newest `windowChunks` seqs.
 */
export class ChunkStore {
  readonly #chunks = new Map<number, Chunk>();
  readonly #windowChunks: number;
  #newest = -1;

  constructor(windowChunks: number) {
    this.#windowChunks = Math.max(1, Math.min(windowChunks, MAX_HAVE_CHUNKS));
  }

  /** The highest seq held or ever held; -1 before the first. */
  get newestSeq(): number {
    return this.#newest;
  }

  /** The newest chunk held. */
  get newest(): Chunk | undefined {
    return this.#chunks.get(this.#newest);
  }

  get size(): number {
    return this.#chunks.size;
  }

  has(seq: number): boolean {
    return this.#chunks.has(seq);
  }

  get(seq: number): Chunk | undefined {
    return this.#chunks.get(seq);
  }

  /** Whether `seq` is too old to be kept. */
  isExpired(seq: number): boolean {
    return seq <= this.#newest - this.#windowChunks;
  }

  /** Adds a verified chunk; false if it was already held or is older than the window. */
  add(chunk: Chunk): boolean {
    if (this.#chunks.has(chunk.seq) || this.isExpired(chunk.seq)) return false;
    this.#chunks.set(chunk.seq, chunk);
    if (chunk.seq > this.#newest) {
      this.#newest = chunk.seq;
      for (const seq of this.#chunks.keys()) {
        if (this.isExpired(seq)) this.#chunks.delete(seq);
      }
    }
    return true;
  }

  /** The HAVE bitmap of the window: bit i (MSB first) set if `fromSeq + i` is held. */
  haveMap(): { fromSeq: number; bitmap: Uint8Array } {
    const fromSeq = Math.max(0, this.#newest - this.#windowChunks + 1);
    const bits = this.#newest < 0 ? 0 : this.#newest - fromSeq + 1;
    const bitmap = new Uint8Array(Math.ceil(bits / 8));
    for (const seq of this.#chunks.keys()) {
      const i = seq - fromSeq;
      bitmap[i >> 3] = (bitmap[i >> 3] ?? 0) | (0x80 >> (i & 7));
    }
    return { fromSeq, bitmap };
  }
}

/** The seqs a HAVE bitmap says are held. */
export function seqsInHaveMap(fromSeq: number, bitmap: Uint8Array): number[] {
  const seqs: number[] = [];
  for (let i = 0; i < bitmap.byteLength * 8; i++) {
    if (((bitmap[i >> 3] ?? 0) & (0x80 >> (i & 7))) !== 0) seqs.push(fromSeq + i);
  }
  return seqs;
}
