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

const RAW_KEY_BYTES = 32;
/** Public keys a `nodeSignatureCheck` keeps parsed. */
const KEY_CACHE = 256;

/** A signer over a fresh random key pair. */
export function generateNodeSigner(): SyncSigner {
  return nodeSigner(generateKeyPairSync('ed25519').privateKey);
}

/**
 * A signer whose key is derived from a 32-byte seed: the same seed, the same key. Keys come in and
 * out as JWK, which Node reads and writes as raw Ed25519 keys: a PKCS #8 or SPKI key goes through
 * OpenSSL's decoders, ten times slower (0.59 ms against 0.06 ms per key on this machine), and a
 * simulated swarm makes a key per peer.
 */
export function seededNodeSigner(seed: Uint8Array): SyncSigner {
  if (seed.byteLength !== RAW_KEY_BYTES) {
    throw new SwarmcastError('invalid-argument', 'an Ed25519 seed is 32 bytes');
  }
  // Node derives the public half from `d`: `x` must be a string, and is not read.
  const jwk = { kty: 'OKP', crv: 'Ed25519', d: toBase64Url(seed), x: '' };
  return nodeSigner(createPrivateKey({ key: jwk, format: 'jwk' }));
}

function nodeSigner(privateKey: KeyObject): SyncSigner {
  const publicKey = privateKey.export({ format: 'jwk' }).x;
  if (publicKey === undefined)
    throw new SwarmcastError('invalid-state', 'an Ed25519 key without x');
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
      if (fromBase64Url(publicKey).byteLength === RAW_KEY_BYTES) {
        key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: publicKey }, format: 'jwk' });
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
