import type { Chunk } from '../protocol/chunk.js';
import { HELD_BEFORE_CHUNKS, MAX_HAVE_CHUNKS } from '../protocol/frames.js';

/**
 * The verified chunks a peer holds, by seq, for playing, relaying and answering requests.
 * Keeps a window of the newest `windowChunks` seqs, in a ring of slots indexed by seq (no two seqs
 * of the window share a slot): a lookup is an index, and a thousand simulated peers' stores take
 * a tenth of the memory of as many maps.
 */
export class ChunkStore {
  readonly #slots: (Chunk | undefined)[];
  /** `#slots.length - 1`: the slot of seq `s` is `s & #mask`. */
  readonly #mask: number;
  #size = 0;
  readonly #windowChunks: number;
  #newest = -1;
  /** The chunk of seq `#newest` (the window never drops its newest), and its capture time. */
  #newestChunk: Chunk | undefined;
  #newestCaptureTimeMs = Number.NaN;
  /** Every seq in `[#runFrom, #runEnd)` is held (see `firstMissing`). */
  #runFrom = 0;
  #runEnd = 0;
  /** `#runEnd` is known not to be held. */
  #runEndMissing = false;
  /** The stride of `#newestInClass`; 0 before `heldLaterInClass` is first asked. */
  #stride = 0;
  /** Per residue `r` modulo `#stride`, the newest seq held that is `r` modulo it, or -1. */
  #newestInClass: number[] = [];

  constructor(windowChunks: number) {
    this.#windowChunks = Math.max(1, Math.min(windowChunks, MAX_HAVE_CHUNKS));
    this.#slots = new Array<undefined>(2 ** Math.ceil(Math.log2(this.#windowChunks + 1))).fill(
      undefined,
    );
    this.#mask = this.#slots.length - 1;
  }

  /** How many of the newest seqs it keeps. */
  get windowChunks(): number {
    return this.#windowChunks;
  }

  /** The highest seq held or ever held; -1 before the first. */
  get newestSeq(): number {
    return this.#newest;
  }

  /** The newest chunk held. */
  get newest(): Chunk | undefined {
    return this.#newestChunk;
  }

  /** Capture time of the newest chunk held; NaN before the first. */
  get newestCaptureTimeMs(): number {
    return this.#newestCaptureTimeMs;
  }

  get size(): number {
    return this.#size;
  }

  has(seq: number): boolean {
    return this.get(seq) !== undefined;
  }

  get(seq: number): Chunk | undefined {
    const chunk = this.#slots[seq & this.#mask];
    return chunk?.seq === seq ? chunk : undefined;
  }

  /** The seqs held, in no particular order. */
  *#seqs(): IterableIterator<number> {
    for (const chunk of this.#slots) if (chunk !== undefined) yield chunk.seq;
  }

  /** Whether `seq` is too old to be kept. */
  isExpired(seq: number): boolean {
    return seq <= this.expiredThrough;
  }

  /** The newest seq too old to be kept (every older one is too). */
  get expiredThrough(): number {
    return this.#newest - this.#windowChunks;
  }

  /** Adds a verified chunk; false if it was already held or is older than the window. */
  add(chunk: Chunk): boolean {
    if (this.has(chunk.seq) || this.isExpired(chunk.seq)) return false;
    const slot = chunk.seq & this.#mask;
    // Only a chunk that this one pushes out of the window can hold its slot (the ring is longer
    // than the window): it leaves first.
    const pushedOut = this.#slots[slot];
    if (pushedOut !== undefined) this.#delete(pushedOut.seq);
    this.#slots[slot] = chunk;
    this.#size++;
    if (chunk.seq === this.#runEnd) this.#runEndMissing = false;
    if (this.#stride > 0) {
      const r = chunk.seq % this.#stride;
      if (chunk.seq > (this.#newestInClass[r] ?? -1)) this.#newestInClass[r] = chunk.seq;
    }
    if (chunk.seq > this.#newest) {
      // Seqs that leave the window now: from the oldest it held to the oldest it keeps.
      const leaving = chunk.seq - this.#newest;
      this.#newest = chunk.seq;
      this.#newestChunk = chunk;
      this.#newestCaptureTimeMs = chunk.captureTimeMs;
      if (leaving < this.#size) {
        const keptFrom = this.#newest - this.#windowChunks + 1;
        for (let seq = keptFrom - leaving; seq < keptFrom; seq++) this.#delete(seq);
      } else {
        for (const seq of this.#seqs()) {
          if (this.isExpired(seq)) this.#delete(seq);
        }
      }
      // Seqs that left the window are no longer held: the run starts after them (it may be
      // empty now, `#runEnd < #runFrom`).
      this.#runFrom = Math.max(this.#runFrom, this.#newest - this.#windowChunks + 1);
    }
    return true;
  }

  /**
   * Whether a chunk is held whose seq is `seq` plus a positive multiple of `stride` (a later
   * chunk of the same stripe of `stride` stripes). O(1), but O(window) each time `stride` changes.
   */
  heldLaterInClass(seq: number, stride: number): boolean {
    if (stride !== this.#stride) {
      this.#stride = stride;
      this.#newestInClass = new Array<number>(stride).fill(-1);
      for (const held of this.#seqs()) {
        const r = held % stride;
        if (held > (this.#newestInClass[r] ?? -1)) this.#newestInClass[r] = held;
      }
    }
    return (this.#newestInClass[seq % stride] ?? -1) > seq;
  }

  #delete(seq: number): void {
    if (!this.has(seq)) return;
    this.#slots[seq & this.#mask] = undefined;
    this.#size--;
    if (this.#stride === 0) return;
    // The window drops its oldest seqs: none older than `seq` is left in its class.
    const r = seq % this.#stride;
    if (this.#newestInClass[r] === seq) this.#newestInClass[r] = -1;
  }

  /**
   * The lowest seq at or after `seq` that is not held. Amortised O(1) when asked with a `seq`
   * that does not go back (the playhead): the run of held seqs found last time is remembered.
   */
  firstMissing(seq: number): number {
    const inRun = seq >= this.#runFrom && seq <= this.#runEnd;
    if (inRun && this.#runEndMissing) return this.#runEnd;
    let missing = inRun ? this.#runEnd : seq;
    while (this.has(missing)) missing++;
    if (!inRun) this.#runFrom = seq;
    this.#runEnd = missing;
    this.#runEndMissing = true;
    return missing;
  }

  /**
   * Which of the `HELD_BEFORE_CHUNKS` seqs before `seq` are held, as a CHUNK frame announces them:
   * bit i set if `seq - 1 - i` is. The run of held seqs `firstMissing` found answers most of them.
   */
  heldBefore(seq: number): number {
    const from = Math.max(0, seq - HELD_BEFORE_CHUNKS);
    if (from >= this.#runFrom && seq <= this.#runEnd) {
      // All of them, the usual case.
      return seq - from === HELD_BEFORE_CHUNKS ? 0xffff_ffff : (1 << (seq - from)) - 1;
    }
    let bits = 0;
    for (let i = 0; i < HELD_BEFORE_CHUNKS && seq - 1 - i >= 0; i++) {
      const before = seq - 1 - i;
      if ((before >= this.#runFrom && before < this.#runEnd) || this.has(before)) {
        bits |= 1 << i;
      }
    }
    return bits >>> 0;
  }

  /** The HAVE bitmap of the window: bit i (MSB first) set if `fromSeq + i` is held. */
  haveMap(): { fromSeq: number; bitmap: Uint8Array } {
    const fromSeq = Math.max(0, this.#newest - this.#windowChunks + 1);
    const bits = this.#newest < 0 ? 0 : this.#newest - fromSeq + 1;
    const bitmap = new Uint8Array(Math.ceil(bits / 8));
    for (const seq of this.#seqs()) {
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
