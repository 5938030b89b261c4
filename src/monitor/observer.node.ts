/**
 * The monitor's server side, mounted on the tracker's HTTP port: the page, its script and style,
 * an observer stream (server-sent events) with the tracker snapshot every period plus the events
 * since the last one, and the control endpoints.
 *
 * Routes:
 *   GET  /monitor                  the page
 *   GET  /monitor/app.js           its script (`loadMonitorBundle()`)
 *   GET  /monitor/app.css          its style
 *   GET  /monitor/events           `text/event-stream`, one `update` event (MonitorUpdate JSON)
 *                                  at once and then every `updateIntervalMs`
 *   GET  /monitor/snapshot         one MonitorUpdate as JSON
 *   POST /monitor/peers/<id>/kill  kills a viewer (body `{}` as application/json); 202, 404 for
 *                                  an unknown peer, 409 for the broadcaster
 * Controls require `Content-Type: application/json`, which a cross-site form cannot send and a
 * cross-site script cannot send without a preflight this server never grants.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { every, type Clock } from '../common/clock.js';
import { SwarmcastError, errorMessage } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import type { TrackerSnapshot } from '../tracker/core/tracker-core.js';
import type { MonitorBundle } from './bundle.node.js';
import {
  MONITOR_EVENTS_PATH,
  MONITOR_PATH,
  MONITOR_SCRIPT_PATH,
  MONITOR_SNAPSHOT_PATH,
  MONITOR_STYLE_PATH,
  type MonitorControls,
  type MonitorEvent,
  type MonitorStats,
  type MonitorUpdate,
} from './messages.js';
import { monitorPageHtml } from './page.js';

export const MONITOR_DEFAULTS = {
  /** Period of the observer stream's updates. */
  updateIntervalMs: 1000,
  /** Events kept for a page that connects late. */
  recentEvents: 50,
} as const;

/** Kills a peer; resolves false when the peer is not one the killer knows. */
export type KillFunction = (peerId: string) => Promise<boolean> | boolean;

export interface MonitorOptions {
  /** The page's script and style. */
  bundle: MonitorBundle;
  /** Origin figures, fed by the runner. @default none: the page shows no origin charts */
  stats?: () => MonitorStats;
  /**
   * Kills a viewer (the runner: SIGKILL its process and start another). When it resolves false,
   * or when none is given, the peer is evicted from the tracker instead.
   * @default none
   */
  kill?: KillFunction;
  /** @default MONITOR_DEFAULTS.updateIntervalMs */
  updateIntervalMs?: number;
}

export interface MonitorComponents {
  logger: Logger;
  clock: Clock;
  /** The tracker's view of the overlay. */
  snapshot: () => TrackerSnapshot;
  /** Removes a peer from the tracker at once (`TrackerCore.evict`). */
  evict: (peerId: string) => boolean;
}

/** Kill is offered; the notes say why the other controls are not (yet). */
const CONTROLS: MonitorControls = {
  kill: true,
  notes: [
    'Topology switch: not offered. A stream keeps the topology its broadcaster announced when it joined; changing it needs a restart of the stream (npm start --topology list|tree|mesh).',
    'Failure injection: not offered here yet. Use the lab runner for failure rates and distributions.',
  ],
};

const PEER_KILL = /^\/monitor\/peers\/([^/]+)\/kill$/;

export class MonitorObserver {
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #components: MonitorComponents;
  readonly #options: MonitorOptions;
  readonly #html: string;
  readonly #clients = new Set<ServerResponse>();
  /** Members of each stream at the previous update. */
  #known = new Map<string, Set<string>>();
  #pending: MonitorEvent[] = [];
  readonly #recent: MonitorEvent[] = [];
  readonly #stopTimer: () => void;
  #closed = false;

  constructor(components: MonitorComponents, options: MonitorOptions) {
    this.#logger = components.logger;
    this.#clock = components.clock;
    this.#components = components;
    this.#options = options;
    this.#html = monitorPageHtml();
    const periodMs = options.updateIntervalMs ?? MONITOR_DEFAULTS.updateIntervalMs;
    if (!Number.isInteger(periodMs) || periodMs < 1) {
      throw new SwarmcastError('invalid-argument', 'updateIntervalMs must be a positive integer');
    }
    this.#stopTimer = every(this.#clock, periodMs, () => {
      this.#broadcast();
    });
  }

  /** Answers a monitor request; returns false when the path is not the monitor's. */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const path = new URL(req.url ?? '/', 'http://monitor.invalid').pathname;
    if (path !== MONITOR_PATH && !path.startsWith(`${MONITOR_PATH}/`)) return false;
    const method = req.method ?? 'GET';
    const kill = PEER_KILL.exec(path);
    if (kill !== null) {
      if (method !== 'POST') {
        reply(res, 405, 'text/plain', 'use POST', { Allow: 'POST' });
      } else {
        this.#kill(req, res, decodeURIComponent(kill[1] ?? '')).catch((error: unknown) => {
          this.#logger.error('kill failed', { error: errorMessage(error) });
          reply(res, 500, 'text/plain', 'kill failed');
        });
      }
      return true;
    }
    if (method !== 'GET' && method !== 'HEAD') {
      reply(res, 405, 'text/plain', 'use GET', { Allow: 'GET, HEAD' });
      return true;
    }
    switch (path) {
      case MONITOR_PATH:
        reply(res, 200, 'text/html; charset=utf-8', this.#html);
        break;
      case MONITOR_SCRIPT_PATH:
        reply(res, 200, 'text/javascript; charset=utf-8', this.#options.bundle.script);
        break;
      case MONITOR_STYLE_PATH:
        reply(res, 200, 'text/css; charset=utf-8', this.#options.bundle.style);
        break;
      case MONITOR_SNAPSHOT_PATH:
        reply(res, 200, 'application/json', JSON.stringify(this.#update(this.#recent)));
        break;
      case MONITOR_EVENTS_PATH:
        if (method === 'GET') this.#subscribe(res);
        else reply(res, 200, 'text/event-stream', '');
        break;
      default:
        reply(res, 404, 'text/plain', 'not found');
    }
    return true;
  }

  /** Ends every observer stream and stops the updates. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopTimer();
    for (const client of this.#clients) client.end();
    this.#clients.clear();
  }

  #subscribe(res: ServerResponse): void {
    if (this.#closed) {
      reply(res, 503, 'text/plain', 'tracker closing');
      return;
    }
    res.writeHead(200, {
      'Content-Type': 'text/event-stream',
      'Cache-Control': 'no-cache',
      Connection: 'keep-alive',
    });
    this.#clients.add(res);
    res.on('close', () => {
      this.#clients.delete(res);
    });
    send(res, this.#update(this.#recent));
  }

  async #kill(req: IncomingMessage, res: ServerResponse, peerId: string): Promise<void> {
    req.resume();
    if (!(req.headers['content-type'] ?? '').startsWith('application/json')) {
      reply(res, 415, 'text/plain', 'send Content-Type: application/json');
      return;
    }
    const entry = this.#findNode(peerId);
    if (entry === undefined) {
      reply(res, 404, 'text/plain', `no peer ${peerId}`);
      return;
    }
    if (entry.role === 'broadcaster') {
      reply(res, 409, 'text/plain', 'the broadcaster cannot be killed from the monitor');
      return;
    }
    this.#logger.info('monitor: killing peer', { peer: peerId });
    const killed = (await this.#options.kill?.(peerId)) ?? false;
    // Evict at once either way: the children re-attach now rather than when the socket drops.
    this.#components.evict(peerId);
    this.#record({ atMs: this.#clock.now(), kind: 'killed', peerId, stream: entry.stream });
    reply(res, 202, 'application/json', JSON.stringify({ peerId, processKilled: killed }));
    this.#broadcast();
  }

  #findNode(peerId: string): { role: string; stream: string } | undefined {
    for (const stream of this.#components.snapshot().streams) {
      const node = stream.nodes.find((n) => n.id === peerId);
      if (node !== undefined) return { role: node.role, stream: stream.info.stream };
    }
    return undefined;
  }

  #record(event: MonitorEvent): void {
    this.#pending.push(event);
    this.#recent.push(event);
    if (this.#recent.length > MONITOR_DEFAULTS.recentEvents) this.#recent.shift();
  }

  /** Sends an update with the events since the previous one to every observer. */
  #broadcast(): void {
    const snapshot = this.#diff();
    const update = this.#update(this.#pending, snapshot);
    this.#pending = [];
    for (const client of this.#clients) send(client, update);
  }

  /** Takes a snapshot and records joins and departures since the previous one. */
  #diff(): TrackerSnapshot {
    const snapshot = this.#components.snapshot();
    const atMs = this.#clock.now();
    const now = new Map<string, Set<string>>();
    for (const stream of snapshot.streams) {
      const name = stream.info.stream;
      const ids = new Set(stream.nodes.map((n) => n.id));
      now.set(name, ids);
      const before = this.#known.get(name) ?? new Set<string>();
      for (const id of ids) {
        if (!before.has(id)) this.#record({ atMs, kind: 'joined', peerId: id, stream: name });
      }
      for (const id of before) {
        if (!ids.has(id) && !this.#pending.some((e) => e.peerId === id)) {
          this.#record({ atMs, kind: 'left', peerId: id, stream: name });
        }
      }
    }
    this.#known = now;
    return snapshot;
  }

  #update(
    events: readonly MonitorEvent[],
    snapshot: TrackerSnapshot = this.#components.snapshot(),
  ): MonitorUpdate {
    return {
      timeMs: this.#clock.now(),
      snapshot,
      stats: this.#options.stats?.() ?? null,
      events,
      controls: CONTROLS,
    };
  }
}

function send(res: ServerResponse, update: MonitorUpdate): void {
  res.write(`event: update\ndata: ${JSON.stringify(update)}\n\n`);
}

function reply(
  res: ServerResponse,
  status: number,
  contentType: string,
  body: string | Uint8Array,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, {
    'Content-Type': contentType,
    'Cache-Control': 'no-cache',
    'X-Content-Type-Options': 'nosniff',
    ...headers,
  });
  res.end(body);
}
