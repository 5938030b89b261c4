/**
 * The tracker handshake's signed message. The tracker sends a fresh random nonce with its own
 * public key (`challenge`); the peer proves it holds the private key of the public key it sent in
 * `hello` by signing this message (`auth`). Every field the tracker acts on is bound: the nonce
 * (so an `auth` captured on one connection is worthless on any other), the peer's key, the role
 * it asked for, and the tracker's key (so a challenge relayed from another tracker does not
 * verify here). The domain string keeps the signature from meaning anything elsewhere (a chunk,
 * a credential). Documented in docs/PROTOCOL.md (1.5, `auth`).
 */
import { fromBase64Url } from '../common/bytes.js';
import { SwarmcastError } from '../common/errors.js';

/** Random bytes in a challenge nonce. */
export const NONCE_BYTES = 32;
/** Bytes of a raw Ed25519 public key. */
export const PUBLIC_KEY_BYTES = 32;
const AUTH_DOMAIN = new TextEncoder().encode('swarmcast/auth/v1');
/** Byte of each role in the message. */
const ROLE_BYTE = { viewer: 0, broadcaster: 1 } as const;

export type HandshakeRole = keyof typeof ROLE_BYTE;

/** The bytes a peer signs to answer a challenge (114 bytes). */
export function authMessage(
  nonce: Uint8Array,
  peerKey: string,
  role: HandshakeRole,
  trackerKey: string,
): Uint8Array {
  if (nonce.byteLength !== NONCE_BYTES) {
    throw new SwarmcastError('invalid-argument', `a nonce is ${NONCE_BYTES} bytes`);
  }
  const out = new Uint8Array(AUTH_DOMAIN.byteLength + NONCE_BYTES + 2 * PUBLIC_KEY_BYTES + 1);
  let offset = 0;
  for (const part of [AUTH_DOMAIN, nonce, rawKey(peerKey)]) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  out[offset++] = ROLE_BYTE[role];
  out.set(rawKey(trackerKey), offset);
  return out;
}

/** The 32 bytes of a base64url public key; throws `invalid-argument` for anything else. */
export function rawKey(text: string): Uint8Array {
  let raw: Uint8Array;
  try {
    raw = fromBase64Url(text);
  } catch {
    raw = new Uint8Array(0);
  }
  if (raw.byteLength !== PUBLIC_KEY_BYTES) {
    throw new SwarmcastError('invalid-argument', 'an Ed25519 public key is 32 bytes of base64url');
  }
  return raw;
}
