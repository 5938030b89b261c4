/**
 * The monitor's HTTP side on the tracker's port (no browser): page, script and style, the
 * observer stream, the JSON snapshot and the kill control's checks, with raw WebSocket peers.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { silentLogger } from '../../src/common/logger.js';
import type { MonitorUpdate } from '../../src/monitor/messages.js';
import {
  TRACKER_PROTOCOL_VERSION,
  decodeTrackerMessage,
  type ClientMessage,
  type StreamInfo,
  type TrackerMessage,
} from '../../src/protocol/tracker.js';
import { TrackerServer, type TrackerServerOptions } from '../../src/tracker/server.js';

const INFO: StreamInfo = {
  stream: 'live',
  publicKey: 'AAAA',
  chunkDurationMs: 500,
  segmentDurationMs: 2000,
  originUrl: 'http://127.0.0.1:8080',
};
const BUNDLE = { script: new TextEncoder().encode('/* app */'), style: new Uint8Array() };

const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startTracker(options: TrackerServerOptions = {}): Promise<TrackerServer> {
  const server = new TrackerServer({ logger: silentLogger }, { host: '127.0.0.1', ...options });
  cleanups.push(() => server.close());
  await server.listen();
  return server;
}

/** A peer that says hello and joins `live`; resolves with its id and socket once joined. */
async function joinPeer(
  url: string,
  role: 'broadcaster' | 'viewer',
): Promise<{ peerId: string; socket: WebSocket; closed: Promise<void> }> {
  const socket = new WebSocket(url);
  cleanups.push(() => {
    socket.terminate();
  });
  const messages: TrackerMessage[] = [];
  let wake = (): void => undefined;
  socket.on('message', (data) => {
    messages.push(decodeTrackerMessage((data as Buffer).toString('utf8')));
    wake();
  });
  const closed = new Promise<void>((resolve) =>
    socket.once('close', () => {
      resolve();
    }),
  );
  const next = async <T extends TrackerMessage['type']>(
    type: T,
  ): Promise<Extract<TrackerMessage, { type: T }>> => {
    for (let i = 0; i < 100; i++) {
      const found = messages.find((m) => m.type === type);
      if (found !== undefined) return found as Extract<TrackerMessage, { type: T }>;
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 50);
      });
    }
    throw new Error(`no ${type}`);
  };
  const send = (message: ClientMessage): void => {
    socket.send(JSON.stringify(message));
  };
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
  send({ type: 'hello', version: TRACKER_PROTOCOL_VERSION, role });
  const { peerId } = await next('welcome');
  send({ type: 'join', stream: 'live', ...(role === 'broadcaster' ? { info: INFO } : {}) });
  await next('joined');
  return { peerId, socket, closed };
}

function httpBase(server: TrackerServer): string {
  return (server.url ?? '').replace(/^ws:/, 'http:').replace(/\/$/, '');
}

function kill(server: TrackerServer, peerId: string, contentType = 'application/json') {
  return fetch(`${httpBase(server)}/monitor/peers/${peerId}/kill`, {
    method: 'POST',
    headers: { 'Content-Type': contentType },
    body: '{}',
  });
}

describe('the tracker monitor endpoints', () => {
  it('answer 404 when the tracker runs without a monitor', { timeout: 5000 }, async () => {
    const server = await startTracker();
    expect(server.monitorUrl).toBeUndefined();
    expect((await fetch(`${httpBase(server)}/monitor`)).status).toBe(404);
  });

  it(
    'serve the page, its script and style, and a JSON snapshot of the overlay',
    { timeout: 5000 },
    async () => {
      const server = await startTracker({ monitor: { bundle: BUNDLE } });
      expect(server.monitorUrl).toBe(`${httpBase(server)}/monitor`);
      const broadcaster = await joinPeer(server.url ?? '', 'broadcaster');
      const viewer = await joinPeer(server.url ?? '', 'viewer');

      const page = await fetch(server.monitorUrl ?? '');
      expect(page.headers.get('content-type')).toContain('text/html');
      expect(await page.text()).toContain('<script type="module" src="/monitor/app.js">');
      expect(await (await fetch(`${httpBase(server)}/monitor/app.js`)).text()).toBe('/* app */');
      expect((await fetch(`${httpBase(server)}/monitor/app.css`)).status).toBe(200);

      const update = (await (
        await fetch(`${httpBase(server)}/monitor/snapshot`)
      ).json()) as MonitorUpdate;
      const nodes = update.snapshot.streams[0]?.nodes ?? [];
      expect(nodes.map((n) => n.id)).toEqual([broadcaster.peerId, viewer.peerId]);
      expect(nodes[1]?.parents).toEqual([broadcaster.peerId]);
      expect(update.stats).toBeNull();
      expect(update.controls.kill).toBe(true);
    },
  );

  it(
    'stream an update at once and then every period, with the joins since the last one',
    { timeout: 5000 },
    async () => {
      const server = await startTracker({ monitor: { bundle: BUNDLE, updateIntervalMs: 100 } });
      const controller = new AbortController();
      cleanups.push(() => {
        controller.abort();
      });
      const response = await fetch(`${httpBase(server)}/monitor/events`, {
        signal: controller.signal,
      });
      expect(response.headers.get('content-type')).toBe('text/event-stream');
      const reader = response.body?.pipeThrough(new TextDecoderStream()).getReader();
      if (reader === undefined) throw new Error('no body');
      const broadcaster = await joinPeer(server.url ?? '', 'broadcaster');
      let text = '';
      const updates: MonitorUpdate[] = [];
      while (!updates.some((u) => u.events.some((e) => e.peerId === broadcaster.peerId))) {
        const { value, done } = await reader.read();
        if (done) throw new Error('stream ended');
        text += value;
        const parts = text.split('\n\n');
        text = parts.pop() ?? '';
        for (const part of parts) {
          expect(part.startsWith('event: update\ndata: ')).toBe(true);
          updates.push(JSON.parse(part.slice('event: update\ndata: '.length)) as MonitorUpdate);
        }
      }
      const joined = updates.flatMap((u) => u.events);
      expect(joined).toEqual([
        expect.objectContaining({ kind: 'joined', peerId: broadcaster.peerId, stream: 'live' }),
      ]);
      await server.close();
      expect((await reader.read()).done).toBe(true);
    },
  );

  it(
    'kill a viewer through the runner kill function and evict it from the tracker at once',
    { timeout: 5000 },
    async () => {
      const asked: string[] = [];
      const server = await startTracker({
        monitor: {
          bundle: BUNDLE,
          stats: () => ({ originBytesSent: 10, broadcasterBytesUploaded: 20 }),
          kill: (peerId) => {
            asked.push(peerId);
            return false;
          },
        },
      });
      const broadcaster = await joinPeer(server.url ?? '', 'broadcaster');
      const a = await joinPeer(server.url ?? '', 'viewer');
      const b = await joinPeer(server.url ?? '', 'viewer');

      expect((await kill(server, a.peerId, 'text/plain')).status).toBe(415);
      expect((await kill(server, 'nobody')).status).toBe(404);
      expect((await kill(server, broadcaster.peerId)).status).toBe(409);
      expect((await fetch(`${httpBase(server)}/monitor/peers/${a.peerId}/kill`)).status).toBe(405);
      expect(asked).toEqual([]);

      const response = await kill(server, a.peerId);
      expect(response.status).toBe(202);
      expect(await response.json()).toEqual({ peerId: a.peerId, processKilled: false });
      expect(asked).toEqual([a.peerId]);
      // The kill function did not know the peer: the tracker evicted it and closed its socket.
      await a.closed;
      const nodes = server.core.snapshot().streams[0]?.nodes ?? [];
      expect(nodes.map((n) => n.id)).toEqual([broadcaster.peerId, b.peerId]);
      expect(nodes[1]?.parents).toEqual([broadcaster.peerId]);
      const update = (await (
        await fetch(`${httpBase(server)}/monitor/snapshot`)
      ).json()) as MonitorUpdate;
      expect(update.stats).toEqual({ originBytesSent: 10, broadcasterBytesUploaded: 20 });
      expect(update.events).toContainEqual(
        expect.objectContaining({ kind: 'killed', peerId: a.peerId }),
      );
    },
  );
});
