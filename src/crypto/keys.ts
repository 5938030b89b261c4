import { fromBase64Url, toBase64Url } from '../common/bytes.js';
import { SwarmcastError } from '../common/errors.js';
import { asBufferSource } from './hash.js';

const ED25519 = { name: 'Ed25519' } as const;

/** An Ed25519 key pair held as WebCrypto keys; the public key also as 32 raw bytes. */
export interface SigningKeyPair {
  readonly privateKey: CryptoKey;
  readonly publicKey: CryptoKey;
  readonly publicKeyRaw: Uint8Array;
}

export async function generateSigningKeyPair(): Promise<SigningKeyPair> {
  const pair = await globalThis.crypto.subtle.generateKey(ED25519, true, ['sign', 'verify']);
  const raw = new Uint8Array(await globalThis.crypto.subtle.exportKey('raw', pair.publicKey));
  return { privateKey: pair.privateKey, publicKey: pair.publicKey, publicKeyRaw: raw };
}

/** Imports a 32-byte raw Ed25519 public key (as sent in base64url on the wire). */
export async function importPublicKey(raw: Uint8Array): Promise<CryptoKey> {
  if (raw.byteLength !== 32) {
    throw new SwarmcastError('invalid-argument', 'an Ed25519 public key is 32 bytes');
  }
  return globalThis.crypto.subtle.importKey('raw', asBufferSource(raw), ED25519, true, ['verify']);
}

export async function importPublicKeyBase64Url(text: string): Promise<CryptoKey> {
  return importPublicKey(fromBase64Url(text));
}

export function publicKeyToBase64Url(pair: SigningKeyPair): string {
  return toBase64Url(pair.publicKeyRaw);
}

export async function sign(privateKey: CryptoKey, data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(
    await globalThis.crypto.subtle.sign(ED25519, privateKey, asBufferSource(data)),
  );
}

export async function verify(
  publicKey: CryptoKey,
  signature: Uint8Array,
  data: Uint8Array,
): Promise<boolean> {
  if (signature.byteLength !== 64) return false;
  return globalThis.crypto.subtle.verify(
    ED25519,
    publicKey,
    asBufferSource(signature),
    asBufferSource(data),
  );
}

/** Signs with one Ed25519 key; `publicKey` is its raw 32 bytes in base64url. */
export interface Signer {
  readonly publicKey: string;
  sign(data: Uint8Array): Promise<Uint8Array>;
}

/**
 * Checks an Ed25519 signature by a raw base64url public key. Resolves false (never rejects) for a
 * bad signature, a key that is not 32 bytes, or anything that does not decode.
 */
export type SignatureCheck = (
  publicKey: string,
  signature: Uint8Array,
  data: Uint8Array,
) => Promise<boolean>;

/**
 * A signer that also signs synchronously: the tracker's, whose core stays synchronous (Node's
 * crypto, `src/crypto/ed25519.node.ts`).
 */
export interface SyncSigner extends Signer {
  signSync(data: Uint8Array): Uint8Array;
}

/** A `SignatureCheck` that answers at once (same contract). */
export type SyncSignatureCheck = (
  publicKey: string,
  signature: Uint8Array,
  data: Uint8Array,
) => boolean;

/** A `Signer` over a WebCrypto key pair. */
export function keyPairSigner(pair: SigningKeyPair): Signer {
  return {
    publicKey: publicKeyToBase64Url(pair),
    sign: (data) => sign(pair.privateKey, data),
  };
}

/** Imported public keys a `webCryptoSignatureCheck` keeps (the tracker's, the peers' it met). */
const IMPORTED_KEY_CACHE = 64;

/** A `SignatureCheck` through WebCrypto (Node ≥ 20 and browsers); it caches imported keys. */
export function webCryptoSignatureCheck(): SignatureCheck {
  const imported = new Map<string, Promise<CryptoKey>>();
  return async (publicKey, signature, data) => {
    let key = imported.get(publicKey);
    if (key === undefined) {
      key = importPublicKeyBase64Url(publicKey);
      if (imported.size >= IMPORTED_KEY_CACHE) imported.clear();
      imported.set(publicKey, key);
    }
    try {
      return await verify(await key, signature, data);
    } catch {
      imported.delete(publicKey);
      return false;
    }
  };
}

/** A key pair as a private JWK (`kty` OKP, `crv` Ed25519, `x` public, `d` private), to keep it. */
export async function exportSigningKeyPair(pair: SigningKeyPair): Promise<JsonWebKey> {
  return globalThis.crypto.subtle.exportKey('jwk', pair.privateKey);
}

/** The inverse of `exportSigningKeyPair`; throws `invalid-argument` for anything else. */
export async function importSigningKeyPair(jwk: JsonWebKey): Promise<SigningKeyPair> {
  if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || jwk.x === undefined || jwk.d === undefined) {
    throw new SwarmcastError('invalid-argument', 'not an Ed25519 private key in JWK form');
  }
  const publicKeyRaw = fromBase64Url(jwk.x);
  const [privateKey, publicKey] = await Promise.all([
    globalThis.crypto.subtle.importKey('jwk', jwk, ED25519, true, ['sign']),
    importPublicKey(publicKeyRaw),
  ]);
  return { privateKey, publicKey, publicKeyRaw };
}
