import { ProtocolError } from '../common/errors.js';

/** SHA-256 digest length. */
export const DIGEST_BYTES = 32;
/** Ed25519 signature length. */
export const SIGNATURE_BYTES = 64;
/** A chunk larger than this is refused by every decoder (16 MiB, ≈ 0.5 s at 250 Mbps). */
export const MAX_CHUNK_BYTES = 16 * 1024 * 1024;
/** Longest stream id, in UTF-8 bytes. */
export const MAX_STREAM_ID_BYTES = 64;
/** Stream ids: letters, digits, dot, dash and underscore; safe in URLs and file names. */
export const STREAM_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * What identifies and authenticates one chunk. `seq` counts chunks from 0 over the whole
 * stream; `segment`/`index` place it in its DASH media segment. The broadcaster signs the
 * stream id and all of this but the signature itself — see `chunkSigningPayload`.
 */
export interface ChunkMeta {
  readonly rendition: number;
  readonly seq: number;
  readonly segment: number;
  readonly index: number;
  /** Presentation time of the chunk's first sample, from the start of the stream. */
  readonly mediaTimeMs: number;
  readonly durationMs: number;
  /** Wall-clock time (epoch ms) at which the chunk's first frame was captured. */
  readonly captureTimeMs: number;
  readonly byteLength: number;
  /** SHA-256 of the bytes. */
  readonly digest: Uint8Array;
  /** Ed25519 signature by the broadcaster over `chunkSigningPayload`. */
  readonly signature: Uint8Array;
}

export interface Chunk extends ChunkMeta {
  /** One moof+mdat. */
  readonly bytes: Uint8Array;
}

/** Size of `encodeChunkMeta`'s output. */
export const CHUNK_META_BYTES = 1 + 4 + 4 + 2 + 8 + 4 + 8 + 4 + DIGEST_BYTES + SIGNATURE_BYTES;

/** Fixed-size binary form of a chunk's metadata (big-endian). */
export function encodeChunkMeta(meta: ChunkMeta): Uint8Array {
  const out = new Uint8Array(CHUNK_META_BYTES);
  writeChunkMeta(out, 0, meta);
  return out;
}

export function writeChunkMeta(out: Uint8Array, offset: number, meta: ChunkMeta): void {
  const view = new DataView(out.buffer, out.byteOffset + offset, CHUNK_META_BYTES);
  view.setUint8(0, meta.rendition);
  view.setUint32(1, meta.seq);
  view.setUint32(5, meta.segment);
  view.setUint16(9, meta.index);
  view.setFloat64(11, meta.mediaTimeMs);
  view.setUint32(19, Math.round(meta.durationMs));
  view.setFloat64(23, meta.captureTimeMs);
  view.setUint32(31, meta.byteLength);
  out.set(meta.digest, offset + 35);
  out.set(meta.signature, offset + 35 + DIGEST_BYTES);
}

/** Writes `value` as a big-endian u32 at `at` (modulo 2^32, as `DataView.setUint32`). */
export function writeUint32(out: Uint8Array, at: number, value: number): void {
  out[at] = value >>> 24;
  out[at + 1] = value >>> 16;
  out[at + 2] = value >>> 8;
  out[at + 3] = value;
}

/** The big-endian u32 at `at`. */
export function readUint32(bytes: Uint8Array, at: number): number {
  return (
    (((bytes[at] ?? 0) << 24) |
      ((bytes[at + 1] ?? 0) << 16) |
      ((bytes[at + 2] ?? 0) << 8) |
      (bytes[at + 3] ?? 0)) >>>
    0
  );
}

/** Eight bytes through which big-endian doubles are read without a DataView per read. */
const FLOAT64 = new DataView(new ArrayBuffer(8));

/** The big-endian float64 at `at`. */
function readFloat64(bytes: Uint8Array, at: number): number {
  for (let i = 0; i < 8; i++) FLOAT64.setUint8(i, bytes[at + i] ?? 0);
  return FLOAT64.getFloat64(0);
}

/**
 * Parses `encodeChunkMeta`'s output; throws `ProtocolError` on anything else. The digest and the
 * signature are views of `bytes`, not copies (a peer decodes a CHUNK frame per chunk it receives;
 * no transport reuses a received message's memory).
 */
export function decodeChunkMeta(bytes: Uint8Array, offset = 0): ChunkMeta {
  if (bytes.byteLength - offset < CHUNK_META_BYTES) {
    throw new ProtocolError('malformed-frame', 'chunk metadata truncated');
  }
  // Read byte by byte: a DataView per chunk received costs more than the reads.
  const meta: ChunkMeta = {
    rendition: bytes[offset] ?? 0,
    seq: readUint32(bytes, offset + 1),
    segment: readUint32(bytes, offset + 5),
    index: ((bytes[offset + 9] ?? 0) << 8) | (bytes[offset + 10] ?? 0),
    mediaTimeMs: readFloat64(bytes, offset + 11),
    durationMs: readUint32(bytes, offset + 19),
    captureTimeMs: readFloat64(bytes, offset + 23),
    byteLength: readUint32(bytes, offset + 31),
    digest: bytes.subarray(offset + 35, offset + 35 + DIGEST_BYTES),
    signature: bytes.subarray(offset + 35 + DIGEST_BYTES, offset + CHUNK_META_BYTES),
  };
  if (!Number.isFinite(meta.mediaTimeMs) || meta.mediaTimeMs < 0) {
    throw new ProtocolError('malformed-frame', 'chunk media time is not a finite time');
  }
  if (!Number.isFinite(meta.captureTimeMs) || meta.captureTimeMs < 0) {
    throw new ProtocolError('malformed-frame', 'chunk capture time is not a finite time');
  }
  if (meta.byteLength === 0 || meta.byteLength > MAX_CHUNK_BYTES) {
    throw new ProtocolError('malformed-frame', `chunk length ${meta.byteLength} out of range`);
  }
  return meta;
}

/** A whole chunk in one buffer (metadata then bytes): origin ingest and origin chunk fetches. */
export function encodeChunk(chunk: Chunk): Uint8Array {
  const out = new Uint8Array(CHUNK_META_BYTES + chunk.bytes.byteLength);
  writeChunkMeta(out, 0, chunk);
  out.set(chunk.bytes, CHUNK_META_BYTES);
  return out;
}

/** Parses `encodeChunk`'s output; throws `ProtocolError` if the length disagrees. */
export function decodeChunk(bytes: Uint8Array): Chunk {
  // A copy of the metadata: its digest and signature views must not hold the whole body.
  const meta = decodeChunkMeta(bytes.slice(0, CHUNK_META_BYTES));
  if (bytes.byteLength !== CHUNK_META_BYTES + meta.byteLength) {
    throw new ProtocolError(
      'malformed-frame',
      `chunk body is ${bytes.byteLength - CHUNK_META_BYTES} bytes, header says ${meta.byteLength}`,
    );
  }
  return { ...meta, bytes: bytes.slice(CHUNK_META_BYTES) };
}

const SIGNING_PREFIX = new TextEncoder().encode('swarmcast/chunk/v1');

/**
 * The bytes the broadcaster signs for a chunk: a domain prefix, the length-prefixed stream id,
 * then the chunk's metadata as `encodeChunkMeta` lays it out, without the signature. Everything
 * a peer acts on (position, timing, length, digest) is covered.
 */
export function chunkSigningPayload(stream: string, meta: ChunkMeta): Uint8Array {
  const streamBytes = new TextEncoder().encode(stream);
  const signedMetaBytes = CHUNK_META_BYTES - SIGNATURE_BYTES;
  const out = new Uint8Array(
    SIGNING_PREFIX.byteLength + 1 + streamBytes.byteLength + signedMetaBytes,
  );
  out.set(SIGNING_PREFIX, 0);
  let o = SIGNING_PREFIX.byteLength;
  out[o++] = streamBytes.byteLength;
  out.set(streamBytes, o);
  o += streamBytes.byteLength;
  const meta64 = new Uint8Array(CHUNK_META_BYTES);
  writeChunkMeta(meta64, 0, { ...meta, signature: new Uint8Array(SIGNATURE_BYTES) });
  out.set(meta64.subarray(0, signedMetaBytes), o);
  return out;
}
