/** Synthetic chunks for the origin's tests: fake ones for the store, signed ones for HTTP. */
import {
  generateSigningKeyPair,
  publicKeyToBase64Url,
  type SigningKeyPair,
} from '../../src/crypto/keys.js';
import { signChunk } from '../../src/crypto/chunk-signing.js';
import { DIGEST_BYTES, SIGNATURE_BYTES, type Chunk } from '../../src/protocol/chunk.js';
import type { InitSegment } from '../../src/protocol/media.js';
import type { StreamDescription } from '../../src/origin/store.js';

export const CHUNK_MS = 500;
export const SEGMENT_MS = 2000;
export const CHUNKS_PER_SEGMENT = SEGMENT_MS / CHUNK_MS;

/** Wall-clock capture time of media time 0 in the fixtures. */
export const ZERO_TIME_MS = 1_700_000_000_000;

export interface ChunkPlace {
  readonly seq: number;
  readonly segment?: number;
  readonly index?: number;
  readonly durationMs?: number;
  readonly byteLength?: number;
}

/** Recognisable bytes for chunk `seq`: every byte is `seq % 251`. */
export function chunkBytes(seq: number, byteLength = 100): Uint8Array {
  return new Uint8Array(byteLength).fill(seq % 251);
}

/**
 * An unsigned chunk at its regular place (4 chunks of 500 ms per segment unless told), with a
 * digest that differs per seq; for tests that do not verify.
 */
export function fakeChunk(place: ChunkPlace): Chunk {
  const segment = place.segment ?? Math.floor(place.seq / CHUNKS_PER_SEGMENT);
  const index = place.index ?? place.seq % CHUNKS_PER_SEGMENT;
  const bytes = chunkBytes(place.seq, place.byteLength);
  const mediaTimeMs = place.seq * CHUNK_MS;
  return {
    rendition: 0,
    seq: place.seq,
    segment,
    index,
    mediaTimeMs,
    durationMs: place.durationMs ?? CHUNK_MS,
    captureTimeMs: ZERO_TIME_MS + mediaTimeMs,
    byteLength: bytes.byteLength,
    digest: new Uint8Array(DIGEST_BYTES).fill(place.seq % 256),
    signature: new Uint8Array(SIGNATURE_BYTES),
    bytes,
  };
}

/** Fake chunks `from`..`to` inclusive at their regular places. */
export function fakeChunks(from: number, to: number): Chunk[] {
  const out: Chunk[] = [];
  for (let seq = from; seq <= to; seq++) out.push(fakeChunk({ seq }));
  return out;
}

export const FAKE_INIT: InitSegment = {
  bytes: new TextEncoder().encode('ftyp....moov....'),
  tracks: [
    { id: 1, kind: 'video', codec: 'avc1.64001e', timescale: 15360, width: 640, height: 360 },
    { id: 2, kind: 'audio', codec: 'mp4a.40.2', timescale: 48000, sampleRate: 48000, channels: 2 },
  ],
};

export interface SignedStream {
  readonly keys: SigningKeyPair;
  readonly description: StreamDescription;
  /** Signed chunks 0..count-1 at their regular places. */
  readonly chunks: Chunk[];
}

/** A stream description with a fresh key, and `count` chunks signed with it. */
export async function signedStream(stream: string, count: number): Promise<SignedStream> {
  const keys = await generateSigningKeyPair();
  const chunks: Chunk[] = [];
  for (let seq = 0; seq < count; seq++) {
    const { rendition, segment, index, mediaTimeMs, durationMs, captureTimeMs, bytes } = fakeChunk({
      seq,
    });
    const unsigned = {
      rendition,
      seq,
      segment,
      index,
      mediaTimeMs,
      durationMs,
      captureTimeMs,
      bytes,
    };
    chunks.push(await signChunk(stream, keys.privateKey, unsigned));
  }
  return {
    keys,
    description: {
      stream,
      publicKey: publicKeyToBase64Url(keys),
      chunkDurationMs: CHUNK_MS,
      segmentDurationMs: SEGMENT_MS,
    },
    chunks,
  };
}
