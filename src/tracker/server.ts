/**
 * The tracker's Node adapter: a `ws` WebSocket server in front of a `TrackerCore`. It turns text
 * frames into decoded messages (or typed protocol errors) and core replies into JSON frames, and
 * pings every socket so that dead TCP connections are noticed. Its port also answers HTTP: the
 * monitor (`/monitor`, see `src/monitor/observer.node.ts`) when `monitor` is configured, 404
 * otherwise.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { SystemClock, every, type Clock } from '../common/clock.js';
import {
  InvalidStateError,
  ProtocolError,
  SwarmcastError,
  errorMessage,
} from '../common/errors.js';
import { Emitter } from '../common/events.js';
import type { Logger } from '../common/logger.js';
import { CryptoRandom, type Random } from '../common/random.js';
import { generateNodeSigner, nodeSignatureCheck } from '../crypto/ed25519.node.js';
import type { SyncSigner } from '../crypto/keys.js';
import { MonitorObserver, type MonitorOptions } from '../monitor/observer.node.js';
import { MONITOR_PATH } from '../monitor/messages.js';
import { decodeClientMessage, encodeMessage } from '../protocol/tracker.js';
import { createAdmission, type AdmissionOptions } from './admission.js';
import { TrackerCore, type TrackerOptions } from './core/tracker-core.js';

/**
 * Largest WebSocket message read at all. Above `MAX_TRACKER_MESSAGE_BYTES` and up to this, a
 * message gets a typed `message-too-large` reply; above this, `ws` closes the socket (1009)
 * without buffering the rest.
 */
export const MAX_WS_PAYLOAD_BYTES = 64 * 1024;

/** Server defaults. */
export const TRACKER_SERVER_DEFAULTS = {
  host: '127.0.0.1',
  /** 0 = any free port. */
  port: 0,
  path: '/',
  /** Every socket is pinged this often; one that has not answered the previous ping is cut. */
  pingIntervalMs: 10_000,
  /** On `close()`, sockets still open this long after the close frame are terminated. */
  closeGraceMs: 1000,
} as const;

/** WebSocket close codes used by the server. */
const CLOSE_GOING_AWAY = 1001;
const CLOSE_POLICY_VIOLATION = 1008;

export interface TrackerServerOptions extends TrackerOptions {
  /** Address to bind. @default TRACKER_SERVER_DEFAULTS.host */
  host?: string;
  /** Port to bind; 0 picks a free one. @default TRACKER_SERVER_DEFAULTS.port */
  port?: number;
  /** URL path of the WebSocket endpoint. @default TRACKER_SERVER_DEFAULTS.path */
  path?: string;
  /** Ping period per socket. @default TRACKER_SERVER_DEFAULTS.pingIntervalMs */
  pingIntervalMs?: number;
  /** Serves the monitor page and its observer stream on this port. @default none (404) */
  monitor?: MonitorOptions;
  /** Which viewers may join: open, a shared secret or a JWT. @default { mode: 'open' } */
  admission?: AdmissionOptions;
}

export interface TrackerServerComponents {
  logger: Logger;
  /** @default a SystemClock */
  clock?: Clock;
  /** @default a CryptoRandom (peer ids and challenge nonces must not be guessable) */
  random?: Random;
  /** The tracker's Ed25519 key, which signs credentials. @default a fresh one */
  signer?: SyncSigner;
}

export interface TrackerServerEvents {
  /**
   * The tracker closed a welcomed peer's connection itself: evicted (on reports, or by an
   * operator), cut for abuse, or silent too long. Not emitted when the peer left or its socket
   * dropped, nor when the tracker closes.
   */
  'peer:removed': { peerId: string; reason: string };
}

interface SocketState {
  readonly connectionId: string;
  /** Cleared when a ping is sent, set by the pong. */
  alive: boolean;
}

export class TrackerServer {
  /** The sans-IO core, for `snapshot()`. */
  readonly core: TrackerCore;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #host: string;
  readonly #port: number;
  readonly #path: string;
  readonly #pingIntervalMs: number;
  readonly #sockets = new Map<WebSocket, SocketState>();
  readonly #events: Emitter<TrackerServerEvents>;
  readonly #monitorOptions: MonitorOptions | undefined;
  #http: Server | undefined;
  #server: WebSocketServer | undefined;
  #monitor: MonitorObserver | undefined;
  #url: string | undefined;
  #monitorUrl: string | undefined;
  #stopPing: (() => void) | undefined;
  #closing: Promise<void> | undefined;

  constructor(components: TrackerServerComponents, options: TrackerServerOptions = {}) {
    this.#logger = components.logger;
    this.#clock = components.clock ?? new SystemClock();
    this.#events = new Emitter(this.#logger);
    this.core = new TrackerCore(
      {
        clock: this.#clock,
        random: components.random ?? new CryptoRandom(),
        logger: components.logger,
        signer: components.signer ?? generateNodeSigner(),
        checkSignature: nodeSignatureCheck(),
        admission: createAdmission({ clock: this.#clock }, options.admission ?? { mode: 'open' }),
      },
      options,
    );
    this.#host = options.host ?? TRACKER_SERVER_DEFAULTS.host;
    this.#port = options.port ?? TRACKER_SERVER_DEFAULTS.port;
    this.#path = options.path ?? TRACKER_SERVER_DEFAULTS.path;
    this.#pingIntervalMs = options.pingIntervalMs ?? TRACKER_SERVER_DEFAULTS.pingIntervalMs;
    this.#monitorOptions = options.monitor;
    if (!this.#path.startsWith('/')) {
      throw new SwarmcastError('invalid-argument', `path must start with /, got ${this.#path}`);
    }
    if (!Number.isInteger(this.#pingIntervalMs) || this.#pingIntervalMs < 1) {
      throw new SwarmcastError('invalid-argument', 'pingIntervalMs must be a positive integer');
    }
  }

  on<K extends keyof TrackerServerEvents>(
    event: K,
    listener: (payload: TrackerServerEvents[K]) => void,
  ): () => void {
    return this.#events.on(event, listener);
  }

  /** The `ws://` URL peers connect to, once listening. */
  get url(): string | undefined {
    return this.#url;
  }

  /** The monitor page's `http://` URL, once listening with a monitor configured. */
  get monitorUrl(): string | undefined {
    return this.#monitorUrl;
  }

  /** Starts listening; resolves with the `ws://` URL. */
  async listen(): Promise<string> {
    if (this.#isClosed()) throw new InvalidStateError('tracker server is closed');
    if (this.#server !== undefined) throw new InvalidStateError('tracker server is listening');
    const monitorOptions = this.#monitorOptions;
    const monitor =
      monitorOptions === undefined
        ? undefined
        : new MonitorObserver(
            {
              logger: this.#logger.child('monitor'),
              clock: this.#clock,
              snapshot: () => this.core.snapshot(),
              evict: (peerId) => this.core.evict(peerId),
              setTopology: (stream, kind) => this.core.setTopology(stream, kind),
            },
            monitorOptions,
          );
    this.#monitor = monitor;
    const http = createServer((req, res) => {
      if (monitor?.handle(req, res) !== true) {
        res.writeHead(404, { 'Content-Type': 'text/plain' });
        res.end('not found');
      }
    });
    this.#http = http;
    const server = new WebSocketServer({
      server: http,
      path: this.#path,
      maxPayload: MAX_WS_PAYLOAD_BYTES,
    });
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      const onError = (error: Error): void => {
        reject(error);
      };
      http.once('error', onError);
      http.listen(this.#port, this.#host, () => {
        http.off('error', onError);
        resolve();
      });
    });
    if (this.#isClosed()) throw new InvalidStateError('tracker server closed while starting');
    http.on('error', (error) => {
      this.#logger.error('tracker http server error', { error: errorMessage(error) });
    });
    server.on('error', (error) => {
      this.#logger.error('tracker server error', { error: errorMessage(error) });
    });
    server.on('connection', (socket) => {
      this.#accept(socket);
    });
    this.#stopPing = every(this.#clock, this.#pingIntervalMs, () => {
      this.#ping();
    });
    const { port } = http.address() as AddressInfo;
    const host = this.#host.includes(':') ? `[${this.#host}]` : this.#host;
    this.#url = `ws://${host}:${port}${this.#path}`;
    if (monitor !== undefined) this.#monitorUrl = `http://${host}:${port}${MONITOR_PATH}`;
    this.#logger.info('tracker listening', { url: this.#url, monitor: this.#monitorUrl });
    return this.#url;
  }

  /** Closes every socket and the server. Idempotent: later calls return the same promise. */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  #isClosed(): boolean {
    return this.#closing !== undefined;
  }

  async #shutdown(): Promise<void> {
    this.#stopPing?.();
    this.#monitor?.close();
    const sockets = [...this.#sockets.keys()];
    for (const socket of sockets) socket.close(CLOSE_GOING_AWAY, 'tracker closing');
    this.core.close();
    await Promise.all(sockets.map((socket) => this.#whenClosed(socket)));
    const server = this.#server;
    const http = this.#http;
    if (server !== undefined && http !== undefined) {
      await new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      });
      if (http.listening) {
        await new Promise<void>((resolve) => {
          http.close(() => {
            resolve();
          });
          http.closeAllConnections();
        });
      }
      this.#logger.info('tracker closed', { url: this.#url });
    }
  }

  /** Resolves when `socket` has closed, terminating it after the grace period. */
  #whenClosed(socket: WebSocket): Promise<void> {
    if (socket.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = this.#clock.setTimeout(() => {
        socket.terminate();
      }, TRACKER_SERVER_DEFAULTS.closeGraceMs);
      socket.once('close', () => {
        this.#clock.clearTimeout(timer);
        resolve();
      });
    });
  }

  #accept(socket: WebSocket): void {
    if (this.#isClosed()) {
      socket.terminate();
      return;
    }
    /** The peer id the core's `welcome` gave this connection. */
    let peerId: string | undefined;
    const connectionId = this.core.connect(
      (message) => {
        if (message.type === 'welcome') peerId = message.peerId;
        if (socket.readyState === WebSocket.OPEN) socket.send(encodeMessage(message));
      },
      (reason) => {
        socket.close(CLOSE_POLICY_VIOLATION, reason);
        if (peerId !== undefined && !this.#isClosed()) {
          this.#events.emit('peer:removed', { peerId, reason });
        }
      },
    );
    this.#sockets.set(socket, { connectionId, alive: true });
    socket.on('message', (data, isBinary) => {
      this.#handle(connectionId, data, isBinary);
    });
    socket.on('pong', () => {
      const state = this.#sockets.get(socket);
      if (state !== undefined) state.alive = true;
    });
    socket.on('error', (error) => {
      this.#logger.debug('socket error', { connection: connectionId, error: errorMessage(error) });
    });
    socket.on('close', () => {
      this.#sockets.delete(socket);
      this.core.disconnect(connectionId);
    });
  }

  #handle(connectionId: string, data: RawData, isBinary: boolean): void {
    if (isBinary) {
      this.core.protocolError(
        connectionId,
        new ProtocolError('malformed-message', 'binary frames are not accepted: send JSON text'),
      );
      return;
    }
    const bytes = Array.isArray(data)
      ? Buffer.concat(data)
      : data instanceof ArrayBuffer
        ? Buffer.from(data)
        : data;
    let message;
    try {
      message = decodeClientMessage(bytes.toString('utf8'));
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      this.core.protocolError(connectionId, error);
      return;
    }
    this.core.receive(connectionId, message);
  }

  #ping(): void {
    for (const [socket, state] of this.#sockets) {
      if (!state.alive) {
        this.#logger.debug('no pong: terminating', { connection: state.connectionId });
        socket.terminate();
        continue;
      }
      state.alive = false;
      socket.ping();
    }
  }
}
