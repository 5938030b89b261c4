import { describe, expect, it } from 'vitest';
import { signChunk, signatureVerifier } from '../../src/crypto/chunk-signing.js';
import { generateSigningKeyPair, publicKeyToBase64Url } from '../../src/crypto/keys.js';
import { sha256 } from '../../src/crypto/hash.js';
import {
  FAKE_HAVE_CHUNKS,
  FLOOD_REQUESTS,
  FrameRewriter,
  JOIN_FLOOD,
  WRONG_ID_SHIFT,
  attackTracker,
  attackTransport,
  type AttackMode,
} from '../../src/lab/attacks.js';
import { ChunkAuditor } from '../../src/lab/chunk-audit.js';
import { PeerLinkState } from '../../src/peer/peer-link.js';
import type { Chunk } from '../../src/protocol/chunk.js';
import {
  FrameType,
  MAX_FRAME_BYTES,
  MAX_DATA_BYTES,
  chunkFrames,
  decodeFrame,
  encodeFrame,
  type Frame,
} from '../../src/protocol/frames.js';
import type { ClientMessage } from '../../src/protocol/tracker.js';
import type { Link, TransportEvents } from '../../src/transport/types.js';

const TIMEOUT_MS = 10_000;
const STREAM = 'live';

/** Two signed chunks of the test stream; the second spans two DATA frames. */
async function signedChunks(): Promise<{ chunks: Chunk[]; publicKey: string }> {
  const pair = await generateSigningKeyPair();
  const chunks: Chunk[] = [];
  for (const [seq, length] of [
    [40, 1000],
    [41, MAX_DATA_BYTES + 500],
  ] as const) {
    const bytes = new Uint8Array(length).map((_, i) => (i * 7 + seq) & 0xff);
    chunks.push(
      await signChunk(STREAM, pair.privateKey, {
        rendition: 0,
        seq,
        segment: 10,
        index: seq % 4,
        mediaTimeMs: seq * 125,
        durationMs: 125,
        captureTimeMs: 1_700_000_000_000 + seq * 125,
        bytes,
      }),
    );
  }
  return { chunks, publicKey: publicKeyToBase64Url(pair) };
}

function defined<T>(value: T | undefined): T {
  if (value === undefined) throw new Error('expected a value');
  return value;
}

/** Sends a chunk's frames through the rewriter. */
function rewriteChunk(rewriter: FrameRewriter, chunk: Chunk, requestId = 0): Uint8Array[] {
  return chunkFrames(requestId, chunk, chunk.bytes).flatMap((frame) => rewriter.rewrite(frame));
}

/** What a receiving link makes of frames: the chunks it assembled, or the protocol error. */
function receive(frames: readonly Uint8Array[]): Chunk[] {
  const link: Link = {
    remoteId: 'x',
    initiator: false,
    bufferedAmount: 0,
    send: () => undefined,
    close: () => undefined,
  };
  const state = new PeerLinkState(link);
  const out: Chunk[] = [];
  for (const message of frames) {
    const frame = decodeFrame(message);
    if (frame.type === FrameType.Chunk) {
      state.beginChunk(frame.meta, frame.requestId, frame.heldBefore);
    }
    if (frame.type === FrameType.Data) {
      const received = state.addData(frame.seq, frame.offset, frame.bytes, message);
      if (received !== undefined) out.push({ ...received.meta, bytes: received.bytes });
    }
  }
  return out;
}

function rejects(publicKey: string, chunk: Chunk): Promise<void> {
  return expect(signatureVerifier(STREAM, publicKey).verify(chunk)).rejects.toThrow();
}

describe('attack modes (FrameRewriter)', { timeout: TIMEOUT_MS }, () => {
  it('corrupt: sends every chunk with its bytes inverted and its metadata untouched; the verifier rejects it', async () => {
    const { chunks, publicKey } = await signedChunks();
    const attacks: AttackMode[] = [];
    const rewriter = new FrameRewriter('corrupt', (mode) => attacks.push(mode));
    for (const chunk of chunks) {
      const frames = rewriteChunk(rewriter, chunk, 9);
      expect(decodeFrame(frames[0] ?? new Uint8Array())).toMatchObject({ requestId: 9 });
      const [got] = receive(frames);
      if (got === undefined) throw new Error('nothing assembled');
      expect(got.seq).toBe(chunk.seq);
      expect(got.digest).toEqual(chunk.digest);
      expect(got.bytes[0]).toBe(~(chunk.bytes[0] ?? 0) & 0xff);
      expect(got.bytes.byteLength).toBe(chunk.byteLength);
      await rejects(publicKey, got);
    }
    await expect(signatureVerifier(STREAM, publicKey).verify(defined(chunks[0]))).resolves.toBe(
      undefined,
    );
    expect(attacks).toEqual(['corrupt', 'corrupt']);
  });

  it(`wrong-id: relabels every chunk, CHUNK and DATA frames, as seq + ${WRONG_ID_SHIFT}`, async () => {
    const { chunks, publicKey } = await signedChunks();
    const rewriter = new FrameRewriter('wrong-id');
    const chunk = defined(chunks[1]);
    const frames = rewriteChunk(rewriter, chunk);
    expect(frames).toHaveLength(3);
    for (const frame of frames) {
      const decoded = decodeFrame(frame);
      const seq =
        decoded.type === FrameType.Chunk ? decoded.meta.seq : (decoded as { seq: number }).seq;
      expect(seq).toBe(chunk.seq + WRONG_ID_SHIFT);
    }
    const [got] = receive(frames);
    expect(got?.bytes).toEqual(chunk.bytes);
    await rejects(publicKey, defined(got));
  });

  it('replay: sends the first chunk as it is, then its bytes and signed metadata under each later seq', async () => {
    const { chunks, publicKey } = await signedChunks();
    const rewriter = new FrameRewriter('replay');
    const [first, second] = chunks as [Chunk, Chunk];
    const [asIs] = receive(rewriteChunk(rewriter, first));
    expect(asIs?.bytes).toEqual(first.bytes);
    await expect(signatureVerifier(STREAM, publicKey).verify(defined(asIs))).resolves.toBe(
      undefined,
    );
    const [replayed] = receive(rewriteChunk(rewriter, second));
    expect(replayed?.seq).toBe(second.seq);
    expect(replayed?.bytes).toEqual(first.bytes);
    expect(replayed?.signature).toEqual(first.signature);
    await rejects(publicKey, defined(replayed));
  });

  it('forged-signature: replaces the bytes, with their true digest and a signature by no one', async () => {
    const { chunks, publicKey } = await signedChunks();
    const rewriter = new FrameRewriter('forged-signature');
    const chunk = defined(chunks[0]);
    const [got] = receive(rewriteChunk(rewriter, chunk));
    if (got === undefined) throw new Error('nothing assembled');
    expect(got.bytes).not.toEqual(chunk.bytes);
    expect(got.digest).toEqual(await sha256(got.bytes));
    expect(got.signature).not.toEqual(chunk.signature);
    await expect(signatureVerifier(STREAM, publicKey).verify(got)).rejects.toThrow(/signature/);
  });

  it(`fake-have: every HAVE frame announces ${FAKE_HAVE_CHUNKS} chunks from its first seq`, () => {
    const rewriter = new FrameRewriter('fake-have');
    const [out] = rewriter.rewrite(
      encodeFrame({ type: FrameType.Have, fromSeq: 100, bitmap: new Uint8Array([0x80]) }),
    );
    const frame = decodeFrame(out ?? new Uint8Array());
    expect(frame).toMatchObject({ type: FrameType.Have, fromSeq: 100 });
    expect((frame as Extract<Frame, { type: 2 }>).bitmap).toEqual(
      new Uint8Array(FAKE_HAVE_CHUNKS / 8).fill(0xff),
    );
    // Other frames pass untouched.
    const request = encodeFrame({ type: FrameType.Request, requestId: 1, seq: 3 });
    expect(rewriter.rewrite(request)).toEqual([request]);
  });

  it(`request-flood: adds ${FLOOD_REQUESTS} requests for the newest chunks after every frame, under unused request ids`, () => {
    const rewriter = new FrameRewriter('request-flood');
    const hello = encodeFrame({ type: FrameType.Request, requestId: 1, seq: 0 });
    expect(rewriter.rewrite(hello)).toEqual([hello]); // nothing seen yet: no flood
    const have = encodeFrame({ type: FrameType.Have, fromSeq: 50, bitmap: new Uint8Array([0x80]) });
    const out = rewriter.rewrite(have).map((m) => decodeFrame(m));
    expect(out[0]).toMatchObject({ type: FrameType.Have });
    expect(out.slice(1)).toEqual(
      Array.from({ length: FLOOD_REQUESTS }, (_, i) => ({
        type: FrameType.Request,
        requestId: 0x8000_0000 + i,
        seq: 50 - i,
      })),
    );
  });

  it('oversized: pads DATA frames to the largest link message, which the receiver refuses', async () => {
    const { chunks } = await signedChunks();
    const frames = rewriteChunk(new FrameRewriter('oversized'), defined(chunks[0]));
    expect(frames[1]?.byteLength).toBe(MAX_FRAME_BYTES);
    expect(() => receive(frames)).toThrow(/wrong offset/);
  });

  it('truncated: cuts CHUNK frames short, which the decoder refuses', async () => {
    const { chunks } = await signedChunks();
    const frames = rewriteChunk(new FrameRewriter('truncated'), defined(chunks[0]));
    expect(() => decodeFrame(frames[0] ?? new Uint8Array())).toThrow(/wrong length/);
  });

  it('never-answer: drops chunks and ABSENT answers, keeps everything else', async () => {
    const { chunks } = await signedChunks();
    const rewriter = new FrameRewriter('never-answer');
    expect(rewriteChunk(rewriter, defined(chunks[1]))).toEqual([]);
    const absent = encodeFrame({ type: FrameType.Absent, requestId: 4, seq: 1 });
    expect(rewriter.rewrite(absent)).toEqual([]);
    const request = encodeFrame({ type: FrameType.Request, requestId: 4, seq: 1 });
    expect(rewriter.rewrite(request)).toEqual([request]);
  });

  it('never modifies the message it is given (it may be shared with other receivers)', async () => {
    const { chunks } = await signedChunks();
    const modes: AttackMode[] = [
      'corrupt',
      'wrong-id',
      'replay',
      'forged-signature',
      'oversized',
      'truncated',
    ];
    for (const mode of modes) {
      const rewriter = new FrameRewriter(mode);
      for (const chunk of chunks) {
        const frames = chunkFrames(0, chunk, chunk.bytes);
        const copies = frames.map((f) => f.slice());
        for (const frame of frames) rewriter.rewrite(frame);
        expect(frames, mode).toEqual(copies);
      }
    }
  });
});

describe('attack decorators', { timeout: TIMEOUT_MS }, () => {
  it('attackTransport rewrites what the core sends on connected and accepted links, and shows the core one wrapper per link', () => {
    const sent: Uint8Array[] = [];
    const inner = (remoteId: string): Link => ({
      remoteId,
      initiator: true,
      bufferedAmount: 0,
      send: (message) => sent.push(message),
      close: () => undefined,
    });
    let innerEvents: TransportEvents | undefined;
    const factory = attackTransport('never-answer', (events) => {
      innerEvents = events;
      return { connect: inner, signal: () => undefined, close: () => undefined };
    });
    const opened: Link[] = [];
    const transport = factory({
      signal: () => undefined,
      open: (link) => opened.push(link),
      message: () => undefined,
      drain: () => undefined,
      close: () => undefined,
    });
    const absent = encodeFrame({ type: FrameType.Absent, requestId: 1, seq: 1 });
    const request = encodeFrame({ type: FrameType.Request, requestId: 1, seq: 1 });
    const connected = transport.connect('a');
    connected.send(absent);
    connected.send(request);
    const accepted = inner('b');
    innerEvents?.open(accepted);
    innerEvents?.open(accepted);
    expect(opened[0]).toBe(opened[1]);
    opened[0]?.send(absent);
    expect(sent).toEqual([request]);
  });

  it('attackTransport tells its listener which peer each harmful message went to', () => {
    const link = (remoteId: string): Link => ({
      remoteId,
      initiator: true,
      bufferedAmount: 0,
      send: () => undefined,
      close: () => undefined,
    });
    const told: [AttackMode, string | undefined][] = [];
    const transport = attackTransport(
      'fake-have',
      () => ({ connect: link, signal: () => undefined, close: () => undefined }),
      (mode, to) => told.push([mode, to]),
    )({
      signal: () => undefined,
      open: () => undefined,
      message: () => undefined,
      drain: () => undefined,
      close: () => undefined,
    });
    const have = encodeFrame({ type: FrameType.Have, fromSeq: 3, bitmap: new Uint8Array([0x80]) });
    transport.connect('a').send(have);
    transport.connect('b').send(have);
    expect(told).toEqual([
      ['fake-have', 'a'],
      ['fake-have', 'b'],
    ]);
  });

  it(`attackTracker sends ${JOIN_FLOOD} more joins after a join in join-flood mode, and nothing more in others`, () => {
    const sent: ClientMessage[] = [];
    const inner = () => ({ send: (m: ClientMessage) => sent.push(m), close: () => undefined });
    const events = { open: () => undefined, message: () => undefined, close: () => undefined };
    attackTracker('corrupt', inner)(events).send({ type: 'join', stream: STREAM });
    expect(sent).toHaveLength(1);
    const flooding = attackTracker('join-flood', inner)(events);
    flooding.send({ type: 'heartbeat' });
    flooding.send({ type: 'join', stream: STREAM });
    expect(sent).toHaveLength(3 + JOIN_FLOOD);
    expect(sent.slice(2).every((m) => m.type === 'join')).toBe(true);
  });
});

describe('ChunkAuditor (the lab’s measurement)', { timeout: TIMEOUT_MS }, () => {
  it('counts a verified or sent chunk that differs from the published one as bad, and the published one as good', async () => {
    const { chunks } = await signedChunks();
    const auditor = new ChunkAuditor();
    for (const chunk of chunks) auditor.publish(chunk);
    const [good, other] = chunks as [Chunk, Chunk];
    auditor.verify(good);
    const flipped = good.bytes.slice();
    flipped[500] = (flipped[500] ?? 0) ^ 1;
    auditor.verify({ ...good, bytes: flipped });
    auditor.verify({ ...other, seq: good.seq });
    expect([auditor.verified, auditor.badVerified]).toEqual([3, 2]);

    const observe = auditor.linkObserver();
    for (const frame of chunkFrames(0, other, other.bytes)) observe(frame);
    for (const frame of rewriteChunk(new FrameRewriter('corrupt'), other)) observe(frame);
    for (const frame of rewriteChunk(new FrameRewriter('wrong-id'), good)) observe(frame);
    expect([auditor.sent, auditor.badSent]).toEqual([3, 2]);
  });
});
