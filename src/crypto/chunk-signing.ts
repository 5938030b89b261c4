import { equalBytes } from '../common/bytes.js';
import { VerificationError } from '../common/errors.js';
import { chunkSigningPayload, type Chunk, type ChunkMeta } from '../protocol/chunk.js';
import { sha256 } from './hash.js';
import { importPublicKeyBase64Url, sign, verify } from './keys.js';

/** The unsigned part of a chunk, as the broadcaster cuts it. */
export type UnsignedChunk = Omit<Chunk, 'digest' | 'signature' | 'byteLength'>;

/**
 * Authenticates one chunk of `stream` as the broadcaster cuts it: the default signs it with the
 * broadcaster's Ed25519 key (`ed25519Sealer`); MioStream's scheme puts an HMAC there
 * (`hmacSealer` in chunk-integrity.ts).
 */
export type ChunkSealer = (stream: string, chunk: UnsignedChunk) => Promise<Chunk>;

/**
 * Hashes a chunk and puts `authenticate(chunkSigningPayload(…))` in its signature field: the
 * shared part of every scheme.
 */
export async function sealChunk(
  stream: string,
  chunk: UnsignedChunk,
  authenticate: (payload: Uint8Array) => Promise<Uint8Array>,
): Promise<Chunk> {
  const digest = await sha256(chunk.bytes);
  const unsigned: ChunkMeta = {
    ...chunk,
    byteLength: chunk.bytes.byteLength,
    digest,
    signature: new Uint8Array(0),
  };
  const signature = await authenticate(chunkSigningPayload(stream, unsigned));
  return { ...unsigned, bytes: chunk.bytes, signature };
}

/** Hashes and signs a chunk with the broadcaster's private key. */
export async function signChunk(
  stream: string,
  privateKey: CryptoKey,
  chunk: UnsignedChunk,
): Promise<Chunk> {
  return sealChunk(stream, chunk, (payload) => sign(privateKey, payload));
}

/** The default `ChunkSealer`: `signChunk` with the broadcaster's private key. */
export function ed25519Sealer(privateKey: CryptoKey): ChunkSealer {
  return (stream, chunk) => signChunk(stream, privateKey, chunk);
}

/**
 * Checks that a chunk's bytes are what its header says: their length and their SHA-256 digest.
 * Every scheme checks this on every chunk (it catches corruption); the signature or HMAC then
 * authenticates the digest. Throws `VerificationError`.
 */
export async function verifyChunkDigest(chunk: Chunk): Promise<void> {
  if (chunk.bytes.byteLength !== chunk.byteLength) {
    throw new VerificationError(`chunk ${chunk.seq}: length does not match its header`);
  }
  const digest = await sha256(chunk.bytes);
  if (!equalBytes(digest, chunk.digest)) {
    throw new VerificationError(`chunk ${chunk.seq}: digest mismatch`);
  }
}

/**
 * Checks a received chunk: the length, the SHA-256 digest of its bytes, and the broadcaster's
 * signature over its identity and digest. Throws `VerificationError` naming what failed.
 */
export async function verifyChunk(
  stream: string,
  publicKey: CryptoKey,
  chunk: Chunk,
): Promise<void> {
  await verifyChunkDigest(chunk);
  if (!(await verify(publicKey, chunk.signature, chunkSigningPayload(stream, chunk)))) {
    throw new VerificationError(`chunk ${chunk.seq}: bad signature`);
  }
}

/** What a verifier has done since it was made. */
export interface VerifierCounts {
  /** Chunks handed to `verify()`. */
  readonly verified: number;
  /**
   * Chunks whose authenticity (signature or HMAC) `verify()` checked, passed or failed: all of
   * them with Ed25519, a random share `threshold` of them with HMAC.
   */
  readonly authenticated: number;
}

/** Checks chunks of one stream before they are stored, played or relayed. */
export interface ChunkVerifier {
  /**
   * Resolves if the chunk is accepted; rejects with `VerificationError` otherwise. A verifier that
   * decides at once may return nothing (accepted) or throw instead: the simulator's does, so that
   * a chunk costs no promise at each of a thousand peers.
   */
  verify(chunk: Chunk): Promise<void> | undefined;
  /** Counters for the benchmarks (absent from verifiers that keep none, like the simulator's). */
  counts?(): VerifierCounts;
}

/**
 * The default verifier: length, SHA-256 digest and the broadcaster's Ed25519 signature
 * (`verifyChunk`) against the stream's public key (raw, base64url).
 */
export function signatureVerifier(stream: string, publicKey: string): ChunkVerifier {
  const key = verifierKey(
    importPublicKeyBase64Url(publicKey),
    'the stream public key is not a valid Ed25519 key',
  );
  let verified = 0;
  return {
    counts: () => ({ verified, authenticated: verified }),
    verify: async (chunk) => {
      verified++;
      await verifyChunk(stream, await key(), chunk);
    },
  };
}

/**
 * A verifier's key being imported: the function returned resolves to it, or rejects with a
 * `VerificationError` saying `failure` when the import failed. A bad key fails every check that
 * needs it; the import's own rejection is never left unhandled meanwhile.
 */
export function verifierKey(key: Promise<CryptoKey>, failure: string): () => Promise<CryptoKey> {
  key.catch(() => undefined);
  return () =>
    key.catch(() => {
      throw new VerificationError(failure);
    });
}
