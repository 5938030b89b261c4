import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { startHttpServer } from '../helpers/http.js';
import { concatBytes } from '../../src/common/bytes.js';
import { ManualClock, SystemClock } from '../../src/common/clock.js';
import { verifyChunk } from '../../src/crypto/chunk-signing.js';
import { OriginIngestClient } from '../../src/origin/ingest-client.js';
import {
  CHUNK_CONTENT_TYPE,
  OriginServer,
  decodeInitUpload,
  encodeInitUpload,
  type OriginServerOptions,
} from '../../src/origin/server.js';
import { OriginStore } from '../../src/origin/store.js';
import { decodeChunk, encodeChunk, type Chunk } from '../../src/protocol/chunk.js';
import { HttpOriginClient, OriginHttpError } from '../../src/transport/origin-http.js';
import {
  FAKE_INIT,
  ZERO_TIME_MS,
  signedStream,
  type SignedStream,
} from '../helpers/origin-fixtures.js';

const SECRET = 'test-secret-0123456789';
const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Origin {
  readonly url: string;
  readonly server: OriginServer;
  readonly store: OriginStore;
  readonly clock: ManualClock;
}

/** An origin on 127.0.0.1 port 0 whose store runs on a manual clock. */
async function startOrigin(options: OriginServerOptions = {}): Promise<Origin> {
  const clock = new ManualClock(ZERO_TIME_MS + 10_000);
  const store = new OriginStore({ clock }, { windowMs: 20_000 });
  const server = new OriginServer({ store, clock }, options);
  cleanups.push(() => server.close());
  const url = await server.listen();
  return { url, server, store, clock };
}

/** An origin holding `count` signed chunks of stream `live`, added in process. */
async function startFilledOrigin(
  count: number,
  options: OriginServerOptions = {},
): Promise<Origin & { signed: SignedStream }> {
  const origin = await startOrigin(options);
  const signed = await signedStream('live', count);
  const stream = origin.store.createStream(signed.description);
  stream.setInit(FAKE_INIT);
  for (const chunk of signed.chunks) stream.addChunk(chunk);
  return { ...origin, signed };
}

/** A plain HTTP server for the client tests; `handler` answers every request. */
async function startStub(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<string> {
  const { url, close } = await startHttpServer(handler);
  cleanups.push(close);
  return url;
}

async function bytesOf(response: Response): Promise<Uint8Array> {
  return new Uint8Array(await response.arrayBuffer());
}

function chunkAt(signed: SignedStream, seq: number): Chunk {
  const chunk = signed.chunks[seq];
  if (chunk === undefined) throw new Error(`no chunk ${seq} in the fixture`);
  return chunk;
}

function segmentBytes(chunks: readonly Chunk[], n: number): Uint8Array {
  return concatBytes(chunks.filter((c) => c.segment === n).map((c) => c.bytes));
}

describe('OriginServer read routes', () => {
  it('server.listen() binds 127.0.0.1 on a free port and server.close() is idempotent', async () => {
    const { url, server } = await startOrigin();
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    await server.close();
    await server.close();
    await expect(fetch(`${url}/time`)).rejects.toThrow();
    expect(() => server.listen()).toThrow(expect.objectContaining({ code: 'invalid-state' }));
  });

  it('server.listen() rejects when the port is taken and can be called again', async () => {
    const first = await startOrigin();
    const clock = new ManualClock();
    const server = new OriginServer({ store: new OriginStore({ clock }), clock });
    cleanups.push(() => server.close());
    const port = Number(new URL(first.url).port);
    await expect(server.listen({ port })).rejects.toThrow(/EADDRINUSE/);
    await expect(server.listen()).resolves.toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('server.close() during listen() leaves nothing listening', async () => {
    const clock = new ManualClock();
    const server = new OriginServer({ store: new OriginStore({ clock }), clock });
    const listening = server.listen();
    await server.close();
    const url = await listening;
    await expect(fetch(`${url}/time`)).rejects.toThrow();
  });

  it('new OriginServer() refuses a short secret, a bad size limit and a bad publicUrl', () => {
    const clock = new ManualClock();
    const store = new OriginStore({ clock });
    expect(() => new OriginServer({ store, clock }, { ingestSecret: 'short' })).toThrow(TypeError);
    expect(() => new OriginServer({ store, clock }, { maxChunkUploadBytes: 0 })).toThrow(TypeError);
    expect(() => new OriginServer({ store, clock }, { publicUrl: 'not a url' })).toThrow(TypeError);
  });

  it('GET /time answers the ISO time of the origin clock, uncached, with CORS', async () => {
    const { url, clock } = await startOrigin();
    const response = await fetch(`${url}/time`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
    expect(await response.text()).toBe(new Date(clock.now()).toISOString());
  });

  it('GET manifest.mpd serves the live MPD as application/dash+xml, no-cache', async () => {
    const { url } = await startFilledOrigin(6);
    const response = await fetch(`${url}/live/live/manifest.mpd`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/dash+xml');
    expect(response.headers.get('cache-control')).toBe('no-cache');
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
    const text = await response.text();
    expect(text).toContain('type="dynamic"');
    expect(text).toContain('codecs="avc1.64001e,mp4a.40.2"');
    expect(text).toContain('value="../../time"');
  });

  it('GET manifest.mpd points UTCTiming at publicUrl when one is configured', async () => {
    const { url } = await startFilledOrigin(1, { publicUrl: 'https://cdn.example/tv' });
    const text = await (await fetch(`${url}/live/live/manifest.mpd`)).text();
    expect(text).toContain('value="https://cdn.example/tv/time"');
  });

  it('GET init.mp4 serves the init segment as video/mp4 with a long cache', async () => {
    const { url } = await startFilledOrigin(1);
    const response = await fetch(`${url}/live/live/init.mp4`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('video/mp4');
    expect(response.headers.get('cache-control')).toBe('public, max-age=86400');
    expect(await bytesOf(response)).toEqual(FAKE_INIT.bytes);
  });

  it('GET <n>.m4s serves a complete segment as video/iso.segment, immutable', async () => {
    const { url, signed } = await startFilledOrigin(8);
    const response = await fetch(`${url}/live/live/1.m4s`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('video/iso.segment');
    expect(response.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(await bytesOf(response)).toEqual(segmentBytes(signed.chunks, 1));
  });

  it('GET chunks/<seq> serves encodeChunk(chunk) as application/vnd.swarmcast.chunk', async () => {
    const { url, signed } = await startFilledOrigin(6);
    const response = await fetch(`${url}/live/live/chunks/5`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe(CHUNK_CONTENT_TYPE);
    expect(response.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    const chunk = decodeChunk(await bytesOf(response));
    expect(chunk).toEqual(signed.chunks[5]);
    await verifyChunk('live', signed.keys.publicKey, chunk);
  });

  it('GET digests.json lists the signed digests of the window with a short cache', async () => {
    const { url, signed } = await startFilledOrigin(3);
    const response = await fetch(`${url}/live/live/digests.json`);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(response.headers.get('cache-control')).toBe('public, max-age=1');
    const body = (await response.json()) as {
      stream: string;
      publicKey: string;
      chunks: { seq: number }[];
    };
    expect(body.stream).toBe('live');
    expect(body.publicKey).toBe(signed.description.publicKey);
    expect(body.chunks.map((c) => c.seq)).toEqual([0, 1, 2]);
  });

  it('GET stream.json gives the description, the window and the live edge', async () => {
    const { url, signed } = await startFilledOrigin(6);
    const response = await fetch(`${url}/live/live/stream.json`);
    expect(response.headers.get('cache-control')).toBe('no-cache');
    expect(await response.json()).toMatchObject({
      ...signed.description,
      windowMs: 20_000,
      liveEdge: { firstSeq: 0, lastSeq: 5, lastSegment: 1, lastCompleteSegment: 0 },
    });
  });

  it('HEAD answers the same headers with no body and counts no bytes', async () => {
    const { url, server, signed } = await startFilledOrigin(4);
    const response = await fetch(`${url}/live/live/0.m4s`, { method: 'HEAD' });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('video/iso.segment');
    expect(response.headers.get('content-length')).toBe(
      String(segmentBytes(signed.chunks, 0).byteLength),
    );
    expect((await bytesOf(response)).byteLength).toBe(0);
    expect(server.stats.totalBytes).toBe(0);
  });

  it('OPTIONS answers a CORS preflight with the allowed methods', async () => {
    const { url } = await startOrigin();
    const read = await fetch(`${url}/live/live/manifest.mpd`, { method: 'OPTIONS' });
    expect(read.status).toBe(204);
    expect(read.headers.get('access-control-allow-origin')).toBe('*');
    expect(read.headers.get('access-control-allow-methods')).toBe('GET, HEAD, OPTIONS');
    const ingest = await fetch(`${url}/ingest/live/chunks`, { method: 'OPTIONS' });
    expect(ingest.headers.get('access-control-allow-methods')).toBe('POST, OPTIONS');
    expect(ingest.headers.get('access-control-allow-headers')).toContain('Authorization');
  });

  it('server.stats counts the body bytes sent, in total and per kind', async () => {
    const { url, server, signed } = await startFilledOrigin(8);
    const mpd = await bytesOf(await fetch(`${url}/live/live/manifest.mpd`));
    await fetch(`${url}/live/live/init.mp4`).then(bytesOf);
    await fetch(`${url}/live/live/0.m4s`).then(bytesOf);
    await fetch(`${url}/live/live/1.m4s`).then(bytesOf);
    const chunk = await bytesOf(await fetch(`${url}/live/live/chunks/2`));
    const time = await bytesOf(await fetch(`${url}/time`));
    const segments =
      segmentBytes(signed.chunks, 0).byteLength + segmentBytes(signed.chunks, 1).byteLength;
    expect(server.stats).toEqual({
      manifestBytes: mpd.byteLength,
      initBytes: FAKE_INIT.bytes.byteLength,
      segmentBytes: segments,
      chunkBytes: chunk.byteLength,
      totalBytes:
        mpd.byteLength + FAKE_INIT.bytes.byteLength + segments + chunk.byteLength + time.byteLength,
      requests: 6,
    });
  });
});

describe('OriginServer errors', () => {
  it.each([
    ['/'],
    ['/nothing'],
    ['/time/extra'],
    ['/live/live'],
    ['/live/live/unknown.txt'],
    ['/live/live/7.m4s'],
    ['/live/live/1.m4s'],
    ['/live/live/chunks/99'],
    ['/live/live/chunks/1/extra'],
    ['/live/other/manifest.mpd'],
  ])('GET %s answers 404 for what is unknown or not yet there', async (path) => {
    const { url } = await startFilledOrigin(5);
    const response = await fetch(`${url}${path}`);
    expect(response.status).toBe(404);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
    const body = (await response.json()) as Record<string, unknown>;
    expect(Object.keys(body)).toEqual(['error', 'message']);
  });

  it('GET manifest.mpd answers 404 while the stream has no media', async () => {
    const { url, store } = await startOrigin();
    store.createStream((await signedStream('live', 0)).description);
    expect((await fetch(`${url}/live/live/manifest.mpd`)).status).toBe(404);
    expect((await fetch(`${url}/live/live/init.mp4`)).status).toBe(404);
  });

  it('GET answers 404 for a segment and its chunks once they left the window', async () => {
    const { url, clock } = await startFilledOrigin(8);
    expect((await fetch(`${url}/live/live/0.m4s`)).status).toBe(200);
    clock.advance(20_000);
    expect((await fetch(`${url}/live/live/0.m4s`)).status).toBe(404);
    expect((await fetch(`${url}/live/live/chunks/0`)).status).toBe(404);
  });

  it.each([
    ['/live/live/abc.m4s'],
    ['/live/live/01.m4s'],
    ['/live/live/-1.m4s'],
    ['/live/live/4294967296.m4s'],
    ['/live/live/chunks/x'],
    ['/live/live/chunks/1.5'],
    ['/live/bad%20id/init.mp4'],
  ])('GET %s answers 400 for a bad number or stream id', async (path) => {
    const { url } = await startFilledOrigin(1);
    const response = await fetch(`${url}${path}`);
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'invalid-argument' });
  });

  it('other methods answer 405 with Allow', async () => {
    const { url } = await startOrigin({ ingestSecret: SECRET });
    const post = await fetch(`${url}/live/live/manifest.mpd`, { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD, OPTIONS');
    const get = await fetch(`${url}/ingest/live/chunks`);
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST, OPTIONS');
    const del = await fetch(`${url}/ingest/live`, { method: 'DELETE' });
    expect(del.headers.get('allow')).toBe('PUT, OPTIONS');
  });

  it('ingest answers 403 when no secret is configured and 401 without the right one', async () => {
    const signed = await signedStream('live', 0);
    const body = JSON.stringify(signed.description);
    const disabled = await startOrigin();
    const off = await fetch(`${disabled.url}/ingest/live`, {
      method: 'PUT',
      body,
      headers: { Authorization: `Bearer ${SECRET}` },
    });
    expect(off.status).toBe(403);
    const { url, store } = await startOrigin({ ingestSecret: SECRET });
    const missing = await fetch(`${url}/ingest/live`, { method: 'PUT', body });
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toContain('Bearer');
    const wrong = await fetch(`${url}/ingest/live`, {
      method: 'PUT',
      body,
      headers: { Authorization: 'Bearer not-the-secret-at-all' },
    });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toMatchObject({ error: 'unauthorized' });
    expect(store.getStream('live')).toBeUndefined();
    const right = await fetch(`${url}/ingest/live`, {
      method: 'PUT',
      body,
      headers: { Authorization: `Bearer ${SECRET}` },
    });
    expect(right.status).toBe(204);
    expect(store.getStream('live')?.description).toEqual(signed.description);
  });

  it('ingest answers 413 for a body over the limit', async () => {
    const { url } = await startOrigin({ ingestSecret: SECRET, maxChunkUploadBytes: 1000 });
    const headers = { Authorization: `Bearer ${SECRET}` };
    const response = await fetch(`${url}/ingest/live/chunks`, {
      method: 'POST',
      body: new Uint8Array(1001),
      headers,
    });
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({ error: 'message-too-large' });
    // The limit also holds without a declared length (chunked upload).
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new Uint8Array(600));
        controller.enqueue(new Uint8Array(600));
        controller.close();
      },
    });
    const chunked = await fetch(`${url}/ingest/live/chunks`, {
      method: 'POST',
      body: stream,
      headers,
      duplex: 'half',
    } as RequestInit);
    expect(chunked.status).toBe(413);
  });

  it('ingest answers 400 for a malformed description, a mismatched stream id and a bad key', async () => {
    const { url } = await startOrigin({ ingestSecret: SECRET });
    const headers = { Authorization: `Bearer ${SECRET}` };
    const { description } = await signedStream('live', 0);
    const put = (path: string, body: string): Promise<Response> =>
      fetch(`${url}${path}`, { method: 'PUT', headers, body });
    expect((await put('/ingest/live', '{not json')).status).toBe(400);
    expect(
      (await put('/ingest/live', JSON.stringify({ ...description, chunkDurationMs: -1 }))).status,
    ).toBe(400);
    expect((await put('/ingest/other', JSON.stringify(description))).status).toBe(400);
    const badKey = await put('/ingest/live', JSON.stringify({ ...description, publicKey: 'AAAA' }));
    expect(badKey.status).toBe(400);
    expect(await badKey.json()).toMatchObject({ error: 'invalid-argument' });
  });

  it('ingest answers 404 for chunks of an unknown stream, 400 for a forged chunk and 409 out of order', async () => {
    const { url, store } = await startOrigin({ ingestSecret: SECRET });
    const headers = { Authorization: `Bearer ${SECRET}` };
    const signed = await signedStream('live', 3);
    const [c0, c1, c2] = [chunkAt(signed, 0), chunkAt(signed, 1), chunkAt(signed, 2)];
    const post = (chunk: Chunk): Promise<Response> =>
      fetch(`${url}/ingest/live/chunks`, {
        method: 'POST',
        headers,
        body: Buffer.from(encodeChunk(chunk)),
      });
    expect((await post(c0)).status).toBe(404);
    store.createStream(signed.description);
    const forged = await post({ ...c0, bytes: c0.bytes.map((b) => b ^ 1) });
    expect(forged.status).toBe(400);
    expect(await forged.json()).toMatchObject({ error: 'verification-failed' });
    const garbage = await fetch(`${url}/ingest/live/chunks`, {
      method: 'POST',
      headers,
      body: 'garbage',
    });
    expect(garbage.status).toBe(400);
    expect((await post(c0)).status).toBe(204);
    expect((await post(c0)).status).toBe(204);
    const skipped = await post(c2);
    expect(skipped.status).toBe(409);
    expect(await skipped.json()).toMatchObject({ error: 'out-of-order' });
    expect((await post(c1)).status).toBe(204);
  });

  it('ingest answers 400 for a malformed init upload and 409 for a different init', async () => {
    const { url, store } = await startOrigin({ ingestSecret: SECRET });
    const headers = { Authorization: `Bearer ${SECRET}` };
    store.createStream((await signedStream('live', 0)).description);
    const put = (body: Uint8Array): Promise<Response> =>
      fetch(`${url}/ingest/live/init`, { method: 'PUT', headers, body: Buffer.from(body) });
    expect((await put(new Uint8Array([0, 0, 0, 200, 1, 2]))).status).toBe(400);
    expect((await put(encodeInitUpload(FAKE_INIT))).status).toBe(204);
    const other = await put(encodeInitUpload({ ...FAKE_INIT, bytes: new Uint8Array([9, 9]) }));
    expect(other.status).toBe(409);
    expect(store.getStream('live')?.getInit()).toEqual(FAKE_INIT);
  });
});

describe('encodeInitUpload()', () => {
  it('decodeInitUpload() reads back what encodeInitUpload() wrote and refuses bad tracks', () => {
    expect(decodeInitUpload(encodeInitUpload(FAKE_INIT))).toEqual(FAKE_INIT);
    const bad = encodeInitUpload({
      ...FAKE_INIT,
      tracks: [{ id: 1, kind: 'video', codec: 'avc1"><x', timescale: 1 }],
    });
    expect(() => decodeInitUpload(bad)).toThrow(
      expect.objectContaining({ code: 'malformed-message' }),
    );
  });
});

describe('OriginIngestClient', () => {
  it('client publishes a stream, its init and its chunks to a remote origin, in order', async () => {
    const { url, store, server } = await startOrigin({ ingestSecret: SECRET });
    const signed = await signedStream('live', 9);
    const client = new OriginIngestClient(
      { clock: new SystemClock() },
      { originUrl: url, secret: SECRET },
    );
    cleanups.push(() => {
      client.close();
    });
    const sent: number[] = [];
    client.on('chunk:sent', ({ seq }) => sent.push(seq));
    client.publishStream(signed.description);
    client.publishInit(FAKE_INIT);
    for (const chunk of signed.chunks) client.publishChunk(chunk);
    await client.flush();
    expect(sent).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(client.stats).toMatchObject({ chunksSent: 9, chunksDropped: 0, retries: 0 });
    expect(store.getStream('live')?.getInit()).toEqual(FAKE_INIT);
    const segment = await bytesOf(await fetch(`${url}/live/live/1.m4s`));
    expect(segment).toEqual(segmentBytes(signed.chunks, 1));
    expect(server.stats.segmentBytes).toBe(segment.byteLength);
  });

  it('client reports a refused description as an error event and drops refused chunks', async () => {
    const { url } = await startOrigin({ ingestSecret: SECRET });
    const signed = await signedStream('live', 2);
    const client = new OriginIngestClient(
      { clock: new SystemClock() },
      { originUrl: url, secret: 'a-wrong-secret-of-length' },
    );
    cleanups.push(() => {
      client.close();
    });
    const errors: string[] = [];
    const dropped: number[] = [];
    client.on('error', ({ error }) => errors.push(`${error.code} ${String(error.status)}`));
    client.on('chunk:dropped', ({ seq }) => dropped.push(seq));
    client.publishStream(signed.description);
    client.publishChunk(chunkAt(signed, 0));
    client.publishChunk(chunkAt(signed, 1));
    await client.flush();
    expect(errors).toEqual(['unauthorized 401']);
    // Chunk 1 is not even sent: its segment already lost chunk 0.
    expect(dropped).toEqual([0, 1]);
    expect(client.stats).toMatchObject({ chunksSent: 0, chunksDropped: 2 });
  });

  it('client retries transient failures with backoff', async () => {
    let requests = 0;
    const url = await startStub((req, res) => {
      requests++;
      req.resume();
      req.on('end', () => {
        res.writeHead(requests <= 2 ? 503 : 204).end();
      });
    });
    const signed = await signedStream('live', 0);
    const client = new OriginIngestClient(
      { clock: new SystemClock() },
      { originUrl: url, secret: SECRET, retryDelayMs: 10 },
    );
    cleanups.push(() => {
      client.close();
    });
    client.publishStream(signed.description);
    await client.flush();
    expect(requests).toBe(3);
    expect(client.stats.retries).toBe(2);
  });

  it('client.close() during a retry backoff sends nothing more', async () => {
    let requests = 0;
    const url = await startStub((req, res) => {
      requests++;
      req.resume();
      req.on('end', () => {
        res.writeHead(503).end();
      });
    });
    const signed = await signedStream('live', 0);
    const client = new OriginIngestClient(
      { clock: new SystemClock() },
      { originUrl: url, secret: SECRET, retryDelayMs: 10_000 },
    );
    client.publishStream(signed.description);
    await expect.poll(() => client.stats.retries, { timeout: 5000 }).toBe(1);
    client.close();
    await client.flush();
    expect(requests).toBe(1);
  });

  it('client gives up on a request unanswered within requestTimeoutMs, after maxAttempts', async () => {
    let requests = 0;
    const url = await startStub((req) => {
      requests++;
      req.resume(); // never answers
    });
    const signed = await signedStream('live', 1);
    const client = new OriginIngestClient(
      { clock: new SystemClock() },
      { originUrl: url, secret: SECRET, requestTimeoutMs: 100, maxAttempts: 2, retryDelayMs: 0 },
    );
    cleanups.push(() => {
      client.close();
    });
    const errors: string[] = [];
    client.on('error', ({ error }) => errors.push(`${error.code}: ${error.message}`));
    client.publishStream(signed.description);
    await client.flush();
    expect(requests).toBe(2);
    expect(errors).toEqual([
      expect.stringMatching(/^origin-unavailable: .*no answer within 100 ms/),
    ]);
  });

  it('client drops the oldest chunks, with their segment, when its queue overflows', async () => {
    const held: ServerResponse[] = [];
    const url = await startStub((req, res) => {
      req.resume();
      held.push(res);
    });
    const signed = await signedStream('live', 10);
    const client = new OriginIngestClient(
      { clock: new SystemClock() },
      { originUrl: url, secret: SECRET, maxQueuedChunks: 3, requestTimeoutMs: 5000 },
    );
    cleanups.push(() => {
      client.close();
    });
    const dropped: number[] = [];
    client.on('chunk:dropped', ({ seq }) => dropped.push(seq));
    client.publishStream(signed.description); // held by the stub: the queue fills
    for (const chunk of signed.chunks) client.publishChunk(chunk);
    expect(dropped).toEqual([0, 1, 2, 3, 4, 5, 6]);
    await expect.poll(() => held.length, { timeout: 5000 }).toBe(1);
    // The description, then chunks 8 and 9.
    for (let i = 0; i < 3; i++) {
      await expect.poll(() => held.length, { timeout: 5000 }).toBe(i + 1);
      held[i]?.writeHead(204).end();
    }
    await client.flush();
    // Chunks 7..9 were queued, but 7 is in segment 1, which already lost 4..6.
    expect(dropped).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(client.stats).toMatchObject({ chunksSent: 2, chunksDropped: 8 });
  });

  it('client.close() is idempotent and later publishing throws invalid-state', () => {
    const client = new OriginIngestClient(
      { clock: new SystemClock() },
      { originUrl: 'http://127.0.0.1:9', secret: SECRET },
    );
    expect(() => {
      client.publishInit(FAKE_INIT);
    }).toThrow(expect.objectContaining({ code: 'invalid-state' }));
    client.close();
    client.close();
    expect(() => {
      client.publishStream({
        stream: 'live',
        publicKey: 'A',
        chunkDurationMs: 500,
        segmentDurationMs: 2000,
      });
    }).toThrow(expect.objectContaining({ code: 'invalid-state' }));
  });
});

describe('HttpOriginClient', () => {
  it('client.fetchChunk() returns the chunk the origin holds, verifiable', async () => {
    const { url, signed } = await startFilledOrigin(3);
    const client = new HttpOriginClient({}, { originUrl: url });
    const chunk = await client.fetchChunk('live', 2, new AbortController().signal);
    expect(chunk).toEqual(signed.chunks[2]);
    await verifyChunk('live', signed.keys.publicKey, chunk);
  });

  it('client.fetchChunk() rejects with origin-unavailable on an HTTP error or no origin', async () => {
    const { url, server } = await startFilledOrigin(3);
    const client = new HttpOriginClient({}, { originUrl: `${url}/` });
    const missing = client.fetchChunk('live', 7, new AbortController().signal);
    await expect(missing).rejects.toBeInstanceOf(OriginHttpError);
    await expect(missing).rejects.toMatchObject({ code: 'origin-unavailable', status: 404 });
    await server.close();
    await expect(client.fetchChunk('live', 1, new AbortController().signal)).rejects.toMatchObject({
      code: 'origin-unavailable',
      status: undefined,
    });
  });

  it('client.fetchChunk() rejects with the abort reason when aborted', async () => {
    const url = await startStub(() => undefined); // never answers
    const client = new HttpOriginClient({}, { originUrl: url });
    const controller = new AbortController();
    const fetching = client.fetchChunk('live', 0, controller.signal);
    const reason = new Error('deadline');
    controller.abort(reason);
    await expect(fetching).rejects.toBe(reason);
  });

  it('client.fetchChunk() rejects a body that is another chunk with a ProtocolError', async () => {
    const { signed } = await startFilledOrigin(0);
    const other = await signedStream('live', 2);
    const url = await startStub((_req, res) => {
      res.writeHead(200).end(encodeChunk(chunkAt(other, 1)));
    });
    const client = new HttpOriginClient({}, { originUrl: url });
    await expect(
      client.fetchChunk(signed.description.stream, 0, new AbortController().signal),
    ).rejects.toMatchObject({
      code: 'malformed-frame',
    });
  });
});
