/**
 * The attack lab's measurement, which does not trust the peers' verification: every chunk the
 * source publishes is kept, and every chunk an honest peer verifies (stores, plays, relays) and
 * every chunk it sends on a link is compared with it. A chunk is compared by its fingerprint, a
 * hash of its encoded metadata and its bytes, so a peer process can report what it verified and
 * sent in a few bytes per chunk (`swarmcast peer --audit`) and the lab compares that with the
 * source just as it does in the simulator.
 */
import { createHash } from 'node:crypto';
import { toBase64Url } from '../common/bytes.js';
import { encodeChunkMeta, type Chunk, type ChunkMeta } from '../protocol/chunk.js';
import { FRAME_HEADER_BYTES, FrameType, decodeFrame } from '../protocol/frames.js';

/** Bytes of SHA-256 a fingerprint keeps: enough that two different chunks never share one. */
const FINGERPRINT_BYTES = 16;

/** A chunk's fingerprint: SHA-256 over its encoded metadata, then its bytes (base64url, cut). */
export function chunkFingerprint(meta: ChunkMeta, bytes: Uint8Array): string {
  const hash = createHash('sha256').update(encodeChunkMeta(meta)).update(bytes).digest();
  return toBase64Url(new Uint8Array(hash.buffer, hash.byteOffset, FINGERPRINT_BYTES));
}

/** A chunk a peer verified or sent, as it reports it: its seq and fingerprint. */
export type ChunkSighting = readonly [seq: number, fingerprint: string];

/**
 * An observer of one link's outgoing messages that hands each chunk sent (a CHUNK frame and the
 * DATA frames of its bytes) to `onChunk` once its last byte is sent. `bytes` is null when DATA
 * frames did not fit the CHUNK frame (another seq, past its length): a malformed chunk.
 */
export function sentChunkObserver(
  onChunk: (meta: ChunkMeta, bytes: Uint8Array | null) => void,
): (message: Uint8Array) => void {
  let current:
    { meta: ChunkMeta; bytes: Uint8Array; intact: boolean; received: number } | undefined;
  return (message) => {
    if (message.byteLength < FRAME_HEADER_BYTES) return;
    const type = message[1];
    if (type === FrameType.Chunk) {
      const frame = decodeFrame(message);
      if (frame.type !== FrameType.Chunk) return;
      const { meta } = frame;
      current = { meta, bytes: new Uint8Array(meta.byteLength), intact: true, received: 0 };
      return;
    }
    if (type !== FrameType.Data || current === undefined) return;
    const frame = decodeFrame(message);
    if (frame.type !== FrameType.Data) return;
    const end = frame.offset + frame.bytes.byteLength;
    if (frame.seq !== current.meta.seq || end > current.meta.byteLength) {
      current.intact = false;
    } else {
      current.bytes.set(frame.bytes, frame.offset);
    }
    current.received += frame.bytes.byteLength;
    if (current.received >= current.meta.byteLength) {
      onChunk(current.meta, current.intact ? current.bytes : null);
      current = undefined;
    }
  };
}

/**
 * Counts chunks that differ from what the source published: `verify` / `verified` for a chunk a
 * peer accepted, and `linkObserver` / `sentChunk` for each chunk a peer sends.
 */
export class ChunkAuditor {
  readonly #published = new Map<number, string>();
  badVerified = 0;
  verified = 0;
  badSent = 0;
  sent = 0;

  publish(chunk: Chunk): void {
    this.#published.set(chunk.seq, chunkFingerprint(chunk, chunk.bytes));
  }

  #isPublished([seq, fingerprint]: ChunkSighting): boolean {
    return this.#published.get(seq) === fingerprint;
  }

  /** A chunk a peer verified, as it reported it. */
  verifiedSighting(sighting: ChunkSighting): void {
    this.verified++;
    if (!this.#isPublished(sighting)) this.badVerified++;
  }

  /** A chunk a peer sent, as it reported it. */
  sentSighting(sighting: ChunkSighting): void {
    this.sent++;
    if (!this.#isPublished(sighting)) this.badSent++;
  }

  /** A chunk a peer verified: counted bad unless it is the published one, metadata and bytes. */
  verify(chunk: Chunk): void {
    this.verifiedSighting([chunk.seq, chunkFingerprint(chunk, chunk.bytes)]);
  }

  /** An observer of one link's outgoing messages: each chunk sent is checked once it ends. */
  linkObserver(): (message: Uint8Array) => void {
    return sentChunkObserver((meta, bytes) => {
      this.sentSighting(sentChunkSighting(meta, bytes));
    });
  }
}

/** How a peer reports a chunk it sent (`sentChunkObserver`'s arguments); a malformed one never matches. */
export function sentChunkSighting(meta: ChunkMeta, bytes: Uint8Array | null): ChunkSighting {
  return [meta.seq, bytes === null ? '' : chunkFingerprint(meta, bytes)];
}
