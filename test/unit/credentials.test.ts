import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromBase64Url, toBase64Url } from '../../src/common/bytes.js';
import { VerificationError } from '../../src/common/errors.js';
import {
  MAX_CREDENTIAL_CHARS,
  decodeCredential,
  issueCredential,
  verifyCredential,
  type Credential,
  type CredentialExpectation,
} from '../../src/crypto/credentials.js';
import {
  generateNodeSigner,
  nodeSignatureCheck,
  seededNodeSigner,
  settledSignatureCheck,
} from '../../src/crypto/ed25519.node.js';
import { authMessage } from '../../src/crypto/handshake.js';
import {
  generateSigningKeyPair,
  keyPairSigner,
  webCryptoSignatureCheck,
} from '../../src/crypto/keys.js';

const tracker = generateNodeSigner();
const peer = generateNodeSigner();
const NOW_MS = 1_700_000_000_000;

const CREDENTIAL: Credential = {
  peerId: 'Pe3r_id-0123456',
  stream: 'live.cam-1',
  role: 'viewer',
  publicKey: peer.publicKey,
  expiresAtMs: NOW_MS + 600_000,
};

/** What the peer at the other end of the link expects, checking with WebCrypto as peers do. */
const EXPECTED: CredentialExpectation = {
  trackerKey: tracker.publicKey,
  check: webCryptoSignatureCheck(),
  nowMs: NOW_MS,
  stream: CREDENTIAL.stream,
  peerId: CREDENTIAL.peerId,
};

async function rejection(token: string, expected = EXPECTED): Promise<string> {
  const error: unknown = await verifyCredential(token, expected).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(VerificationError);
  return (error as VerificationError).message;
}

describe('credentials', () => {
  it('round-trip: the tracker issues a compact credential that verifies against its key', async () => {
    const token = issueCredential(tracker, CREDENTIAL);
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(token.length).toBeLessThanOrEqual(MAX_CREDENTIAL_CHARS);
    expect(decodeCredential(token).credential).toEqual(CREDENTIAL);
    // Signed by Node's crypto (the tracker), checked by WebCrypto (peers, browsers) and by Node.
    await expect(verifyCredential(token, EXPECTED)).resolves.toEqual(CREDENTIAL);
    await expect(
      verifyCredential(token, { ...EXPECTED, check: settledSignatureCheck(nodeSignatureCheck()) }),
    ).resolves.toEqual(CREDENTIAL);
    // The longest ids fit well within the bound.
    const longest = issueCredential(tracker, {
      ...CREDENTIAL,
      peerId: 'p'.repeat(64),
      stream: 's'.repeat(64),
      role: 'broadcaster',
    });
    expect(longest.length).toBeLessThanOrEqual(315);
    expect(decodeCredential(longest).credential.role).toBe('broadcaster');
  });

  it('verifyCredential() rejects an expired credential', async () => {
    const token = issueCredential(tracker, { ...CREDENTIAL, expiresAtMs: NOW_MS });
    expect(await rejection(token)).toMatch(/expired/);
    await expect(
      verifyCredential(token, { ...EXPECTED, nowMs: NOW_MS - 1 }),
    ).resolves.toBeDefined();
  });

  it('verifyCredential() rejects a credential of another peer or another stream', async () => {
    const token = issueCredential(tracker, CREDENTIAL);
    expect(await rejection(token, { ...EXPECTED, peerId: 'someone-else' })).toMatch(/another peer/);
    expect(await rejection(token, { ...EXPECTED, stream: 'other' })).toMatch(/another stream/);
  });

  it('verifyCredential() rejects a credential signed by another key (a forgery)', async () => {
    const forger = generateNodeSigner();
    expect(await rejection(issueCredential(forger, CREDENTIAL))).toMatch(
      /not signed by the tracker/,
    );
    // Nor does a genuine credential verify against the forger's key.
    expect(
      await rejection(issueCredential(tracker, CREDENTIAL), {
        ...EXPECTED,
        trackerKey: forger.publicKey,
      }),
    ).toMatch(/not signed/);
  });

  it('verifyCredential() rejects any single changed byte of a genuine credential', async () => {
    const bytes = fromBase64Url(issueCredential(tracker, CREDENTIAL));
    for (let i = 0; i < bytes.byteLength; i++) {
      const tampered = Uint8Array.from(bytes);
      tampered[i] = (tampered[i] ?? 0) ^ 0x01;
      // Changing the expiry, the ids or the key changes what was signed; a changed length or
      // version does not even decode.
      await expect(verifyCredential(toBase64Url(tampered), EXPECTED), `byte ${i}`).rejects.toThrow(
        VerificationError,
      );
    }
  });

  it('decodeCredential() refuses truncated, padded, oversized and non-base64url input', () => {
    const token = issueCredential(tracker, CREDENTIAL);
    const bytes = fromBase64Url(token);
    for (const bad of [
      '',
      toBase64Url(bytes.subarray(0, bytes.byteLength - 1)),
      toBase64Url(new Uint8Array([...bytes, 0])),
      'A'.repeat(MAX_CREDENTIAL_CHARS + 1),
      `${token.slice(0, 10)}.${token.slice(11)}`,
    ]) {
      expect(() => decodeCredential(bad)).toThrow(VerificationError);
    }
  });

  it('decodeCredential() throws only VerificationError on random input', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ maxLength: 600 }), fc.uint8Array({ maxLength: 400 }).map(toBase64Url)),
        (text) => {
          try {
            decodeCredential(text);
          } catch (error) {
            if (!(error instanceof VerificationError)) throw error;
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('the handshake message', () => {
  const nonce = new Uint8Array(32).fill(7);

  it('binds the nonce, the peer key, the role and the tracker key, under its own domain', () => {
    const base = authMessage(nonce, peer.publicKey, 'viewer', tracker.publicKey);
    expect(base.byteLength).toBe(114);
    expect(new TextDecoder().decode(base.subarray(0, 17))).toBe('swarmcast/auth/v1');
    const variants = [
      authMessage(new Uint8Array(32).fill(8), peer.publicKey, 'viewer', tracker.publicKey),
      authMessage(nonce, tracker.publicKey, 'viewer', tracker.publicKey),
      authMessage(nonce, peer.publicKey, 'broadcaster', tracker.publicKey),
      authMessage(nonce, peer.publicKey, 'viewer', peer.publicKey),
    ];
    for (const variant of variants) expect(toBase64Url(variant)).not.toBe(toBase64Url(base));
    expect(() =>
      authMessage(new Uint8Array(31), peer.publicKey, 'viewer', tracker.publicKey),
    ).toThrow(/nonce/);
    expect(() => authMessage(nonce, 'short', 'viewer', tracker.publicKey)).toThrow(/32 bytes/);
  });

  it('a WebCrypto signature (a browser peer) verifies with the tracker’s Node check', async () => {
    const signer = keyPairSigner(await generateSigningKeyPair());
    const message = authMessage(nonce, signer.publicKey, 'viewer', tracker.publicKey);
    const signature = await signer.sign(message);
    const check = nodeSignatureCheck();
    expect(check(signer.publicKey, signature, message)).toBe(true);
    expect(check(peer.publicKey, signature, message)).toBe(false);
    message[20] = (message[20] ?? 0) ^ 1;
    expect(check(signer.publicKey, signature, message)).toBe(false);
  });

  it('a seeded Node signer has the key WebCrypto derives from the same seed, and signs alike', async () => {
    const seed = Uint8Array.from({ length: 32 }, (_, i) => (i * 37 + 11) & 0xff);
    // PKCS #8 of an Ed25519 seed (RFC 8410): a fixed prefix, then the 32 bytes.
    const pkcs8 = new Uint8Array([
      ...[0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22],
      ...[0x04, 0x20, ...seed],
    ]);
    const key = await crypto.subtle.importKey('pkcs8', pkcs8, { name: 'Ed25519' }, true, ['sign']);
    const jwk = await crypto.subtle.exportKey('jwk', key);
    const signer = seededNodeSigner(seed);
    expect(signer.publicKey).toBe(jwk.x);
    const message = new Uint8Array(
      authMessage(nonce, signer.publicKey, 'viewer', tracker.publicKey),
    );
    const webCryptoSignature = new Uint8Array(
      await crypto.subtle.sign({ name: 'Ed25519' }, key, message),
    );
    expect(signer.signSync(message)).toEqual(webCryptoSignature);
    expect(nodeSignatureCheck()(signer.publicKey, webCryptoSignature, message)).toBe(true);
    expect(await webCryptoSignatureCheck()(signer.publicKey, webCryptoSignature, message)).toBe(
      true,
    );
  });
});
