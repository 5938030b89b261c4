import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { silentLogger, type Logger } from '../../src/common/logger.js';
import {
  decodeClientMessage,
  encodeMessage,
  TRACKER_PROTOCOL_VERSION,
  type ClientMessage,
  type TrackerMessage,
} from '../../src/protocol/tracker.js';
import { WsTrackerConnection } from '../../src/transport/tracker-ws.node.js';
import type { TrackerConnectionEvents } from '../../src/transport/types.js';
import { sleep, waitFor } from '../helpers/transport-compliance.js';

const HELLO: ClientMessage = {
  type: 'hello',
  version: TRACKER_PROTOCOL_VERSION,
  role: 'viewer',
  publicKey: 'A'.repeat(43),
};
const WELCOME: TrackerMessage = {
  type: 'welcome',
  version: TRACKER_PROTOCOL_VERSION,
  peerId: 'p1',
  heartbeatIntervalMs: 1000,
  heartbeatTimeoutMs: 3000,
};

/** A tiny tracker stand-in on 127.0.0.1 that records what it receives. */
class TestServer {
  readonly received: string[] = [];
  readonly sockets: WebSocket[] = [];
  readonly closeCodes: number[] = [];
  readonly #server: WebSocketServer;

  private constructor(server: WebSocketServer) {
    this.#server = server;
    server.on('connection', (socket) => {
      this.sockets.push(socket);
      socket.on('message', (data: Buffer) => this.received.push(data.toString('utf8')));
      socket.on('close', (code) => this.closeCodes.push(code));
    });
  }

  static async start(): Promise<TestServer> {
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', reject);
    });
    return new TestServer(server);
  }

  get url(): string {
    return `ws://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.terminate();
    await new Promise<void>((resolve) => {
      this.#server.close(() => {
        resolve();
      });
    });
  }
}

/** Events of one connection, recorded. */
function recorder() {
  const log = { opens: 0, messages: [] as TrackerMessage[], closes: [] as string[] };
  const events: TrackerConnectionEvents = {
    open: () => log.opens++,
    message: (message) => log.messages.push(message),
    close: (reason) => log.closes.push(reason),
  };
  return { log, events };
}

/** A logger that keeps its warnings. */
function warningLogger(warnings: string[]): Logger {
  const logger: Logger = {
    ...silentLogger,
    warn: (message) => warnings.push(message),
    child: () => logger,
  };
  return logger;
}

describe('WsTrackerConnection', () => {
  const cleanups: (() => void | Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function setup(options: { maxQueuedMessages?: number; logger?: Logger } = {}) {
    const server = await TestServer.start();
    cleanups.push(() => server.close());
    const { log, events } = recorder();
    const connection = new WsTrackerConnection(
      { logger: options.logger ?? silentLogger },
      { url: server.url, ...options },
      events,
    );
    cleanups.push(() => {
      connection.close();
    });
    return { server, log, connection };
  }

  it('sends messages queued before open, then delivers decoded tracker messages', async () => {
    const { server, log, connection } = await setup();
    connection.send(HELLO);
    connection.send({ type: 'join', stream: 'live' });
    await waitFor(() => log.opens === 1 && server.received.length === 2, 'open and two messages');
    expect(server.received.map(decodeClientMessage)).toEqual([
      HELLO,
      { type: 'join', stream: 'live' },
    ]);
    connection.send({ type: 'heartbeat' });
    server.sockets[0]?.send(encodeMessage(WELCOME));
    await waitFor(() => log.messages.length === 1 && server.received.length === 3, 'both ways');
    expect(log.messages).toEqual([WELCOME]);
    expect(server.received[2]).toBe(encodeMessage({ type: 'heartbeat' }));
    expect(log.closes).toEqual([]);
  }, 10_000);

  it('drops invalid, unknown and binary messages from the tracker and stays open', async () => {
    const warnings: string[] = [];
    const { server, log } = await setup({ logger: warningLogger(warnings) });
    await waitFor(() => server.sockets.length === 1 && log.opens === 1, 'a connection');
    const socket = server.sockets[0];
    socket?.send('not json');
    socket?.send(JSON.stringify({ type: 'bogus' }));
    socket?.send(JSON.stringify({ ...WELCOME, peerId: 'has spaces' }));
    socket?.send(new Uint8Array([1, 2, 3]));
    socket?.send(encodeMessage(WELCOME));
    await waitFor(() => log.messages.length === 1, 'the valid message');
    expect(log.messages).toEqual([WELCOME]);
    expect(warnings.length).toBe(4);
    expect(log.closes).toEqual([]);
  }, 10_000);

  it('a refused connection fires close once and never open, with no unhandled error', async () => {
    const server = await TestServer.start();
    const url = server.url;
    await server.close();
    const { log, events } = recorder();
    const connection = new WsTrackerConnection({ logger: silentLogger }, { url }, events);
    connection.send(HELLO);
    await waitFor(() => log.closes.length === 1, 'close');
    connection.close();
    connection.send(HELLO);
    await sleep(100);
    expect(log.opens).toBe(0);
    expect(log.closes.length).toBe(1);
    expect(log.closes[0]).toMatch(/ECONNREFUSED/);
  }, 10_000);

  it('close() is idempotent, fires close once, closes the socket with 1000, and later sends are no-ops', async () => {
    const { server, log, connection } = await setup();
    await waitFor(() => log.opens === 1, 'open');
    connection.close();
    connection.close();
    connection.send(HELLO);
    await waitFor(() => server.closeCodes.length === 1, 'the server to see the close');
    await sleep(100);
    expect(server.closeCodes).toEqual([1000]);
    expect(server.received).toEqual([]);
    expect(log.closes.length).toBe(1);
  }, 10_000);

  it('close() while connecting fires close once and never open', async () => {
    const { server, log, connection } = await setup();
    connection.close();
    await sleep(200);
    expect(log.opens).toBe(0);
    expect(log.closes.length).toBe(1);
    expect(server.received).toEqual([]);
  }, 10_000);

  it('a tracker that closes the connection fires close once with its code and reason', async () => {
    const { server, log } = await setup();
    await waitFor(() => server.sockets.length === 1 && log.opens === 1, 'a connection');
    server.sockets[0]?.close(4000, 'going away');
    await waitFor(() => log.closes.length === 1, 'close');
    await sleep(100);
    expect(log.closes).toEqual(['closed (4000): going away']);
  }, 10_000);

  it('one message past maxQueuedMessages before open closes the connection', async () => {
    const { log, connection } = await setup({ maxQueuedMessages: 2 });
    connection.send(HELLO);
    connection.send(HELLO);
    expect(log.closes).toEqual([]);
    connection.send(HELLO);
    expect(log.closes).toEqual(['send queue full']);
    await sleep(100);
    expect(log.opens).toBe(0);
  }, 10_000);

  it('rejects a URL that is not ws:// or wss:// with an invalid-argument error', () => {
    const { events } = recorder();
    expect(
      () =>
        new WsTrackerConnection({ logger: silentLogger }, { url: 'http://127.0.0.1:1' }, events),
    ).toThrow(expect.objectContaining({ code: 'invalid-argument' }));
  });
});
