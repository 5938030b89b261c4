/**
 * Credentials: what the tracker vouches for about a peer, signed with the tracker's Ed25519 key.
 * The tracker issues one in `joined` (and again before it expires); the peer presents it in the
 * HELLO frame of every data channel, and the other end checks it against the tracker's public
 * key, learned in the handshake. Compact: one base64url string of a binary body and its
 * signature, about 230 characters. Documented in docs/PROTOCOL.md (2.11).
 */
import { fromBase64Url, toBase64Url } from '../common/bytes.js';
import { SwarmcastError, VerificationError } from '../common/errors.js';
import { STREAM_ID_PATTERN } from '../protocol/chunk.js';
import { PUBLIC_KEY_BYTES, rawKey, type HandshakeRole } from './handshake.js';
import type { SignatureCheck, SyncSigner } from './keys.js';

/** Version byte of the body. */
export const CREDENTIAL_VERSION = 1;
/** Longest credential string any decoder accepts (a real one is at most 315 characters). */
export const MAX_CREDENTIAL_CHARS = 512;
const SIGNATURE_BYTES = 64;
/** Version, role, expiry (float64), public key. */
const FIXED_BYTES = 1 + 1 + 8 + PUBLIC_KEY_BYTES;
const CREDENTIAL_DOMAIN = new TextEncoder().encode('swarmcast/credential/v1');
const PEER_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
const ROLES: readonly HandshakeRole[] = ['viewer', 'broadcaster'];

export interface Credential {
  /** The pseudonymous id the tracker gave the peer for this connection. */
  readonly peerId: string;
  /** The one stream it may exchange chunks of. */
  readonly stream: string;
  readonly role: HandshakeRole;
  /** The peer's Ed25519 public key (raw, base64url), which it proved it holds. */
  readonly publicKey: string;
  /** Clock time (ms) after which the credential is worthless. */
  readonly expiresAtMs: number;
}

/** What a receiver expects of a credential presented on a link. */
export interface CredentialExpectation {
  /** The tracker's public key (raw, base64url). */
  readonly trackerKey: string;
  /** Checks signatures (WebCrypto, or the simulator's synchronous one). */
  readonly check: SignatureCheck;
  /** The receiver's clock now. */
  readonly nowMs: number;
  /** The receiver's stream. */
  readonly stream: string;
  /** The id the tracker signaled the link from. */
  readonly peerId: string;
}

/** Signs a credential with the tracker's key. */
export function issueCredential(signer: SyncSigner, credential: Credential): string {
  const body = encodeBody(credential);
  const signature = signer.signSync(signedBytes(body));
  const token = new Uint8Array(body.byteLength + signature.byteLength);
  token.set(body);
  token.set(signature, body.byteLength);
  return toBase64Url(token);
}

/**
 * Reads a credential without checking its signature (`verifyCredential` does both); throws
 * `VerificationError` when it does not decode.
 */
export function decodeCredential(token: string): {
  credential: Credential;
  body: Uint8Array;
  signature: Uint8Array;
} {
  if (token.length > MAX_CREDENTIAL_CHARS) throw new VerificationError('credential too long');
  let bytes: Uint8Array;
  try {
    bytes = fromBase64Url(token);
  } catch {
    throw new VerificationError('credential is not base64url');
  }
  if (bytes.byteLength < FIXED_BYTES + 2 + SIGNATURE_BYTES) {
    throw new VerificationError('credential too short');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes[0] !== CREDENTIAL_VERSION) {
    throw new VerificationError(`credential version ${bytes[0] ?? 0} is not supported`);
  }
  const role = ROLES[bytes[1] ?? 0xff];
  const expiresAtMs = view.getFloat64(2);
  const publicKey = toBase64Url(bytes.subarray(10, FIXED_BYTES));
  let offset = FIXED_BYTES;
  const text = (): string => {
    const length = bytes[offset] ?? 0;
    const start = offset + 1;
    offset = start + length;
    if (offset > bytes.byteLength - SIGNATURE_BYTES) {
      throw new VerificationError('credential truncated');
    }
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(start, offset));
    } catch {
      throw new VerificationError('credential text is not UTF-8');
    }
  };
  const peerId = text();
  const stream = text();
  if (
    role === undefined ||
    !Number.isFinite(expiresAtMs) ||
    !PEER_ID_PATTERN.test(peerId) ||
    !STREAM_ID_PATTERN.test(stream) ||
    bytes.byteLength - offset !== SIGNATURE_BYTES
  ) {
    throw new VerificationError('credential is malformed');
  }
  return {
    credential: { peerId, stream, role, publicKey, expiresAtMs },
    body: bytes.subarray(0, offset),
    signature: bytes.subarray(offset),
  };
}

/**
 * Checks a credential presented on a link: it decodes, names the expected peer and stream, has
 * not expired, and carries the tracker's signature. Throws `VerificationError` naming the first
 * failure; the cheap checks run before the signature.
 */
export async function verifyCredential(
  token: string,
  expected: CredentialExpectation,
): Promise<Credential> {
  const { credential, body, signature } = decodeCredential(token);
  if (credential.peerId !== expected.peerId) {
    throw new VerificationError('credential names another peer');
  }
  if (credential.stream !== expected.stream) {
    throw new VerificationError('credential is for another stream');
  }
  if (credential.expiresAtMs <= expected.nowMs) {
    throw new VerificationError('credential expired');
  }
  if (!(await expected.check(expected.trackerKey, signature, signedBytes(body)))) {
    throw new VerificationError('credential not signed by the tracker');
  }
  return credential;
}

function encodeBody(c: Credential): Uint8Array {
  const peerId = new TextEncoder().encode(c.peerId);
  const stream = new TextEncoder().encode(c.stream);
  if (!PEER_ID_PATTERN.test(c.peerId) || !STREAM_ID_PATTERN.test(c.stream)) {
    throw new SwarmcastError('invalid-argument', 'credential peer id or stream is not valid');
  }
  if (!Number.isFinite(c.expiresAtMs)) {
    throw new SwarmcastError('invalid-argument', 'credential expiry must be finite');
  }
  const body = new Uint8Array(FIXED_BYTES + 2 + peerId.byteLength + stream.byteLength);
  const view = new DataView(body.buffer);
  body[0] = CREDENTIAL_VERSION;
  body[1] = ROLES.indexOf(c.role);
  view.setFloat64(2, c.expiresAtMs);
  body.set(rawKey(c.publicKey), 10);
  let offset = FIXED_BYTES;
  for (const part of [peerId, stream]) {
    body[offset++] = part.byteLength;
    body.set(part, offset);
    offset += part.byteLength;
  }
  return body;
}

/** The domain string then the body: what the tracker signs. */
function signedBytes(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(CREDENTIAL_DOMAIN.byteLength + body.byteLength);
  out.set(CREDENTIAL_DOMAIN);
  out.set(body, CREDENTIAL_DOMAIN.byteLength);
  return out;
}
