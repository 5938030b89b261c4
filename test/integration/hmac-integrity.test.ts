import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/common/clock.js';
import { silentLogger } from '../../src/common/logger.js';
import { asBufferSource, sha256 } from '../../src/crypto/hash.js';
import { hmacSealer, importStreamKey, STREAM_KEY_BYTES } from '../../src/crypto/chunk-integrity.js';
import { LocalSwarm, type PeerProcessView } from '../../src/lab/local-swarm.js';
import { CHUNK_CONTENT_TYPE, OriginServer } from '../../src/origin/server.js';
import { OriginStore } from '../../src/origin/store.js';
import { encodeChunk, type Chunk } from '../../src/protocol/chunk.js';
import type { StreamIntegrity } from '../../src/protocol/tracker.js';
import { CHUNK_MS, SEGMENT_MS, ZERO_TIME_MS, chunkBytes } from '../helpers/origin-fixtures.js';
import { sleep, waitFor } from '../helpers/wait.js';

const SECRET = 'test-secret-0123456789';
/** A small picture keeps ffmpeg cheap on a 2-core machine; the pipeline is the same. */
const SMALL = { width: 640, height: 360, videoKbps: 800 } as const;
const HMAC_EVERY_CHUNK: StreamIntegrity = { scheme: 'hmac-sha256', threshold: 1 };

const cleanups: (() => Promise<unknown> | undefined)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function reportOf(view: PeerProcessView) {
  if (view.report === undefined) throw new Error(`peer ${view.index} never reported`);
  return view.report;
}

describe('an hmac-sha256 stream', () => {
  it('is ingested by the origin on its digest, which it needs no stream key for', async () => {
    const clock = new ManualClock(ZERO_TIME_MS + 10_000);
    const store = new OriginStore({ clock }, { windowMs: 20_000 });
    const server = new OriginServer({ store, clock }, { ingestSecret: SECRET });
    cleanups.push(() => server.close());
    const url = await server.listen();
    const headers = { Authorization: `Bearer ${SECRET}` };
    const description = {
      stream: 'live',
      publicKey: 'A'.repeat(43),
      chunkDurationMs: CHUNK_MS,
      segmentDurationMs: SEGMENT_MS,
      integrity: { scheme: 'hmac-sha256', threshold: 0.1 },
    };
    const put = await fetch(`${url}/ingest/live`, {
      method: 'PUT',
      body: JSON.stringify(description),
      headers,
    });
    expect(put.status).toBe(204);
    const key = globalThis.crypto.getRandomValues(new Uint8Array(STREAM_KEY_BYTES));
    const seal = hmacSealer(await importStreamKey(key));
    const post = (chunk: Chunk) =>
      fetch(`${url}/ingest/live/chunks`, {
        method: 'POST',
        body: asBufferSource(encodeChunk(chunk)),
        headers: { ...headers, 'Content-Type': CHUNK_CONTENT_TYPE },
      });
    const chunk = await seal('live', {
      rendition: 0,
      seq: 0,
      segment: 0,
      index: 0,
      mediaTimeMs: 0,
      durationMs: CHUNK_MS,
      captureTimeMs: ZERO_TIME_MS,
      bytes: chunkBytes(0),
    });
    expect((await post(chunk)).status).toBe(204);
    // Bytes that do not match the digest are refused; the HMAC is not the origin's to check.
    const corrupt = { ...chunk, seq: 1, index: 1, bytes: chunkBytes(1) };
    const refused = await post(corrupt);
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ error: 'verification-failed' });
    expect(store.getStream('live')?.getChunk(1)).toBeUndefined();
    // So an ingest-secret holder is trusted: a chunk with a matching digest and no HMAC passes.
    const unsigned = { ...corrupt, digest: await sha256(corrupt.bytes) };
    expect((await post(unsigned)).status).toBe(204);
    // Viewers see the scheme in the stream's description.
    const streamJson = (await (await fetch(`${url}/live/live/stream.json`)).json()) as unknown;
    expect(streamJson).toMatchObject({ integrity: description.integrity });
  });

  it('at threshold 1 plays every chunk over real WebRTC, each one HMAC-checked', async () => {
    const swarm = new LocalSwarm(
      { logger: silentLogger },
      { ...SMALL, peers: 3, integrity: HMAC_EVERY_CHUNK },
    );
    cleanups.push(() => swarm.stop());
    await swarm.start();
    await waitFor(
      () => swarm.peers().every((p) => p.report?.stats.playback?.state === 'playing'),
      'every peer playing',
      25_000,
    );
    await sleep(10_000);
    const reports = swarm.peers().map(reportOf);
    for (const report of reports) {
      const { playback, verifier, rejectedChunks, chunksFromPeers } = report.stats;
      expect(playback?.chunksSkipped).toBe(0);
      expect(playback?.stalls).toBe(0);
      // 10 s of 0.5 s chunks after playing started.
      expect(playback?.chunksPlayed).toBeGreaterThanOrEqual(18);
      expect(rejectedChunks).toBe(0);
      expect(chunksFromPeers).toBeGreaterThan(0);
      // Threshold 1: the HMAC of every chunk the verifier was handed was checked, and passed.
      expect(verifier?.verified).toBeGreaterThanOrEqual(playback?.chunksPlayed ?? Infinity);
      expect(verifier?.authenticated).toBe(verifier?.verified);
    }
  }, 90_000);
});
