import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { InvalidStateError } from '../../src/common/errors.js';
import { silentLogger } from '../../src/common/logger.js';
import { TRACKER_PROTOCOL_VERSION, type StreamInfo } from '../../src/protocol/tracker.js';
import { TrackerServer, type TrackerServerOptions } from '../../src/tracker/server.js';
import { TestClient, helloFor, terminateClients } from '../helpers/tracker-client.js';

const WAIT_MS = 3000;

const INFO: StreamInfo = {
  stream: 'live',
  publicKey: 'AAAA',
  chunkDurationMs: 500,
  segmentDurationMs: 2000,
  originUrl: 'http://127.0.0.1:8080',
};

let servers: TrackerServer[] = [];

async function start(options: TrackerServerOptions = {}): Promise<{
  server: TrackerServer;
  url: string;
}> {
  const server = new TrackerServer({ logger: silentLogger }, { broadcasters: 'any', ...options });
  servers.push(server);
  const url = await server.listen();
  return { server, url };
}

afterEach(async () => {
  terminateClients();
  await Promise.all(servers.map((server) => server.close()));
  servers = [];
});

describe('TrackerServer', { timeout: 15_000 }, () => {
  it('listens on 127.0.0.1 and returns its ws:// URL', async () => {
    const { server, url } = await start({ path: '/tracker' });
    expect(url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/tracker$/);
    expect(server.url).toBe(url);
    await expect(server.listen()).rejects.toThrow(InvalidStateError);
  });

  it('answers malformed, oversized, unknown, out-of-order and binary messages with typed errors while serving others', async () => {
    const { server, url } = await start();
    const broadcaster = await (await TestClient.open(url)).hello('broadcaster');
    await broadcaster.join(INFO);
    const bad = await TestClient.open(url);
    const viewer = await TestClient.open(url);

    bad.socket.send('{not json');
    expect(await bad.next('error')).toMatchObject({ code: 'malformed-message' });
    await viewer.hello('viewer');

    bad.socket.send(JSON.stringify({ type: 'heartbeat', pad: 'x'.repeat(20_000) }));
    expect(await bad.next('error')).toMatchObject({ code: 'message-too-large' });

    bad.send({ type: 'teleport' });
    expect(await bad.next('error')).toMatchObject({ code: 'unknown-message-type' });
    await viewer.join();
    expect(await viewer.next('neighbours')).toMatchObject({ parents: [broadcaster.peerId] });

    bad.send({ type: 'join', stream: 'live' });
    expect(await bad.next('error')).toMatchObject({ code: 'out-of-order' });

    bad.socket.send(Buffer.from([1, 2, 3]), { binary: true });
    expect(await bad.next('error')).toMatchObject({ code: 'malformed-message' });

    bad.send({ ...helloFor(bad.key, 'viewer'), version: TRACKER_PROTOCOL_VERSION + 9 });
    expect(await bad.next('error')).toMatchObject({ code: 'unsupported-version' });

    // Still connected, and still able to take part.
    expect(bad.socket.readyState).toBe(WebSocket.OPEN);
    await bad.hello('viewer');
    await bad.join();
    const nodes = server.core.snapshot().streams[0]?.nodes.map((n) => n.id);
    expect(nodes).toEqual([broadcaster.peerId, viewer.peerId, bad.peerId]);
  });

  it('closes a socket that sends a message over MAX_WS_PAYLOAD_BYTES', async () => {
    const { url } = await start();
    const client = await TestClient.open(url);
    client.socket.send('x'.repeat(70 * 1024));
    expect((await client.closed).code).toBe(1009);
  });

  it('cuts a client that stays silent after connecting once the handshake timeout passes', async () => {
    const { server, url } = await start({ handshakeTimeoutMs: 300 });
    const silent = await TestClient.open(url);
    const polite = await (await TestClient.open(url)).hello('viewer');
    const startedMs = Date.now();
    expect(await silent.closed).toEqual({ code: 1008, reason: 'handshake timeout' });
    expect(Date.now() - startedMs).toBeLessThan(WAIT_MS);
    expect(polite.socket.readyState).toBe(WebSocket.OPEN);
    expect(server.core.snapshot().connections).toBe(1);
  });

  it('terminates a socket that stops answering pings', async () => {
    const { url } = await start({ pingIntervalMs: 100 });
    const deaf = await TestClient.open(url, { autoPong: false });
    const healthy = await (await TestClient.open(url)).hello('viewer');
    expect((await deaf.closed).code).toBe(1006);
    expect(healthy.socket.readyState).toBe(WebSocket.OPEN);
  });

  it('re-parents the children of a peer whose socket closes', async () => {
    const { url } = await start();
    const b = await (await TestClient.open(url)).hello('broadcaster');
    await b.join(INFO);
    const v1 = await (await TestClient.open(url)).hello('viewer');
    await v1.join();
    const v2 = await (await TestClient.open(url)).hello('viewer');
    await v2.join();
    const v3 = await (await TestClient.open(url)).hello('viewer');
    await v3.join();
    // b → v1 → v2, v3
    expect(await v3.next('neighbours')).toMatchObject({ parents: [v1.peerId], children: [] });
    expect(await v2.next('neighbours')).toMatchObject({ parents: [v1.peerId] });
    for (let i = 0; i < 2; i++) await b.next('neighbours');

    v1.socket.close();
    // The last leaf, v3, takes v1's place.
    expect(await b.next('neighbours')).toMatchObject({ parents: [], children: [v3.peerId] });
    expect(await v3.next('neighbours')).toMatchObject({
      parents: [b.peerId],
      children: [v2.peerId],
    });
    expect(await v2.next('neighbours')).toMatchObject({ parents: [v3.peerId], children: [] });
  });

  it('arranges the list a broadcaster asks for, with backup links both ways, and bridges a closed peer', async () => {
    const { url } = await start();
    const b = await (await TestClient.open(url)).hello('broadcaster');
    b.send({ type: 'join', stream: INFO.stream, info: INFO, topology: 'list' });
    await b.next('joined');
    const v1 = await (await TestClient.open(url)).hello('viewer');
    await v1.join();
    const v2 = await (await TestClient.open(url)).hello('viewer');
    await v2.join();
    const v3 = await (await TestClient.open(url)).hello('viewer');
    await v3.join();
    // b → v1 → v2 → v3; v3 keeps standby links to v1 and b.
    expect(await v3.next('neighbours')).toEqual({
      type: 'neighbours',
      stream: INFO.stream,
      parents: [v2.peerId],
      children: [],
      backupParents: [v1.peerId, b.peerId],
      backupChildren: [],
    });
    v2.socket.close();
    // v3 is bridged to v1, the first of its backups; b stays its backup.
    for (;;) {
      const message = await v3.next('neighbours');
      if (message.parents[0] !== v1.peerId) continue;
      expect(message).toMatchObject({ children: [], backupParents: [b.peerId] });
      break;
    }
  });

  it('close() closes every socket, is idempotent, and forbids listening again', async () => {
    const { server, url } = await start();
    const a = await (await TestClient.open(url)).hello('viewer');
    const b = await TestClient.open(url);
    const closing = server.close();
    expect(server.close()).toBe(closing);
    await closing;
    expect((await a.closed).code).toBe(1001);
    expect((await b.closed).code).toBe(1001);
    expect(server.core.snapshot().connections).toBe(0);
    await expect(server.listen()).rejects.toThrow(InvalidStateError);
  });
});
