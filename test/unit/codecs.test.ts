import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../src/common/errors.js';
import {
  CHUNK_META_BYTES,
  decodeChunk,
  decodeChunkMeta,
  encodeChunk,
  encodeChunkMeta,
  type Chunk,
} from '../../src/protocol/chunk.js';
import {
  chunkFrames,
  decodeFrame,
  encodeFrame,
  FrameType,
  MAX_DATA_BYTES,
  MAX_FRAME_BYTES,
  type Frame,
} from '../../src/protocol/frames.js';
import {
  decodeClientMessage,
  decodeTrackerMessage,
  encodeMessage,
  MAX_TRACKER_MESSAGE_BYTES,
  TRACKER_PROTOCOL_VERSION,
  type ClientMessage,
  type TrackerMessage,
} from '../../src/protocol/tracker.js';

const chunk: Chunk = {
  rendition: 0,
  seq: 41,
  segment: 10,
  index: 1,
  mediaTimeMs: 20_521.35,
  durationMs: 500,
  captureTimeMs: 1_790_000_000_123.5,
  byteLength: 5,
  digest: new Uint8Array(32).fill(7),
  signature: new Uint8Array(64).fill(9),
  bytes: new Uint8Array([1, 2, 3, 4, 5]),
};

function expectProtocolError(run: () => unknown, code: string): void {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ProtocolError);
    expect((error as ProtocolError).code).toBe(code);
    return;
  }
  throw new Error('expected a ProtocolError');
}

describe('chunk codec', () => {
  it('encodeChunk() and decodeChunk() round-trip every field', () => {
    expect(decodeChunk(encodeChunk(chunk))).toEqual(chunk);
    expect(decodeChunkMeta(encodeChunkMeta(chunk))).toEqual(
      (({ bytes: _bytes, ...meta }) => meta)(chunk),
    );
  });

  it('decodeChunk() rejects truncated, padded and impossible chunks with malformed-frame', () => {
    const encoded = encodeChunk(chunk);
    expectProtocolError(
      () => decodeChunk(encoded.subarray(0, CHUNK_META_BYTES - 1)),
      'malformed-frame',
    );
    expectProtocolError(
      () => decodeChunk(encoded.subarray(0, encoded.byteLength - 1)),
      'malformed-frame',
    );
    expectProtocolError(() => decodeChunk(new Uint8Array([...encoded, 0])), 'malformed-frame');
    const zeroLength = encodeChunk({ ...chunk, byteLength: 0, bytes: new Uint8Array(0) });
    expectProtocolError(() => decodeChunk(zeroLength), 'malformed-frame');
    const badTime = encodeChunkMeta(chunk);
    new DataView(badTime.buffer).setFloat64(11, Number.NaN);
    expectProtocolError(() => decodeChunkMeta(badTime), 'malformed-frame');
  });
});

describe('peer frame codec', () => {
  const frames: Frame[] = [
    { type: FrameType.Hello, hello: { peerId: 'abc', stream: 'live', credential: 'Q1-_x' } },
    { type: FrameType.Have, fromSeq: 7, bitmap: new Uint8Array([0b1010_0000, 1]) },
    {
      type: FrameType.Chunk,
      requestId: 3,
      meta: (({ bytes: _b, ...m }) => m)(chunk),
      heldBefore: 0x8000_0001,
    },
    { type: FrameType.Data, seq: 41, offset: 65_519, bytes: new Uint8Array([9, 8, 7]) },
    { type: FrameType.Request, requestId: 4, seq: 41 },
    { type: FrameType.Absent, requestId: 4, seq: 41 },
    { type: FrameType.Cancel, requestId: 4, seq: 41 },
    { type: FrameType.Subscribe, index: 2, count: 3 },
  ];

  it.each(frames.map((f) => [f.type, f] as const))(
    'encodeFrame() and decodeFrame() round-trip type %i',
    (_type, frame) => {
      expect(decodeFrame(encodeFrame(frame))).toEqual(frame);
    },
  );

  it('encodeFrame() refuses a heldBefore map that is not 32 bits', () => {
    const meta = (({ bytes: _b, ...m }) => m)(chunk);
    for (const heldBefore of [-1, 2 ** 32, 1.5, Number.NaN]) {
      expect(() => encodeFrame({ type: FrameType.Chunk, requestId: 0, meta, heldBefore })).toThrow(
        /32-bit/,
      );
    }
  });

  it('chunkFrames() cuts a chunk into one CHUNK frame and DATA frames under the size limit', () => {
    const big = {
      ...chunk,
      byteLength: 150_000,
      bytes: new Uint8Array(150_000).map((_, i) => i % 251),
    };
    const out = chunkFrames(0, big, big.bytes);
    expect(out).toHaveLength(1 + Math.ceil(150_000 / MAX_DATA_BYTES));
    const decoded = out.map(decodeFrame);
    expect(decoded[0]?.type).toBe(FrameType.Chunk);
    const rebuilt = new Uint8Array(150_000);
    for (const frame of decoded.slice(1)) {
      expect(frame.type).toBe(FrameType.Data);
      if (frame.type === FrameType.Data) rebuilt.set(frame.bytes, frame.offset);
    }
    expect(rebuilt).toEqual(big.bytes);
    for (const frame of out) expect(frame.byteLength).toBeLessThanOrEqual(MAX_FRAME_BYTES);
  });

  it('decodeFrame() rejects every kind of malformed frame with malformed-frame', () => {
    const request = encodeFrame({ type: FrameType.Request, requestId: 1, seq: 2 });
    const helloHeader = encodeFrame({
      type: FrameType.Hello,
      hello: { peerId: 'a', stream: 'b', credential: 'c' },
    }).subarray(0, 16);
    const cases: Record<string, Uint8Array> = {
      empty: new Uint8Array(0),
      'shorter than the header': request.subarray(0, 15),
      'too large': new Uint8Array(MAX_FRAME_BYTES + 1),
      'wrong version': Uint8Array.from(request, (b, i) => (i === 0 ? 9 : b)),
      'unknown type': Uint8Array.from(request, (b, i) => (i === 1 ? 99 : b)),
      'request with a payload': new Uint8Array([...request, 1]),
      'subscribe to a stripe past the count': new Uint8Array([
        1, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 3,
      ]),
      'subscribe to zero stripes': new Uint8Array([
        1, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
      ]),
      'empty data': encodeFrame({
        type: FrameType.Data,
        seq: 1,
        offset: 0,
        bytes: new Uint8Array(1),
      }).subarray(0, 16),
      'hello that is not JSON': new Uint8Array([...helloHeader, 0x7b]),
      'hello without a peer id': new Uint8Array([
        ...helloHeader,
        ...new TextEncoder().encode('{"stream":"live","credential":"c"}'),
      ]),
      'hello without a credential': new Uint8Array([
        ...helloHeader,
        ...new TextEncoder().encode('{"peerId":"a","stream":"live"}'),
      ]),
      'hello with an oversized credential': new Uint8Array([
        ...helloHeader,
        ...new TextEncoder().encode(
          JSON.stringify({ peerId: 'a', stream: 'live', credential: 'c'.repeat(513) }),
        ),
      ]),
      'hello with a credential that is not base64url': new Uint8Array([
        ...helloHeader,
        ...new TextEncoder().encode('{"peerId":"a","stream":"live","credential":"a.b"}'),
      ]),
      'chunk frame of the wrong length': encodeFrame({
        type: FrameType.Chunk,
        requestId: 0,
        meta: chunk,
        heldBefore: 0,
      }).subarray(0, 40),
    };
    for (const [name, bytes] of Object.entries(cases)) {
      expect(() => decodeFrame(bytes), name).toThrow(ProtocolError);
      expectProtocolError(() => decodeFrame(bytes), 'malformed-frame');
    }
  });

  it('decodeFrame() never throws anything but a ProtocolError on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        try {
          decodeFrame(bytes);
        } catch (error) {
          expect(error).toBeInstanceOf(ProtocolError);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('tracker message codec', () => {
  const clientMessages: ClientMessage[] = [
    {
      type: 'hello',
      version: TRACKER_PROTOCOL_VERSION,
      role: 'viewer',
      publicKey: 'A'.repeat(43),
      admission: 'a join secret',
      uploadKbps: 2000,
    },
    { type: 'auth', signature: 'S'.repeat(86) },
    { type: 'join', stream: 'live' },
    {
      type: 'signal',
      to: 'peer-1',
      data: {
        kind: 'candidate',
        candidate: 'candidate:1 1 UDP 1 127.0.0.1 5000 typ host',
        mid: '0',
      },
    },
    { type: 'heartbeat' },
    { type: 'leave' },
  ];
  const trackerMessages: TrackerMessage[] = [
    { type: 'challenge', nonce: 'N'.repeat(43), trackerKey: 'K'.repeat(43) },
    { type: 'credential', credential: 'C'.repeat(315) },
    {
      type: 'welcome',
      version: 1,
      peerId: 'abc',
      heartbeatIntervalMs: 1000,
      heartbeatTimeoutMs: 3000,
    },
    {
      type: 'neighbours',
      stream: 'live',
      parents: ['a'],
      children: ['b', 'c'],
      backupParents: ['d'],
      backupChildren: [],
    },
    { type: 'signal', from: 'a', data: { kind: 'description', sdpType: 'offer', sdp: 'v=0' } },
    { type: 'error', code: 'unknown-stream', message: 'no such stream' },
  ];

  it('round-trips every client and tracker message', () => {
    for (const m of clientMessages) expect(decodeClientMessage(encodeMessage(m))).toEqual(m);
    for (const m of trackerMessages) expect(decodeTrackerMessage(encodeMessage(m))).toEqual(m);
  });

  it('rejects malformed input with a typed code', () => {
    expectProtocolError(() => decodeClientMessage('{not json'), 'malformed-message');
    expectProtocolError(() => decodeClientMessage('[]'), 'malformed-message');
    expectProtocolError(() => decodeClientMessage('{"type":"teleport"}'), 'unknown-message-type');
    expectProtocolError(
      () => decodeClientMessage('{"type":"join","stream":"bad id!"}'),
      'malformed-message',
    );
    expectProtocolError(
      () => decodeClientMessage('{"type":"leave","extra":1}'),
      'malformed-message',
    );
    expectProtocolError(
      () => decodeClientMessage('{"type":"welcome","version":1}'),
      'unknown-message-type',
    );
    expectProtocolError(
      () =>
        decodeClientMessage(
          JSON.stringify({ type: 'leave', pad: 'x'.repeat(MAX_TRACKER_MESSAGE_BYTES) }),
        ),
      'message-too-large',
    );
    // Counted in UTF-8 bytes, not characters.
    expectProtocolError(
      () =>
        decodeClientMessage(
          JSON.stringify({ type: 'leave', pad: 'é'.repeat(MAX_TRACKER_MESSAGE_BYTES / 2) }),
        ),
      'message-too-large',
    );
  });
});
