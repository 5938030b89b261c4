import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../../src/common/random.js';
import { HeldSeqs, PeerLinkState } from '../../src/peer/peer-link.js';
import { DIGEST_BYTES, SIGNATURE_BYTES, type ChunkMeta } from '../../src/protocol/chunk.js';
import {
  chunkFrames,
  decodeFrame,
  FrameType,
  MAX_DATA_BYTES,
  type Frame,
} from '../../src/protocol/frames.js';
import type { Link } from '../../src/transport/types.js';

const link: Link = {
  remoteId: 'remote',
  initiator: true,
  bufferedAmount: 0,
  send: () => undefined,
  close: () => undefined,
};

function chunkOf(seq: number, byteLength: number): { meta: ChunkMeta; bytes: Uint8Array } {
  const bytes = Uint8Array.from({ length: byteLength }, (_, i) => (i * 31 + seq) & 0xff);
  const meta: ChunkMeta = {
    rendition: 0,
    seq,
    segment: 0,
    index: seq,
    mediaTimeMs: seq * 500,
    durationMs: 500,
    captureTimeMs: 1_000_000 + seq * 500,
    byteLength,
    digest: new Uint8Array(DIGEST_BYTES),
    signature: new Uint8Array(SIGNATURE_BYTES),
  };
  return { meta, bytes };
}

/** Feeds a chunk's frames (as `decodeFrame` gives them) to `state`; returns what completed. */
function receive(state: PeerLinkState, messages: readonly Uint8Array[], withMessages = true) {
  let received;
  for (const message of messages) {
    const frame: Frame = decodeFrame(message);
    if (frame.type === FrameType.Chunk) {
      state.beginChunk(
        frame.meta,
        frame.requestId,
        frame.heldBefore,
        withMessages ? message : undefined,
      );
    }
    if (frame.type === FrameType.Data) {
      received = state.addData(
        frame.seq,
        frame.offset,
        frame.bytes,
        withMessages ? message : undefined,
      );
    }
  }
  return received;
}

describe('PeerLinkState chunk assembly', () => {
  it('gives a chunk that came in one frame as a view of it, with that frame to relay', () => {
    const { meta, bytes } = chunkOf(3, 1000);
    const frames = chunkFrames(0, meta, bytes, 0b101);
    const received = receive(new PeerLinkState(link), frames);
    expect(received?.bytes).toEqual(bytes);
    expect(received?.bytes.buffer).toBe(frames[1]?.buffer);
    expect(received?.dataFrames).toEqual([frames[1]]);
    expect(received?.chunkFrame).toBe(frames[0]);
  });

  it('receives up to MAX_CHUNKS_IN_FLIGHT chunks at once, their frames interleaved', () => {
    const state = new PeerLinkState(link);
    const chunks = [5, 6, 7, 8].map((seq) => chunkOf(seq, 2 * MAX_DATA_BYTES + 10 * seq));
    const frames = chunks.map(({ meta, bytes }) => chunkFrames(0, meta, bytes, 0));
    // Every CHUNK frame first, then the DATA frames round-robin, in a mixed order.
    for (const messages of frames) expect(receive(state, messages.slice(0, 1))).toBeUndefined();
    expect(() =>
      receive(state, chunkFrames(0, chunkOf(9, 10).meta, chunkOf(9, 10).bytes, 0)),
    ).toThrow(/open at once/);
    expect(() => receive(state, frames[1]?.slice(0, 1) ?? [])).toThrow(/announced twice/);
    const done = new Map<number, Uint8Array>();
    for (let part = 1; part <= 3; part++) {
      for (const i of [2, 0, 3, 1]) {
        const received = receive(state, frames[i]?.slice(part, part + 1) ?? []);
        if (received !== undefined) done.set(received.meta.seq, received.bytes);
      }
    }
    expect([...done.keys()].sort()).toEqual([5, 6, 7, 8]);
    for (const { meta, bytes } of chunks) {
      expect(done.get(meta.seq)).toEqual(bytes);
      expect(state.receiving(meta.seq)).toBe(false);
    }
    expect(() => state.addData(6, 0, new Uint8Array(1))).toThrow(/not announced/);
    // All finished: as many can be open again.
    for (const seq of [10, 11, 12, 13]) {
      const { meta, bytes } = chunkOf(seq, 10);
      receive(state, chunkFrames(0, meta, bytes, 0).slice(0, 1));
      expect(state.receiving(seq)).toBe(true);
    }
  });

  it('offers the CHUNK message to relay only for a push whose header is the one encodeFrame writes', () => {
    const { meta, bytes } = chunkOf(4, 1000);
    const answer = receive(new PeerLinkState(link), chunkFrames(5, meta, bytes));
    expect(answer?.dataFrames).toHaveLength(1);
    expect(answer?.chunkFrame).toBeUndefined();
    // A reserved byte set: decoders ignore it, relays must not pass it on.
    const frames = chunkFrames(0, meta, bytes);
    const odd = frames[0]?.slice();
    odd?.set([0, 1], 2);
    const received = receive(new PeerLinkState(link), [
      odd ?? new Uint8Array(0),
      ...frames.slice(1),
    ]);
    expect(received?.bytes).toEqual(bytes);
    expect(received?.dataFrames).toEqual(frames.slice(1));
    expect(received?.chunkFrame).toBeUndefined();
  });

  it('puts a chunk of several frames together once, and shares it with a link that got the same messages', () => {
    const { meta, bytes } = chunkOf(7, 2 * MAX_DATA_BYTES + 100);
    const frames = chunkFrames(0, meta, bytes);
    expect(frames).toHaveLength(4);
    const first = receive(new PeerLinkState(link), frames);
    const second = receive(new PeerLinkState(link), frames);
    expect(first?.bytes).toEqual(bytes);
    expect(first?.dataFrames).toEqual(frames.slice(1));
    expect(second?.bytes).toBe(first?.bytes);
    // Copies of the messages (as a real transport delivers) are put together anew.
    const copies = frames.map((frame) => frame.slice());
    const third = receive(new PeerLinkState(link), copies);
    expect(third?.bytes).toEqual(bytes);
    expect(third?.bytes).not.toBe(first?.bytes);
    expect(third?.dataFrames).toEqual(copies.slice(1));
  });

  it('offers no frames to relay when a DATA header is not the one encodeFrame writes, or the messages are unknown', () => {
    const { meta, bytes } = chunkOf(9, MAX_DATA_BYTES + 10);
    const frames = chunkFrames(0, meta, bytes).map((frame) => frame.slice());
    // A request id in a DATA frame: decoders ignore it, relays must not pass it on.
    frames[2]?.set([0, 0, 0, 1], 4);
    const odd = receive(new PeerLinkState(link), frames);
    expect(odd?.bytes).toEqual(bytes);
    expect(odd?.dataFrames).toBeUndefined();
    const unknown = receive(new PeerLinkState(link), chunkFrames(0, meta, bytes), false);
    expect(unknown?.bytes).toEqual(bytes);
    expect(unknown?.dataFrames).toBeUndefined();
    expect(unknown?.chunkFrame).toBeUndefined();
  });
});

/** A set's seqs, ascending. */
function sorted(seqs: Iterable<number>): number[] {
  return [...seqs].sort((a, b) => a - b);
}

describe('HeldSeqs', () => {
  it('addHeldBefore() adds the seqs a CHUNK frame announces, and none before 0', () => {
    const held = new HeldSeqs();
    held.addHeldBefore(100, (1 | (1 << 5) | (1 << 31)) >>> 0);
    expect(sorted(held)).toEqual([68, 94, 99]);
    held.addHeldBefore(3, 0xffff_ffff);
    expect(sorted(held)).toEqual([0, 1, 2, 68, 94, 99]);
    held.addHeldBefore(200, 0);
    expect(held.size).toBe(6);
  });

  it('forgetThrough() leaves the same seqs as dropping every seq at or below the point from a Set, and newest() is their highest', () => {
    const random = new SeededRandom(7);
    const held = new HeldSeqs();
    const reference = new Set<number>();
    let point = -5;
    for (let step = 0; step < 20_000; step++) {
      const action = random.int(10);
      if (action < 6) {
        // Mostly new seqs near the top, some old ones below the point (late HAVE bits).
        const seq = point + random.int(40) - (random.int(4) === 0 ? 30 : 0);
        held.add(seq);
        reference.add(seq);
        expect(held.has(seq)).toBe(true);
      } else if (action < 7) {
        const seq = point + random.int(40) - (random.int(4) === 0 ? 30 : 0);
        held.delete(seq);
        reference.delete(seq);
        expect(held.has(seq)).toBe(false);
      } else {
        // The point moves up by a little, a lot (past the whole set, or past the ring of seqs kept
        // as bits), or not at all.
        const jump = random.int(50) === 0 ? 1000 + random.int(3000) : random.int(200);
        point += random.int(5) === 0 ? jump : random.int(3);
        held.forgetThrough(point);
        for (const seq of reference) if (seq <= point) reference.delete(seq);
      }
      expect(held.size).toBe(reference.size);
      expect(held.newest()).toBe(Math.max(-1, ...reference));
      if (step % 1000 === 0) expect(sorted(held)).toEqual(sorted(reference));
    }
    expect(sorted(held)).toEqual(sorted(reference));
    for (let seq = point - 50; seq < point + 50; seq++)
      expect(held.has(seq)).toBe(reference.has(seq));
  }, 10_000);

  it('keeps every seq of a range wider than its ring of bits, with some dropped and some late', () => {
    const random = new SeededRandom(11);
    const held = new HeldSeqs();
    const reference = new Set<number>();
    for (let seq = 0; seq < 5000; seq += 1 + random.int(5)) {
      held.add(seq);
      reference.add(seq);
      if (random.int(3) === 0) {
        const old = Math.max(0, seq - random.int(3000));
        held.delete(old);
        reference.delete(old);
      }
    }
    held.add(3);
    reference.add(3);
    expect(held.size).toBe(reference.size);
    expect(sorted(held)).toEqual(sorted(reference));
    for (let seq = 0; seq < 5000; seq++) expect(held.has(seq)).toBe(reference.has(seq));
    held.forgetThrough(2500);
    for (const seq of reference) if (seq <= 2500) reference.delete(seq);
    expect(sorted(held)).toEqual(sorted(reference));
    expect(held.size).toBe(reference.size);
  }, 10_000);
});
