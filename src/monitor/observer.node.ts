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
 *   POST /monitor/peers/<id>/kill  kills a viewer (body `{}`); 202, 404 for an unknown peer,
 *                                  409 for the broadcaster
 *   POST /monitor/topology         switches a stream's topology (`TopologyRequest`); 200, 404 for
 *                                  an unknown stream
 *   POST /monitor/failures         sets the runner's failure injection (`FailureSetting`, rate 0
 *                                  stops); 200 with the new state, 501 without a runner
 *   POST /monitor/lab              runs one simulated lab cell (`LabRequest`); 200 with its
 *                                  record once it ends, 409 while another one runs
 *   POST /monitor/attack           starts polluting viewer processes (`AttackRequest`); 200 with
 *                                  the attack's state, 409 past the runner's limit, 501 without
 *                                  a runner
 * Control bodies are JSON, checked by `controls.node.ts` (400 with every problem). They require
 * `Content-Type: application/json`, which a cross-site form cannot send and a cross-site script
 * cannot send without a preflight this server never grants.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { every, type Clock } from '../common/clock.js';
import { SwarmcastError, errorMessage } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import type { TopologyKind } from '../protocol/tracker.js';
import type { TrackerSnapshot } from '../tracker/core/tracker-core.js';
import type { MonitorBundle } from './bundle.node.js';
import {
  ControlRequestError,
  attackRequestSchema,
  failureSettingSchema,
  killRequestSchema,
  labRequestSchema,
  readControl,
  runLabScenario,
  topologyRequestSchema,
} from './controls.node.js';
import {
  MONITOR_ATTACK_PATH,
  MONITOR_EVENTS_PATH,
  MONITOR_FAILURES_PATH,
  MONITOR_LAB_PATH,
  MONITOR_PATH,
  MONITOR_SCRIPT_PATH,
  MONITOR_SNAPSHOT_PATH,
  MONITOR_STYLE_PATH,
  MONITOR_TOPOLOGY_PATH,
  type AttackRequest,
  type AttackStatus,
  type FailureInjection,
  type FailureSetting,
  type LabRequest,
  type LabResult,
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

/** The runner's failure injection (`LocalSwarm`: victims replaced on the lab's schedule). */
export interface FailureInjector {
  /** Replaces the setting (rate 0 stops injecting) and returns the new state. */
  set(setting: FailureSetting): FailureInjection;
  /** The setting and the failures injected so far. */
  status(): FailureInjection;
}

/** The runner's attacks (`LocalSwarm`: polluting viewer processes). */
export interface AttackLauncher {
  /** Starts the polluters; throws a `SwarmcastError` when the request cannot be met. */
  start(request: AttackRequest): AttackStatus;
  status(): AttackStatus;
}

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
  /** Injects failures at a rate and victim distribution. @default none: the control is not offered */
  failures?: FailureInjector;
  /** Starts polluting viewers. @default none: the control is not offered */
  attack?: AttackLauncher;
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
  /** Rebuilds a stream as another topology (`TrackerCore.setTopology`); false: no such stream. */
  setTopology: (stream: string, kind: TopologyKind) => boolean;
}

/** Why the controls that this tracker does not offer are missing. */
function controlNotes(failures: boolean, attack: boolean): string[] {
  return [
    ...(failures
      ? []
      : [
          'Failure injection: not offered. This tracker runs without a runner that can kill and restart viewer processes (npm start runs one).',
        ]),
    ...(attack
      ? []
      : [
          'Attacks: not offered. This tracker runs without a runner that can start polluting viewer processes (npm start runs one).',
        ]),
  ];
}

const PEER_KILL = /^\/monitor\/peers\/([^/]+)\/kill$/;

/** Answers one control request; throws `ControlRequestError` to refuse it. */
type ControlHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

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
  readonly #notes: readonly string[];
  #labRunning: LabRequest | null = null;
  #labLast: LabResult | null = null;
  #closed = false;

  constructor(components: MonitorComponents, options: MonitorOptions) {
    this.#logger = components.logger;
    this.#clock = components.clock;
    this.#components = components;
    this.#options = options;
    this.#html = monitorPageHtml();
    this.#notes = controlNotes(options.failures !== undefined, options.attack !== undefined);
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
    const control = this.#control(path);
    if (control !== undefined) {
      if (method !== 'POST') {
        reply(res, 405, 'text/plain', 'use POST', { Allow: 'POST' });
      } else {
        control(req, res).catch((error: unknown) => {
          if (error instanceof ControlRequestError) {
            reply(res, error.status, 'text/plain; charset=utf-8', error.message);
            return;
          }
          this.#logger.error('monitor control failed', { path, error: errorMessage(error) });
          reply(res, 500, 'text/plain; charset=utf-8', `failed: ${errorMessage(error)}`);
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

  /** The handler of a control route, or undefined when `path` is none. */
  #control(path: string): ControlHandler | undefined {
    const kill = PEER_KILL.exec(path);
    if (kill !== null) {
      const peerId = decodeURIComponent(kill[1] ?? '');
      return (req, res) => this.#kill(req, res, peerId);
    }
    switch (path) {
      case MONITOR_TOPOLOGY_PATH:
        return (req, res) => this.#switchTopology(req, res);
      case MONITOR_FAILURES_PATH:
        return (req, res) => this.#setFailures(req, res);
      case MONITOR_LAB_PATH:
        return (req, res) => this.#runLab(req, res);
      case MONITOR_ATTACK_PATH:
        return (req, res) => this.#startAttack(req, res);
      default:
        return undefined;
    }
  }

  async #kill(req: IncomingMessage, res: ServerResponse, peerId: string): Promise<void> {
    await readControl(req, killRequestSchema, 'kill request');
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

  async #switchTopology(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const request = await readControl(req, topologyRequestSchema, 'topology request');
    if (!this.#components.setTopology(request.stream, request.kind)) {
      throw new ControlRequestError(404, 'unknown-stream', `no stream ${request.stream}`);
    }
    this.#logger.info('monitor: topology switched', { ...request });
    reply(res, 200, 'application/json', JSON.stringify(request));
    this.#broadcast();
  }

  async #setFailures(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const injector = this.#options.failures;
    if (injector === undefined) {
      req.resume();
      throw new ControlRequestError(
        501,
        'invalid-state',
        'failure injection is not offered: this tracker runs without a runner',
      );
    }
    const setting = await readControl(req, failureSettingSchema, 'failure setting');
    const state = injector.set(setting);
    this.#logger.info('monitor: failure injection set', { ...setting });
    reply(res, 200, 'application/json', JSON.stringify(state));
    this.#broadcast();
  }

  async #startAttack(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const launcher = this.#options.attack;
    if (launcher === undefined) {
      req.resume();
      throw new ControlRequestError(
        501,
        'invalid-state',
        'attacks are not offered: this tracker runs without a runner',
      );
    }
    const request = await readControl(req, attackRequestSchema, 'attack request');
    let state: AttackStatus;
    try {
      state = launcher.start(request);
    } catch (error) {
      if (!(error instanceof SwarmcastError)) throw error;
      throw new ControlRequestError(409, error.code, error.message);
    }
    this.#logger.info('monitor: attack started', { ...request });
    reply(res, 200, 'application/json', JSON.stringify(state));
    this.#broadcast();
  }

  /** Runs one lab scenario at a time; answers with its record once the simulation ends. */
  async #runLab(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const request = await readControl(req, labRequestSchema, 'lab request');
    if (this.#labRunning !== null) {
      throw new ControlRequestError(
        409,
        'invalid-state',
        'a lab scenario is running: wait for its record before starting another',
      );
    }
    this.#labRunning = request;
    this.#logger.info('monitor: lab scenario started', { ...request });
    this.#broadcast();
    const startedMs = this.#clock.now();
    let result: LabResult;
    try {
      result = {
        request,
        record: await runLabScenario(request),
        wallMs: this.#clock.now() - startedMs,
      };
    } finally {
      this.#labRunning = null;
    }
    this.#labLast = result;
    reply(res, 200, 'application/json', JSON.stringify(result));
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
    if (this.#closed) return;
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
      controls: this.#controls(),
    };
  }

  #controls(): MonitorControls {
    return {
      kill: true,
      failures: this.#options.failures?.status() ?? null,
      attack: this.#options.attack?.status() ?? null,
      lab: { running: this.#labRunning, last: this.#labLast },
      notes: this.#notes,
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
