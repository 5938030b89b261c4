/**
 * The monitor's HTTP side on the tracker's port (no browser): page, script and style, the
 * observer stream, the JSON snapshot and the kill control's checks, with raw WebSocket peers.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { silentLogger } from '../../src/common/logger.js';
import type {
  AttackRequest,
  AttackStatus,
  LabResult,
  MonitorUpdate,
} from '../../src/monitor/messages.js';
import { SwarmcastError } from '../../src/common/errors.js';
import {
  decodeTrackerMessage,
  type ClientMessage,
  type StreamInfo,
  type TrackerMessage,
} from '../../src/protocol/tracker.js';
import { generateNodeSigner } from '../../src/crypto/ed25519.node.js';
import { TrackerServer, type TrackerServerOptions } from '../../src/tracker/server.js';
import { authFor, helloFor } from '../helpers/tracker-client.js';

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
  const server = new TrackerServer(
    { logger: silentLogger },
    { host: '127.0.0.1', broadcasters: 'any', ...options },
  );
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
  const key = generateNodeSigner();
  send(helloFor(key, role));
  send(authFor(key, role, await next('challenge')));
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
      const removed: { peerId: string; reason: string }[] = [];
      server.on('peer:removed', (event) => removed.push(event));
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
      expect(removed).toEqual([{ peerId: a.peerId, reason: 'evicted' }]);
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

function post(
  server: TrackerServer,
  path: string,
  body: unknown,
  contentType = 'application/json',
) {
  return fetch(`${httpBase(server)}${path}`, {
    method: 'POST',
    headers: { 'Content-Type': contentType },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

async function monitorUpdate(server: TrackerServer): Promise<MonitorUpdate> {
  return (await (await fetch(`${httpBase(server)}/monitor/snapshot`)).json()) as MonitorUpdate;
}

describe('the monitor controls', () => {
  it(
    'switch a live stream to another topology, and refuse bad requests',
    { timeout: 5000 },
    async () => {
      const server = await startTracker({ monitor: { bundle: BUNDLE } });
      const broadcaster = await joinPeer(server.url ?? '', 'broadcaster');
      const viewers = [
        await joinPeer(server.url ?? '', 'viewer'),
        await joinPeer(server.url ?? '', 'viewer'),
        await joinPeer(server.url ?? '', 'viewer'),
      ];
      expect(server.core.snapshot().streams[0]?.topology).toBe('tree');

      const response = await post(server, '/monitor/topology', { stream: 'live', kind: 'list' });
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ stream: 'live', kind: 'list' });
      const stream = (await monitorUpdate(server)).snapshot.streams[0];
      expect(stream?.topology).toBe('list');
      // A list: each viewer's parent is the one before it, in arrival order.
      const ids = [broadcaster.peerId, ...viewers.map((v) => v.peerId)];
      expect(stream?.nodes.map((n) => n.parents)).toEqual([
        [],
        ...ids.slice(0, -1).map((id) => [id]),
      ]);

      const refused = async (body: unknown, contentType?: string): Promise<[number, string]> => {
        const answer = await post(server, '/monitor/topology', body, contentType);
        return [answer.status, await answer.text()];
      };
      expect(await refused({ stream: 'other', kind: 'mesh' })).toEqual([404, 'no stream other']);
      const [status, message] = await refused({ stream: 'live', kind: 'ring' });
      expect(status).toBe(400);
      expect(message).toMatch(/^invalid topology request: kind: /);
      expect((await refused('{"stream":')).join(' ')).toBe('400 topology request is not JSON');
      expect((await refused({ stream: 'live', kind: 'mesh' }, 'text/plain'))[0]).toBe(415);
      expect((await fetch(`${httpBase(server)}/monitor/topology`)).status).toBe(405);
      expect(server.core.snapshot().streams[0]?.topology).toBe('list');
    },
  );

  it(
    'pass a valid failure setting to the runner hook and show its state; 400 for an invalid one, 501 without a runner',
    { timeout: 5000 },
    async () => {
      const settings: unknown[] = [];
      let injected = 0;
      let state = { rate: 0, distribution: 'uniform' as const, injected };
      const server = await startTracker({
        monitor: {
          bundle: BUNDLE,
          failures: {
            set: (setting) => {
              settings.push(setting);
              injected += 2;
              state = { ...setting, injected } as typeof state;
              return state;
            },
            status: () => state,
          },
        },
      });
      expect((await monitorUpdate(server)).controls.failures).toEqual({
        rate: 0,
        distribution: 'uniform',
        injected: 0,
      });
      expect((await monitorUpdate(server)).controls.notes.join(' ')).not.toMatch(/Failure/);

      const response = await post(server, '/monitor/failures', {
        rate: 2,
        distribution: 'poisson',
      });
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ rate: 2, distribution: 'poisson', injected: 2 });
      expect(settings).toEqual([{ rate: 2, distribution: 'poisson' }]);
      expect((await monitorUpdate(server)).controls.failures).toEqual({
        rate: 2,
        distribution: 'poisson',
        injected: 2,
      });

      for (const [body, problem] of [
        [{ rate: 6, distribution: 'uniform' }, /rate: .*5/],
        [{ rate: -1, distribution: 'uniform' }, /rate: /],
        [{ rate: 1, distribution: 'normal' }, /distribution: /],
        [{ rate: 1 }, /distribution: /],
        [{ rate: '1', distribution: 'uniform' }, /rate: /],
        [{ rate: 1, distribution: 'uniform', victims: 3 }, /victims/],
      ] as const) {
        const answer = await post(server, '/monitor/failures', body);
        expect(answer.status).toBe(400);
        expect(await answer.text()).toMatch(problem);
      }
      expect(settings).toHaveLength(1);

      const bare = await startTracker({ monitor: { bundle: BUNDLE } });
      const update = await monitorUpdate(bare);
      expect(update.controls.failures).toBeNull();
      expect(update.controls.notes.join(' ')).toMatch(/Failure injection: not offered/);
      expect(update.controls.notes.join(' ')).toMatch(/Attacks: not offered\. /);
      const answer = await post(bare, '/monitor/failures', { rate: 1, distribution: 'uniform' });
      expect(answer.status).toBe(501);
    },
  );

  it(
    'pass a valid attack request to the runner hook and show its state; 400 for an invalid one, 409 when the runner refuses, 501 without a runner',
    { timeout: 5000 },
    async () => {
      const requests: AttackRequest[] = [];
      let state: AttackStatus = { maxPolluters: 2, polluters: [] };
      const server = await startTracker({
        monitor: {
          bundle: BUNDLE,
          attack: {
            start: (request) => {
              if (state.polluters.length + request.polluters > state.maxPolluters) {
                throw new SwarmcastError('invalid-argument', 'at most 2 polluters');
              }
              requests.push(request);
              state = {
                ...state,
                polluters: [
                  ...state.polluters,
                  {
                    peerId: null,
                    mode: request.mode,
                    alive: true,
                    harmful: 0,
                    removedReason: null,
                    evictionMs: null,
                  },
                ],
              };
              return state;
            },
            status: () => state,
          },
        },
      });
      expect((await monitorUpdate(server)).controls.attack).toEqual(state);
      expect((await monitorUpdate(server)).controls.notes.join(' ')).not.toMatch(/Attacks/);

      const response = await post(server, '/monitor/attack', { mode: 'corrupt', polluters: 1 });
      expect(response.status).toBe(200);
      expect(((await response.json()) as AttackStatus).polluters).toHaveLength(1);
      expect(requests).toEqual([{ mode: 'corrupt', polluters: 1 }]);
      expect((await monitorUpdate(server)).controls.attack?.polluters).toEqual([
        expect.objectContaining({ mode: 'corrupt', alive: true }),
      ]);

      for (const [body, problem] of [
        [{ mode: 'nice', polluters: 1 }, /mode: /],
        [{ mode: 'corrupt', polluters: 0 }, /polluters: /],
        [{ mode: 'corrupt', polluters: 1.5 }, /polluters: /],
        [{ mode: 'corrupt', polluters: 51 }, /polluters: .*50/],
        [{ mode: 'corrupt' }, /polluters: /],
        [{ mode: 'corrupt', polluters: 1, fraction: 0.1 }, /fraction/],
      ] as const) {
        const answer = await post(server, '/monitor/attack', body);
        expect(answer.status).toBe(400);
        expect(await answer.text()).toMatch(problem);
      }
      const refused = await post(server, '/monitor/attack', { mode: 'replay', polluters: 2 });
      expect([refused.status, await refused.text()]).toEqual([409, 'at most 2 polluters']);
      expect((await post(server, '/monitor/attack', '{"mode":')).status).toBe(400);
      expect((await fetch(`${httpBase(server)}/monitor/attack`)).status).toBe(405);
      expect(requests).toHaveLength(1);

      const bare = await startTracker({ monitor: { bundle: BUNDLE } });
      expect((await monitorUpdate(bare)).controls.attack).toBeNull();
      const answer = await post(bare, '/monitor/attack', { mode: 'corrupt', polluters: 1 });
      expect(answer.status).toBe(501);
    },
  );

  it(
    'refuse an invalid lab request with 400 and a message naming each problem',
    { timeout: 5000 },
    async () => {
      const server = await startTracker({ monitor: { bundle: BUNDLE } });
      const valid = {
        topology: 'mesh',
        distribution: 'binomial',
        rate: 1,
        peers: 10,
        durationS: 10,
      };
      for (const [body, problems] of [
        [{ ...valid, peers: 101 }, ['peers: ']],
        [{ ...valid, peers: 2.5 }, ['peers: ']],
        [{ ...valid, durationS: 61 }, ['durationS: ']],
        [{ ...valid, durationS: 2 }, ['durationS: ']],
        [{ ...valid, rate: 5.5, topology: 'ring' }, ['rate: ', 'topology: ']],
        [{ topology: 'tree' }, ['distribution: ', 'rate: ', 'peers: ', 'durationS: ']],
        [[], ['body: ']],
      ] as const) {
        const answer = await post(server, '/monitor/lab', body);
        expect(answer.status).toBe(400);
        const message = await answer.text();
        expect(message).toMatch(/^invalid lab request: /);
        for (const problem of problems) expect(message).toContain(problem);
      }
      expect((await post(server, '/monitor/lab', 'x'.repeat(2000))).status).toBe(413);
      expect((await monitorUpdate(server)).controls.lab).toEqual({ running: null, last: null });
    },
  );

  it(
    'run one simulated lab scenario at a time: 409 for another while it runs, then its record',
    { timeout: 30_000 },
    async () => {
      const server = await startTracker({ monitor: { bundle: BUNDLE } });
      const request = {
        topology: 'tree',
        distribution: 'uniform',
        rate: 1,
        peers: 30,
        durationS: 15,
      };
      const first = post(server, '/monitor/lab', request);
      // The simulation yields to the event loop: the tracker answers while it runs.
      for (;;) {
        const { running } = (await monitorUpdate(server)).controls.lab;
        if (running !== null) {
          expect(running).toEqual(request);
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      const second = await post(server, '/monitor/lab', { ...request, topology: 'mesh' });
      expect(second.status).toBe(409);
      expect(await second.text()).toMatch(/a lab scenario is running/);

      const response = await first;
      expect(response.status).toBe(200);
      const result = (await response.json()) as LabResult;
      expect(result.request).toEqual(request);
      expect(result.record).toMatchObject({
        topology: 'tree',
        distribution: 'uniform',
        rate: 1,
        peers: 30,
        durationS: 15,
        // One failure a second from 5 s to the end.
        failures: 10,
      });
      for (const field of [
        'stalledMsPerPeer',
        'stallsPerPeer',
        'offload',
        'latencyP95Ms',
        'chunksMissing',
      ] as const) {
        expect(typeof result.record[field], field).toBe('number');
      }
      // Most of what viewers got came from other viewers.
      expect(result.record.offload).toBeGreaterThan(0.5);
      expect(result.wallMs).toBeGreaterThan(0);
      expect((await monitorUpdate(server)).controls.lab).toEqual({ running: null, last: result });
    },
  );
});
