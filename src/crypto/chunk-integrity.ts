/**
 * MioStream's chunk integrity scheme, kept as an option beside the Ed25519 default so the paper's
 * overhead trade-off (its figures 13-15) can be measured: the tracker makes a 32-byte key per
 * stream and hands it to the broadcaster and to the stream's authenticated members; the
 * broadcaster puts HMAC-SHA256(key, `chunkSigningPayload`) in each chunk's signature field; a
 * peer checks that HMAC on a random share `threshold` of the chunks.
 *
 * Every chunk's length and SHA-256 digest are still checked (`verifyChunkDigest`): that catches
 * corrupted bytes whatever the threshold. The HMAC authenticates the digest; a chunk that is not
 * drawn is accepted on its digest alone, so a member that forges the digest of an unchecked chunk
 * gets it played and relayed. Any member holds the key and can forge chunks others accept even
 * at threshold 1: docs/SECURITY.md.
 */
import { fromBase64Url } from '../common/bytes.js';
import { VerificationError } from '../common/errors.js';
import type { Random } from '../common/random.js';
import { chunkSigningPayload, SIGNATURE_BYTES, type Chunk } from '../protocol/chunk.js';
import type { StreamInfo } from '../protocol/tracker.js';
import {
  sealChunk,
  signatureVerifier,
  verifyChunkDigest,
  verifierKey,
  type ChunkSealer,
  type ChunkVerifier,
} from './chunk-signing.js';
import { asBufferSource } from './hash.js';

/** Length of a stream key: 32 random bytes, as long as HMAC-SHA256's output. */
export const STREAM_KEY_BYTES = 32;
/** Length of an HMAC-SHA256 tag; the rest of the 64-byte signature field is zeros. */
export const HMAC_TAG_BYTES = 32;

const HMAC = { name: 'HMAC', hash: 'SHA-256' } as const;

/** Imports a stream key (raw bytes, or base64url as `joined` carries it) for HMAC-SHA256. */
export async function importStreamKey(key: Uint8Array | string): Promise<CryptoKey> {
  const raw = typeof key === 'string' ? fromBase64Url(key) : key;
  if (raw.byteLength !== STREAM_KEY_BYTES) {
    throw new TypeError(`a stream key is ${STREAM_KEY_BYTES} bytes, got ${raw.byteLength}`);
  }
  return globalThis.crypto.subtle.importKey('raw', asBufferSource(raw), HMAC, false, [
    'sign',
    'verify',
  ]);
}

/** The signature field of an HMAC chunk: the 32-byte tag, then 32 zero bytes. */
async function hmacField(key: CryptoKey, payload: Uint8Array): Promise<Uint8Array> {
  const tag = new Uint8Array(
    await globalThis.crypto.subtle.sign(HMAC, key, asBufferSource(payload)),
  );
  const field = new Uint8Array(SIGNATURE_BYTES);
  field.set(tag);
  return field;
}

/** The broadcaster's `ChunkSealer` for an `hmac-sha256` stream, with the tracker's stream key. */
export function hmacSealer(key: CryptoKey): ChunkSealer {
  return (stream, chunk) => sealChunk(stream, chunk, (payload) => hmacField(key, payload));
}

/**
 * Checks a chunk's HMAC (and, first, its length and digest). Throws `VerificationError` naming
 * what failed. The comparison is WebCrypto's `verify`, in constant time.
 */
export async function verifyChunkHmac(stream: string, key: CryptoKey, chunk: Chunk): Promise<void> {
  await verifyChunkDigest(chunk);
  const field = chunk.signature;
  if (field.byteLength !== SIGNATURE_BYTES || field.subarray(HMAC_TAG_BYTES).some((b) => b !== 0)) {
    throw new VerificationError(`chunk ${chunk.seq}: malformed HMAC field`);
  }
  const ok = await globalThis.crypto.subtle.verify(
    HMAC,
    key,
    asBufferSource(field.slice(0, HMAC_TAG_BYTES)),
    asBufferSource(chunkSigningPayload(stream, chunk)),
  );
  if (!ok) throw new VerificationError(`chunk ${chunk.seq}: bad HMAC`);
}

/**
 * MioStream's verifier: every chunk's length and digest, and its HMAC with probability
 * `threshold` (a draw of `random` per chunk: 0 never checks, 1 always does). A chunk that is not
 * drawn is accepted on its digest alone.
 */
export function hmacVerifier(
  stream: string,
  streamKey: Uint8Array | string,
  threshold: number,
  random: Random,
): ChunkVerifier {
  if (!(threshold >= 0 && threshold <= 1)) {
    throw new TypeError(`threshold must be within [0, 1], got ${threshold}`);
  }
  const key = verifierKey(
    importStreamKey(streamKey),
    'the stream key is not a usable HMAC-SHA256 key',
  );
  let verified = 0;
  let authenticated = 0;
  return {
    counts: () => ({ verified, authenticated }),
    verify: async (chunk) => {
      verified++;
      if (!(random.next() < threshold)) {
        await verifyChunkDigest(chunk);
        return;
      }
      authenticated++;
      await verifyChunkHmac(stream, await key(), chunk);
    },
  };
}

/**
 * A verifier that checks only length and digest: for chunks from a source trusted for their
 * authenticity (the origin's authenticated ingest, an origin-only viewer of an HMAC stream).
 */
export function digestVerifier(): ChunkVerifier {
  let verified = 0;
  return {
    counts: () => ({ verified, authenticated: 0 }),
    verify: (chunk) => {
      verified++;
      return verifyChunkDigest(chunk);
    },
  };
}

/**
 * The verifier a peer uses for a stream, by the stream's integrity scheme: Ed25519 signatures
 * (the default), or HMAC with the stream key from the tracker's `joined`, sampled with `random`.
 * An HMAC stream without its key (the broadcaster's own node before `joined`, which verifies
 * nothing; `joined` always carries the key of an HMAC stream) gets one that refuses every chunk.
 */
export function streamVerifier(
  info: StreamInfo,
  components: { readonly random: Random; readonly streamKey: string | undefined },
): ChunkVerifier {
  const integrity = info.integrity;
  if (integrity?.scheme !== 'hmac-sha256') return signatureVerifier(info.stream, info.publicKey);
  if (components.streamKey === undefined) {
    return {
      verify: (chunk) =>
        Promise.reject(new VerificationError(`chunk ${chunk.seq}: no stream key to check it`)),
    };
  }
  return hmacVerifier(info.stream, components.streamKey, integrity.threshold, components.random);
}
