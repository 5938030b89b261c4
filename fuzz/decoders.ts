/**
 * Every decoder of untrusted input, with what to feed it: valid encodings (which must decode),
 * and the fuzz inputs — pure random data and valid encodings damaged by `mutations.ts`. Each
 * decoder documents the one typed error it throws on bad input; anything else is a bug.
 */
import fc from 'fast-check';
import { concatBytes } from '../src/common/bytes.js';
import { MediaError, ProtocolError, type SwarmcastError } from '../src/common/errors.js';
import { MAX_CREDENTIAL_CHARS } from '../src/crypto/credentials.js';
import { Fmp4Parser, type Fmp4Item } from '../src/broadcaster/fmp4.js';
import {
  DIGEST_BYTES,
  MAX_CHUNK_BYTES,
  SIGNATURE_BYTES,
  STREAM_ID_PATTERN,
  decodeChunk,
  decodeChunkMeta,
  encodeChunk,
  encodeChunkMeta,
  type Chunk,
  type ChunkMeta,
} from '../src/protocol/chunk.js';
import {
  FRAME_HEADER_BYTES,
  FrameType,
  MAX_DATA_BYTES,
  MAX_HAVE_CHUNKS,
  decodeFrame,
  encodeFrame,
  type Frame,
} from '../src/protocol/frames.js';
import {
  MAX_ADMISSION_CHARS,
  MAX_NEIGHBOURS,
  REPORT_REASONS,
  TOPOLOGY_KINDS,
  clientMessageSchema,
  decodeClientMessage,
  decodeTrackerMessage,
  trackerErrorCodeSchema,
  trackerMessageSchema,
  type ClientMessage,
  type TrackerMessage,
} from '../src/protocol/tracker.js';
import {
  MAX_DESCRIPTION_BYTES,
  decodeInitUpload,
  decodeStreamDescription,
  encodeInitUpload,
} from '../src/origin/server.js';
import type { StreamDescription } from '../src/origin/store.js';
import type { InitSegment, TrackInfo } from '../src/protocol/media.js';
import { generateFmp4 } from '../test/helpers/ffmpeg-fixtures.js';
import { boxSizeOffsets, mutatedBytes, mutatedJson, mutatedJsonValue } from './mutations.js';

/** What one decoder is fed. */
export interface FuzzInputs<Input> {
  /** Valid encodings: every one must decode (else the mutations start from garbage). */
  readonly valid: fc.Arbitrary<Input>;
  /** Random inputs and damaged valid ones. */
  readonly inputs: fc.Arbitrary<Input>;
  decode(input: Input): unknown;
}

export interface DecoderFuzz<Input = unknown> {
  readonly name: string;
  /** The function under test, for the report. */
  readonly target: string;
  /** The typed error the decoder documents for bad input. */
  readonly error: abstract new (...args: never[]) => SwarmcastError;
  prepare(): Promise<FuzzInputs<Input>>;
}

const u8 = fc.nat(0xff);
const u16 = fc.nat(0xffff);
const u32 = fc.nat(0xffff_ffff);
/** Random bytes, up to 512 of them. */
const randomBytes = fc.uint8Array({ maxLength: 512, size: 'medium' });
/** Share of damaged valid encodings among the inputs (the rest is random). */
const MUTATED_WEIGHT = 3;

/**
 * The inputs of a binary decoder: random bytes or damaged encodings, each handed over as a view
 * at a random offset of a larger buffer (as a received message may be).
 */
function binaryInputs(
  valid: fc.Arbitrary<Uint8Array>,
  fields: (bytes: Uint8Array) => readonly number[],
): fc.Arbitrary<Uint8Array> {
  return withOffset(
    fc.oneof(
      { arbitrary: randomBytes, weight: 1 },
      { arbitrary: mutatedBytes(valid, fields), weight: MUTATED_WEIGHT },
    ),
  );
}

function withOffset(bytes: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> {
  return fc.tuple(bytes, fc.nat(15), fc.nat(15)).map(([data, before, after]) => {
    const buffer = new Uint8Array(before + data.byteLength + after).fill(0xa5);
    buffer.set(data, before);
    return buffer.subarray(before, before + data.byteLength);
  });
}

/** Bytes of at most `max`, often of exactly `max` or close (to meet the decoders' limits). */
function bytesUpTo(min: number, max: number, usual = 256): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    { arbitrary: fc.uint8Array({ minLength: min, maxLength: usual }), weight: 9 },
    {
      arbitrary: fc.integer({ min: Math.max(min, max - 8), max }).map((n) => new Uint8Array(n)),
      weight: 1,
    },
  );
}

// --- chunks ---------------------------------------------------------------------------------

const timeMs = fc.double({ min: 0, max: 1e13, noNaN: true });

const chunkMeta: fc.Arbitrary<ChunkMeta> = fc.record({
  rendition: u8,
  seq: u32,
  segment: u32,
  index: u16,
  mediaTimeMs: timeMs,
  durationMs: u32,
  captureTimeMs: timeMs,
  byteLength: fc.integer({ min: 1, max: MAX_CHUNK_BYTES }),
  digest: fc.uint8Array({ minLength: DIGEST_BYTES, maxLength: DIGEST_BYTES }),
  signature: fc.uint8Array({ minLength: SIGNATURE_BYTES, maxLength: SIGNATURE_BYTES }),
});

const chunk: fc.Arbitrary<Chunk> = fc
  .tuple(chunkMeta, fc.uint8Array({ minLength: 1, maxLength: 1024 }))
  .map(([meta, bytes]) => ({ ...meta, byteLength: bytes.byteLength, bytes }));

/** Offsets of the u32 fields of an encoded chunk's metadata: seq, segment, both times, length. */
const CHUNK_META_FIELDS = [1, 5, 11, 19, 23, 31];

function chunkMetaFieldsAt(base: number): number[] {
  return CHUNK_META_FIELDS.map((offset) => base + offset);
}

const chunkMetaFuzz: DecoderFuzz<Uint8Array> = {
  name: 'chunk-meta',
  target: 'decodeChunkMeta (src/protocol/chunk.ts)',
  error: ProtocolError,
  prepare: () => {
    const valid = chunkMeta.map(encodeChunkMeta);
    return Promise.resolve({
      valid,
      inputs: binaryInputs(valid, () => chunkMetaFieldsAt(0)),
      decode: (bytes) => decodeChunkMeta(bytes),
    });
  },
};

const chunkFuzz: DecoderFuzz<Uint8Array> = {
  name: 'chunk',
  target: 'decodeChunk (src/protocol/chunk.ts): ingest uploads and origin fetches',
  error: ProtocolError,
  prepare: () => {
    const valid = chunk.map(encodeChunk);
    return Promise.resolve({
      valid,
      inputs: binaryInputs(valid, () => chunkMetaFieldsAt(0)),
      decode: decodeChunk,
    });
  },
};

// --- peer frames ----------------------------------------------------------------------------

/** A credential as the decoders bound it (its content is checked later, by signature). */
const credential = fc.stringMatching(new RegExp(`^[A-Za-z0-9_-]{1,${MAX_CREDENTIAL_CHARS}}$`));

const frame: fc.Arbitrary<Frame> = fc.oneof(
  fc.record({
    type: fc.constant(FrameType.Hello),
    hello: fc.record({
      peerId: fc.string({ maxLength: 64 }),
      stream: fc.string({ maxLength: 64 }),
      credential,
    }),
  }),
  fc.record({
    type: fc.constant(FrameType.Have),
    fromSeq: u32,
    bitmap: bytesUpTo(0, MAX_HAVE_CHUNKS / 8, 64),
  }),
  fc.record({
    type: fc.constant(FrameType.Chunk),
    requestId: u32,
    meta: chunkMeta,
    heldBefore: u32,
  }),
  fc.record({
    type: fc.constant(FrameType.Data),
    seq: u32,
    offset: u32,
    bytes: bytesUpTo(1, MAX_DATA_BYTES),
  }),
  fc.record({
    type: fc.constantFrom(FrameType.Request, FrameType.Absent, FrameType.Cancel),
    requestId: u32,
    seq: u32,
  }),
  fc
    .tuple(fc.integer({ min: 1, max: 255 }), u8)
    .map(([count, index]) => ({ type: FrameType.Subscribe, index: index % count, count })),
);

/** The header's first word (version, type), request id, seq and offset; a CHUNK's metadata. */
function frameFields(bytes: Uint8Array): number[] {
  const header = [0, 4, 8, 12];
  return bytes[1] === FrameType.Chunk
    ? [...header, ...chunkMetaFieldsAt(FRAME_HEADER_BYTES)]
    : header;
}

const frameFuzz: DecoderFuzz<Uint8Array> = {
  name: 'frame',
  target: 'decodeFrame (src/protocol/frames.ts)',
  error: ProtocolError,
  prepare: () => {
    const valid = frame.map(encodeFrame);
    return Promise.resolve({
      valid,
      inputs: binaryInputs(valid, frameFields),
      decode: decodeFrame,
    });
  },
};

// --- tracker messages -----------------------------------------------------------------------

const peerId = fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/);
const streamId = fc.stringMatching(STREAM_ID_PATTERN);
const base64Url = fc.stringMatching(/^[A-Za-z0-9_-]{1,1024}$/);
/** 32 bytes (a public key, a nonce) and 64 bytes (a signature) in base64url. */
const bytes32 = fc.stringMatching(/^[A-Za-z0-9_-]{43}$/);
const signature = fc.stringMatching(/^[A-Za-z0-9_-]{86}$/);
const kbps = fc.integer({ min: 0, max: 100_000_000 });
const ms = fc.integer({ min: 1, max: 3_600_000 });
const bytesCount = fc.nat();

const signalData = fc.oneof(
  fc.record({
    kind: fc.constant('description' as const),
    sdpType: fc.constantFrom('offer' as const, 'answer' as const),
    sdp: fc.string({ maxLength: 300 }),
  }),
  fc.record({
    kind: fc.constant('candidate' as const),
    candidate: fc.string({ maxLength: 120 }),
    mid: fc.string({ maxLength: 64 }),
  }),
);

const integrity = fc.oneof(
  fc.record({ scheme: fc.constant('ed25519' as const) }),
  fc.record({
    scheme: fc.constant('hmac-sha256' as const),
    threshold: fc.double({ min: 0, max: 1, noNaN: true }),
  }),
);

const streamInfo = fc.record(
  {
    stream: streamId,
    publicKey: base64Url,
    chunkDurationMs: ms,
    segmentDurationMs: ms,
    originUrl: fc.webUrl({ size: 'xsmall' }).filter((url) => url.length <= 1024),
    bitrateKbps: fc.integer({ min: 1, max: 100_000_000 }),
    integrity,
  },
  { requiredKeys: ['stream', 'publicKey', 'chunkDurationMs', 'segmentDurationMs', 'originUrl'] },
);

const qoe = fc.record({
  playing: fc.boolean(),
  stalls: bytesCount,
  stalledMs: fc.double({ min: 0, max: 1e9, noNaN: true }),
  latencyMs: fc.option(fc.double({ min: 0, max: 1e9, noNaN: true }), { nil: null }),
  bytesFromPeers: bytesCount,
  bytesFromOrigin: bytesCount,
  bytesUploaded: bytesCount,
});

const clientMessage: fc.Arbitrary<ClientMessage> = fc.oneof(
  fc.record(
    {
      type: fc.constant('hello' as const),
      version: fc.integer(),
      role: fc.constantFrom('viewer' as const, 'broadcaster' as const),
      publicKey: bytes32,
      admission: fc.string({ minLength: 1, maxLength: MAX_ADMISSION_CHARS }),
      uploadKbps: kbps,
      downloadKbps: kbps,
    },
    { requiredKeys: ['type', 'version', 'role', 'publicKey'] },
  ),
  fc.record({ type: fc.constant('auth' as const), signature }),
  fc.record(
    {
      type: fc.constant('join' as const),
      stream: streamId,
      info: streamInfo,
      topology: fc.constantFrom(...TOPOLOGY_KINDS),
    },
    { requiredKeys: ['type', 'stream'] },
  ),
  fc.record({ type: fc.constant('signal' as const), to: peerId, data: signalData }),
  fc.record({ type: fc.constant('heartbeat' as const), qoe }, { requiredKeys: ['type'] }),
  fc.record({ type: fc.constant('leave' as const) }),
  fc.record(
    {
      type: fc.constant('report' as const),
      peer: peerId,
      reason: fc.constantFrom(...REPORT_REASONS),
      seq: fc.integer({ min: 0, max: 0xffff_ffff }),
    },
    { requiredKeys: ['type', 'peer', 'reason'] },
  ),
  fc.record({ type: fc.constant('silent' as const), peer: peerId }),
);

const peerIds = fc.array(peerId, { maxLength: 8 });

const trackerMessage: fc.Arbitrary<TrackerMessage> = fc.oneof(
  fc.record({ type: fc.constant('challenge' as const), nonce: bytes32, trackerKey: bytes32 }),
  fc.record({ type: fc.constant('credential' as const), credential }),
  fc.record({
    type: fc.constant('welcome' as const),
    version: fc.integer(),
    peerId,
    heartbeatIntervalMs: ms,
    heartbeatTimeoutMs: ms,
  }),
  // An HMAC stream's `joined` carries its key; any other's none.
  streamInfo.chain((info) =>
    info.integrity?.scheme === 'hmac-sha256'
      ? fc.record({
          type: fc.constant('joined' as const),
          info: fc.constant(info),
          credential,
          streamKey: bytes32,
        })
      : fc.record({ type: fc.constant('joined' as const), info: fc.constant(info), credential }),
  ),
  fc.record({
    type: fc.constant('neighbours' as const),
    stream: streamId,
    parents: peerIds,
    children: peerIds,
    backupParents: peerIds,
    backupChildren: fc.oneof(
      peerIds,
      fc.array(peerId, { minLength: MAX_NEIGHBOURS, maxLength: MAX_NEIGHBOURS }),
    ),
  }),
  fc.record({ type: fc.constant('signal' as const), from: peerId, data: signalData }),
  fc.record({ type: fc.constant('revoked' as const), peer: peerId }),
  fc.record({ type: fc.constant('probe' as const), peer: peerId }),
  fc.record({
    type: fc.constant('error' as const),
    code: fc.constantFrom(...trackerErrorCodeSchema.options),
    message: fc.string({ maxLength: 1024 }),
  }),
);

/**
 * Text inputs: random text, random JSON, objects with a known `type` and random fields (past the
 * type check), and damaged valid messages.
 */
function textInputs(valid: fc.Arbitrary<object>, types: readonly string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { arbitrary: fc.string({ unit: 'binary', maxLength: 256 }), weight: 1 },
    { arbitrary: fc.json({ maxDepth: 4 }), weight: 1 },
    {
      arbitrary: fc
        .tuple(
          fc.constantFrom(...types),
          fc.dictionary(fc.string({ maxLength: 16 }), fc.jsonValue({ maxDepth: 2 })),
        )
        .map(([type, fields]) => JSON.stringify({ ...fields, type })),
      weight: 1,
    },
    { arbitrary: mutatedJson(valid), weight: 3 * MUTATED_WEIGHT },
  );
}

/** The `type` values of a message schema's variants. */
function typesOf(schema: typeof clientMessageSchema | typeof trackerMessageSchema): string[] {
  return schema.options.map((variant) => variant.shape.type.value);
}

const trackerClientFuzz: DecoderFuzz<string> = {
  name: 'tracker-client',
  target: 'decodeClientMessage (src/protocol/tracker.ts): peer -> tracker',
  error: ProtocolError,
  prepare: () => {
    const valid = clientMessage.map((message) => JSON.stringify(message));
    return Promise.resolve({
      valid,
      inputs: textInputs(clientMessage, typesOf(clientMessageSchema)),
      decode: decodeClientMessage,
    });
  },
};

const trackerServerFuzz: DecoderFuzz<string> = {
  name: 'tracker-server',
  target: 'decodeTrackerMessage (src/protocol/tracker.ts): tracker -> peer',
  error: ProtocolError,
  prepare: () => {
    const valid = trackerMessage.map((message) => JSON.stringify(message));
    return Promise.resolve({
      valid,
      inputs: textInputs(trackerMessage, typesOf(trackerMessageSchema)),
      decode: decodeTrackerMessage,
    });
  },
};

// --- origin init upload ---------------------------------------------------------------------

const trackInfo: fc.Arbitrary<TrackInfo> = fc.record(
  {
    id: u32,
    kind: fc.constantFrom('video' as const, 'audio' as const),
    codec: fc.stringMatching(/^[A-Za-z0-9.+-]{1,64}$/),
    timescale: fc.integer({ min: 1, max: 0xffff_ffff }),
    width: fc.integer({ min: 1, max: 16_384 }),
    height: fc.integer({ min: 1, max: 16_384 }),
    sampleRate: fc.integer({ min: 1, max: 1_000_000 }),
    channels: fc.integer({ min: 1, max: 64 }),
  },
  { requiredKeys: ['id', 'kind', 'codec', 'timescale'] },
);

const initSegment: fc.Arbitrary<InitSegment> = fc.record({
  tracks: fc.array(trackInfo, { minLength: 1, maxLength: 4 }),
  bytes: fc.uint8Array({ minLength: 1, maxLength: 256 }),
});

const initUploadFuzz: DecoderFuzz<Uint8Array> = {
  name: 'init-upload',
  target: 'decodeInitUpload (src/origin/server.ts): PUT /ingest/<stream>/init',
  error: ProtocolError,
  prepare: () => {
    const valid = initSegment.map(encodeInitUpload);
    // Damaged JSON headers, framed right: past the length check, into the schema.
    const damagedTracks = fc
      .tuple(mutatedJsonValue(initSegment.map((init) => init.tracks)), initSegment)
      .map(([tracks, init]) =>
        encodeInitUpload({ ...init, tracks: tracks as unknown as TrackInfo[] }),
      );
    return Promise.resolve({
      valid,
      inputs: fc.oneof(
        binaryInputs(valid, () => [0]),
        withOffset(damagedTracks),
      ),
      decode: decodeInitUpload,
    });
  },
};

// --- origin stream description upload --------------------------------------------------------

const streamDescription: fc.Arbitrary<StreamDescription> = streamInfo.map(
  ({ originUrl: _, ...description }) => description,
);

/** A valid description padded with spaces to `MAX_DESCRIPTION_BYTES` or just past it. */
const paddedDescription = fc
  .tuple(streamDescription, fc.integer({ min: -8, max: 8 }))
  .map(([description, over]) => {
    const json = JSON.stringify(description);
    return json + ' '.repeat(Math.max(0, MAX_DESCRIPTION_BYTES - json.length + over));
  });

const streamDescriptionFuzz: DecoderFuzz<Uint8Array> = {
  name: 'stream-description',
  target: 'decodeStreamDescription (src/origin/server.ts): PUT /ingest/<stream>',
  error: ProtocolError,
  prepare: () => {
    const utf8 = (text: fc.Arbitrary<string>): fc.Arbitrary<Uint8Array> =>
      text.map((t) => new TextEncoder().encode(t));
    const valid = utf8(streamDescription.map((description) => JSON.stringify(description)));
    return Promise.resolve({
      valid,
      inputs: withOffset(
        fc.oneof(
          { arbitrary: randomBytes, weight: 1 },
          { arbitrary: utf8(fc.string({ unit: 'binary', maxLength: 256 })), weight: 1 },
          { arbitrary: utf8(fc.json({ maxDepth: 4 })), weight: 1 },
          { arbitrary: utf8(paddedDescription), weight: 1 },
          { arbitrary: utf8(mutatedJson(streamDescription)), weight: 3 * MUTATED_WEIGHT },
        ),
      ),
      decode: decodeStreamDescription,
    });
  },
};

// --- fMP4 -----------------------------------------------------------------------------------

/** A byte stream and the sizes of the pieces it is pushed in (the rest goes in one piece). */
export interface PushedStream {
  readonly bytes: Uint8Array;
  readonly pieces: readonly number[];
}

/** The valid stream: ffmpeg's output as the broadcaster gets it, small to keep inputs fast. */
const FMP4_SEED_OPTIONS = {
  durationMs: 1000,
  width: 160,
  height: 120,
  fps: 30,
  videoKbps: 100,
  audioKbps: 32,
} as const;

/** Box types the parser gives meaning to, for streams of random boxes (after an `ftyp`). */
const BOX_TYPES = [
  'moov',
  'trak',
  'mvex',
  'trex',
  'moof',
  'traf',
  'tfhd',
  'tfdt',
  'trun',
  'mdat',
  'styp',
  'sidx',
  'mfra',
  'free',
];

function box(type: string, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + payload.byteLength);
  new DataView(out.buffer).setUint32(0, out.byteLength);
  out.set(new TextEncoder().encode(type), 4);
  out.set(payload, 8);
  return out;
}

const randomBoxes = fc
  .array(fc.tuple(fc.constantFrom(...BOX_TYPES), fc.uint8Array({ maxLength: 64 })), {
    maxLength: 12,
  })
  .map((boxes) =>
    concatBytes([
      box('ftyp', new TextEncoder().encode('isom\0\0\0\0')),
      ...boxes.map(([type, payload]) => box(type, payload)),
    ]),
  );

/** Bytes of media kept in each `mdat` of `withShortMdats()`. */
const SHORT_MDAT_BYTES = 16;

/**
 * The stream with each `mdat` cut to its first bytes: the same valid box structure (the parser
 * does not read media) with far less media, so most edits land on boxes the parser reads.
 */
function withShortMdats(stream: Uint8Array): Uint8Array {
  const view = new DataView(stream.buffer, stream.byteOffset, stream.byteLength);
  const boxes: Uint8Array[] = [];
  for (let offset = 0; offset < stream.byteLength;) {
    const size = view.getUint32(offset);
    const type = new TextDecoder().decode(stream.subarray(offset + 4, offset + 8));
    if (size < 8) throw new Error(`ffmpeg wrote a '${type}' box of size ${size}`);
    const whole = stream.subarray(offset, offset + size);
    boxes.push(type === 'mdat' ? box('mdat', whole.subarray(8, 8 + SHORT_MDAT_BYTES)) : whole);
    offset += size;
  }
  return concatBytes(boxes);
}

const pieces = fc.array(fc.integer({ min: 1, max: 8192 }), { maxLength: 16 });

function pushAll({ bytes, pieces: sizes }: PushedStream): Fmp4Item[] {
  const parser = new Fmp4Parser();
  const items: Fmp4Item[] = [];
  let offset = 0;
  for (const size of sizes) {
    items.push(...parser.push(bytes.subarray(offset, offset + size)));
    offset += size;
  }
  items.push(...parser.push(bytes.subarray(offset)));
  parser.end();
  return items;
}

const fmp4Fuzz: DecoderFuzz<PushedStream> = {
  name: 'fmp4',
  target: 'Fmp4Parser push()/end() (src/broadcaster/fmp4.ts)',
  error: MediaError,
  prepare: async () => {
    const stream = await generateFmp4(FMP4_SEED_OPTIONS);
    const seeds = fc.oneof(
      { arbitrary: fc.constant(withShortMdats(stream)), weight: 3 },
      { arbitrary: fc.constant(stream), weight: 1 },
    );
    const bytes = fc.oneof(
      { arbitrary: randomBytes, weight: 1 },
      { arbitrary: randomBoxes, weight: 1 },
      { arbitrary: mutatedBytes(seeds, boxSizeOffsets), weight: 2 * MUTATED_WEIGHT },
    );
    return {
      valid: fc.record({ bytes: seeds, pieces }),
      inputs: fc.record({ bytes, pieces }),
      decode: pushAll,
    };
  },
};

/** Every fuzzed decoder, in the order `npm run fuzz` runs them. */
export const DECODERS: readonly DecoderFuzz[] = [
  frameFuzz,
  trackerClientFuzz,
  trackerServerFuzz,
  chunkMetaFuzz,
  chunkFuzz,
  initUploadFuzz,
  streamDescriptionFuzz,
  fmp4Fuzz,
];
