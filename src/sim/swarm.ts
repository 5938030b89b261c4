/**
 * A whole live stream in the simulator: the production tracker and peer cores on a virtual clock,
 * over the simulated network. One tracker, one origin, one broadcaster (a synthetic source
 * publishing into a broadcaster `PeerCore` and the origin) and N viewers with given capacities,
 * latencies and join times. Viewers can be failed abruptly at any virtual time and replaced by new
 * ones, which is what failure-injection schedules build on.
 */
import { DEFAULTS } from '../common/defaults.js';
import { InvalidStateError, SwarmcastError } from '../common/errors.js';
import { silentLogger, type Logger } from '../common/logger.js';
import type { SeededRandom } from '../common/random.js';
import type { ChunkVerifier } from '../crypto/chunk-signing.js';
import type { SyncSigner } from '../crypto/keys.js';
import { PEER_DEFAULTS, PeerCore, type PeerOptions, type PeerStats } from '../peer/core.js';
import { CHUNK_META_BYTES, type Chunk } from '../protocol/chunk.js';
import type { StreamInfo } from '../protocol/tracker.js';
import type { TrackerSnapshot } from '../tracker/core/tracker-core.js';
import type { TrackerOptions } from '../tracker/core/tracker-core.js';
import type { PeerTransportFactory, TrackerConnectionFactory } from '../transport/types.js';
import { SimEngine } from './engine.js';
import {
  MemoryTransport,
  MEMORY_TRANSPORT_DEFAULTS,
  sharedFrameDecoder,
} from './memory-transport.js';
import { SimNetwork, type SimNodeCounters, type SimNodeOptions } from './network.js';
import { SimOrigin } from './origin.js';
import { SimSource, simVerifier } from './source.js';
import { simSignatureCheck, simSigner } from './keys.js';
import { SimTracker, type SimTrackerCounters } from './tracker-link.js';

export interface SimSwarmOptions {
  /** Seed of every random draw of the run. */
  seed: number;
  /** Viewers that join at the start (more can be added). @default DEFAULTS.peers */
  peers: number;
  /** Virtual time the run lasts, from the broadcaster's start. @default 60000 */
  durationMs: number;
  /** @default DEFAULTS.streamId */
  stream: string;
  /** Mean bitrate of the synthetic stream. @default DEFAULTS.synthetic.videoKbps */
  bitrateKbps: number;
  /** @default DEFAULTS.chunkDurationMs */
  chunkDurationMs: number;
  /** @default DEFAULTS.segmentDurationMs */
  segmentDurationMs: number;
  /** Viewers' upload capacity (PRIVA-STREAM's set-up). @default 2000 */
  viewerUploadKbps: number;
  /** Viewers' download capacity. @default 10000 */
  viewerDownloadKbps: number;
  /** Viewers' access latency is drawn uniformly from this range; a link adds both ends'. @default 5 */
  minLatencyMs: number;
  /** @default 25 */
  maxLatencyMs: number;
  /** Probability that a message to or from a viewer needs a retransmission. @default 0 */
  lossRate: number;
  /** Upload capacity of the origin and of the broadcaster's node. @default 10000 */
  serverUploadKbps: number;
  /** Access latency of the tracker, origin and broadcaster nodes. @default 5 */
  serverLatencyMs: number;
  /** The first initial viewer joins this long after the broadcaster starts. @default 1000 */
  joinStartMs: number;
  /** Initial viewers join at times drawn uniformly over this window. @default 10000 */
  joinWindowMs: number;
  /** Seconds of stream the origin keeps. @default DEFAULTS.originWindowMs */
  originWindowMs: number;
  /** Round trips from answer to open link. @default MEMORY_TRANSPORT_DEFAULTS.connectRtts */
  connectRtts: number;
  /** @default MEMORY_TRANSPORT_DEFAULTS.connectTimeoutMs */
  connectTimeoutMs: number;
  /** Overrides of viewer `index`'s node (capacities, latency, loss). */
  viewerNode?: (index: number) => Partial<SimNodeOptions>;
  /** Tracker options (topology, fanouts, heartbeats). */
  tracker?: TrackerOptions;
  /** Peer core options for every viewer, over `PEER_DEFAULTS`. */
  peer?: Partial<Omit<PeerOptions, 'stream' | 'role' | 'info' | 'uploadKbps'>>;
  /** Wraps viewer `index`'s transport (attack modes, observers of what it sends). */
  viewerTransport?: (index: number, factory: PeerTransportFactory) => PeerTransportFactory;
  /** Wraps viewer `index`'s tracker connection. */
  viewerTracker?: (index: number, factory: TrackerConnectionFactory) => TrackerConnectionFactory;
  /** Told of every chunk the source publishes (what a lab checks peers' chunks against). */
  onPublish?: (chunk: Chunk) => void;
}

export const SIM_SWARM_DEFAULTS: Omit<SimSwarmOptions, 'seed'> = {
  peers: DEFAULTS.peers,
  durationMs: 60_000,
  stream: DEFAULTS.streamId,
  bitrateKbps: DEFAULTS.synthetic.videoKbps,
  chunkDurationMs: DEFAULTS.chunkDurationMs,
  segmentDurationMs: DEFAULTS.segmentDurationMs,
  viewerUploadKbps: 2000,
  viewerDownloadKbps: 10_000,
  minLatencyMs: 5,
  maxLatencyMs: 25,
  lossRate: 0,
  serverUploadKbps: 10_000,
  serverLatencyMs: 5,
  joinStartMs: 1000,
  joinWindowMs: 10_000,
  originWindowMs: DEFAULTS.originWindowMs,
  connectRtts: MEMORY_TRANSPORT_DEFAULTS.connectRtts,
  connectTimeoutMs: MEMORY_TRANSPORT_DEFAULTS.connectTimeoutMs,
};

/** One viewer in the summary. */
export interface SimPeerSummary {
  readonly index: number;
  readonly nodeId: string;
  readonly node: SimNodeOptions;
  readonly joinedAtMs: number;
  /** When it was failed; null if it ran to the end. */
  readonly failedAtMs: number | null;
  /** Its counters at the end of the run, or when it failed. */
  readonly stats: PeerStats;
  readonly network: SimNodeCounters;
}

export interface SimSummary {
  readonly seed: number;
  readonly durationMs: number;
  readonly chunksPublished: number;
  readonly peers: readonly SimPeerSummary[];
  readonly broadcaster: PeerStats;
  readonly broadcasterNetwork: SimNodeCounters;
  /** Chunk bytes the origin sent to viewers. */
  readonly originBytesSent: number;
  readonly originChunksServed: number;
  readonly originNetwork: SimNodeCounters;
  readonly tracker: SimTrackerCounters;
  /** Timers the engine fired and instants at which it let promises settle. */
  readonly events: number;
  readonly drains: number;
}

interface Viewer {
  readonly index: number;
  readonly nodeId: string;
  readonly node: SimNodeOptions;
  readonly core: PeerCore;
  readonly joinedAtMs: number;
  transport: MemoryTransport | undefined;
  failedAtMs: number | null;
  finalStats: PeerStats | undefined;
}

const TRACKER_NODE = 'tracker';
const ORIGIN_NODE = 'origin';
const BROADCASTER_NODE = 'broadcaster';

export class SimSwarm {
  readonly engine: SimEngine;
  readonly network: SimNetwork;
  readonly tracker: SimTracker;
  readonly origin: SimOrigin;
  readonly source: SimSource;
  readonly #o: SimSwarmOptions;
  readonly #log: Logger;
  readonly #random: SeededRandom;
  /** Draws when a replacement joins (see `#fail`). */
  readonly #rejoin: SeededRandom;
  readonly #viewers = new Map<number, Viewer>();
  #nextIndex = 0;
  readonly #broadcaster: PeerCore;
  readonly #info: StreamInfo;
  readonly #tagKey: number;
  /** One for every peer, so that each public key is parsed once. */
  readonly #checkSignature = simSignatureCheck(() => {
    this.engine.markAsync();
  });
  /** One for every peer: each message is decoded once, however many peers it reaches. */
  readonly #decodeFrame = sharedFrameDecoder();
  #state: 'new' | 'running' | 'done' = 'new';

  constructor(
    components: { logger?: Logger },
    options: Partial<SimSwarmOptions> & { seed: number },
  ) {
    const o: SimSwarmOptions = { ...SIM_SWARM_DEFAULTS, ...options };
    if (!Number.isInteger(o.peers) || o.peers < 0) throw new TypeError('peers must be ≥ 0');
    if (!(o.durationMs > 0)) throw new TypeError('durationMs must be positive');
    if (!(o.minLatencyMs >= 0 && o.maxLatencyMs >= o.minLatencyMs)) {
      throw new TypeError('latency range is empty or negative');
    }
    this.#o = o;
    this.#log = components.logger ?? silentLogger;
    this.engine = new SimEngine({ seed: o.seed });
    const clock = this.engine.clock;
    this.#random = this.engine.random('swarm');
    this.#rejoin = this.engine.random('rejoin');
    this.#tagKey = this.#random.int(0x1_0000_0000);
    this.network = new SimNetwork({ clock, random: this.engine.random('network') });
    const server = (uploadKbps: number): SimNodeOptions => ({
      uploadKbps,
      downloadKbps: Infinity,
      latencyMs: o.serverLatencyMs,
    });
    this.network.addNode(TRACKER_NODE, server(Infinity));
    this.network.addNode(ORIGIN_NODE, server(o.serverUploadKbps));
    this.network.addNode(BROADCASTER_NODE, server(o.serverUploadKbps));
    const broadcasterKey = this.#signer('broadcaster');
    this.tracker = new SimTracker(
      {
        network: this.network,
        clock,
        random: this.engine.random('tracker'),
        logger: this.#log.child('tracker'),
        signer: this.#signer('tracker'),
      },
      {
        ...o.tracker,
        nodeId: TRACKER_NODE,
        broadcasters: [{ publicKey: broadcasterKey.publicKey }],
      },
    );
    this.origin = new SimOrigin(
      {
        network: this.network,
        onSettle: () => {
          this.engine.markAsync();
        },
      },
      { nodeId: ORIGIN_NODE, windowChunks: Math.ceil(o.originWindowMs / o.chunkDurationMs) },
    );
    this.source = new SimSource(
      { clock, random: this.engine.random('source') },
      {
        bitrateKbps: o.bitrateKbps,
        chunkDurationMs: o.chunkDurationMs,
        segmentDurationMs: o.segmentDurationMs,
        tagKey: this.#tagKey,
      },
    );
    this.#info = {
      stream: o.stream,
      publicKey: 'simulated',
      chunkDurationMs: o.chunkDurationMs,
      segmentDurationMs: o.segmentDurationMs,
      bitrateKbps: o.bitrateKbps,
      originUrl: 'http://origin.sim/',
      // The source starts in `run()`, later: every chunk is captured after this.
      epochMs: clock.now(),
    };
    this.#broadcaster = new PeerCore(
      {
        clock,
        random: this.engine.random('broadcaster'),
        logger: this.#log.child('broadcaster'),
        transport: this.#transportFactory(BROADCASTER_NODE, () => undefined),
        tracker: this.tracker.connectionFactory(BROADCASTER_NODE),
        verifier: () => this.#verifier(),
        identity: broadcasterKey,
        checkSignature: this.#checkSignature,
        decodeFrame: this.#decodeFrame,
      },
      {
        ...PEER_DEFAULTS,
        stream: o.stream,
        role: 'broadcaster',
        info: this.#info,
        uploadKbps: o.serverUploadKbps,
      },
    );
    for (let i = 0; i < o.peers; i++) {
      this.addViewer(o.joinStartMs + this.#random.next() * o.joinWindowMs);
    }
  }

  /** Virtual time now. */
  get nowMs(): number {
    return this.engine.clock.now();
  }

  /**
   * Schedules a new viewer to join at `atMs` (now if in the past) on a node with the swarm's
   * default capacities, overridden by `options.viewerNode(index)` and then by `node`. Returns its
   * index.
   */
  addViewer(atMs: number, node: Partial<SimNodeOptions> = {}): number {
    const index = this.#nextIndex++;
    const o = this.#o;
    const spec: SimNodeOptions = {
      uploadKbps: o.viewerUploadKbps,
      downloadKbps: o.viewerDownloadKbps,
      latencyMs: o.minLatencyMs + this.#random.next() * (o.maxLatencyMs - o.minLatencyMs),
      lossRate: o.lossRate,
      ...o.viewerNode?.(index),
      ...node,
    };
    this.engine.clock.setTimeout(() => {
      this.#join(index, spec);
    }, atMs - this.nowMs);
    return index;
  }

  /**
   * Schedules viewer `index` to fail abruptly at `atMs`: its links close on the other ends one
   * round trip later, the tracker sees its connection drop one round trip later, and it sends
   * nothing more. With `replace`, a new viewer with the same node options joins within a
   * millisecond (the swarm keeps its size), and its index is passed to `onReplaced`.
   */
  failViewer(
    atMs: number,
    index: number,
    options: { replace?: boolean; onReplaced?: (index: number) => void } = {},
  ): void {
    this.engine.clock.setTimeout(() => {
      const replacement = this.#fail(index, options.replace === true);
      if (replacement !== undefined) options.onReplaced?.(replacement);
    }, atMs - this.nowMs);
  }

  /** Viewers that joined and have not failed, by index. */
  liveViewers(): number[] {
    return this.#sortedViewers()
      .filter((v) => v.failedAtMs === null)
      .map((v) => v.index);
  }

  /** The peer core of viewer `index` (for observing it; do not stop it by hand). */
  viewer(index: number): PeerCore {
    return this.#viewerAt(index).core;
  }

  snapshot(): TrackerSnapshot {
    return this.tracker.core.snapshot();
  }

  /**
   * Runs the stream for `durationMs` of virtual time and returns what every node measured. Once.
   */
  async run(): Promise<SimSummary> {
    if (this.#state !== 'new') throw new InvalidStateError('a swarm runs once');
    this.#state = 'running';
    const o = this.#o;
    this.#broadcaster.start();
    const ingest = this.network.pipe(BROADCASTER_NODE, ORIGIN_NODE);
    this.source.start((chunk) => {
      this.network.send(ingest, CHUNK_META_BYTES + chunk.byteLength, () => {
        this.origin.add(chunk);
      });
      o.onPublish?.(chunk);
      this.#broadcaster.publish(chunk);
    });
    const run = await this.engine.run(o.durationMs);
    const summary: SimSummary = {
      seed: o.seed,
      durationMs: o.durationMs,
      chunksPublished: this.source.chunks,
      peers: this.#sortedViewers().map((v) => ({
        index: v.index,
        nodeId: v.nodeId,
        node: v.node,
        joinedAtMs: v.joinedAtMs,
        failedAtMs: v.failedAtMs,
        stats: v.finalStats ?? v.core.stats(),
        network: this.network.node(v.nodeId).counters(),
      })),
      broadcaster: this.#broadcaster.stats(),
      broadcasterNetwork: this.network.node(BROADCASTER_NODE).counters(),
      originBytesSent: this.origin.bytesSent,
      originChunksServed: this.origin.chunksServed,
      originNetwork: this.network.node(ORIGIN_NODE).counters(),
      tracker: this.tracker.counters(),
      events: run.events,
      drains: run.drains,
    };
    // The run stays frozen at its end (nothing runs the clock any more), so `snapshot()` and the
    // cores can still be inspected; there is nothing to release.
    this.#state = 'done';
    return summary;
  }

  #join(index: number, node: SimNodeOptions): void {
    if (this.#state !== 'running') return;
    const wrap = <F>(hook: ((index: number, factory: F) => F) | undefined, factory: F): F =>
      hook === undefined ? factory : hook(index, factory);
    const nodeId = `v${index}`;
    this.network.addNode(nodeId, node);
    const viewer: Viewer = {
      index,
      nodeId,
      node,
      joinedAtMs: this.nowMs,
      transport: undefined,
      failedAtMs: null,
      finalStats: undefined,
      core: new PeerCore(
        {
          clock: this.engine.clock,
          random: this.engine.random(`viewer:${index}`),
          logger: this.#log.child(nodeId),
          transport: wrap(
            this.#o.viewerTransport,
            this.#transportFactory(nodeId, (transport) => {
              viewer.transport = transport;
            }),
          ),
          tracker: wrap(this.#o.viewerTracker, this.tracker.connectionFactory(nodeId)),
          origin: this.origin.client(nodeId),
          verifier: () => this.#verifier(),
          identity: this.#signer(`viewer:${index}`),
          checkSignature: this.#checkSignature,
          decodeFrame: this.#decodeFrame,
        },
        {
          ...PEER_DEFAULTS,
          ...this.#o.peer,
          stream: this.#o.stream,
          role: 'viewer',
          ...(Number.isFinite(node.uploadKbps) ? { uploadKbps: Math.round(node.uploadKbps) } : {}),
        },
      ),
    };
    this.#viewers.set(index, viewer);
    viewer.core.start();
  }

  #fail(index: number, replace: boolean): number | undefined {
    const viewer = this.#viewers.get(index);
    if (viewer?.failedAtMs !== null || this.#state !== 'running') {
      return undefined;
    }
    viewer.failedAtMs = this.nowMs;
    viewer.transport?.fail();
    this.tracker.fail(viewer.nodeId);
    viewer.finalStats = viewer.core.stats();
    // The transport and tracker connection are dead already: this only stops the core's timers.
    viewer.core.stop({ graceful: false });
    // The new viewer joins within a millisecond, at a random instant of it: failures come at
    // round times, and viewers that join on one grid of round times would tick at the same
    // instants, in an order that depends on when each set its timer (see `PeerCore.#scheduleTick`).
    return replace ? this.addViewer(this.nowMs + this.#rejoin.next(), viewer.node) : undefined;
  }

  #viewerAt(index: number): Viewer {
    const viewer = this.#viewers.get(index);
    if (viewer === undefined) throw new SwarmcastError('invalid-argument', `no viewer ${index}`);
    return viewer;
  }

  #verifier(): ChunkVerifier {
    return simVerifier(this.#tagKey);
  }

  /** A key pair from its own sub-stream of the seed, so drawing it shifts no other draw. */
  #signer(owner: string): SyncSigner {
    return simSigner(this.engine.random(`key:${owner}`), () => {
      this.engine.markAsync();
    });
  }

  #sortedViewers(): Viewer[] {
    return [...this.#viewers.values()].sort((a, b) => a.index - b.index);
  }

  #transportFactory(
    nodeId: string,
    onCreate: (transport: MemoryTransport) => void,
  ): (events: ConstructorParameters<typeof MemoryTransport>[2]) => MemoryTransport {
    return (events) => {
      const transport = new MemoryTransport(
        { network: this.network, logger: this.#log.child(`${nodeId}:transport`) },
        {
          nodeId,
          connectRtts: this.#o.connectRtts,
          connectTimeoutMs: this.#o.connectTimeoutMs,
        },
        events,
      );
      onCreate(transport);
      return transport;
    };
  }
}
