import { equalBytes } from '../common/bytes.js';
import { VerificationError } from '../common/errors.js';
import { chunkSigningPayload, type Chunk, type ChunkMeta } from '../protocol/chunk.js';
import { sha256 } from './hash.js';
import { sign, verify } from './keys.js';

/** The unsigned part of a chunk, as the broadcaster cuts it. */
export type UnsignedChunk = Omit<Chunk, 'digest' | 'signature' | 'byteLength'>;

/** Hashes and signs a chunk with the broadcaster's private key. */
export async function signChunk(
  stream: string,
  privateKey: CryptoKey,
  chunk: UnsignedChunk,
): Promise<Chunk> {
  const digest = await sha256(chunk.bytes);
  const unsigned: ChunkMeta = {
    ...chunk,
    byteLength: chunk.bytes.byteLength,
    digest,
    signature: new Uint8Array(0),
  };
  const signature = await sign(privateKey, chunkSigningPayload(stream, unsigned));
  return { ...unsigned, bytes: chunk.bytes, signature };
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
  if (chunk.bytes.byteLength !== chunk.byteLength) {
    throw new VerificationError(`chunk ${chunk.seq}: length does not match its header`);
  }
  const digest = await sha256(chunk.bytes);
  if (!equalBytes(digest, chunk.digest)) {
    throw new VerificationError(`chunk ${chunk.seq}: digest mismatch`);
  }
  if (!(await verify(publicKey, chunk.signature, chunkSigningPayload(stream, chunk)))) {
    throw new VerificationError(`chunk ${chunk.seq}: bad signature`);
  }
}
