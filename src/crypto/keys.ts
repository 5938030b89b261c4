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
