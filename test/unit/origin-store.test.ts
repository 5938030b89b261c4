import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { concatBytes, toBase64Url } from '../../src/common/bytes.js';
import { ManualClock } from '../../src/common/clock.js';
import { DEFAULTS } from '../../src/common/defaults.js';
import { OriginStore, OutOfOrderError, type OriginStream } from '../../src/origin/store.js';
import {
  CHUNK_MS,
  FAKE_INIT,
  SEGMENT_MS,
  ZERO_TIME_MS,
  chunkBytes,
  fakeChunk,
  fakeChunks,
} from '../helpers/origin-fixtures.js';

const DESCRIPTION = {
  stream: 'live',
  publicKey: 'A'.repeat(43),
  chunkDurationMs: CHUNK_MS,
  segmentDurationMs: SEGMENT_MS,
};

function setup(windowMs = 10_000): {
  clock: ManualClock;
  store: OriginStore;
  stream: OriginStream;
} {
  const clock = new ManualClock(ZERO_TIME_MS);
  const store = new OriginStore({ clock }, { windowMs });
  return { clock, store, stream: store.createStream(DESCRIPTION) };
}

function addAll(stream: OriginStream, from: number, to: number): void {
  for (const chunk of fakeChunks(from, to)) stream.addChunk(chunk);
}

describe('OriginStore', () => {
  it('store.windowMs defaults to DEFAULTS.originWindowMs', () => {
    expect(new OriginStore({ clock: new ManualClock() }).windowMs).toBe(DEFAULTS.originWindowMs);
  });

  it('store.createStream() rejects an invalid description with invalid-argument', () => {
    const { store } = setup();
    expect(() => store.createStream({ ...DESCRIPTION, stream: 'no spaces' })).toThrow(
      expect.objectContaining({ code: 'invalid-argument' }),
    );
    expect(() =>
      store.createStream({ ...DESCRIPTION, segmentDurationMs: 1800, chunkDurationMs: 400 }),
    ).toThrow(expect.objectContaining({ code: 'invalid-argument' }));
  });

  it('store.createStream() on an existing id starts the stream over', () => {
    const { store, stream } = setup();
    addAll(stream, 0, 5);
    const again = store.createStream(DESCRIPTION);
    expect(store.getStream('live')).toBe(again);
    expect(again.liveEdge).toBeUndefined();
    expect(again.addChunk(fakeChunk({ seq: 0 }))).toBe(true);
  });

  it('store.deleteStream() forgets the stream', () => {
    const { store } = setup();
    expect(store.deleteStream('live')).toBe(true);
    expect(store.getStream('live')).toBeUndefined();
    expect(store.deleteStream('live')).toBe(false);
  });
});

describe('OriginStream segments', () => {
  it('stream.getSegment() returns the concatenated chunks once they cover the segment', () => {
    const { stream } = setup();
    addAll(stream, 0, 2);
    expect(stream.getSegment(0)).toBeUndefined();
    stream.addChunk(fakeChunk({ seq: 3 }));
    expect(stream.getSegment(0)).toEqual(concatBytes([0, 1, 2, 3].map((seq) => chunkBytes(seq))));
    expect(stream.getChunk(2)?.bytes).toEqual(chunkBytes(2));
  });

  it('stream.getSegment() completes a short segment when the next segment starts', () => {
    const { stream } = setup();
    // Three chunks that cover 1.5 s, then the next segment begins at the next seq.
    for (let seq = 0; seq < 3; seq++) stream.addChunk(fakeChunk({ seq, segment: 0, index: seq }));
    expect(stream.getSegment(0)).toBeUndefined();
    stream.addChunk(fakeChunk({ seq: 3, segment: 1, index: 0 }));
    expect(stream.getSegment(0)?.byteLength).toBe(300);
    expect(stream.liveEdge?.lastCompleteSegment).toBe(0);
  });

  it('stream.addChunk() abandons a segment that lost a chunk: its chunks stay, the segment is never served', () => {
    const { stream } = setup();
    addAll(stream, 0, 2); // chunk 3 (the last of segment 0) is lost
    stream.addChunk(fakeChunk({ seq: 4 }));
    addAll(stream, 5, 7);
    expect(stream.getSegment(0)).toBeUndefined();
    expect(stream.getChunk(1)?.bytes).toEqual(chunkBytes(1));
    expect(stream.getSegment(1)?.byteLength).toBe(400);
    expect(stream.liveEdge).toMatchObject({ firstSeq: 0, lastSeq: 7, firstCompleteSegment: 1 });
  });

  it('stream.addChunk() returns false for a chunk it already holds', () => {
    const { stream } = setup();
    addAll(stream, 0, 4);
    expect(stream.addChunk(fakeChunk({ seq: 2 }))).toBe(false);
    expect(stream.addChunk(fakeChunk({ seq: 4 }))).toBe(false);
    expect(stream.liveEdge?.lastSeq).toBe(4);
  });

  it.each([
    ['a segment that does not start at index 0', [], { seq: 0, index: 1 }],
    ['a gap inside a segment', [0, 1], { seq: 3 }],
    ['an index that skips', [0, 1], { seq: 2, segment: 0, index: 3 }],
    ['a chunk past the end of a complete segment', [0, 1, 2, 3], { seq: 4, segment: 0, index: 4 }],
    ['a later segment that starts at index 1', [0, 1, 2, 3], { seq: 4, segment: 1, index: 1 }],
    ['a segment behind the newest', [0, 1, 2, 3, 4], { seq: 5, segment: 0, index: 0 }],
  ])('stream.addChunk() rejects %s with out-of-order', (_name, before, place) => {
    const { stream } = setup();
    for (const seq of before) stream.addChunk(fakeChunk({ seq }));
    expect(() => stream.addChunk(fakeChunk(place))).toThrow(OutOfOrderError);
    expect(() => stream.addChunk(fakeChunk(place))).toThrow(
      expect.objectContaining({ code: 'out-of-order' }),
    );
  });

  it('stream.addChunk() rejects a different chunk under a seq it already holds', () => {
    const { stream } = setup();
    addAll(stream, 0, 2);
    const forged = { ...fakeChunk({ seq: 1 }), digest: new Uint8Array(32).fill(99) };
    expect(() => stream.addChunk(forged)).toThrow(OutOfOrderError);
  });

  it('stream.addChunk() rejects a length mismatch and renditions other than 0 with invalid-argument', () => {
    const { stream } = setup();
    expect(() => stream.addChunk({ ...fakeChunk({ seq: 0 }), byteLength: 5 })).toThrow(
      expect.objectContaining({ code: 'invalid-argument' }),
    );
    expect(() => stream.addChunk({ ...fakeChunk({ seq: 0 }), rendition: 1 })).toThrow(
      expect.objectContaining({ code: 'invalid-argument' }),
    );
  });
});

describe('OriginStream window', () => {
  it('stream expires whole segments windowMs after they complete, with their chunks', () => {
    const { clock, stream } = setup(10_000);
    addAll(stream, 0, 3); // segment 0 completes at t0
    clock.advance(SEGMENT_MS);
    addAll(stream, 4, 7); // segment 1 completes at t0 + 2 s
    clock.advance(10_000 - SEGMENT_MS - 1);
    expect(stream.getSegment(0)).toBeDefined();
    clock.advance(1);
    expect(stream.getSegment(0)).toBeUndefined();
    expect(stream.getChunk(3)).toBeUndefined();
    expect(stream.getSegment(1)).toBeDefined();
    expect(stream.liveEdge).toMatchObject({ firstSeq: 4, firstCompleteSegment: 1, lastSeq: 7 });
  });

  it('stream keeps the open segment however old it is', () => {
    const { clock, stream } = setup(10_000);
    addAll(stream, 0, 5);
    clock.advance(60_000);
    expect(stream.getChunk(5)).toBeDefined();
    expect(stream.getChunk(0)).toBeUndefined();
    expect(stream.liveEdge).toMatchObject({ firstSeq: 4, lastSeq: 5, lastCompleteSegment: null });
  });

  it('stream.liveEdge is undefined before the first chunk and describes the newest chunk after', () => {
    const { stream } = setup();
    expect(stream.liveEdge).toBeUndefined();
    addAll(stream, 0, 5);
    expect(stream.liveEdge).toEqual({
      firstSeq: 0,
      lastSeq: 5,
      lastSegment: 1,
      firstCompleteSegment: 0,
      lastCompleteSegment: 0,
      mediaTimeMs: 6 * CHUNK_MS,
      captureTimeMs: ZERO_TIME_MS + 5 * CHUNK_MS,
    });
  });

  it('stream.digests() lists every chunk in the window with base64url digest and signature', () => {
    const { stream } = setup();
    addAll(stream, 0, 1);
    const digests = stream.digests();
    expect(digests).toHaveLength(2);
    expect(digests[1]).toEqual({
      rendition: 0,
      seq: 1,
      segment: 0,
      index: 1,
      byteLength: 100,
      digest: toBase64Url(new Uint8Array(32).fill(1)),
      signature: toBase64Url(new Uint8Array(64)),
    });
  });

  it('stream.mediaZeroTimeMs is the capture time of media time 0, from the first chunk', () => {
    const { stream } = setup();
    expect(stream.mediaZeroTimeMs).toBeUndefined();
    // The origin may join a stream late: segment 3 first.
    addAll(stream, 12, 13);
    expect(stream.mediaZeroTimeMs).toBe(ZERO_TIME_MS);
  });

  it('stream.peakBitrateBps is the peak of complete segments, else the average of the chunks', () => {
    const { stream } = setup();
    expect(stream.peakBitrateBps).toBeUndefined();
    stream.addChunk(fakeChunk({ seq: 0, byteLength: 1000 }));
    expect(stream.peakBitrateBps).toBe(16_000);
    addAll(stream, 1, 3);
    expect(stream.peakBitrateBps).toBe(((1000 + 300) * 8) / 2);
  });
});

describe('OriginStream init', () => {
  it('stream.setInit() accepts the same init again and refuses a different one with invalid-state', () => {
    const { stream } = setup();
    stream.setInit(FAKE_INIT);
    stream.setInit({ ...FAKE_INIT, bytes: FAKE_INIT.bytes.slice() });
    expect(stream.getInit()).toBe(FAKE_INIT);
    expect(() => {
      stream.setInit({ ...FAKE_INIT, bytes: new Uint8Array([1]) });
    }).toThrow(expect.objectContaining({ code: 'invalid-state' }));
    expect(() => {
      stream.setInit({ bytes: new Uint8Array(0), tracks: FAKE_INIT.tracks });
    }).toThrow(expect.objectContaining({ code: 'invalid-argument' }));
  });
});

describe('OriginStream invariants', () => {
  it('every served segment is the chunks of one segment, in order, from index 0, within the window', () => {
    const step = fc.oneof(
      fc.record({ kind: fc.constant('next' as const) }),
      fc.record({ kind: fc.constant('lose' as const) }),
      fc.record({ kind: fc.constant('wait' as const), ms: fc.integer({ min: 0, max: 4000 }) }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 200 }), (steps) => {
        const { clock, stream } = setup(6000);
        const closedAt = new Map<number, number>();
        let seq = 0;
        for (const s of steps) {
          if (s.kind === 'wait') clock.advance(s.ms);
          else if (s.kind === 'lose') seq++;
          else {
            try {
              stream.addChunk(fakeChunk({ seq }));
            } catch (error) {
              expect(error).toBeInstanceOf(OutOfOrderError);
            }
            seq++;
          }
          for (let n = 0; n <= seq / 4; n++) {
            const segment = stream.getSegment(n);
            if (segment === undefined) continue;
            closedAt.set(n, closedAt.get(n) ?? clock.now());
            expect(segment).toEqual(concatBytes([0, 1, 2, 3].map((i) => chunkBytes(n * 4 + i))));
            expect(clock.now() - (closedAt.get(n) ?? 0)).toBeLessThan(6000 + 4000);
          }
        }
      }),
      { numRuns: 200 },
    );
  });
});
