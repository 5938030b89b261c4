import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { streamSealer } from '../../src/broadcaster/stream-sealer.js';
import { integrityFromFlags, parseIntegrityScheme, parseThreshold } from '../../src/cli/options.js';
import { fromBase64Url, toBase64Url } from '../../src/common/bytes.js';
import { ManualClock } from '../../src/common/clock.js';
import { silentLogger } from '../../src/common/logger.js';
import { SeededRandom } from '../../src/common/random.js';
import {
  hmacSealer,
  hmacVerifier,
  importStreamKey,
  STREAM_KEY_BYTES,
  streamVerifier,
} from '../../src/crypto/chunk-integrity.js';
import { signChunk, type UnsignedChunk } from '../../src/crypto/chunk-signing.js';
import { generateNodeSigner, nodeSignatureCheck } from '../../src/crypto/ed25519.node.js';
import { authMessage } from '../../src/crypto/handshake.js';
import { sha256 } from '../../src/crypto/hash.js';
import { generateSigningKeyPair, publicKeyToBase64Url } from '../../src/crypto/keys.js';
import type { PeerEvents } from '../../src/peer/core.js';
import type { Chunk } from '../../src/protocol/chunk.js';
import {
  decodeClientMessage,
  decodeTrackerMessage,
  encodeMessage,
  TRACKER_PROTOCOL_VERSION,
  type StreamInfo,
  type StreamIntegrity,
  type TrackerMessage,
} from '../../src/protocol/tracker.js';
import { TrackerCore } from '../../src/tracker/core/tracker-core.js';

const TIMEOUT_MS = 10_000;
const STREAM = 'live';
const HMAC_HALF: StreamIntegrity = { scheme: 'hmac-sha256', threshold: 0.5 };

function unsignedChunk(seq: number): UnsignedChunk {
  return {
    rendition: 0,
    seq,
    segment: Math.floor(seq / 4),
    index: seq % 4,
    mediaTimeMs: seq * 500,
    durationMs: 500,
    captureTimeMs: 1_700_000_000_000 + seq * 500,
    bytes: new Uint8Array(2000).map((_, i) => (i * 13 + seq) & 0xff),
  };
}

function info(integrity?: StreamIntegrity): StreamInfo {
  return {
    stream: STREAM,
    publicKey: 'A'.repeat(43),
    chunkDurationMs: 500,
    segmentDurationMs: 2000,
    originUrl: 'http://127.0.0.1:8080',
    ...(integrity === undefined ? {} : { integrity }),
  };
}

function randomKey(): Uint8Array {
  return globalThis.crypto.getRandomValues(new Uint8Array(STREAM_KEY_BYTES));
}

async function hmacChunks(key: Uint8Array, count: number): Promise<Chunk[]> {
  const seal = hmacSealer(await importStreamKey(key));
  const chunks: Chunk[] = [];
  for (let seq = 0; seq < count; seq++) chunks.push(await seal(STREAM, unsignedChunk(seq)));
  return chunks;
}

/** The chunk with its bytes changed and its digest fixed to match: what a polluter sends. */
async function withForgedBytes(chunk: Chunk): Promise<Chunk> {
  const bytes = chunk.bytes.slice();
  bytes[10] = (bytes[10] ?? 0) ^ 0xff;
  return { ...chunk, bytes, digest: await sha256(bytes) };
}

describe('HMAC chunk integrity (MioStream)', { timeout: TIMEOUT_MS }, () => {
  it('hmacVerifier at threshold 0 never checks an HMAC, at 1 always, at 0.5 about half', async () => {
    const key = randomKey();
    const chunks = await hmacChunks(key, 400);
    const counts = [];
    for (const threshold of [0, 1, 0.5]) {
      const verifier = hmacVerifier(STREAM, key, threshold, new SeededRandom(11));
      for (const chunk of chunks) await verifier.verify(chunk);
      counts.push(verifier.counts?.());
    }
    expect(counts[0]).toEqual({ verified: 400, authenticated: 0 });
    expect(counts[1]).toEqual({ verified: 400, authenticated: 400 });
    // Binomial(400, 0.5): mean 200, standard deviation 10.
    expect(counts[2]?.verified).toBe(400);
    expect(counts[2]?.authenticated).toBeGreaterThan(170);
    expect(counts[2]?.authenticated).toBeLessThan(230);
  });

  it('hmacVerifier at threshold 1 rejects a forged HMAC, forged bytes and a bad tag field', async () => {
    const key = randomKey();
    const [chunk] = await hmacChunks(key, 1);
    if (chunk === undefined) throw new Error('no chunk');
    const verifier = hmacVerifier(STREAM, key, 1, new SeededRandom(1));
    await expect(verifier.verify(chunk)).resolves.toBeUndefined();
    // Sealed with another key: a member of another stream, or a guess.
    const [other] = await hmacChunks(randomKey(), 1);
    if (other === undefined) throw new Error('no chunk');
    await expect(verifier.verify(other)).rejects.toThrow(/bad HMAC/);
    await expect(verifier.verify(await withForgedBytes(chunk))).rejects.toThrow(/bad HMAC/);
    // Another stream's id is part of what the HMAC covers.
    const elsewhere = hmacVerifier('other', key, 1, new SeededRandom(1));
    await expect(elsewhere.verify(chunk)).rejects.toThrow(/bad HMAC/);
    const padded = chunk.signature.slice();
    padded[63] = 1;
    await expect(verifier.verify({ ...chunk, signature: padded })).rejects.toThrow(
      /malformed HMAC field/,
    );
    expect(verifier.counts?.()).toEqual({ verified: 4, authenticated: 4 });
  });

  it('hmacVerifier always checks the digest: corrupt bytes fail at threshold 0', async () => {
    const key = randomKey();
    const [chunk] = await hmacChunks(key, 1);
    if (chunk === undefined) throw new Error('no chunk');
    const verifier = hmacVerifier(STREAM, key, 0, new SeededRandom(1));
    const corrupt = chunk.bytes.slice();
    corrupt[0] = (corrupt[0] ?? 0) ^ 1;
    await expect(verifier.verify({ ...chunk, bytes: corrupt })).rejects.toThrow(/digest mismatch/);
    // What threshold < 1 gives away (docs/SECURITY.md): an unchecked forgery with a matching
    // digest is accepted.
    await expect(verifier.verify(await withForgedBytes(chunk))).resolves.toBeUndefined();
    expect(verifier.counts?.()).toEqual({ verified: 2, authenticated: 0 });
  });

  it('hmacVerifier refuses a threshold outside [0, 1] and a key of the wrong length', async () => {
    expect(() => hmacVerifier(STREAM, randomKey(), 1.5, new SeededRandom(1))).toThrow(TypeError);
    expect(() => hmacVerifier(STREAM, randomKey(), Number.NaN, new SeededRandom(1))).toThrow(
      TypeError,
    );
    await expect(importStreamKey(new Uint8Array(16))).rejects.toThrow(TypeError);
    const [chunk] = await hmacChunks(randomKey(), 1);
    if (chunk === undefined) throw new Error('no chunk');
    const badKey = hmacVerifier(STREAM, new Uint8Array(16), 1, new SeededRandom(1));
    await expect(badKey.verify(chunk)).rejects.toThrow(/not a usable HMAC-SHA256 key/);
  });

  it('streamVerifier follows the stream: Ed25519 by default, refuses HMAC chunks there', async () => {
    const pair = await generateSigningKeyPair();
    const key = randomKey();
    const ed = { ...info(), publicKey: publicKeyToBase64Url(pair) };
    const signed = await signChunk(STREAM, pair.privateKey, unsignedChunk(0));
    const [hmacChunk] = await hmacChunks(key, 1);
    if (hmacChunk === undefined) throw new Error('no chunk');
    const random = new SeededRandom(1);
    const edVerifier = streamVerifier(ed, { random, streamKey: undefined });
    await expect(edVerifier.verify(signed)).resolves.toBeUndefined();
    await expect(edVerifier.verify(hmacChunk)).rejects.toThrow(/bad signature/);
    const hmacInfo = { ...ed, integrity: { scheme: 'hmac-sha256', threshold: 1 } } as const;
    const hmac = streamVerifier(hmacInfo, { random, streamKey: toBase64Url(key) });
    await expect(hmac.verify(hmacChunk)).resolves.toBeUndefined();
    await expect(hmac.verify(signed)).rejects.toThrow(/malformed HMAC field/);
    const keyless = streamVerifier(hmacInfo, { random, streamKey: undefined });
    await expect(keyless.verify(hmacChunk)).rejects.toThrow(/no stream key/);
  });
});

describe('integrity on the tracker protocol', { timeout: TIMEOUT_MS }, () => {
  const key = toBase64Url(randomKey());
  const joined = (integrity: StreamIntegrity | undefined, streamKey?: string): string =>
    JSON.stringify({
      type: 'joined',
      info: info(integrity),
      credential: 'abc',
      ...(streamKey === undefined ? {} : { streamKey }),
    });

  it('decodes a joined of an HMAC stream with its key, and of an Ed25519 stream without', () => {
    expect(decodeTrackerMessage(joined(HMAC_HALF, key))).toMatchObject({ streamKey: key });
    expect(decodeTrackerMessage(joined({ scheme: 'ed25519' }))).not.toHaveProperty('streamKey');
    expect(decodeTrackerMessage(joined(undefined))).not.toHaveProperty('streamKey');
  });

  it('refuses a joined whose key does not fit its stream', () => {
    expect(() => decodeTrackerMessage(joined(HMAC_HALF))).toThrow(/streamKey/);
    expect(() => decodeTrackerMessage(joined(undefined, key))).toThrow(/streamKey/);
    expect(() => decodeTrackerMessage(joined(HMAC_HALF, key.slice(1)))).toThrow(/streamKey/);
    expect(() => decodeTrackerMessage(joined(HMAC_HALF, `${key.slice(1)}=`))).toThrow(/streamKey/);
  });

  it('refuses stream integrity that is out of range, unknown or carries extra fields', () => {
    const join = (integrity: unknown): string =>
      JSON.stringify({ type: 'join', stream: STREAM, info: { ...info(), integrity } });
    expect(decodeClientMessage(join(HMAC_HALF))).toMatchObject({ info: { integrity: HMAC_HALF } });
    for (const bad of [
      { scheme: 'hmac-sha256', threshold: 1.01 },
      { scheme: 'hmac-sha256', threshold: -0.1 },
      { scheme: 'hmac-sha256', threshold: '0.5' },
      { scheme: 'hmac-sha256' },
      { scheme: 'ed25519', threshold: 0.5 },
      { scheme: 'hmac-md5', threshold: 0.5 },
      'hmac',
    ]) {
      expect(() => decodeClientMessage(join(bad)), JSON.stringify(bad)).toThrow(/integrity/);
    }
  });
});

/** A tracker core with fake connections driven by the real handshake. */
function trackerHarness() {
  const core = new TrackerCore(
    {
      clock: new ManualClock(1_000_000),
      random: new SeededRandom(3),
      logger: silentLogger,
      signer: generateNodeSigner(),
      checkSignature: nodeSignatureCheck(),
    },
    { broadcasters: 'any' },
  );
  function connect(role: 'viewer' | 'broadcaster', authenticate = true) {
    const inbox: TrackerMessage[] = [];
    const id = core.connect(
      (message) => inbox.push(decodeTrackerMessage(encodeMessage(message))),
      () => undefined,
    );
    const signer = generateNodeSigner();
    core.receive(id, {
      type: 'hello',
      version: TRACKER_PROTOCOL_VERSION,
      role,
      publicKey: signer.publicKey,
    });
    const challenge = inbox.shift();
    if (challenge?.type !== 'challenge') throw new Error('no challenge');
    if (authenticate) {
      const signed = authMessage(
        fromBase64Url(challenge.nonce),
        signer.publicKey,
        role,
        challenge.trackerKey,
      );
      core.receive(id, { type: 'auth', signature: toBase64Url(signer.signSync(signed)) });
      inbox.length = 0;
    }
    return {
      inbox,
      join: (stream: string, streamInfo?: StreamInfo) => {
        core.receive(id, {
          type: 'join',
          stream,
          ...(streamInfo === undefined ? {} : { info: streamInfo }),
        });
      },
      joined: () => inbox.find((m) => m.type === 'joined'),
    };
  }
  return { core, connect };
}

describe('TrackerCore stream keys', { timeout: TIMEOUT_MS }, () => {
  it("gives an HMAC stream's key to its broadcaster and authenticated members only", () => {
    const { core, connect } = trackerHarness();
    const broadcaster = connect('broadcaster');
    broadcaster.join(STREAM, info(HMAC_HALF));
    const own = broadcaster.joined();
    const streamKey = own?.type === 'joined' ? own.streamKey : undefined;
    expect(streamKey).toBeDefined();
    expect(fromBase64Url(streamKey ?? '').byteLength).toBe(STREAM_KEY_BYTES);

    const viewer = connect('viewer');
    viewer.join(STREAM);
    expect(viewer.joined()).toMatchObject({ type: 'joined', streamKey });

    // A connection that never completed the handshake gets an error, not the key.
    const stranger = connect('viewer', false);
    stranger.join(STREAM);
    expect(stranger.joined()).toBeUndefined();
    expect(JSON.stringify(stranger.inbox)).not.toContain(streamKey);

    // Another stream gets a key of its own; an Ed25519 stream none.
    const other = connect('broadcaster');
    other.join('other', { ...info(HMAC_HALF), stream: 'other' });
    const otherJoined = other.joined();
    expect(otherJoined?.type === 'joined' && otherJoined.streamKey).not.toBe(streamKey);
    const signed = connect('broadcaster');
    signed.join('signed', { ...info(), stream: 'signed' });
    expect(signed.joined()).toBeDefined();
    expect(signed.joined()).not.toHaveProperty('streamKey');

    // The monitor's snapshot carries the stream's info, never its key.
    expect(JSON.stringify(core.snapshot())).not.toContain(streamKey);
  });
});

describe('streamSealer', { timeout: TIMEOUT_MS }, () => {
  type Listener = (payload: PeerEvents['peer:joined']) => void;
  function fakeRoot() {
    const listeners = new Set<Listener>();
    return {
      on: (_event: 'peer:joined', listener: Listener) => {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
      emit: (payload: PeerEvents['peer:joined']) => {
        for (const l of listeners) l(payload);
      },
      listeners,
    };
  }

  it('seals with HMAC once the root joins with the key, which the verifier accepts', async () => {
    const pair = await generateSigningKeyPair();
    const clock = new ManualClock(0);
    const root = fakeRoot();
    const key = toBase64Url(randomKey());
    const sealing = streamSealer(root, info(HMAC_HALF), pair.privateKey, clock);
    root.emit({ peerId: 'p', info: info(HMAC_HALF), streamKey: key });
    const chunk = await (await sealing)(STREAM, unsignedChunk(3));
    expect(root.listeners.size).toBe(0);
    const verifier = hmacVerifier(STREAM, key, 1, new SeededRandom(1));
    await expect(verifier.verify(chunk)).resolves.toBeUndefined();
  });

  it('rejects when no key comes in time, and signs Ed25519 streams at once', async () => {
    const pair = await generateSigningKeyPair();
    const clock = new ManualClock(0);
    const root = fakeRoot();
    const sealing = streamSealer(root, info(HMAC_HALF), pair.privateKey, clock, 1000);
    clock.advance(1000);
    await expect(sealing).rejects.toThrow(/no stream key from the tracker within 1000 ms/);
    expect(root.listeners.size).toBe(0);
    const ed = { ...info(), publicKey: publicKeyToBase64Url(pair) };
    const seal = await streamSealer(root, ed, pair.privateKey, clock);
    const chunk = await seal(STREAM, unsignedChunk(0));
    const verifier = streamVerifier(ed, { random: new SeededRandom(1), streamKey: undefined });
    await expect(verifier.verify(chunk)).resolves.toBeUndefined();
  });
});

describe('integrity command-line flags', () => {
  it('parse the scheme and threshold and refuse what does not fit', () => {
    expect(parseIntegrityScheme('hmac')).toBe('hmac-sha256');
    expect(parseIntegrityScheme('ed25519')).toBe('ed25519');
    expect(() => parseIntegrityScheme('md5')).toThrow(InvalidArgumentError);
    expect(parseThreshold('0.1')).toBe(0.1);
    for (const bad of ['', '1.5', '-0.1', 'half', 'NaN']) {
      expect(() => parseThreshold(bad), bad).toThrow(InvalidArgumentError);
    }
    expect(integrityFromFlags({})).toBeUndefined();
    expect(integrityFromFlags({ integrity: 'hmac-sha256' })).toEqual({
      scheme: 'hmac-sha256',
      threshold: 1,
    });
    expect(integrityFromFlags({ integrity: 'hmac-sha256', verifyThreshold: 0.1 })).toEqual({
      scheme: 'hmac-sha256',
      threshold: 0.1,
    });
    expect(() => integrityFromFlags({ verifyThreshold: 0.1 })).toThrow(/--integrity hmac/);
    expect(() => integrityFromFlags({ integrity: 'ed25519', verifyThreshold: 0.1 })).toThrow(
      InvalidArgumentError,
    );
  });
});
