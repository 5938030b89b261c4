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

/** Parses `encodeChunkMeta`'s output; throws `ProtocolError` on anything else. */
export function decodeChunkMeta(bytes: Uint8Array, offset = 0): ChunkMeta {
  if (bytes.byteLength - offset < CHUNK_META_BYTES) {
    throw new ProtocolError('malformed-frame', 'chunk metadata truncated');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, CHUNK_META_BYTES);
  const meta: ChunkMeta = {
    rendition: view.getUint8(0),
    seq: view.getUint32(1),
    segment: view.getUint32(5),
    index: view.getUint16(9),
    mediaTimeMs: view.getFloat64(11),
    durationMs: view.getUint32(19),
    captureTimeMs: view.getFloat64(23),
    byteLength: view.getUint32(31),
    digest: bytes.slice(offset + 35, offset + 35 + DIGEST_BYTES),
    signature: bytes.slice(offset + 35 + DIGEST_BYTES, offset + CHUNK_META_BYTES),
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
  const meta = decodeChunkMeta(bytes);
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
