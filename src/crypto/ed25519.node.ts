/**
 * Ed25519 through `node:crypto`, for the Node-only parts: the tracker (its core signs and checks
 * synchronously, so that a join is handled in one step) and the simulator. Unlike WebCrypto, whose
 * Ed25519 runs on the libuv thread pool and settles whenever the event loop gets to it, these
 * compute at once; their promise forms are already settled, so a discrete-event simulator that
 * lets microtasks settle before moving time on stays deterministic. Signatures are the bytes
 * WebCrypto makes (RFC 8032, deterministic), and each side checks the other's.
 */
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto';
import { fromBase64Url, toBase64Url } from '../common/bytes.js';
import { SwarmcastError } from '../common/errors.js';
import type { SignatureCheck, SyncSignatureCheck, SyncSigner } from './keys.js';

/** DER prefix of a PKCS #8 Ed25519 private key; the 32-byte seed follows (RFC 8410). */
const PKCS8_ED25519_PREFIX = Uint8Array.of(
  0x30,
  0x2e,
  0x02,
  0x01,
  0x00,
  0x30,
  0x05,
  0x06,
  0x03,
  0x2b,
  0x65,
  0x70,
  0x04,
  0x22,
  0x04,
  0x20,
);
/** DER prefix of an SPKI Ed25519 public key; the 32 raw bytes follow. */
const SPKI_ED25519_PREFIX = Uint8Array.of(
  0x30,
  0x2a,
  0x30,
  0x05,
  0x06,
  0x03,
  0x2b,
  0x65,
  0x70,
  0x03,
  0x21,
  0x00,
);
const RAW_KEY_BYTES = 32;
/** Public keys a `nodeSignatureCheck` keeps parsed. */
const KEY_CACHE = 256;

/** A signer over a fresh random key pair. */
export function generateNodeSigner(): SyncSigner {
  return nodeSigner(generateKeyPairSync('ed25519').privateKey);
}

/** A signer whose key is derived from a 32-byte seed: the same seed, the same key. */
export function seededNodeSigner(seed: Uint8Array): SyncSigner {
  if (seed.byteLength !== RAW_KEY_BYTES) {
    throw new SwarmcastError('invalid-argument', 'an Ed25519 seed is 32 bytes');
  }
  const der = new Uint8Array(PKCS8_ED25519_PREFIX.byteLength + RAW_KEY_BYTES);
  der.set(PKCS8_ED25519_PREFIX);
  der.set(seed, PKCS8_ED25519_PREFIX.byteLength);
  return nodeSigner(createPrivateKey({ key: Buffer.from(der), format: 'der', type: 'pkcs8' }));
}

function nodeSigner(privateKey: KeyObject): SyncSigner {
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  const publicKey = toBase64Url(new Uint8Array(spki.subarray(SPKI_ED25519_PREFIX.byteLength)));
  const signSync = (data: Uint8Array): Uint8Array => new Uint8Array(sign(null, data, privateKey));
  return { publicKey, signSync, sign: (data) => Promise.resolve(signSync(data)) };
}

/** The promise form of a synchronous check: settled when returned (see the file comment). */
export function settledSignatureCheck(check: SyncSignatureCheck): SignatureCheck {
  return (publicKey, signature, data) => Promise.resolve(check(publicKey, signature, data));
}

/** Checks Ed25519 signatures synchronously; keeps the last few hundred parsed keys. */
export function nodeSignatureCheck(): SyncSignatureCheck {
  const keys = new Map<string, KeyObject | null>();
  const parse = (publicKey: string): KeyObject | null => {
    let key = keys.get(publicKey);
    if (key !== undefined) return key;
    key = null;
    try {
      const raw = fromBase64Url(publicKey);
      if (raw.byteLength === RAW_KEY_BYTES) {
        const der = new Uint8Array(SPKI_ED25519_PREFIX.byteLength + RAW_KEY_BYTES);
        der.set(SPKI_ED25519_PREFIX);
        der.set(raw, SPKI_ED25519_PREFIX.byteLength);
        key = createPublicKey({ key: Buffer.from(der), format: 'der', type: 'spki' });
      }
    } catch {
      key = null;
    }
    if (keys.size >= KEY_CACHE) keys.clear();
    keys.set(publicKey, key);
    return key;
  };
  return (publicKey, signature, data) => {
    const key = parse(publicKey);
    if (key === null || signature.byteLength !== 64) return false;
    try {
      return verify(null, data, key, signature);
    } catch {
      return false;
    }
  };
}
