/**
 * The peer <-> peer protocol: binary frames on a WebRTC data channel. Every frame is a fixed
 * 16-byte header then a payload; a frame never exceeds `MAX_FRAME_BYTES`. A chunk travels as one
 * CHUNK frame (its signed metadata, and which of the chunks before it the sender holds) then DATA
 * frames carrying its bytes in order.
 * Documented in docs/PROTOCOL.md.
 */
import { ProtocolError } from '../common/errors.js';
import { MAX_CREDENTIAL_CHARS } from '../crypto/credentials.js';
import {
  CHUNK_META_BYTES,
  decodeChunkMeta,
  readUint32,
  writeChunkMeta,
  writeUint32,
  type ChunkMeta,
} from './chunk.js';

export const PEER_PROTOCOL_VERSION = 1;
/** Largest data-channel message either side sends or accepts (64 KiB - 1). */
export const MAX_FRAME_BYTES = 65_535;
export const FRAME_HEADER_BYTES = 16;
/** Size of a CHUNK frame. */
export const CHUNK_FRAME_BYTES = FRAME_HEADER_BYTES + CHUNK_META_BYTES;
/** Largest DATA payload. */
export const MAX_DATA_BYTES = MAX_FRAME_BYTES - FRAME_HEADER_BYTES;
/** Largest HELLO payload (UTF-8 JSON). */
export const MAX_HELLO_BYTES = 4096;
/** Most chunks one HAVE frame can describe (bits of its bitmap). */
export const MAX_HAVE_CHUNKS = 8 * 4096;
/** Chunks before its own that a CHUNK frame's `heldBefore` map describes. */
export const HELD_BEFORE_CHUNKS = 32;

export const FrameType = {
  /** First frame on a link: who the sender is (JSON payload). */
  Hello: 1,
  /** Which chunks the sender holds: a bitmap starting at `seq`. */
  Have: 2,
  /**
   * A chunk's signed metadata; DATA frames with its bytes follow. Its header's `offset` field
   * carries `heldBefore`: bit i set if the sender holds chunk `seq - 1 - i`.
   */
  Chunk: 3,
  /** A slice of a chunk's bytes at `offset`. */
  Data: 4,
  /** Asks for chunk `seq`; answered by CHUNK+DATA or ABSENT with the same request id. */
  Request: 5,
  /** The sender does not hold the requested chunk. */
  Absent: 6,
  /** The requester no longer wants the chunk. */
  Cancel: 7,
  /**
   * Sent by a child to a parent: push me the chunks whose `seq % count === index` (a child with
   * several parents takes a stripe from each). Without one, a parent pushes every chunk.
   */
  Subscribe: 8,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

export interface HelloPayload {
  readonly peerId: string;
  readonly stream: string;
  /** The sender's credential from the tracker (src/crypto/credentials.ts). */
  readonly credential: string;
}

const CREDENTIAL_PATTERN = new RegExp(`^[A-Za-z0-9_-]{1,${MAX_CREDENTIAL_CHARS}}$`);

export type Frame =
  | { readonly type: typeof FrameType.Hello; readonly hello: HelloPayload }
  | { readonly type: typeof FrameType.Have; readonly fromSeq: number; readonly bitmap: Uint8Array }
  | {
      readonly type: typeof FrameType.Chunk;
      readonly requestId: number;
      readonly meta: ChunkMeta;
      /** Which of the `HELD_BEFORE_CHUNKS` chunks before this one the sender holds (u32). */
      readonly heldBefore: number;
    }
  | {
      readonly type: typeof FrameType.Data;
      readonly seq: number;
      readonly offset: number;
      readonly bytes: Uint8Array;
    }
  | { readonly type: typeof FrameType.Request; readonly requestId: number; readonly seq: number }
  | { readonly type: typeof FrameType.Absent; readonly requestId: number; readonly seq: number }
  | { readonly type: typeof FrameType.Cancel; readonly requestId: number; readonly seq: number }
  | { readonly type: typeof FrameType.Subscribe; readonly index: number; readonly count: number };

// Header layout (big-endian): version u8 | type u8 | reserved u16 | requestId u32 | seq u32 |
// offset u32. The payload length is the rest of the message. Written and read byte by byte: a
// DataView per frame costs more than the frame (a peer handles thousands of frames a second).

function frame(
  type: FrameType,
  requestId: number,
  seq: number,
  offset: number,
  payload: number,
): Uint8Array {
  const out = new Uint8Array(FRAME_HEADER_BYTES + payload);
  out[0] = PEER_PROTOCOL_VERSION;
  out[1] = type;
  writeUint32(out, 4, requestId);
  writeUint32(out, 8, seq);
  writeUint32(out, 12, offset);
  return out;
}

/**
 * Whether `message` begins with the header `encodeFrame` writes for a frame of `type` with no
 * request id (a DATA frame, or a pushed CHUNK frame) for chunk `seq` at `offset` (a CHUNK frame's
 * `heldBefore`).
 */
export function hasPushHeader(
  message: Uint8Array,
  type: FrameType,
  seq: number,
  offset: number,
): boolean {
  return (
    message.byteLength >= FRAME_HEADER_BYTES &&
    message[0] === PEER_PROTOCOL_VERSION &&
    message[1] === type &&
    message[2] === 0 &&
    message[3] === 0 &&
    readUint32(message, 4) === 0 &&
    readUint32(message, 8) === seq >>> 0 &&
    readUint32(message, 12) === offset >>> 0
  );
}

/** The header's `offset` field of an encoded frame: a DATA frame's offset, a CHUNK's `heldBefore`. */
export function headerOffset(message: Uint8Array): number {
  return readUint32(message, 12);
}

export function encodeFrame(f: Frame): Uint8Array {
  switch (f.type) {
    case FrameType.Hello: {
      const json = new TextEncoder().encode(JSON.stringify(f.hello));
      if (json.byteLength > MAX_HELLO_BYTES) {
        throw new ProtocolError('malformed-frame', 'hello payload too large');
      }
      const out = frame(f.type, 0, 0, 0, json.byteLength);
      out.set(json, FRAME_HEADER_BYTES);
      return out;
    }
    case FrameType.Have: {
      if (f.bitmap.byteLength * 8 > MAX_HAVE_CHUNKS) {
        throw new ProtocolError('malformed-frame', 'have bitmap too large');
      }
      const out = frame(f.type, 0, f.fromSeq, 0, f.bitmap.byteLength);
      out.set(f.bitmap, FRAME_HEADER_BYTES);
      return out;
    }
    case FrameType.Chunk: {
      if (!Number.isInteger(f.heldBefore) || f.heldBefore < 0 || f.heldBefore > 0xffffffff) {
        throw new ProtocolError('malformed-frame', 'heldBefore is not a 32-bit map');
      }
      const out = frame(f.type, f.requestId, f.meta.seq, f.heldBefore, CHUNK_META_BYTES);
      writeChunkMeta(out, FRAME_HEADER_BYTES, f.meta);
      return out;
    }
    case FrameType.Data: {
      if (f.bytes.byteLength > MAX_DATA_BYTES) {
        throw new ProtocolError('malformed-frame', 'data payload too large');
      }
      const out = frame(f.type, 0, f.seq, f.offset, f.bytes.byteLength);
      out.set(f.bytes, FRAME_HEADER_BYTES);
      return out;
    }
    case FrameType.Request:
    case FrameType.Absent:
    case FrameType.Cancel:
      return frame(f.type, f.requestId, f.seq, 0, 0);
    case FrameType.Subscribe: {
      checkStripe(f.index, f.count);
      const out = frame(f.type, 0, 0, 0, 2);
      out[FRAME_HEADER_BYTES] = f.index;
      out[FRAME_HEADER_BYTES + 1] = f.count;
      return out;
    }
  }
}

/** Stripes: 1-255 of them, the index below the count. */
function checkStripe(index: number, count: number): void {
  if (
    !Number.isInteger(count) ||
    count < 1 ||
    count > 255 ||
    !Number.isInteger(index) ||
    index < 0 ||
    index >= count
  ) {
    throw new ProtocolError('malformed-frame', `stripe ${index} of ${count} is not a stripe`);
  }
}

/** Parses one data-channel message; throws `ProtocolError` (code `malformed-frame`) otherwise. */
export function decodeFrame(message: Uint8Array): Frame {
  if (message.byteLength > MAX_FRAME_BYTES) {
    throw new ProtocolError('malformed-frame', `frame of ${message.byteLength} bytes is too large`);
  }
  if (message.byteLength < FRAME_HEADER_BYTES) {
    throw new ProtocolError('malformed-frame', 'frame shorter than its header');
  }
  const version = message[0] ?? 0;
  if (version !== PEER_PROTOCOL_VERSION) {
    throw new ProtocolError('malformed-frame', `unsupported frame version ${version}`);
  }
  const type = message[1] ?? 0;
  const requestId = readUint32(message, 4);
  const seq = readUint32(message, 8);
  const offset = readUint32(message, 12);
  // The payload is the rest of the message; a view of it is made only for the frames that keep one.
  const payloadBytes = message.byteLength - FRAME_HEADER_BYTES;
  switch (type) {
    case FrameType.Hello:
      return { type, hello: decodeHello(message.subarray(FRAME_HEADER_BYTES)) };
    case FrameType.Have:
      if (payloadBytes * 8 > MAX_HAVE_CHUNKS) {
        throw new ProtocolError('malformed-frame', 'have bitmap too large');
      }
      return { type, fromSeq: seq, bitmap: message.slice(FRAME_HEADER_BYTES) };
    case FrameType.Chunk: {
      if (payloadBytes !== CHUNK_META_BYTES) {
        throw new ProtocolError('malformed-frame', 'chunk frame has the wrong length');
      }
      const meta = decodeChunkMeta(message, FRAME_HEADER_BYTES);
      if (meta.seq !== seq) throw new ProtocolError('malformed-frame', 'chunk frame seq mismatch');
      return { type, requestId, meta, heldBefore: offset };
    }
    case FrameType.Data:
      if (payloadBytes === 0) throw new ProtocolError('malformed-frame', 'empty data frame');
      // A view into the message: the receiver copies it into the chunk it assembles.
      return { type, seq, offset, bytes: message.subarray(FRAME_HEADER_BYTES) };
    case FrameType.Request:
    case FrameType.Absent:
    case FrameType.Cancel:
      if (payloadBytes !== 0) {
        throw new ProtocolError('malformed-frame', `frame type ${type} carries no payload`);
      }
      return { type, requestId, seq };
    case FrameType.Subscribe: {
      if (payloadBytes !== 2) {
        throw new ProtocolError('malformed-frame', 'subscribe frame has the wrong length');
      }
      const index = message[FRAME_HEADER_BYTES] ?? 0;
      const count = message[FRAME_HEADER_BYTES + 1] ?? 0;
      checkStripe(index, count);
      return { type, index, count };
    }
    default:
      throw new ProtocolError('malformed-frame', `unknown frame type ${type}`);
  }
}

function decodeHello(payload: Uint8Array): HelloPayload {
  if (payload.byteLength > MAX_HELLO_BYTES) {
    throw new ProtocolError('malformed-frame', 'hello payload too large');
  }
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload));
  } catch {
    throw new ProtocolError('malformed-frame', 'hello payload is not UTF-8 JSON');
  }
  if (typeof value !== 'object' || value === null) {
    throw new ProtocolError('malformed-frame', 'hello payload is not an object');
  }
  const { peerId, stream, credential } = value as Record<string, unknown>;
  if (
    typeof peerId !== 'string' ||
    typeof stream !== 'string' ||
    peerId.length > 64 ||
    stream.length > 64
  ) {
    throw new ProtocolError('malformed-frame', 'hello payload lacks peerId or stream');
  }
  if (typeof credential !== 'string' || !CREDENTIAL_PATTERN.test(credential)) {
    throw new ProtocolError(
      'malformed-frame',
      `hello payload lacks a credential (base64url, at most ${MAX_CREDENTIAL_CHARS} characters)`,
    );
  }
  return { peerId, stream, credential };
}

/**
 * Cuts a chunk into its CHUNK frame (announcing `heldBefore`, by default nothing) and DATA frames.
 */
export function chunkFrames(
  requestId: number,
  meta: ChunkMeta,
  bytes: Uint8Array,
  heldBefore = 0,
): Uint8Array[] {
  return [
    encodeFrame({ type: FrameType.Chunk, requestId, meta, heldBefore }),
    ...dataFrames(meta.seq, bytes),
  ];
}

/** The DATA frames of chunk `seq`'s bytes (the same for every push and answer of it). */
export function dataFrames(seq: number, bytes: Uint8Array): Uint8Array[] {
  const frames: Uint8Array[] = [];
  for (let offset = 0; offset < bytes.byteLength; offset += MAX_DATA_BYTES) {
    frames.push(
      encodeFrame({
        type: FrameType.Data,
        seq,
        offset,
        bytes: bytes.subarray(offset, offset + MAX_DATA_BYTES),
      }),
    );
  }
  return frames;
}
