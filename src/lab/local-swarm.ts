/**
 * A whole live stream on one machine: a broadcaster (ffmpeg) publishing to an origin and into
 * the overlay, a tracker, and N viewer peers, each in its own process, over real WebRTC on
 * loopback. `npm start` and the pipeline benchmark run this.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loadViewerBundle } from '../browser/bundle.node.js';
import { Broadcaster } from '../broadcaster/broadcaster.js';
import type { FfmpegInfo } from '../broadcaster/ffmpeg.js';
import { streamSealer } from '../broadcaster/stream-sealer.js';
import { SystemClock } from '../common/clock.js';
import { DEFAULTS } from '../common/defaults.js';
import { errorMessage, SwarmcastError } from '../common/errors.js';
import { Emitter } from '../common/events.js';
import type { Logger, LogLevel } from '../common/logger.js';
import { CryptoRandom } from '../common/random.js';
import { generateSigningKeyPair, keyPairSigner, publicKeyToBase64Url } from '../crypto/keys.js';
import { loadMonitorBundle } from '../monitor/bundle.node.js';
import type {
  AttackRequest,
  AttackStatus,
  FailureInjection,
  FailureSetting,
  PolluterStatus,
} from '../monitor/messages.js';
import { OriginStore } from '../origin/store.js';
import { OriginServer } from '../origin/server.js';
import type { PeerCore, PeerStats } from '../peer/core.js';
import { createNodePeer } from '../peer/peer.node.js';
import type { Chunk } from '../protocol/chunk.js';
import type { StreamInfo, StreamIntegrity, TopologyKind } from '../protocol/tracker.js';
import type { AdmissionOptions } from '../tracker/admission.js';
import { TrackerServer } from '../tracker/server.js';
import type { TrackerSnapshot } from '../tracker/core/tracker-core.js';
import type { AttackMode } from './attacks.js';
import { failureSequence, type ScheduledFailure } from './failures.js';
import { ADMISSION_ENV } from '../cli/options.js';
import {
  isPeerAuditReport,
  isPeerProcessReport,
  type PeerAuditReport,
  type PeerProcessReport,
  type StopRequest,
} from './ipc.js';
import { topologyOrder, victimCandidates } from './mio.js';

export interface LocalSwarmOptions {
  /** Viewer processes to run. @default DEFAULTS.peers */
  peers: number;
  /** @default DEFAULTS.streamId */
  stream: string;
  /** 'synthetic', a file path or an ffmpeg input URL. @default 'synthetic' */
  source: string;
  /** Address every server binds to and WebRTC gathers on. @default '127.0.0.1' */
  host: string;
  /** Origin HTTP port (0 picks a free one). @default 0 */
  originPort: number;
  /** Tracker WebSocket port (0 picks a free one). @default 0 */
  trackerPort: number;
  width: number;
  height: number;
  fps: number;
  videoKbps: number;
  /** @default DEFAULTS.chunkDurationMs */
  chunkDurationMs: number;
  /** @default DEFAULTS.segmentDurationMs */
  segmentDurationMs: number;
  /** @default DEFAULTS.targetLatencyMs */
  targetLatencyMs: number;
  /** The overlay's shape. @default 'tree' */
  topology: TopologyKind;
  /** Stripes of the tree (2 or more: a multi-tree). @default DEFAULTS.treeStripes */
  treeStripes: number;
  /** Children of the broadcaster in the tree (in each stripe's). @default DEFAULTS.rootFanout */
  rootFanout: number;
  /** Log level of the peer processes. @default 'warn' */
  peerLogLevel: LogLevel;
  /** Pause between two peer starts, so they do not all start in the same instant. @default 200 */
  peerStartIntervalMs: number;
  /** Which viewers the tracker admits. @default { mode: 'open' } */
  admission: AdmissionOptions;
  /**
   * What the viewer processes present to the tracker (a JWT in `jwt` mode).
   * @default the join secret in `secret` mode, else nothing
   */
  viewerAdmission?: string;
  /** How chunks are authenticated. @default Ed25519 signatures on every chunk */
  integrity?: StreamIntegrity;
  /**
   * Polluters started before the honest viewers (`startAttack`, one `peerStartIntervalMs`
   * apart), which start once the polluters have joined the tracker (or after 30 s): the
   * polluters then sit next to the broadcaster in the overlay, where they relay to the others.
   * @default none
   */
  attackFirst?: AttackRequest;
  /**
   * The honest viewers report what they verify and send (`swarmcast peer --audit`, the
   * `peer:audit` event). @default false
   */
  audit: boolean;
}

export const LOCAL_SWARM_DEFAULTS: LocalSwarmOptions = {
  peers: DEFAULTS.peers,
  stream: DEFAULTS.streamId,
  source: 'synthetic',
  host: '127.0.0.1',
  originPort: 0,
  trackerPort: 0,
  width: DEFAULTS.synthetic.width,
  height: DEFAULTS.synthetic.height,
  fps: DEFAULTS.synthetic.fps,
  videoKbps: DEFAULTS.synthetic.videoKbps,
  chunkDurationMs: DEFAULTS.chunkDurationMs,
  segmentDurationMs: DEFAULTS.segmentDurationMs,
  targetLatencyMs: DEFAULTS.targetLatencyMs,
  topology: 'tree',
  treeStripes: DEFAULTS.treeStripes,
  rootFanout: DEFAULTS.rootFanout,
  peerLogLevel: 'warn',
  peerStartIntervalMs: 200,
  admission: { mode: 'open' },
  audit: false,
};

export interface LocalSwarmEvents {
  /** The broadcaster failed (ffmpeg died, bad input): the swarm cannot go on. */
  'swarm:error': { error: SwarmcastError };
  /** A peer process exited (asked to, killed, or crashed). */
  'peer:exit': { index: number; code: number | null; signal: string | null };
  /** The tracker removed a peer (evicted, cut for abuse, silent too long: `TrackerEvents`). */
  'peer:removed': { peerId: string; reason: string };
  /** The broadcaster published a chunk (to the origin and into the overlay). */
  'chunk:published': { chunk: Chunk };
  /** An honest viewer's chunks verified and sent since its previous audit (`audit` option). */
  'peer:audit': { index: number; audit: PeerAuditReport };
}

export interface LocalSwarmUrls {
  readonly mpdUrl: string;
  readonly originUrl: string;
  readonly trackerUrl: string;
  /** The viewer page: the stream in a browser that joins the swarm. */
  readonly viewerUrl: string;
  /** The monitor page on the tracker's port: the overlay, QoE, origin charts, kill control. */
  readonly monitorUrl: string;
  readonly ffmpeg: FfmpegInfo;
}

/** One peer process as the runner knows it. */
export interface PeerProcessView {
  readonly index: number;
  readonly pid: number | undefined;
  readonly alive: boolean;
  /** Its latest report (the final one once it stopped), if any arrived. */
  readonly report: PeerProcessReport | undefined;
}

/** A polluting viewer process (`startAttack`): its process and what became of it. */
export interface PolluterProcessView extends PeerProcessView, PolluterStatus {
  /** Wall-clock time (ms since the epoch) the tracker removed it; null if it did not. */
  readonly removedAtMs: number | null;
}

export interface LocalSwarmSummary {
  readonly durationMs: number;
  /** The honest viewer processes (polluters are apart: `LocalSwarmResult`). */
  readonly peers: readonly PeerProcessView[];
  /** The broadcaster's node in the overlay; null if it never started. */
  readonly broadcaster: PeerStats | null;
  /** Bytes of media (segments, init, chunks) the origin sent. */
  readonly originBytesSent: number;
  readonly chunksPublished: number;
}

/** What `stop()` returns: the summary, and the polluting processes (`startAttack`) apart. */
export interface LocalSwarmResult extends LocalSwarmSummary {
  readonly polluters: readonly PolluterProcessView[];
}

/** What `replacePeer` did, by process index. */
export interface PeerReplacement {
  readonly killed: number;
  /** The new peer's index; undefined when the swarm was stopping. */
  readonly replacement: number | undefined;
}

/** What `replaceAt` did. */
export interface VictimReplacement {
  readonly replaced: PeerReplacement;
  /** The drawn victim was not known yet: the nearest known viewer in the order was failed. */
  readonly moved: boolean;
}

interface PeerProcess {
  readonly index: number;
  readonly child: ChildProcess;
  alive: boolean;
  report: PeerProcessReport | undefined;
  readonly exited: Promise<void>;
}

interface PolluterProcess extends PeerProcess {
  readonly mode: AttackMode;
}

/** The longest the honest viewers wait for the polluters of `attackFirst` to join. */
const ATTACK_FIRST_JOIN_TIMEOUT_MS = 30_000;
const ATTACK_FIRST_POLL_MS = 100;
/** How long a peer gets to send its final report before it is killed. */
const PEER_STOP_TIMEOUT_MS = 5000;

export class LocalSwarm {
  readonly #log: Logger;
  readonly #o: LocalSwarmOptions;
  readonly #events: Emitter<LocalSwarmEvents>;
  readonly #peers: PeerProcess[] = [];
  readonly #polluters: PolluterProcess[] = [];
  /** Peers whose connection the tracker closed itself, with when and why. */
  readonly #removed = new Map<string, { atMs: number; reason: string }>();
  #origin: OriginServer | undefined;
  #tracker: TrackerServer | undefined;
  #broadcaster: Broadcaster | undefined;
  #root: PeerCore | undefined;
  #urls: LocalSwarmUrls | undefined;
  #startedAt = 0;
  #chunks = 0;
  #state: 'new' | 'running' | 'stopped' = 'new';
  #failures: FailureInjection = { rate: 0, distribution: 'uniform', injected: 0 };
  #stopFailures: (() => void) | undefined;

  constructor(components: { logger: Logger }, options: Partial<LocalSwarmOptions> = {}) {
    this.#log = components.logger;
    this.#o = { ...LOCAL_SWARM_DEFAULTS, ...options };
    this.#events = new Emitter(this.#log);
  }

  on<K extends keyof LocalSwarmEvents>(
    event: K,
    listener: (payload: LocalSwarmEvents[K]) => void,
  ): () => void {
    return this.#events.on(event, listener);
  }

  get urls(): LocalSwarmUrls | undefined {
    return this.#urls;
  }

  /** Starts the origin, the tracker and the broadcaster; `onUp` gets the URLs as soon as they exist. */
  async start(onUp?: (urls: Omit<LocalSwarmUrls, 'ffmpeg'>) => void): Promise<LocalSwarmUrls> {
    if (this.#state !== 'new') throw new SwarmcastError('invalid-state', 'swarm already started');
    this.#state = 'running';
    this.#startedAt = Date.now();
    const o = this.#o;
    const clock = new SystemClock();
    // The broadcaster's chunk-signing key is also its identity at the tracker, registered there.
    const keys = await generateSigningKeyPair();
    this.#tracker = new TrackerServer(
      { logger: this.#log.child('tracker') },
      {
        host: o.host,
        port: o.trackerPort,
        broadcasters: [{ publicKey: publicKeyToBase64Url(keys), stream: o.stream }],
        admission: o.admission,
        treeStripes: o.treeStripes,
        rootFanout: o.rootFanout,
        monitor: {
          bundle: await loadMonitorBundle(),
          stats: () => ({
            originBytesSent: this.originBytesSent(),
            broadcasterBytesUploaded: this.#root?.stats().bytesUploaded ?? 0,
          }),
          kill: (peerId) => this.replacePeer(peerId) !== undefined,
          failures: {
            set: (setting) => this.injectFailures(setting),
            status: () => this.#failures,
          },
          attack: {
            start: (request) => this.startAttack(request),
            status: () => this.attackStatus(),
          },
        },
      },
    );
    this.#tracker.on('peer:removed', ({ peerId, reason }) => {
      this.#removed.set(peerId, { atMs: Date.now(), reason });
      this.#events.emit('peer:removed', { peerId, reason });
    });
    const trackerUrl = await this.#tracker.listen();
    const monitorUrl = this.#tracker.monitorUrl;
    if (monitorUrl === undefined) throw new SwarmcastError('invalid-state', 'no monitor URL');
    const store = new OriginStore({ clock, logger: this.#log.child('origin') });
    this.#origin = new OriginServer(
      { store, clock, logger: this.#log.child('origin') },
      { viewer: { trackerUrl, script: await loadViewerBundle() } },
    );
    const originUrl = await this.#origin.listen({ host: o.host, port: o.originPort });
    const mpdUrl = `${originUrl}/live/${o.stream}/manifest.mpd`;
    const viewerUrl = `${originUrl}/watch/${o.stream}`;
    onUp?.({ mpdUrl, originUrl, trackerUrl, viewerUrl, monitorUrl });

    const info: StreamInfo = {
      stream: o.stream,
      publicKey: publicKeyToBase64Url(keys),
      chunkDurationMs: o.chunkDurationMs,
      segmentDurationMs: o.segmentDurationMs,
      originUrl,
      bitrateKbps: o.videoKbps + DEFAULTS.synthetic.audioKbps,
      ...(o.integrity === undefined ? {} : { integrity: o.integrity }),
      // ffmpeg starts after this: every chunk is captured later.
      epochMs: clock.now(),
    };
    const originStream = store.createStream({
      stream: o.stream,
      publicKey: info.publicKey,
      chunkDurationMs: o.chunkDurationMs,
      segmentDurationMs: o.segmentDurationMs,
      ...(o.integrity === undefined ? {} : { integrity: o.integrity }),
    });
    const root = createNodePeer(
      { logger: this.#log.child('root'), identity: keyPairSigner(keys) },
      {
        stream: o.stream,
        role: 'broadcaster',
        info,
        topology: o.topology,
        trackerUrl,
        rtc: { bindAddress: o.host },
      },
    );
    this.#root = root;
    // An HMAC stream's key comes from the tracker when the root joins: ffmpeg starts after.
    const seal = streamSealer(root, info, keys.privateKey, clock);
    root.start();
    const broadcaster = new Broadcaster(
      { clock, logger: this.#log.child('broadcaster') },
      {
        stream: o.stream,
        source: o.source,
        keys,
        seal: await seal,
        width: o.width,
        height: o.height,
        fps: o.fps,
        videoKbps: o.videoKbps,
        chunkDurationMs: o.chunkDurationMs,
        segmentDurationMs: o.segmentDurationMs,
      },
    );
    this.#broadcaster = broadcaster;
    broadcaster.on('init', ({ init }) => {
      originStream.setInit(init);
    });
    broadcaster.on('chunk', ({ chunk }) => {
      this.#chunks++;
      try {
        originStream.addChunk(chunk);
      } catch (error) {
        this.#log.warn('origin refused a chunk', { seq: chunk.seq, error: errorMessage(error) });
      }
      root.publish(chunk);
      this.#events.emit('chunk:published', { chunk });
    });
    broadcaster.on('error', ({ error }) => {
      this.#events.emit('swarm:error', { error });
    });
    const { ffmpeg } = await broadcaster.start();
    this.#urls = { mpdUrl, originUrl, trackerUrl, viewerUrl, monitorUrl, ffmpeg };
    const pause = (): Promise<unknown> =>
      new Promise((resolve) => setTimeout(resolve, o.peerStartIntervalMs));
    const first = o.attackFirst;
    if (first !== undefined) {
      for (let i = 0; i < first.polluters && this.#isRunning(); i++) {
        this.startAttack({ mode: first.mode, polluters: 1 });
        await pause();
      }
      // Processes start at their own pace: the honest ones start once the polluters joined.
      const joinBy = performance.now() + ATTACK_FIRST_JOIN_TIMEOUT_MS;
      while (
        this.#isRunning() &&
        performance.now() < joinBy &&
        this.#polluters.some((p) => p.alive && p.report?.stats.peerId == null)
      ) {
        await new Promise((resolve) => setTimeout(resolve, ATTACK_FIRST_POLL_MS));
      }
    }
    for (let i = 0; i < o.peers; i++) {
      // stop() may have been called while we waited.
      if (!this.#isRunning()) break;
      this.spawnPeer();
      await pause();
    }
    return this.#urls;
  }

  #isRunning(): boolean {
    return this.#state === 'running';
  }

  /** Starts one more viewer process; returns its index. */
  spawnPeer(): number {
    const index = this.#peers.length;
    const peer = this.#fork(
      index,
      String(index),
      this.#o.audit ? ['--audit'] : [],
      (code, signal) => {
        this.#events.emit('peer:exit', { index, code, signal });
      },
    );
    peer.child.on('message', (message) => {
      if (isPeerAuditReport(message)) this.#events.emit('peer:audit', { index, audit: message });
    });
    this.#peers.push(peer);
    return index;
  }

  /**
   * Starts `polluters` more viewer processes that attack in `mode` (`swarmcast peer --attack`).
   * They count apart from the honest viewers (`polluters()`, the summary's `polluters`) and stop
   * with the swarm. At most half as many polluters as viewers (`peers`) may be alive at once.
   */
  startAttack(request: AttackRequest): AttackStatus {
    const { mode, polluters } = request;
    if (!Number.isInteger(polluters) || polluters < 1) {
      throw new SwarmcastError('invalid-argument', 'polluters must be a positive integer');
    }
    const max = this.#maxPolluters();
    const alive = this.#polluters.filter((p) => p.alive).length;
    if (alive + polluters > max) {
      throw new SwarmcastError(
        'invalid-argument',
        `at most ${String(max)} polluters (half the ${String(this.#o.peers)} viewers) may run at once; ${String(alive)} already do`,
      );
    }
    for (let i = 0; i < polluters; i++) {
      const index = this.#polluters.length;
      const peer = this.#fork(index, `polluter-${String(index)}`, ['--attack', mode]);
      this.#polluters.push(Object.assign(peer, { mode }));
    }
    this.#log.info('attack started', { mode, polluters });
    return this.attackStatus();
  }

  #maxPolluters(): number {
    return Math.floor(this.#o.peers / 2);
  }

  /** The polluting processes and what became of each (evicted when, after what). */
  polluters(): PolluterProcessView[] {
    return this.#polluters.map((p) => {
      const peerId = p.report?.stats.peerId ?? null;
      const activity = p.report?.attack;
      const removed = peerId === null ? undefined : this.#removed.get(peerId);
      const firstHarmfulAtMs = activity?.firstHarmfulAtMs ?? null;
      return {
        index: p.index,
        pid: p.child.pid,
        alive: p.alive,
        report: p.report,
        peerId,
        mode: p.mode,
        harmful: activity?.harmful ?? 0,
        removedReason: removed?.reason ?? null,
        removedAtMs: removed?.atMs ?? null,
        evictionMs:
          removed === undefined || firstHarmfulAtMs === null
            ? null
            : removed.atMs - firstHarmfulAtMs,
      };
    });
  }

  /** What the monitor shows of the attacks. */
  attackStatus(): AttackStatus {
    return {
      maxPolluters: this.#maxPolluters(),
      polluters: this.polluters().map(
        ({ peerId, mode, alive, harmful, removedReason, evictionMs }) => ({
          peerId,
          mode,
          alive,
          harmful,
          removedReason,
          evictionMs,
        }),
      ),
    };
  }

  /** Forks a viewer process named `name` (in log lines) with `extraArgs`. */
  #fork(
    index: number,
    name: string,
    extraArgs: readonly string[],
    onExit?: (code: number | null, signal: string | null) => void,
  ): PeerProcess {
    const urls = this.#urls;
    if (urls === undefined || this.#state !== 'running') {
      throw new SwarmcastError('invalid-state', 'the swarm is not running');
    }
    const { entry, execArgv } = cliEntry();
    const admission =
      this.#o.viewerAdmission ??
      (this.#o.admission.mode === 'secret' ? this.#o.admission.secret : undefined);
    const child = fork(
      entry,
      [
        'peer',
        '--tracker',
        urls.trackerUrl,
        '--origin',
        urls.originUrl,
        '--stream',
        this.#o.stream,
        '--bind-address',
        this.#o.host,
        '--target-latency',
        String(this.#o.targetLatencyMs),
        '--log-level',
        this.#o.peerLogLevel,
        '--name',
        name,
        ...extraArgs,
      ],
      {
        execArgv,
        stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
        // In the environment, not the arguments: other users of the machine see arguments.
        env: admission === undefined ? process.env : { ...process.env, [ADMISSION_ENV]: admission },
      },
    );
    let resolveExit: () => void = () => undefined;
    const exited = new Promise<void>((resolve) => {
      resolveExit = resolve;
    });
    const peer: PeerProcess = { index, child, alive: true, report: undefined, exited };
    child.on('message', (message) => {
      if (isPeerProcessReport(message)) peer.report = message;
    });
    child.on('exit', (code, signal) => {
      peer.alive = false;
      resolveExit();
      onExit?.(code, signal);
    });
    child.on('error', (error) => {
      this.#log.warn('peer process error', { peer: name, error: error.message });
    });
    return peer;
  }

  /** Kills a peer process at once (SIGKILL), as a crash would. */
  killPeer(index: number): void {
    const peer = this.#peers[index];
    if (peer === undefined) throw new RangeError(`no peer ${index}`);
    if (peer.alive) peer.child.kill('SIGKILL');
  }

  /**
   * A failure as MioStream induces it (and the monitor's kill): SIGKILLs the running process whose
   * tracker id is `peerId` and starts a new peer in its place. Undefined when no running process
   * is known by that id (it has not reported yet, or is gone).
   */
  replacePeer(peerId: string): PeerReplacement | undefined {
    const peer = this.#peers.find((p) => p.alive && p.report?.stats.peerId === peerId);
    if (peer === undefined) return undefined;
    this.killPeer(peer.index);
    return {
      killed: peer.index,
      replacement: this.#isRunning() ? this.spawnPeer() : undefined,
    };
  }

  /**
   * Fails the viewer at `position` (drawn over `viewers`) in the tracker's topology order, or the
   * nearest one whose process is known: a viewer is known once it has reported its tracker id, in
   * its first second. While replacements are still starting the order is shorter than `viewers`:
   * the position is scaled to it, where clipping would make the newest viewer the victim of every
   * position past the end. Undefined when no viewer in the order has a known process.
   */
  replaceAt(position: number, viewers: number): VictimReplacement | undefined {
    const snapshot = this.snapshot();
    if (snapshot === undefined) return undefined;
    const order = topologyOrder(snapshot);
    const scaled =
      order.length < viewers ? Math.floor((position * order.length) / viewers) : position;
    for (const [i, id] of victimCandidates(order, scaled).entries()) {
      const replaced = this.replacePeer(id);
      if (replaced !== undefined) return { replaced, moved: i > 0 };
    }
    return undefined;
  }

  /**
   * Fails viewers as the MioStream lab does, until the next setting or `stop()`: `rate` failures
   * per second, evenly spaced, each victim drawn by position (over the swarm's size) from
   * `distribution` (`failureSequence`) and replaced by `replaceAt`. Rate 0 stops. Returns the new
   * state; `injected` counts over every setting.
   */
  injectFailures(setting: FailureSetting): FailureInjection {
    if (!this.#isRunning()) throw new SwarmcastError('invalid-state', 'the swarm is not running');
    const viewers = this.#o.peers;
    const sequence = failureSequence(new CryptoRandom(), {
      ratePerS: setting.rate,
      startMs: 0,
      endMs: Number.POSITIVE_INFINITY,
      viewers,
      distribution: setting.distribution,
    });
    // The first draw checks the setting before the previous one is dropped.
    const first = sequence.next();
    this.#stopFailures?.();
    this.#failures = { ...setting, injected: this.#failures.injected };
    const startedAt = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const arm = (next: IteratorResult<ScheduledFailure>): void => {
      if (next.done === true) return;
      const { atMs, position } = next.value;
      timer = setTimeout(
        () => {
          try {
            if (this.replaceAt(position, viewers) !== undefined) {
              this.#failures = { ...this.#failures, injected: this.#failures.injected + 1 };
            }
          } catch (error) {
            this.#log.warn('failure injection could not replace a viewer', {
              error: errorMessage(error),
            });
          }
          arm(sequence.next());
        },
        Math.max(0, startedAt + atMs - performance.now()),
      );
    };
    arm(first);
    this.#stopFailures = () => {
      clearTimeout(timer);
    };
    this.#log.info('failure injection', { ...setting });
    return this.#failures;
  }

  peers(): PeerProcessView[] {
    return this.#peers.map((p) => ({
      index: p.index,
      pid: p.child.pid,
      alive: p.alive,
      report: p.report,
    }));
  }

  /** The tracker's view of the overlay. */
  snapshot(): TrackerSnapshot | undefined {
    return this.#tracker?.core.snapshot();
  }

  broadcasterStats(): PeerStats | undefined {
    return this.#root?.stats();
  }

  /** Bytes of media the origin has sent so far. */
  originBytesSent(): number {
    return this.#origin?.stats.totalBytes ?? 0;
  }

  /** Ends the source: no new chunks enter the overlay; peers and servers keep running. */
  async stopBroadcaster(): Promise<void> {
    await this.#broadcaster?.stop();
  }

  /** Stops every peer (collecting final reports), the broadcaster and the servers. Idempotent. */
  async stop(): Promise<LocalSwarmResult> {
    const wasRunning = this.#state === 'running';
    this.#state = 'stopped';
    this.#stopFailures?.();
    this.#failures = { ...this.#failures, rate: 0 };
    if (wasRunning) {
      await Promise.all([...this.#peers, ...this.#polluters].map((p) => stopPeer(p)));
      await this.#broadcaster?.stop();
    }
    const broadcaster = this.#root?.stats();
    this.#root?.stop();
    await this.#tracker?.close();
    await this.#origin?.close();
    return {
      durationMs: Date.now() - this.#startedAt,
      peers: this.peers(),
      polluters: this.polluters(),
      broadcaster: broadcaster ?? null,
      originBytesSent: this.originBytesSent(),
      chunksPublished: this.#chunks,
    };
  }
}

async function stopPeer(peer: PeerProcess): Promise<void> {
  if (!peer.alive) return;
  const stop: StopRequest = { type: 'stop' };
  try {
    peer.child.send(stop);
  } catch {
    peer.child.kill('SIGKILL');
  }
  const timer = setTimeout(() => peer.child.kill('SIGKILL'), PEER_STOP_TIMEOUT_MS);
  await peer.exited;
  clearTimeout(timer);
}

/** The CLI entry to fork peers from: the TypeScript source under tsx, or the built JavaScript. */
function cliEntry(): { entry: string; execArgv: string[] } {
  const fromSource = import.meta.url.endsWith('.ts');
  const entry = fileURLToPath(new URL(`../cli/index.${fromSource ? 'ts' : 'js'}`, import.meta.url));
  return { entry, execArgv: fromSource ? ['--import', import.meta.resolve('tsx')] : [] };
}
