/**
 * `swarmcast/browser`: a live viewer in a web page. The same peer core as Node peers, wired to
 * the browser's RTCPeerConnection and WebSocket, feeding an MSE player on the page's `<video>`:
 *
 *   import { createViewer } from 'swarmcast/browser';
 *   const viewer = createViewer({
 *     video: document.querySelector('video'),
 *     trackerUrl: 'ws://127.0.0.1:8081',
 *     originUrl: 'http://127.0.0.1:8080',
 *     stream: 'live',
 *   });
 *   setInterval(() => { panel.textContent = JSON.stringify(viewer.stats()); }, 1000);
 *
 * Falls back to playing from the origin alone when the browser has no WebRTC or the tracker
 * cannot be reached, and says so in `stats().notice`.
 *
 * The core's playback model still drives what it fetches and when (its due times); the MSE
 * player plays and reports what the viewer really sees.
 */
import { SystemClock, type Clock } from '../common/clock.js';
import { errorMessage } from '../common/errors.js';
import { silentLogger, type Logger } from '../common/logger.js';
import { CryptoRandom } from '../common/random.js';
import { PEER_DEFAULTS, PeerCore, type PeerOptions, type PeerStats } from '../peer/core.js';
import {
  mediaSourceClass,
  MsePlayer,
  type MsePlayerOptions,
  type MsePlayerReport,
} from '../player/mse-player.js';
import { HttpOriginClient } from '../transport/origin-http.js';
import { browserRtcTransportFactory, hasWebRtc } from '../transport/rtc.browser.js';
import { browserTrackerConnectionFactory } from '../transport/tracker-ws.browser.js';
import { OriginFeed } from './origin-feed.js';

/** Defaults of `ViewerOptions` that are not in DEFAULTS. */
export const VIEWER_DEFAULTS = {
  /** The tracker must welcome the viewer this soon, or it plays from the origin alone. */
  trackerTimeoutMs: 5000,
} as const;

export interface ViewerOptions
  extends
    Partial<
      Pick<PeerOptions, 'targetLatencyMs' | 'startBufferMs' | 'liveJumpAfterStallMs' | 'admission'>
    >,
    Pick<MsePlayerOptions, 'backBufferMs'> {
  /** The element the stream plays in; muted autoplay needs `muted` set by the page. */
  video: HTMLVideoElement;
  /** The tracker's `ws://` URL; without it the viewer plays from the origin alone. */
  trackerUrl?: string;
  /** Base URL of the origin. */
  originUrl: string;
  stream: string;
  /** STUN/TURN servers. @default [] */
  iceServers?: RTCIceServer[];
  /** @default VIEWER_DEFAULTS.trackerTimeoutMs */
  trackerTimeoutMs?: number;
  /** @default silentLogger */
  logger?: Logger;
}

/**
 * `peer-to-peer`: the peer core runs. `origin-only`: chunks come from the origin alone (see
 * `notice`). `unsupported`: this browser cannot play (no Media Source Extensions).
 */
export type ViewerMode = 'peer-to-peer' | 'origin-only' | 'unsupported';

export interface ViewerStats {
  readonly mode: ViewerMode;
  /** Why the viewer is not in plain peer-to-peer mode, or what went wrong; null when all is well. */
  readonly notice: string | null;
  /** False while the origin has no media for the stream yet. */
  readonly live: boolean;
  /** The tracker's id for this viewer; null before it is welcomed or in origin-only mode. */
  readonly peerId: string | null;
  /** Data channels open now. */
  readonly peersConnected: number;
  /** Bytes received from peers (every frame). */
  readonly bytesFromPeers: number;
  /** Chunk bytes fetched from the origin. */
  readonly bytesFromOrigin: number;
  /** bytesFromPeers / (bytesFromPeers + bytesFromOrigin); null before anything arrived. */
  readonly peerShare: number | null;
  /** Verified chunks accepted, by who sent them: a peer id, or `origin`. */
  readonly chunksBySource: Readonly<Record<string, number>>;
  /** The peer core's counters; null in origin-only mode. */
  readonly peer: PeerStats | null;
  readonly player: MsePlayerReport;
}

export interface Viewer {
  readonly mode: ViewerMode;
  stats(): ViewerStats;
  /** Leaves the swarm and stops playback. Idempotent. */
  stop(): void;
}

export interface ViewerComponents {
  clock: Clock;
  logger: Logger;
}

/** Creates and starts a viewer on `options.video`. */
export function createViewer(options: ViewerOptions): Viewer {
  const viewer = new BrowserViewer(
    { clock: new SystemClock(), logger: options.logger ?? silentLogger },
    options,
  );
  viewer.start();
  return viewer;
}

export class BrowserViewer implements Viewer {
  readonly #c: ViewerComponents;
  readonly #o: ViewerOptions;
  readonly #player: MsePlayer;
  readonly #openLinks = new Set<string>();
  readonly #bySource = new Map<string, number>();
  #mode: ViewerMode = 'peer-to-peer';
  #notice: string | null = null;
  #core: PeerCore | undefined;
  #feed: OriginFeed | undefined;
  #trackerTimer: ReturnType<Clock['setTimeout']> | undefined;
  #state: 'new' | 'started' | 'stopped' = 'new';

  constructor(components: ViewerComponents, options: ViewerOptions) {
    this.#c = components;
    this.#o = options;
    this.#player = new MsePlayer(
      { video: options.video, clock: components.clock, logger: components.logger.child('player') },
      {
        originUrl: options.originUrl,
        stream: options.stream,
        ...pick(options, [
          'targetLatencyMs',
          'startBufferMs',
          'liveJumpAfterStallMs',
          'backBufferMs',
        ]),
      },
    );
  }

  get mode(): ViewerMode {
    return this.#mode;
  }

  start(): void {
    if (this.#state !== 'new') return;
    this.#state = 'started';
    if (mediaSourceClass() === undefined) {
      this.#mode = 'unsupported';
      this.#notice = 'This browser has no Media Source Extensions: it cannot play this stream.';
      return;
    }
    this.#player.start().catch((error: unknown) => {
      if (this.#state === 'started') this.#notice = `Playback failed: ${errorMessage(error)}`;
    });
    if (!hasWebRtc()) {
      this.#originOnly('This browser has no WebRTC: playing from the origin only.');
    } else if (this.#o.trackerUrl === undefined) {
      this.#originOnly('No tracker configured: playing from the origin only.');
    } else {
      this.#startPeer(this.#o.trackerUrl);
    }
  }

  stats(): ViewerStats {
    const peer = this.#core?.stats() ?? null;
    const bytesFromPeers = peer?.bytesFromPeers ?? 0;
    const bytesFromOrigin = (peer?.bytesFromOrigin ?? 0) + (this.#feed?.bytesFromOrigin ?? 0);
    const total = bytesFromPeers + bytesFromOrigin;
    const player = this.#player.report();
    return {
      mode: this.#mode,
      notice: this.#notice,
      live: player.state !== 'waiting-for-stream' && player.state !== 'new',
      peerId: this.#core?.peerId ?? null,
      peersConnected: this.#openLinks.size,
      bytesFromPeers,
      bytesFromOrigin,
      peerShare: total === 0 ? null : bytesFromPeers / total,
      chunksBySource: Object.fromEntries(this.#bySource),
      peer,
      player,
    };
  }

  stop(): void {
    if (this.#state === 'stopped') return;
    this.#state = 'stopped';
    if (this.#trackerTimer !== undefined) this.#c.clock.clearTimeout(this.#trackerTimer);
    this.#core?.stop();
    this.#feed?.stop();
    this.#player.stop();
  }

  #startPeer(trackerUrl: string): void {
    const logger = this.#c.logger;
    const origin = new HttpOriginClient({ logger }, { originUrl: this.#o.originUrl });
    const core = new PeerCore(
      {
        clock: this.#c.clock,
        random: new CryptoRandom(),
        logger: logger.child('peer'),
        transport: browserRtcTransportFactory(
          { logger: logger.child('rtc') },
          this.#o.iceServers === undefined ? {} : { iceServers: this.#o.iceServers },
        ),
        tracker: browserTrackerConnectionFactory(
          { logger: logger.child('tracker') },
          { url: trackerUrl },
        ),
        origin,
        // Heartbeats carry what the video element shows, not the core's model of it.
        player: {
          report: () => {
            const r = this.#player.report();
            return {
              playing: r.state === 'playing',
              stalls: r.stalls,
              stalledMs: r.stalledMs,
              latencyMs: r.latencyMs,
            };
          },
        },
      },
      {
        ...PEER_DEFAULTS,
        // The peer core makes this page's Ed25519 key pair with WebCrypto for the handshake.
        ...pick(this.#o, ['targetLatencyMs', 'startBufferMs', 'liveJumpAfterStallMs', 'admission']),
        stream: this.#o.stream,
        role: 'viewer',
      },
    );
    this.#core = core;
    core.on('chunk:verified', ({ chunk, from }) => {
      this.#bySource.set(from, (this.#bySource.get(from) ?? 0) + 1);
      this.#player.add(chunk);
    });
    core.on('link:open', ({ remoteId }) => this.#openLinks.add(remoteId));
    core.on('link:close', ({ remoteId }) => this.#openLinks.delete(remoteId));
    core.on('tracker:lost', () => {
      if (core.peerId === null) {
        this.#originOnly('The tracker is unreachable: playing from the origin only.');
      } else {
        this.#notice = 'The tracker connection was lost: going on with the peers already linked.';
      }
    });
    this.#trackerTimer = this.#c.clock.setTimeout(() => {
      this.#trackerTimer = undefined;
      if (core.peerId === null && this.#mode === 'peer-to-peer') {
        this.#originOnly('The tracker did not answer: playing from the origin only.');
      }
    }, this.#o.trackerTimeoutMs ?? VIEWER_DEFAULTS.trackerTimeoutMs);
    core.start();
  }

  /** Stops the peer core, if any, and plays from the origin alone. */
  #originOnly(notice: string): void {
    if (this.#state !== 'started' || this.#feed !== undefined) return;
    this.#c.logger.warn(notice);
    this.#mode = 'origin-only';
    this.#notice = notice;
    if (this.#trackerTimer !== undefined) this.#c.clock.clearTimeout(this.#trackerTimer);
    this.#core?.stop({ graceful: false });
    this.#core = undefined;
    this.#openLinks.clear();
    const feed = new OriginFeed(
      {
        clock: this.#c.clock,
        logger: this.#c.logger.child('origin-feed'),
        origin: new HttpOriginClient({ logger: this.#c.logger }, { originUrl: this.#o.originUrl }),
        onChunk: (chunk) => {
          this.#bySource.set('origin', (this.#bySource.get('origin') ?? 0) + 1);
          this.#player.add(chunk);
        },
      },
      {
        originUrl: this.#o.originUrl,
        stream: this.#o.stream,
        targetLatencyMs: this.#o.targetLatencyMs ?? PEER_DEFAULTS.targetLatencyMs,
      },
    );
    this.#feed = feed;
    feed.start();
  }
}

/** The defined values of `keys` in `source`. */
function pick<T extends object, K extends keyof T>(
  source: T,
  keys: readonly K[],
): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const key of keys) if (source[key] !== undefined) out[key] = source[key];
  return out;
}
