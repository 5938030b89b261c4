import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../../src/common/random.js';
import { ChunkStore } from '../../src/peer/chunk-store.js';
import { fakeChunk } from '../helpers/origin-fixtures.js';

/** What the store must answer, computed the slow way from the seqs it holds. */
class Reference {
  readonly held = new Set<number>();
  newest = -1;

  constructor(readonly windowChunks: number) {}

  add(seq: number): boolean {
    if (this.held.has(seq) || seq <= this.newest - this.windowChunks) return false;
    this.held.add(seq);
    this.newest = Math.max(this.newest, seq);
    for (const s of this.held) if (s <= this.newest - this.windowChunks) this.held.delete(s);
    return true;
  }

  firstMissing(seq: number): number {
    let s = seq;
    while (this.held.has(s)) s++;
    return s;
  }

  heldLaterInClass(seq: number, stride: number): boolean {
    for (let later = seq + stride; later <= this.newest; later += stride) {
      if (this.held.has(later)) return true;
    }
    return false;
  }

  /** The seqs a `heldBefore` map of chunk `seq` announces, read back bit by bit. */
  heldBefore(seq: number): number[] {
    return [...Array(32).keys()].map((i) => seq - 1 - i).filter((s) => this.held.has(s));
  }
}

/** The seqs `heldBefore` of chunk `seq` says are held. */
function seqsOf(seq: number, heldBefore: number): number[] {
  return [...Array(32).keys()].filter((i) => (heldBefore & (1 << i)) !== 0).map((i) => seq - 1 - i);
}

describe('ChunkStore', () => {
  it('firstMissing() finds the first seq not held from the playhead on', () => {
    const store = new ChunkStore(10);
    for (const seq of [3, 4, 5, 7]) store.add(fakeChunk({ seq }));
    expect(store.firstMissing(3)).toBe(6);
    expect(store.firstMissing(4)).toBe(6);
    expect(store.firstMissing(2)).toBe(2);
    store.add(fakeChunk({ seq: 6 }));
    expect(store.firstMissing(4)).toBe(8);
    // 15 moves the window to 6..15: 3, 4 and 5 are gone.
    store.add(fakeChunk({ seq: 15 }));
    expect(store.firstMissing(4)).toBe(4);
    expect(store.firstMissing(6)).toBe(8);
  });

  it('heldLaterInClass() tells whether a later chunk of the same stripe is held', () => {
    const store = new ChunkStore(20);
    for (const seq of [0, 1, 2, 4, 7]) store.add(fakeChunk({ seq }));
    expect(store.heldLaterInClass(1, 3)).toBe(true); // 4 and 7
    expect(store.heldLaterInClass(4, 3)).toBe(true); // 7
    expect(store.heldLaterInClass(7, 3)).toBe(false);
    expect(store.heldLaterInClass(2, 3)).toBe(false); // 5 and 8 are missing
    expect(store.heldLaterInClass(3, 2)).toBe(true); // 7, with another stride
    store.add(fakeChunk({ seq: 8 }));
    expect(store.heldLaterInClass(2, 3)).toBe(true);
  });

  it('heldBefore() maps the 32 seqs before a chunk that are held, bit i for seq - 1 - i', () => {
    const store = new ChunkStore(100);
    for (const seq of [0, 3, 4, 40, 41, 72]) store.add(fakeChunk({ seq }));
    expect(store.heldBefore(0)).toBe(0);
    expect(store.heldBefore(5)).toBe(0b10011); // 4, 3 and 0
    expect(store.heldBefore(73)).toBe((1 | (1 << 31)) >>> 0); // 72 and 41; 40 is 33 back
    expect(store.heldBefore(42)).toBe(0b11); // 41 and 40
  });

  it('keeps the newest chunk and its capture time, and only the window of seqs', () => {
    const store = new ChunkStore(4);
    expect(store.newest).toBeUndefined();
    expect(store.newestCaptureTimeMs).toBeNaN();
    const chunks = [2, 0, 5, 3, 9].map((seq) => fakeChunk({ seq }));
    for (const chunk of chunks) store.add(chunk);
    expect(store.newest).toBe(chunks[4]);
    expect(store.newestCaptureTimeMs).toBe(chunks[4]?.captureTimeMs);
    expect([...Array(10).keys()].filter((seq) => store.has(seq))).toEqual([9]);
    expect(store.add(fakeChunk({ seq: 5 }))).toBe(false);
    expect(store.add(fakeChunk({ seq: 6 }))).toBe(true);
    expect(store.haveMap()).toEqual({ fromSeq: 6, bitmap: new Uint8Array([0b1001_0000]) });
  });

  it('answers like a plain scan over thousands of random adds, jumps and queries', () => {
    const random = new SeededRandom(11);
    // Windows a power of two long, and one less (the store's ring is the next power of two).
    for (const windowChunks of [1, 3, 4, 16, 60, 64]) {
      const store = new ChunkStore(windowChunks);
      const reference = new Reference(windowChunks);
      let playhead = 0;
      for (let step = 0; step < 4000; step++) {
        const action = random.int(10);
        if (action < 6) {
          // Mostly near the newest, sometimes far ahead (a jump) or behind (expired).
          const spread = random.int(20) === 0 ? 200 : 12;
          const seq = Math.max(0, reference.newest + random.int(spread) - Math.floor(spread / 2));
          expect(store.add(fakeChunk({ seq }))).toBe(reference.add(seq));
        } else if (action < 9) {
          // The playhead mostly moves forward within the window, sometimes jumps back.
          const lag = random.int(30) === 0 ? windowChunks + 10 : random.int(windowChunks + 2);
          const behind = Math.max(0, reference.newest - lag);
          playhead = random.int(3) === 0 ? behind : Math.max(playhead + random.int(2), behind);
          expect(store.firstMissing(playhead)).toBe(reference.firstMissing(playhead));
        } else {
          const stride = 1 + random.int(random.int(8) === 0 ? 5 : 2);
          const seq = Math.max(0, reference.newest - random.int(windowChunks + 4));
          expect(store.heldLaterInClass(seq, stride)).toBe(reference.heldLaterInClass(seq, stride));
          // The 32 before a chunk at or past the newest (those a CHUNK frame announces).
          const next = reference.newest + random.int(3);
          expect(seqsOf(next, store.heldBefore(next))).toEqual(reference.heldBefore(next));
        }
        expect(store.newestSeq).toBe(reference.newest);
        expect(store.size).toBe(reference.held.size);
        const probe = Math.max(0, reference.newest - random.int(2 * windowChunks + 4));
        expect(store.has(probe)).toBe(reference.held.has(probe));
        expect(store.get(probe)?.seq).toBe(reference.held.has(probe) ? probe : undefined);
      }
    }
  });
});
