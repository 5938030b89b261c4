import { equalBytes } from '../common/bytes.js';
import { VerificationError } from '../common/errors.js';
import { chunkSigningPayload, type Chunk, type ChunkMeta } from '../protocol/chunk.js';
import { sha256 } from './hash.js';
import { importPublicKeyBase64Url, sign, verify } from './keys.js';

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

/** Checks chunks of one stream before they are stored, played or relayed. */
export interface ChunkVerifier {
  /** Resolves if the chunk is authentic; rejects with `VerificationError` otherwise. */
  verify(chunk: Chunk): Promise<void>;
}

/**
 * The default verifier: length, SHA-256 digest and the broadcaster's Ed25519 signature
 * (`verifyChunk`) against the stream's public key (raw, base64url).
 */
export function signatureVerifier(stream: string, publicKey: string): ChunkVerifier {
  const key = importPublicKeyBase64Url(publicKey);
  // A bad key fails every verify(); this keeps the rejection from going unhandled meanwhile.
  key.catch(() => undefined);
  return {
    verify: async (chunk) => {
      let imported: CryptoKey;
      try {
        imported = await key;
      } catch {
        throw new VerificationError('the stream public key is not a valid Ed25519 key');
      }
      await verifyChunk(stream, imported, chunk);
    },
  };
}
