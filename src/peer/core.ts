/**
 * The peer: one viewer (or the broadcaster's node at the root of the overlay). Sans-IO: the clock,
 * randomness, the tracker connection, the WebRTC transport and the origin client are injected, so
 * the same code runs in Node, in browsers and in the simulator.
 *
 * A viewer joins through the tracker, opens links to the parents the tracker names, receives
 * pushed chunks, verifies each one before it stores, plays or relays it, relays to its children
 * with backpressure, pulls chunks that did not come (from a neighbour that holds them, else from
 * the origin when the playhead is close) and measures what its player experiences.
 */
import { every, type Clock, type TimerHandle } from '../common/clock.js';
import { DEFAULTS } from '../common/defaults.js';
import { errorMessage, InvalidStateError, SwarmcastError } from '../common/errors.js';
import { Emitter } from '../common/events.js';
import type { Logger } from '../common/logger.js';
import type { Random } from '../common/random.js';
import { TokenBucket } from '../common/token-bucket.js';
import { equalBytes, fromBase64Url, toBase64Url } from '../common/bytes.js';
import { streamVerifier } from '../crypto/chunk-integrity.js';
import type { ChunkVerifier, VerifierCounts } from '../crypto/chunk-signing.js';
import { verifyCredential } from '../crypto/credentials.js';
import { authMessage } from '../crypto/handshake.js';
import {
  generateSigningKeyPair,
  keyPairSigner,
  webCryptoSignatureCheck,
  type SignatureCheck,
  type Signer,
} from '../crypto/keys.js';
import type { Chunk, ChunkMeta } from '../protocol/chunk.js';
import {
  dataFrames,
  decodeFrame,
  encodeFrame,
  FrameType,
  headerOffset,
  HELD_BEFORE_CHUNKS,
  type Frame,
} from '../protocol/frames.js';
import {
  TRACKER_PROTOCOL_VERSION,
  type QoeSample,
  type ReportReason,
  type StreamInfo,
  type TopologyKind,
  type TrackerMessage,
} from '../protocol/tracker.js';
import type {
  Link,
  OriginClient,
  PeerTransport,
  PeerTransportFactory,
  TrackerConnection,
  TrackerConnectionFactory,
} from '../transport/types.js';
import { ChunkStore, seqsInHaveMap } from './chunk-store.js';
import { PeerLinkState, sameMessages, type ReceivedChunk } from './peer-link.js';
import { PlaybackModel, type PlaybackReport } from './playback.js';

export interface PeerComponents {
  clock: Clock;
  random: Random;
  logger: Logger;
  transport: PeerTransportFactory;
  tracker: TrackerConnectionFactory;
  /** Where a viewer fetches chunks no peer delivered in time. Unused by the broadcaster. */
  origin?: OriginClient;
  /**
   * Builds the verifier of a stream's chunks once the stream is known (`streamKey`: the HMAC key
   * from `joined`, for an `hmac-sha256` stream).
   * @default by the stream's scheme (`streamVerifier`): Ed25519 signatures, or HMAC on a share
   * `threshold` of the chunks drawn with `random`
   */
  verifier?: (info: StreamInfo, streamKey: string | undefined) => ChunkVerifier;
  /**
   * This peer's Ed25519 key: it answers the tracker's challenge (a broadcaster's must be a key
   * the operator registered). @default a fresh key pair made with WebCrypto when the tracker
   * connection opens
   */
  identity?: Signer;
  /**
   * Checks the tracker's signature on the credentials other peers present in HELLO.
   * @default WebCrypto (`webCryptoSignatureCheck()`)
   */
  checkSignature?: SignatureCheck;
  /**
   * What the viewer really sees, when a real player plays (a browser's video element): its
   * figures go into the heartbeats instead of the core's playback model.
   */
  player?: { report(): PlayerQoe };
  /**
   * Decodes the messages links deliver. @default `decodeFrame`; the simulator shares one frame
   * among the peers a message reaches (`sharedFrameDecoder`)
   */
  decodeFrame?: (message: Uint8Array) => Frame;
}

/** The playback figures a heartbeat carries. */
export type PlayerQoe = Pick<QoeSample, 'playing' | 'stalls' | 'stalledMs' | 'latencyMs'>;

export interface PeerOptions {
  stream: string;
  /** A viewer plays; the broadcaster's node only publishes and relays. @default 'viewer' */
  role: 'viewer' | 'broadcaster';
  /** The stream the broadcaster announces to the tracker (broadcaster only). */
  info?: StreamInfo;
  /** The overlay the broadcaster asks the tracker for (broadcaster only). @default the tracker's */
  topology?: TopologyKind;
  /** @default DEFAULTS.targetLatencyMs */
  targetLatencyMs: number;
  /** @default DEFAULTS.startBufferMs */
  startBufferMs: number;
  /** @default DEFAULTS.originFallbackMarginMs */
  originFallbackMarginMs: number;
  /** @default DEFAULTS.liveJumpAfterStallMs */
  liveJumpAfterStallMs: number;
  /** @default DEFAULTS.peerWindowMs */
  peerWindowMs: number;
  /** @default DEFAULTS.linkHighWaterBytes */
  linkHighWaterBytes: number;
  /** A request to a neighbour unanswered this long goes elsewhere. @default 1000 */
  requestTimeoutMs: number;
  /** How often the peer advances its player, and re-plans fetches if need be. @default 50 */
  tickMs: number;
  /**
   * Plan the fetches at every tick, not only when something may have changed since the last
   * plan: the same decisions at more cost (tests compare the two). @default false
   */
  planEveryTick: boolean;
  /** Upload capacity announced to the tracker, if known. */
  uploadKbps?: number;
  /** The join secret or token the tracker's admission asks viewers for. */
  admission?: string;
}

export const PEER_DEFAULTS: Omit<PeerOptions, 'stream' | 'role' | 'info'> = {
  targetLatencyMs: DEFAULTS.targetLatencyMs,
  startBufferMs: DEFAULTS.startBufferMs,
  originFallbackMarginMs: DEFAULTS.originFallbackMarginMs,
  liveJumpAfterStallMs: DEFAULTS.liveJumpAfterStallMs,
  peerWindowMs: DEFAULTS.peerWindowMs,
  linkHighWaterBytes: DEFAULTS.linkHighWaterBytes,
  requestTimeoutMs: 1000,
  tickMs: 50,
  planEveryTick: false,
};

export type ChunkSource = 'peer' | 'origin' | 'broadcaster';

export interface PeerEvents {
  /** `streamKey`: an `hmac-sha256` stream's key (the broadcaster's node HMACs chunks with it). */
  'peer:joined': { peerId: string; info: StreamInfo; streamKey: string | undefined };
  'neighbours:changed': { parents: readonly string[]; children: readonly string[] };
  'link:open': { remoteId: string };
  'link:close': { remoteId: string };
  /** A link closed because the peer's HELLO credential failed (forged, expired, another's…). */
  'link:rejected': { remoteId: string; reason: string };
  /** A chunk passed verification and was stored (the broadcaster's own chunks included). */
  'chunk:verified': { chunk: Chunk; source: ChunkSource; from: string };
  'chunk:rejected': { seq: number; from: string; reason: string };
  'tracker:lost': { reason: string };
}

/** Counters of one peer since it started. */
export interface PeerStats {
  readonly peerId: string | null;
  readonly role: PeerOptions['role'];
  /** Milliseconds since start(). */
  readonly sessionMs: number;
  /** Every byte received on peer links (all frames). */
  readonly bytesFromPeers: number;
  /** Body bytes of chunks fetched from the origin. */
  readonly bytesFromOrigin: number;
  /** Every byte sent on peer links (all frames). */
  readonly bytesUploaded: number;
  readonly chunksFromPeers: number;
  readonly chunksFromOrigin: number;
  /** Chunks received again after one copy was already held. */
  readonly duplicateChunks: number;
  /** Chunks that failed verification. */
  readonly rejectedChunks: number;
  /** What the chunk verifier did (null before the stream is known or if it keeps no counts). */
  readonly verifier: VerifierCounts | null;
  /** Chunk bits accepted (verified, new) per second of session. */
  readonly goodputBps: number;
  readonly playback: PlaybackReport | null;
}

interface PendingRequest {
  readonly seq: number;
  readonly remoteId: string;
  readonly timer: TimerHandle;
  /** The request left our send queue at once (nothing of ours was queued ahead of it). */
  readonly sentAtOnce: boolean;
  /** The link's `answers` when the request was sent. */
  readonly answersBefore: number;
}

/** An unexpected link is dropped if the tracker has not named its peer a neighbour by then. */
const UNEXPECTED_LINK_GRACE_MS = 5000;
/** Delay before re-opening a link to a parent that closed while still our parent. */
const RECONNECT_DELAY_MS = 500;
/** Delay before retrying a join of a stream the tracker does not know yet. */
const JOIN_RETRY_MS = 1000;
/** How long after its expected arrival at the origin a chunk is first asked for there. */
const ORIGIN_AVAILABILITY_SLACK_MS = 300;
/** Minimum time between two origin fetches of the same chunk. */
const ORIGIN_RETRY_MS = 250;
/**
 * How far behind the newest chunk a re-parented child holds its new parent pushes the chunks of
 * its stripe the child lacks (see `#pushMissed`).
 */
const REPAIR_PUSH_MS = 2000;
/** The HAVE bitmap of one chunk. */
const ANNOUNCE_ONE = new Uint8Array([0x80]);

/** What the tracker says this peer is linked to (see the `neighbours` message). */
interface Neighbours {
  readonly parents: readonly string[];
  readonly children: readonly string[];
  readonly backupParents: readonly string[];
  readonly backupChildren: readonly string[];
}

const NO_NEIGHBOURS: Neighbours = {
  parents: [],
  children: [],
  backupParents: [],
  backupChildren: [],
};

/**
 * Frames a link may send while its HELLO credential is being checked (they are handled once it
 * passes); one more closes the link. An honest peer sends HELLO, HAVE and SUBSCRIBE, and pushes
 * only once it has checked ours.
 */
const MAX_FRAMES_BEFORE_GREETING = 64;

/**
 * Requests a neighbour may send per chunk of stream, sustained: an honest peer asks a neighbour
 * for each chunk at most once until it is answered, so at about the stream's chunk rate; a link
 * over twice that (with bursts of `REQUEST_BURST_S` seconds' worth) is cut and reported. Each
 * request costs a chunk of upload: a flood well under any fixed cap would still saturate it.
 */
const REQUESTS_PER_CHUNK = 2;
const REQUEST_BURST_S = 2;
/**
 * Of those, requests for chunks the remote holds or that we sent it, ignored: an honest peer sends
 * one only when its request crossed our push, well under one per chunk of stream; a link over one
 * per chunk (with bursts of `REDUNDANT_BURST_S` seconds' worth, a congested push queue) is cut and
 * reported.
 */
const REDUNDANT_BURST_S = 4;
/**
 * A HAVE may announce chunks up to this far past the live edge this peer estimates before the
 * link is cut and reported (a fake possession map announces chunks that do not exist yet).
 */
const HAVE_AHEAD_SLACK_MS = 10_000;

/**
 * A plan names the time to plan again this much early, so that rounding in the arithmetic of its
 * conditions never makes it late (see `PeerCore.#plan`).
 */
const PLAN_EARLY_MS = 1;

/** Most requests in flight to neighbours at once. */
const MAX_PEER_REQUESTS = 16;
/**
 * A parent that sent no chunk for this many of its periods is passed over: its stripe's chunks
 * are pulled from other holders at once, and it is asked for them itself (see `UNANSWERED_LIMIT`).
 * It pushes a chunk every period, `stripes × chunk duration`, when it is well (500 ms in all in the
 * lab: 2 × 2 × 125 ms).
 */
const SILENT_PARENT_PERIODS = 2;
/**
 * Requests a parent or a probed peer lets time out, a request timeout or more apart, sending no
 * chunk data and no ABSENT meanwhile, before it is reported as unresponsive and its link closed:
 * about three seconds of silence while asked. An honest peer answers every request, with the
 * chunk or ABSENT, behind at most its send queue. Only requests that left at once count (one
 * queued behind our own pushes to that peer may not have reached it), and only if nothing came
 * from it while they waited. Two was measured to cut honest peers whose upload was swamped.
 */
const UNANSWERED_LIMIT = 3;
/**
 * Chunks a witness asks a probed peer for, one after another (the newest it announces): at least
 * `UNANSWERED_LIMIT` timeouts, and a replay of the first chunk shows in the second.
 */
const PROBE_REQUESTS = 3;

export class PeerCore {
  readonly #c: PeerComponents;
  readonly #o: PeerOptions;
  readonly #log: Logger;
  readonly #events: Emitter<PeerEvents>;
  readonly #links = new Map<string, PeerLinkState>();
  readonly #pending = new Map<number, PendingRequest>();
  /** Requests in `#pending` per seq, so that `#requested` needs no scan. */
  readonly #pendingPerSeq = new Map<number, number>();
  readonly #originInFlight = new Map<number, AbortController>();
  readonly #originLastTry = new Map<number, number>();
  /** Chunks received whole and being verified. */
  readonly #verifying = new Set<number>();
  /** Per-chunk bookkeeping below this seq is gone (see `#forgetBefore`). */
  #forgottenBefore = 0;
  /**
   * The frames of the chunks received or held (see `#framesOf`), in a ring indexed by seq: a slot
   * keeps the last chunk of the seqs that fall in it, checked against the chunk asked for. At least
   * as large as the store's window, so that the chunks held never share a slot (a map keyed by
   * chunk or seq costs more than the rest of a chunk's bookkeeping).
   */
  #chunkFrames: (ChunkFrames | undefined)[] = [undefined];
  /** Changes (set or delete) made to `#links` so far. */
  #linksChanged = 0;
  /** `#childLinks()`: the children it looked up, `#linksChanged` then, and what it found. */
  #childLinksOf: readonly string[] | undefined;
  #childLinksAt = -1;
  #childLinkStates: readonly (PeerLinkState | undefined)[] = [];
  /** The states `#stateOf` found last, and the one before. */
  #recentLink: PeerLinkState | undefined;
  #recentLinkBefore: PeerLinkState | undefined;
  /**
   * Beside each slot of `#chunkFrames`, a push CHUNK frame of its chunk: the one it came in (then
   * it can be relayed as it is while our `heldBefore` is the one it carries), or the last one
   * encoded. Ours alone, where the chunk and its DATA frames may be shared.
   */
  #pushFrames: (Uint8Array | undefined)[] = [undefined];
  /** Holders that answered ABSENT or timed out, per seq, so the next try goes elsewhere. */
  readonly #triedHolders = new Map<number, Set<string>>();
  #store: ChunkStore;
  #transport: PeerTransport | undefined;
  #tracker: TrackerConnection | undefined;
  #playback: PlaybackModel | undefined;
  #verifier: ChunkVerifier | undefined;
  #info: StreamInfo | undefined;
  #peerId: string | null = null;
  #neighbours: Neighbours = NO_NEIGHBOURS;
  /** This peer's key (injected, or made when the tracker connection opens). */
  #identity: Signer | undefined;
  readonly #checkSignature: SignatureCheck;
  readonly #decode: (message: Uint8Array) => Frame;
  /** The tracker's public key, from its challenge: credentials are checked against it. */
  #trackerKey: string | undefined;
  /** This peer's credential from the tracker, presented in HELLO. */
  #credential: string | undefined;
  /** Links whose HELLO credential is being checked, with the frames that arrived meanwhile. */
  readonly #greeting = new Map<PeerLinkState, Frame[]>();
  /** Peers reported to the tracker (once each). */
  readonly #reported = new Set<string>();
  /** Parents signalled silent to the tracker (once each). */
  readonly #signalled = new Set<string>();
  /** Peers the tracker evicted: their links are closed and their HELLO refused. */
  readonly #revoked = new Set<string>();
  /**
   * Peers the tracker asked us to probe: the chunks asked of each so far, and whether the link
   * was opened for the probe (not one the tracker had us keep already).
   */
  readonly #probes = new Map<string, { asked: Set<number>; ownLink: boolean }>();
  /** The next tick's timer and time (see `#scheduleTick`). */
  #tickTimer: TimerHandle | undefined;
  #tickAt = Infinity;
  /** Time of the last tick: ticks fall on its grid, `tickMs` apart. */
  #lastTickAt = 0;
  /** Something came in since the last plan (see `#tick`). */
  #dirty = true;
  /** When the last plan said to plan again if nothing comes in. */
  #planAgainAt = -Infinity;
  /** When the first parent pushing at the last plan turns silent if it sends nothing more. */
  #silenceAt = -Infinity;
  /** The player's `epoch` at the last plan. */
  #planEpoch: number | undefined;
  /** The last plan pulled the chunks neighbours announced beyond what it wants. */
  #planPullsAnnounced = true;
  #stopHeartbeat: (() => void) | undefined;
  #startedAt = 0;
  #stoppedAt = Infinity;
  #state: 'new' | 'started' | 'stopped' = 'new';
  #nextRequestId = 1;
  #stats = {
    bytesFromOrigin: 0,
    chunksFromPeers: 0,
    chunksFromOrigin: 0,
    duplicateChunks: 0,
    rejectedChunks: 0,
    acceptedBytes: 0,
    bytesInClosed: 0,
    bytesOutClosed: 0,
  };

  constructor(components: PeerComponents, options: PeerOptions) {
    if (options.role === 'broadcaster' && options.info === undefined) {
      throw new TypeError('a broadcaster peer needs the stream info it announces');
    }
    if (options.role === 'viewer' && components.origin === undefined) {
      throw new TypeError('a viewer peer needs an origin client');
    }
    this.#c = components;
    this.#o = options;
    this.#identity = components.identity;
    this.#checkSignature = components.checkSignature ?? webCryptoSignatureCheck();
    this.#decode = components.decodeFrame ?? decodeFrame;
    this.#log = components.logger;
    this.#events = new Emitter(this.#log);
    this.#store = new ChunkStore(1);
  }

  on<K extends keyof PeerEvents>(event: K, listener: (payload: PeerEvents[K]) => void): () => void {
    return this.#events.on(event, listener);
  }

  get peerId(): string | null {
    return this.#peerId;
  }

  get parents(): readonly string[] {
    return this.#neighbours.parents;
  }

  get children(): readonly string[] {
    return this.#neighbours.children;
  }

  /** Connects to the tracker and joins the stream. */
  start(): void {
    if (this.#state !== 'new') throw new InvalidStateError('peer already started');
    this.#state = 'started';
    this.#startedAt = this.#c.clock.now();
    if (this.#o.info !== undefined) this.#setInfo(this.#o.info);
    // An event that comes in may change what the next plan does (see `#tick`).
    this.#transport = this.#c.transport({
      signal: (to, data) => {
        this.#tracker?.send({ type: 'signal', to, data });
      },
      open: (link) => {
        this.#markDirty();
        this.#onLinkOpen(link);
      },
      // A frame marks it in `#onFrame`, only if it may.
      message: (link, data) => {
        this.#onLinkMessage(link, data);
      },
      drain: (link) => {
        this.#markDirty();
        this.#links.get(link.remoteId)?.pump(this.#o.linkHighWaterBytes);
      },
      close: (link) => {
        this.#markDirty();
        this.#onLinkClose(link);
      },
    });
    this.#tracker = this.#c.tracker({
      open: () => {
        this.#hello();
      },
      message: (message) => {
        this.#markDirty();
        this.#onTrackerMessage(message);
      },
      close: (reason) => {
        this.#markDirty();
        if (this.#state !== 'started') return;
        this.#log.warn('tracker connection lost; going on with the links we have', { reason });
        this.#tracker = undefined;
        this.#stopHeartbeat?.();
        this.#events.emit('tracker:lost', { reason });
      },
    });
    this.#lastTickAt = this.#startedAt;
    this.#scheduleTick(this.#startedAt);
  }

  /**
   * Leaves: tells the tracker (when `graceful`, the default) and closes every link. A
   * non-graceful stop drops everything at once, as a crash would. Idempotent.
   */
  stop(options: { graceful?: boolean } = {}): void {
    if (this.#state === 'stopped') return;
    const wasStarted = this.#state === 'started';
    this.#state = 'stopped';
    this.#stoppedAt = this.#c.clock.now();
    if (!wasStarted) return;
    if (options.graceful !== false) this.#tracker?.send({ type: 'leave' });
    if (this.#tickTimer !== undefined) this.#c.clock.clearTimeout(this.#tickTimer);
    this.#stopHeartbeat?.();
    for (const pending of this.#pending.values()) this.#c.clock.clearTimeout(pending.timer);
    this.#pending.clear();
    this.#pendingPerSeq.clear();
    for (const controller of this.#originInFlight.values()) controller.abort();
    this.#originInFlight.clear();
    this.#tracker?.close();
    this.#transport?.close();
    this.#log.info('stopped', { graceful: options.graceful !== false });
  }

  /** Broadcaster only: a freshly signed chunk enters the overlay here. */
  publish(chunk: Chunk): void {
    if (this.#o.role !== 'broadcaster')
      throw new InvalidStateError('only the broadcaster publishes');
    if (this.#state !== 'started') return;
    this.#accept(chunk, 'broadcaster', 'self');
  }

  stats(): PeerStats {
    const now = this.#c.clock.now();
    let bytesIn = this.#stats.bytesInClosed;
    let bytesOut = this.#stats.bytesOutClosed;
    for (const state of this.#links.values()) {
      bytesIn += state.bytesIn;
      bytesOut += state.bytesOut;
    }
    const sessionMs = this.#state === 'new' ? 0 : now - this.#startedAt;
    return {
      peerId: this.#peerId,
      role: this.#o.role,
      sessionMs,
      bytesFromPeers: bytesIn,
      bytesFromOrigin: this.#stats.bytesFromOrigin,
      bytesUploaded: bytesOut,
      chunksFromPeers: this.#stats.chunksFromPeers,
      chunksFromOrigin: this.#stats.chunksFromOrigin,
      duplicateChunks: this.#stats.duplicateChunks,
      rejectedChunks: this.#stats.rejectedChunks,
      verifier: this.#verifier?.counts?.() ?? null,
      goodputBps: sessionMs > 0 ? (this.#stats.acceptedBytes * 8 * 1000) / sessionMs : 0,
      playback: this.#playbackReport(now),
    };
  }

  /**
   * The player's report at `now`, advanced first to the last tick of the grid before `now`: as
   * if a tick came every `tickMs`, though only those with work came (see `#scheduleTick`).
   */
  #playbackReport(now: number): PlaybackReport | null {
    const playback = this.#playback;
    if (playback === undefined) return null;
    const tickMs = this.#o.tickMs;
    // A stopped peer's ticks stopped with it.
    const until = Math.min(now, this.#stoppedAt);
    let at = this.#lastTickAt;
    while (at + tickMs <= until) at += tickMs;
    playback.tick(at);
    return playback.report(now);
  }

  // ---- tracker ---------------------------------------------------------------------------

  /** Sends `hello` with this peer's public key, making the key pair first if none was given. */
  #hello(): void {
    const identity = this.#identity;
    if (identity !== undefined) {
      this.#tracker?.send({
        type: 'hello',
        version: TRACKER_PROTOCOL_VERSION,
        role: this.#o.role,
        publicKey: identity.publicKey,
        ...(this.#o.admission === undefined ? {} : { admission: this.#o.admission }),
        ...(this.#o.uploadKbps === undefined ? {} : { uploadKbps: this.#o.uploadKbps }),
      });
      return;
    }
    generateSigningKeyPair().then(
      (pair) => {
        this.#markDirty();
        this.#identity = keyPairSigner(pair);
        if (this.#state === 'started') this.#hello();
      },
      (error: unknown) => {
        this.#markDirty();
        this.#log.error('could not make a key pair; leaving the tracker', {
          error: errorMessage(error),
        });
        this.#tracker?.close();
      },
    );
  }

  /** Signs the tracker's challenge (see `authMessage`) and sends the signature. */
  #answerChallenge(message: Extract<TrackerMessage, { type: 'challenge' }>): void {
    const identity = this.#identity;
    if (identity === undefined) return;
    this.#trackerKey = message.trackerKey;
    const signed = authMessage(
      fromBase64Url(message.nonce),
      identity.publicKey,
      this.#o.role,
      message.trackerKey,
    );
    identity.sign(signed).then(
      (signature) => {
        this.#markDirty();
        if (this.#state === 'started') {
          this.#tracker?.send({ type: 'auth', signature: toBase64Url(signature) });
        }
      },
      (error: unknown) => {
        this.#markDirty();
        this.#log.error('could not sign the challenge; leaving the tracker', {
          error: errorMessage(error),
        });
        this.#tracker?.close();
      },
    );
  }

  #onTrackerMessage(message: TrackerMessage): void {
    if (this.#state !== 'started') return;
    switch (message.type) {
      case 'challenge':
        this.#answerChallenge(message);
        return;
      case 'welcome':
        if (message.version !== TRACKER_PROTOCOL_VERSION) {
          this.#log.error('tracker speaks another protocol version', { version: message.version });
          this.#tracker?.close();
          return;
        }
        this.#peerId = message.peerId;
        this.#log.info('connected to tracker', { peerId: message.peerId });
        this.#stopHeartbeat?.();
        this.#stopHeartbeat = every(this.#c.clock, message.heartbeatIntervalMs, () => {
          this.#heartbeat();
        });
        this.#join();
        return;
      case 'joined':
        this.#credential = message.credential;
        if (this.#info === undefined) this.#setInfo(message.info, message.streamKey);
        this.#log.info('joined stream', { stream: message.info.stream });
        this.#events.emit('peer:joined', {
          peerId: this.#peerId ?? '',
          info: message.info,
          streamKey: message.streamKey,
        });
        return;
      case 'credential':
        this.#credential = message.credential;
        return;
      case 'neighbours':
        this.#setNeighbours({
          parents: message.parents,
          children: message.children,
          backupParents: message.backupParents,
          backupChildren: message.backupChildren,
        });
        return;
      case 'signal':
        this.#transport?.signal(message.from, message.data);
        return;
      case 'revoked':
        this.#revoked.add(message.peer);
        this.#links.get(message.peer)?.link.close();
        return;
      case 'probe':
        this.#probe(message.peer);
        return;
      case 'error':
        if (message.code === 'unknown-stream') {
          this.#log.info('stream not live yet; retrying', { stream: this.#o.stream });
          this.#c.clock.setTimeout(() => {
            this.#markDirty();
            this.#join();
          }, JOIN_RETRY_MS);
        } else {
          this.#log.warn('tracker refused a message', {
            code: message.code,
            message: message.message,
          });
        }
        return;
    }
  }

  #join(): void {
    if (this.#state !== 'started') return;
    this.#tracker?.send({
      type: 'join',
      stream: this.#o.stream,
      ...(this.#o.info === undefined ? {} : { info: this.#o.info }),
      ...(this.#o.topology === undefined ? {} : { topology: this.#o.topology }),
    });
  }

  #heartbeat(): void {
    const stats = this.stats();
    const player = this.#c.player?.report() ?? modelQoe(stats.playback);
    const qoe: QoeSample = {
      playing: player.playing,
      stalls: player.stalls,
      stalledMs: Math.round(player.stalledMs),
      latencyMs: player.latencyMs === null ? null : Math.max(0, Math.round(player.latencyMs)),
      bytesFromPeers: stats.bytesFromPeers,
      bytesFromOrigin: stats.bytesFromOrigin,
      bytesUploaded: stats.bytesUploaded,
    };
    this.#tracker?.send({ type: 'heartbeat', qoe });
  }

  #setInfo(info: StreamInfo, streamKey?: string): void {
    this.#info = info;
    this.#store = new ChunkStore(Math.ceil(this.#o.peerWindowMs / info.chunkDurationMs));
    this.#chunkFrames = new Array<undefined>(2 ** Math.ceil(Math.log2(this.#store.windowChunks)));
    this.#pushFrames = new Array<undefined>(this.#chunkFrames.length);
    if (this.#o.role === 'viewer') {
      // Startup delay counts from start(), not from when the stream info arrived.
      this.#playback = new PlaybackModel(
        { ...this.#o, chunkDurationMs: info.chunkDurationMs },
        this.#startedAt,
      );
    }
    this.#verifier =
      this.#c.verifier?.(info, streamKey) ??
      streamVerifier(info, { random: this.#c.random, streamKey });
  }

  #setNeighbours(neighbours: Neighbours): void {
    const parentsBefore = this.#neighbours.parents;
    this.#neighbours = neighbours;
    const { parents, children } = neighbours;
    this.#log.debug('neighbours', { ...neighbours });
    this.#events.emit('neighbours:changed', { parents, children });
    for (const [remoteId, state] of this.#links) {
      if (!state.unexpected && !this.#isNeighbour(remoteId)) {
        this.#deleteLink(remoteId);
        this.#retire(state);
        state.link.close();
      }
    }
    for (const parent of [...parents, ...neighbours.backupParents]) this.#connect(parent);
    // A parent's stripe is its place in the list: tell every parent when the list changed.
    if (parents.join() !== parentsBefore.join()) {
      for (const parent of parents) {
        const state = this.#links.get(parent);
        if (state?.opened === true) this.#subscribe(state);
      }
    }
  }

  /**
   * Probes a peer reported once, as the tracker asked: links to it (announcing nothing, so that
   * it has no reason to refuse a request), asks it for the newest chunks its HAVE announces
   * (`#askProbed`), and reports it if what comes fails verification or differs from the chunk
   * held, breaks the protocol, or does not come (`UNANSWERED_LIMIT`). The link is kept
   * `UNEXPECTED_LINK_GRACE_MS`, as long as the probed peer keeps a link it was not told of.
   */
  #probe(remoteId: string): void {
    if (remoteId === this.#peerId || this.#revoked.has(remoteId) || this.#probes.has(remoteId)) {
      return;
    }
    this.#log.info('probing a reported peer', { remoteId });
    this.#probes.set(remoteId, { asked: new Set(), ownLink: !this.#links.has(remoteId) });
    this.#connect(remoteId);
    const state = this.#links.get(remoteId);
    if (state?.greeted === true) this.#askProbed(state);
    this.#c.clock.setTimeout(() => {
      this.#markDirty();
      this.#probes.delete(remoteId);
      const current = this.#links.get(remoteId);
      if (current !== undefined && !this.#isNeighbour(remoteId)) current.link.close();
    }, UNEXPECTED_LINK_GRACE_MS);
  }

  /** Asks a probed peer for the newest chunk it announced not asked yet, one at a time. */
  #askProbed(state: PeerLinkState): void {
    const probe = this.#probes.get(state.remoteId);
    if (
      probe === undefined ||
      !state.greeted ||
      probe.asked.size >= PROBE_REQUESTS ||
      this.#awaiting(state.remoteId)
    ) {
      return;
    }
    let newest = -1;
    this.#forgetExpired(state);
    for (const seq of state.remoteHas) if (seq > newest && !probe.asked.has(seq)) newest = seq;
    if (newest < 0) return;
    probe.asked.add(newest);
    this.#sendRequest(state, newest);
  }

  /** Whether the tracker names `remoteId` as a neighbour of any kind, or asked us to probe it. */
  #isNeighbour(remoteId: string): boolean {
    const n = this.#neighbours;
    return (
      this.#probes.has(remoteId) ||
      n.parents.includes(remoteId) ||
      n.children.includes(remoteId) ||
      n.backupParents.includes(remoteId) ||
      n.backupChildren.includes(remoteId)
    );
  }

  /** Asks a parent for our stripe of the chunks (all of them when it is our only parent). */
  #subscribe(state: PeerLinkState): void {
    const { parents } = this.#neighbours;
    const index = parents.indexOf(state.remoteId);
    if (index < 0) return;
    state.enqueue(
      [encodeFrame({ type: FrameType.Subscribe, index, count: parents.length })],
      this.#o.linkHighWaterBytes,
    );
  }

  #connect(remoteId: string): void {
    if (this.#state !== 'started' || this.#links.has(remoteId) || this.#transport === undefined) {
      return;
    }
    const link = this.#transport.connect(remoteId);
    this.#setLink(remoteId, new PeerLinkState(link));
  }

  // ---- links -----------------------------------------------------------------------------

  #onLinkOpen(link: Link): void {
    const credential = this.#credential;
    if (this.#state !== 'started' || credential === undefined) {
      link.close();
      return;
    }
    let state = this.#links.get(link.remoteId);
    if (state?.link !== link) {
      if (state !== undefined) this.#retire(state);
      state = new PeerLinkState(link);
      this.#setLink(link.remoteId, state);
    }
    state.opened = true;
    this.#events.emit('link:open', { remoteId: link.remoteId });
    state.enqueue(
      [
        encodeFrame({
          type: FrameType.Hello,
          hello: { peerId: this.#peerId ?? '', stream: this.#o.stream, credential },
        }),
      ],
      this.#o.linkHighWaterBytes,
    );
    if (!this.#probes.has(link.remoteId)) {
      const have = this.#store.haveMap();
      state.enqueue(
        [encodeFrame({ type: FrameType.Have, fromSeq: have.fromSeq, bitmap: have.bitmap })],
        this.#o.linkHighWaterBytes,
      );
    }
    if (this.#neighbours.parents.includes(link.remoteId)) this.#subscribe(state);
    if (!this.#isNeighbour(link.remoteId)) {
      // Kept through neighbour changes until the grace ends: a witness probing us (see `#probe`)
      // links to us unannounced, and we must answer it even if the tracker re-wires us meanwhile.
      const opened = state;
      opened.unexpected = true;
      this.#c.clock.setTimeout(() => {
        this.#markDirty();
        opened.unexpected = false;
        if (this.#links.get(link.remoteId) === opened && !this.#isNeighbour(link.remoteId)) {
          this.#log.debug('closing a link the tracker never confirmed', {
            remoteId: link.remoteId,
          });
          link.close();
        }
      }, UNEXPECTED_LINK_GRACE_MS);
    }
  }

  #onLinkClose(link: Link): void {
    const state = this.#links.get(link.remoteId);
    const probe = this.#probes.get(link.remoteId);
    if (probe !== undefined && state?.link === link && this.#state === 'started') {
      // An honest peer keeps a link it was not told of for its grace period, long enough to
      // answer a probe: one that closes it first refuses to be probed.
      this.#probes.delete(link.remoteId);
      if (probe.ownLink && (probe.asked.size < PROBE_REQUESTS || this.#awaiting(link.remoteId))) {
        this.#report(link.remoteId, 'unresponsive');
      }
    }
    if (state?.link === link) {
      this.#deleteLink(link.remoteId);
      this.#retire(state);
    }
    this.#events.emit('link:close', { remoteId: link.remoteId });
    for (const [requestId, pending] of this.#pending) {
      if (pending.remoteId === link.remoteId) {
        this.#c.clock.clearTimeout(pending.timer);
        this.#dropPending(requestId, pending.seq);
      }
    }
    const upstream = (): boolean =>
      this.#neighbours.parents.includes(link.remoteId) ||
      this.#neighbours.backupParents.includes(link.remoteId);
    if (this.#state === 'started' && upstream()) {
      this.#c.clock.setTimeout(() => {
        this.#markDirty();
        if (upstream()) this.#connect(link.remoteId);
      }, RECONNECT_DELAY_MS);
    }
  }

  #setLink(remoteId: string, state: PeerLinkState): void {
    this.#links.set(remoteId, state);
    this.#linksChanged++;
  }

  #deleteLink(remoteId: string): void {
    this.#links.delete(remoteId);
    this.#linksChanged++;
  }

  /**
   * The link states of the children, in their order (undefined for a child with no link): looked
   * up again only when the children or the links changed, not for every chunk pushed.
   */
  #childLinks(): readonly (PeerLinkState | undefined)[] {
    const children = this.#neighbours.children;
    if (children !== this.#childLinksOf || this.#linksChanged !== this.#childLinksAt) {
      this.#childLinksOf = children;
      this.#childLinksAt = this.#linksChanged;
      this.#childLinkStates = children.map((child) => this.#links.get(child));
    }
    return this.#childLinkStates;
  }

  /** Marks a state taken out of the links, and folds its counters into the totals. */
  #retire(state: PeerLinkState): void {
    state.retired = true;
    this.#log.debug('link retired', {
      remoteId: state.remoteId,
      bytesIn: state.bytesIn,
      bytesOut: state.bytesOut,
    });
    this.#stats.bytesInClosed += state.bytesIn;
    this.#stats.bytesOutClosed += state.bytesOut;
    state.bytesIn = 0;
    state.bytesOut = 0;
  }

  /**
   * The state of `link`, if it is one of ours. The last two found are tried first: messages come
   * from one or two parents in turn, and a map lookup by peer id costs more than the rest of a
   * small message.
   */
  #stateOf(link: Link): PeerLinkState | undefined {
    const recent = this.#recentLink;
    if (recent?.link === link && !recent.retired) return recent;
    const before = this.#recentLinkBefore;
    if (before?.link === link && !before.retired) {
      this.#recentLinkBefore = recent;
      this.#recentLink = before;
      return before;
    }
    const state = this.#links.get(link.remoteId);
    if (state?.link !== link) return undefined;
    this.#recentLinkBefore = recent;
    this.#recentLink = state;
    return state;
  }

  #onLinkMessage(link: Link, data: Uint8Array): void {
    const state = this.#stateOf(link);
    if (state === undefined || this.#state !== 'started') return;
    state.bytesIn += data.byteLength;
    try {
      this.#onFrame(state, this.#decode(data), data);
    } catch (error) {
      this.#brokeProtocol(state, error);
    }
  }

  /**
   * Closes the link of `state` on a frame that broke the protocol (`error`, a SwarmcastError;
   * anything else is a bug and rethrown), and reports its peer if it proved who it is.
   */
  #brokeProtocol(state: PeerLinkState, error: unknown): void {
    if (!(error instanceof SwarmcastError)) throw error;
    this.#log.warn('closing a link that broke the protocol', {
      remoteId: state.remoteId,
      error: error.message,
    });
    if (state.greeted) this.#report(state.remoteId, 'protocol-violation');
    state.link.close();
  }

  /** Handles a frame from `state`'s link; `message` is the one it was decoded from, if known. */
  #onFrame(state: PeerLinkState, frame: Frame, message?: Uint8Array): void {
    // A greeted link is not being checked (`#checkCredential` clears `greeted` while it checks).
    const held = state.greeted ? undefined : this.#greeting.get(state);
    if (held !== undefined) {
      if (frame.type === FrameType.Hello || held.length >= MAX_FRAMES_BEFORE_GREETING) {
        throw new SwarmcastError('malformed-frame', 'too many frames before the HELLO check');
      }
      held.push(frame);
      return;
    }
    if (!state.greeted && frame.type !== FrameType.Hello) {
      throw new SwarmcastError('malformed-frame', 'first frame on a link must be HELLO');
    }
    switch (frame.type) {
      case FrameType.Hello:
        if (frame.hello.stream !== this.#o.stream) {
          throw new SwarmcastError(
            'malformed-frame',
            `HELLO for another stream ${frame.hello.stream}`,
          );
        }
        if (frame.hello.peerId !== state.remoteId) {
          throw new SwarmcastError(
            'malformed-frame',
            'HELLO from a peer other than the one signaled',
          );
        }
        if (this.#revoked.has(state.remoteId)) {
          throw new SwarmcastError('unauthorized', 'HELLO from a peer the tracker evicted');
        }
        // The link is not greeted while its credential is checked: its stripe has no parent.
        this.#markDirty();
        this.#checkCredential(state, frame.hello.credential);
        return;
      case FrameType.Have: {
        const seqs = seqsInHaveMap(frame.fromSeq, frame.bitmap);
        const beyond = this.#beyondLive(seqs[seqs.length - 1] ?? -1);
        if (beyond)
          throw new SwarmcastError('malformed-frame', 'HAVE for chunks not yet published');
        this.#forgetExpired(state);
        for (const seq of seqs) state.remoteHas.add(seq);
        this.#announced();
        this.#askProbed(state);
        return;
      }
      case FrameType.Chunk:
        this.#forgetExpired(state);
        state.remoteHas.addHeldBefore(frame.meta.seq, frame.heldBefore);
        this.#announced();
        state.beginChunk(frame.meta, frame.requestId, frame.heldBefore, message);
        state.lastChunkAtMs = this.#c.clock.now();
        state.answers++;
        return;
      case FrameType.Data: {
        state.answers++;
        const received = state.addData(frame.seq, frame.offset, frame.bytes, message);
        if (received !== undefined) this.#onReceived(state, received);
        return;
      }
      case FrameType.Request: {
        if (this.#probes.get(state.remoteId)?.ownLink === true) {
          // We linked to it only to probe it and announced nothing: an honest peer asks a link
          // only for chunks it announced or sent, so it asks this one for nothing.
          throw new SwarmcastError('out-of-order', 'a request on a probe link');
        }
        const now = this.#c.clock.now();
        const perS = 1000 / (this.#info?.chunkDurationMs ?? DEFAULTS.chunkDurationMs);
        // The burst also covers the most requests a peer keeps in flight (a backlog pulled from
        // one holder), which is more than two seconds' worth of long chunks.
        state.requests ??= new TokenBucket(
          REQUESTS_PER_CHUNK * perS,
          Math.max(REQUEST_BURST_S * REQUESTS_PER_CHUNK * perS, 2 * MAX_PEER_REQUESTS),
          now,
        );
        if (state.requests.take(now) !== 'accept') {
          throw new SwarmcastError('rate-limited', 'more requests than any honest peer sends');
        }
        const chunk = this.#store.get(frame.seq);
        // A chunk the remote holds, or that we sent it, costs no upload twice: an honest peer
        // asks for it only when the request crossed our push, which then answers it.
        if (chunk !== undefined && state.remoteHas.has(frame.seq)) {
          state.redundantRequests ??= new TokenBucket(perS, REDUNDANT_BURST_S * perS, now);
          if (state.redundantRequests.take(now) !== 'accept') {
            throw new SwarmcastError('rate-limited', 'requests for chunks it holds');
          }
          return;
        }
        // A full send queue answers ABSENT too: a request is always answered.
        if (chunk === undefined || !state.hasRoomFor(chunk.byteLength)) {
          state.enqueue(
            [encodeFrame({ type: FrameType.Absent, requestId: frame.requestId, seq: frame.seq })],
            this.#o.linkHighWaterBytes,
          );
        } else {
          const heldBefore = this.#heldBeforeFor(state, chunk.seq);
          this.#send(state, chunk, this.#framesOf(chunk, frame.requestId, heldBefore));
        }
        return;
      }
      case FrameType.Absent: {
        this.#markDirty();
        state.answers++;
        const pending = this.#pending.get(frame.requestId);
        if (pending?.remoteId === state.remoteId) this.#settleRequest(frame.requestId, false);
        state.remoteHas.delete(frame.seq);
        return;
      }
      case FrameType.Subscribe:
        state.stripeIndex = frame.index;
        state.stripeCount = frame.count;
        this.#pushMissed(state);
        return;
      case FrameType.Cancel:
        // Chunks are queued whole; a late cancel costs at most one chunk of upload.
        return;
    }
  }

  /**
   * Checks a HELLO's credential against the tracker's key: the link is greeted once it passes,
   * and the frames held meanwhile are handled in order; it is closed if it fails.
   */
  #checkCredential(state: PeerLinkState, credential: string): void {
    const trackerKey = this.#trackerKey;
    if (trackerKey === undefined) {
      throw new SwarmcastError('malformed-frame', 'HELLO before this peer met the tracker');
    }
    state.greeted = false;
    const held: Frame[] = [];
    this.#greeting.set(state, held);
    const current = (): boolean =>
      this.#greeting.get(state) === held &&
      this.#links.get(state.remoteId) === state &&
      this.#state === 'started';
    verifyCredential(credential, {
      trackerKey,
      check: this.#checkSignature,
      nowMs: this.#c.clock.now(),
      stream: this.#o.stream,
      peerId: state.remoteId,
    }).then(
      () => {
        this.#markDirty();
        if (!current()) return;
        this.#greeting.delete(state);
        state.greeted = true;
        state.lastChunkAtMs = this.#c.clock.now();
        try {
          for (const frame of held) {
            // A chunk among them that failed its check closed the link: the rest are dropped.
            if (this.#links.get(state.remoteId) !== state) break;
            this.#onFrame(state, frame);
          }
        } catch (error) {
          this.#brokeProtocol(state, error);
        }
      },
      (error: unknown) => {
        this.#markDirty();
        if (!current()) return;
        this.#greeting.delete(state);
        const reason = errorMessage(error);
        this.#log.warn('closing a link whose credential failed', {
          remoteId: state.remoteId,
          reason,
        });
        this.#events.emit('link:rejected', { remoteId: state.remoteId, reason });
        state.link.close();
      },
    );
  }

  #onReceived(state: PeerLinkState, received: ReceivedChunk): void {
    const { meta, bytes, requestId } = received;
    this.#forgetExpired(state);
    state.remoteHas.add(meta.seq);
    if (requestId !== 0) {
      // A request settled: its seq and its peer can be asked again.
      this.#markDirty();
      this.#settleRequest(requestId, true);
    }
    const held = this.#store.get(meta.seq);
    // A chunk held already is not verified again, but compared with the one held: a polluter
    // behind us sends chunks we hold (relabelled, replayed, corrupt) as well as ones we lack.
    if (held !== undefined && !sameChunk(held, meta, bytes)) {
      this.#stats.rejectedChunks++;
      this.#log.warn('a peer sent a chunk unlike the one held', {
        seq: meta.seq,
        from: state.remoteId,
      });
      this.#report(state.remoteId, 'bad-chunk', meta.seq);
      state.link.close();
      return;
    }
    if (held !== undefined || this.#store.isExpired(meta.seq)) {
      this.#stats.duplicateChunks++;
      return;
    }
    let chunk: Chunk;
    if (received.dataFrames === undefined) {
      chunk = chunkOf(meta, bytes);
    } else {
      const frames = relayedChunk(meta, bytes, received.dataFrames);
      chunk = frames.chunk;
      const slot = meta.seq & (this.#chunkFrames.length - 1);
      this.#chunkFrames[slot] = frames;
      this.#pushFrames[slot] = received.chunkFrame;
    }
    const newestBefore = this.#store.newestSeq;
    this.#verifyAndAccept(chunk, 'peer', state.remoteId);
    this.#replanFor(meta.seq, newestBefore);
  }

  /**
   * What chunk `seq`, received from a peer, changes in the plan (see `#tick`), `newestBefore`
   * being the newest held before it. The chunk before it in its stripe, if missing, is now overdue
   * (`#overdue`): plan at the next tick. Chunks it skipped past the newest are now wanted by their
   * due time alone, no longer also by when the origin should have them: plan by the first one's,
   * or at the next tick while a parent is not live (they may be overdue). The usual push, in order
   * in its stripe and in the stream, changes neither.
   */
  #replanFor(seq: number, newestBefore: number): void {
    const playback = this.#playback;
    const from = playback?.playheadSeq ?? null;
    if (playback === undefined || from === null) {
      this.#markDirty();
      return;
    }
    const before = seq - Math.max(1, this.#neighbours.parents.length);
    if (before >= this.#store.firstMissing(from) && !this.#store.has(before)) {
      this.#markDirty();
      return;
    }
    const skipped = Math.max(newestBefore + 1, from);
    if (skipped >= seq) return;
    if (this.#planPullsAnnounced) {
      // A parent is not live: the skipped chunks of its stripe are overdue at once.
      this.#markDirty();
      return;
    }
    const due = playback.dueTime(skipped, this.#c.clock.now());
    if (due === null) return;
    const planAt = due - this.#o.originFallbackMarginMs - PLAN_EARLY_MS;
    if (planAt < this.#planAgainAt) {
      this.#planAgainAt = planAt;
      this.#scheduleTick(planAt);
    }
  }

  /**
   * Called when a neighbour announces chunks (HAVE, or a CHUNK frame's `heldBefore`): the plan
   * pulls announced chunks beyond what it wants only while a parent is not live (`#plan`).
   */
  #announced(): void {
    if (this.#planPullsAnnounced) this.#markDirty();
  }

  // ---- chunks ----------------------------------------------------------------------------

  /**
   * Verifies a chunk, then stores and relays it. A verifier that decides at once (the
   * simulator's) returns no promise: the chunk is accepted within this call.
   */
  #verifyAndAccept(chunk: Chunk, source: 'peer' | 'origin', from: string): void {
    const verifier = this.#verifier;
    if (verifier === undefined) {
      this.#log.debug('dropping a chunk received before the stream info', { seq: chunk.seq });
      return;
    }
    let pending: Promise<void> | undefined;
    try {
      pending = verifier.verify(chunk);
    } catch (error) {
      this.#rejected(chunk, source, from, error);
      return;
    }
    if (pending === undefined) {
      this.#verified(chunk, source, from);
      return;
    }
    const seq = chunk.seq;
    this.#verifying.add(seq);
    pending.then(
      () => {
        this.#markDirty();
        this.#verifying.delete(seq);
        this.#verified(chunk, source, from);
      },
      (error: unknown) => {
        this.#markDirty();
        this.#verifying.delete(seq);
        this.#rejected(chunk, source, from, error);
      },
    );
  }

  #verified(chunk: Chunk, source: 'peer' | 'origin', from: string): void {
    if (this.#state !== 'started') return;
    if (this.#store.has(chunk.seq)) {
      this.#stats.duplicateChunks++;
      return;
    }
    this.#accept(chunk, source, from);
  }

  #rejected(chunk: Chunk, source: 'peer' | 'origin', from: string, error: unknown): void {
    this.#stats.rejectedChunks++;
    const reason = errorMessage(error);
    this.#log.warn('rejected a chunk', { seq: chunk.seq, from, reason });
    this.#events.emit('chunk:rejected', { seq: chunk.seq, from, reason });
    if (source === 'peer') {
      this.#report(from, 'bad-chunk', chunk.seq);
      this.#links.get(from)?.link.close();
    }
  }

  /**
   * Reports a neighbour that sent a bad chunk or broke the protocol, once: the tracker evicts a
   * peer that enough distinct neighbours report (docs/SECURITY.md).
   */
  #report(remoteId: string, reason: ReportReason, seq?: number): void {
    if (this.#reported.has(remoteId)) return;
    this.#reported.add(remoteId);
    this.#tracker?.send({
      type: 'report',
      peer: remoteId,
      reason,
      ...(seq === undefined ? {} : { seq }),
    });
  }

  /** Stores a verified chunk, hands it to the player and relays it to the children. */
  #accept(chunk: Chunk, source: ChunkSource, from: string): void {
    if (!this.#store.add(chunk)) return;
    if (source === 'peer') this.#stats.chunksFromPeers++;
    if (source === 'origin') this.#stats.chunksFromOrigin++;
    if (source !== 'broadcaster') this.#stats.acceptedBytes += chunk.byteLength;
    this.#events.emit('chunk:verified', { chunk, source, from });
    if (this.#playback !== undefined) this.#play(this.#playback, chunk);
    const { backupChildren } = this.#neighbours;
    // The same frames for every link they go to (links never modify what they send). A child on
    // another stripe learns that we hold this chunk from the next chunk of its stripe we push it
    // (its CHUNK frame's `heldBefore`), one chunk later: no HAVE of its own.
    let push: Uint8Array[] | undefined;
    let pushHeldBefore = 0;
    for (const state of this.#childLinks()) {
      if (state?.greeted !== true || !state.subscribed(chunk.seq)) continue;
      if (state.remoteHas.has(chunk.seq)) continue;
      const heldBefore = this.#heldBeforeFor(state, chunk.seq);
      if (push === undefined || heldBefore !== pushHeldBefore) {
        push = this.#framesOf(chunk, 0, heldBefore);
        pushHeldBefore = heldBefore;
      }
      this.#send(state, chunk, push);
    }
    // Standby links learn what we hold, so they can pull from us the moment they need to.
    let have: Uint8Array | undefined;
    for (const child of backupChildren) {
      const state = this.#links.get(child);
      if (state?.greeted === true && !state.remoteHas.has(chunk.seq)) {
        have ??= announcement(chunk.seq);
        state.enqueue([have], this.#o.linkHighWaterBytes);
      }
    }
  }

  /**
   * Forgets what `state`'s remote held that left our window. Done on a link when seqs are added to
   * it, and before its newest or all of its seqs are looked at, not on every link at every chunk:
   * elsewhere only seqs in the window are looked up.
   */
  #forgetExpired(state: PeerLinkState): void {
    // Once per move of the window, as when every link forgot at every move: a seq added late, at
    // or below the point, stays until the window moves again.
    const through = this.#store.expiredThrough;
    if (through <= state.forgotThrough) return;
    state.forgotThrough = through;
    state.remoteHas.forgetThrough(through);
  }

  /**
   * A child that (re)subscribed gets the recent chunks of its stripe that its HAVE map lacks: after
   * a repair the chunks its stripe missed flow down the new parent, one copy per link, instead of
   * every orphan in the subtree pulling them from neighbours that lack them too, or the origin. A
   * newcomer (empty HAVE map) starts at the live edge and gets nothing old.
   */
  #pushMissed(state: PeerLinkState): void {
    const info = this.#info;
    this.#forgetExpired(state);
    let newestHeld = -1;
    let oldestHeld = Infinity;
    for (const seq of state.remoteHas) {
      newestHeld = Math.max(newestHeld, seq);
      oldestHeld = Math.min(oldestHeld, seq);
    }
    if (info === undefined || newestHeld < 0) return;
    const back = Math.ceil(REPAIR_PUSH_MS / info.chunkDurationMs);
    for (let seq = Math.max(oldestHeld, newestHeld - back); seq <= this.#store.newestSeq; seq++) {
      const chunk = this.#store.get(seq);
      if (chunk !== undefined && state.subscribed(seq) && !state.remoteHas.has(seq)) {
        this.#send(state, chunk, this.#framesOf(chunk, 0, this.#heldBeforeFor(state, seq)));
      }
    }
  }

  /**
   * Whether `seq` cannot have been published yet: beyond the live edge estimated from the newest
   * chunk held (its seq plus the chunks captured since), or before any is held from the stream's
   * epoch (no chunk `n` is captured before `epochMs + n × chunkDurationMs`), by more than
   * `HAVE_AHEAD_SLACK_MS` (room for the broadcaster's clock to be off ours). False when neither
   * is known.
   */
  #beyondLive(seq: number): boolean {
    const info = this.#info;
    if (info === undefined) return false;
    const newest = this.#store.newest;
    const fromSeq = newest?.seq ?? 0;
    const fromMs = newest?.captureTimeMs ?? info.epochMs;
    if (fromMs === undefined) return false;
    const sinceMs = this.#c.clock.now() - fromMs + HAVE_AHEAD_SLACK_MS;
    return seq > fromSeq + Math.ceil(sinceMs / info.chunkDurationMs);
  }

  /** Queues `frames`, those of `chunk` (`#framesOf`), on `state`'s link if its queue has room. */
  #send(state: PeerLinkState, chunk: Chunk, frames: readonly Uint8Array[]): void {
    if (!state.hasRoomFor(chunk.byteLength)) {
      this.#log.debug('send queue full; not sending', { remoteId: state.remoteId, seq: chunk.seq });
      return;
    }
    this.#forgetExpired(state);
    state.remoteHas.add(chunk.seq);
    state.enqueue(frames, this.#o.linkHighWaterBytes);
  }

  /**
   * What a CHUNK frame of chunk `seq` on `state`'s link announces (`heldBefore`): the chunks among
   * the `HELD_BEFORE_CHUNKS` before it that we hold and that its stripe does not cover, as it is
   * pushed those of its stripe and no HAVE of the others.
   */
  #heldBeforeFor(state: PeerLinkState, seq: number): number {
    const index = state.stripeIndex;
    const count = state.stripeCount;
    if (count <= 1) return 0;
    // Bit i is `seq - 1 - i`: those of the child's stripe are every `count`-th bit from the
    // first, `(seq - 1 - index) mod count`.
    const first = (((seq - 1 - index) % count) + count) % count;
    const stripe = (everyNthBit(count) << first) >>> 0;
    return (this.#store.heldBefore(seq) & ~stripe) >>> 0;
  }

  /**
   * A chunk's frames: its CHUNK frame for `requestId` (0: a push) announcing `heldBefore`, then its
   * DATA frames. Those carry no request id and so are the same for every push and answer: they
   * are encoded once per chunk, or are the messages the chunk came in, so relaying a chunk copies
   * no byte of it.
   */
  #framesOf(chunk: Chunk, requestId: number, heldBefore: number): Uint8Array[] {
    const slot = chunk.seq & (this.#chunkFrames.length - 1);
    let frames = this.#chunkFrames[slot];
    if (frames?.chunk !== chunk) {
      frames = { chunk, data: dataFrames(chunk.seq, chunk.bytes) };
      this.#chunkFrames[slot] = frames;
      this.#pushFrames[slot] = undefined;
    }
    let head = requestId === 0 ? this.#pushFrames[slot] : undefined;
    if (head === undefined || headerOffset(head) !== heldBefore) {
      head = encodeFrame({ type: FrameType.Chunk, requestId, meta: chunk, heldBefore });
      if (requestId === 0) this.#pushFrames[slot] = head;
    }
    return [head, ...frames.data];
  }

  // ---- pulling what did not come ---------------------------------------------------------

  /**
   * Every `tickMs`: advances the player, and plans the pulls again when something may have changed
   * since the last plan: an event came in (`#dirty`), the player's due times came earlier
   * (`PlaybackModel.epoch`), the time the last plan named has come (`#planAgainAt`), or a parent
   * may have turned silent. Between those a plan would find nothing to do, and is skipped: most
   * ticks of a swarm in steady state.
   */
  #tick(): void {
    const now = this.#c.clock.now();
    this.#tickTimer = undefined;
    this.#tickAt = Infinity;
    this.#lastTickAt = now;
    this.#advance(now);
    this.#scheduleTick(this.#wakeAt());
  }

  /** A tick's work (see `#tick`): the player advanced, the pulls planned again if need be. */
  #advance(now: number): void {
    const playback = this.#playback;
    playback?.tick(now);
    if (
      !this.#dirty &&
      now < this.#planAgainAt &&
      playback?.epoch === this.#planEpoch &&
      !this.#o.planEveryTick
    ) {
      if (now < this.#silenceAt) return;
      // Every parent was pushing at the last plan and still is: the plan would be the same.
      if (!this.#planPullsAnnounced && this.#allParentsLive(now)) {
        this.#silenceAt = this.#nextSilence(now) - PLAN_EARLY_MS;
        return;
      }
    }
    this.#dirty = false;
    this.#planAgainAt = this.#plan(now);
    this.#silenceAt = this.#nextSilence(now) - PLAN_EARLY_MS;
    this.#planEpoch = playback?.epoch;
  }

  /**
   * Gives the player a chunk. If its due times came earlier (it started, or a stall ended), the
   * next tick plans; if it now needs a tick of its own sooner (`nextChangeAt`: a start planned,
   * chunks that run out), one comes. Playing on, it needs neither: a chunk only puts off when the
   * held ones run out.
   */
  #play(playback: PlaybackModel, chunk: Chunk): void {
    const { state, epoch } = playback;
    playback.add(chunk, this.#c.clock.now());
    if (playback.epoch !== epoch) this.#markDirty();
    if (state !== 'playing' || playback.state !== 'playing') {
      this.#scheduleTick(playback.nextChangeAt() - PLAN_EARLY_MS);
    }
  }

  /**
   * When the next tick must come if nothing comes in (`#markDirty` brings it forward): the first
   * of the plan's time, a parent's possible silence and the player's next change of its own
   * (`PlaybackModel.nextChangeAt`); at the next tick when planning at every tick.
   */
  #wakeAt(): number {
    if (this.#dirty || this.#o.planEveryTick) return -Infinity;
    return Math.min(
      this.#planAgainAt,
      this.#silenceAt,
      (this.#playback?.nextChangeAt() ?? Infinity) - PLAN_EARLY_MS,
    );
  }

  /**
   * Makes sure a tick comes at the first time of the tick grid (`#lastTickAt` + k × `tickMs`,
   * added up as a periodic timer would) that is at or after `atMs`: ticks are timers only where
   * one has work, not every `tickMs`, and fall where a periodic timer's would.
   */
  #scheduleTick(atMs: number): void {
    if (this.#state !== 'started' || atMs === Infinity) return;
    const tickMs = this.#o.tickMs;
    // Not before now: a tick of the grid that passed with nothing to do is not made up.
    const from = Math.max(atMs, this.#c.clock.now());
    let at = this.#lastTickAt + tickMs;
    while (at < from) at += tickMs;
    if (at >= this.#tickAt) return;
    if (this.#tickTimer !== undefined) this.#c.clock.clearTimeout(this.#tickTimer);
    this.#tickAt = at;
    this.#tickTimer = this.#c.clock.setTimeoutAt(() => {
      this.#tick();
    }, at);
  }

  /** Something came in that may change the next plan: plan at the next tick. */
  #markDirty(): void {
    this.#dirty = true;
    this.#scheduleTick(this.#c.clock.now());
  }

  /**
   * Asks probed peers, neighbours and the origin for what is missing, and returns when to plan
   * again if no event comes and no parent turns silent meanwhile: at the next tick after any
   * request or fetch, else the first time that time alone can make a condition below true (a
   * chunk due within the origin margin, a chunk expected at the origin), `PLAN_EARLY_MS` early.
   */
  #plan(now: number): number {
    let acted = false;
    // Most ticks probe no one: no iterator for them.
    if (this.#probes.size > 0) {
      for (const remoteId of this.#probes.keys()) {
        const state = this.#links.get(remoteId);
        if (state !== undefined) this.#askProbed(state);
      }
      acted = true;
    }
    const playback = this.#playback;
    if (playback === undefined || this.#info === undefined) return acted ? now : Infinity;
    const from = playback.playheadSeq;
    if (from !== null && from > this.#forgottenBefore) {
      this.#forgetBefore(from);
      this.#forgottenBefore = from;
    }
    if (from === null) {
      // Nothing pushed yet: ask a neighbour for the newest chunk it announced, to start sooner;
      // when every neighbour that announced it failed to send it (a silent parent), the origin.
      const newestAnnounced = this.#newestAnnounced();
      if (newestAnnounced >= 0 && !this.#requested(newestAnnounced)) {
        this.#requestFromNeighbour(newestAnnounced);
        if (!this.#requested(newestAnnounced) && !this.#originInFlight.has(newestAnnounced)) {
          this.#fetchFromOrigin(newestAnnounced, now);
        }
      }
      return now;
    }
    const chunkMs = this.#info.chunkDurationMs;
    const margin = this.#o.originFallbackMarginMs;
    let planAt = Infinity;
    // Chunks from the playhead to the newest known, plus any the player will want within the
    // origin margin that should exist by now even though no peer has announced them.
    const newestSeq = this.#store.newestSeq;
    let last = newestSeq;
    if (newestSeq >= 0) {
      const newestCaptureTimeMs = this.#store.newestCaptureTimeMs;
      for (let seq = last + 1; ; seq++) {
        const expectedAtOrigin =
          newestCaptureTimeMs + (seq - newestSeq + 1) * chunkMs + ORIGIN_AVAILABILITY_SLACK_MS;
        const due = playback.dueTime(seq, now);
        if (expectedAtOrigin > now || due === null || due - now > margin) {
          // It is wanted once both hold: not before the later of the two.
          if (due !== null) planAt = Math.min(planAt, Math.max(expectedAtOrigin, due - margin));
          break;
        }
        last = seq;
      }
    } else {
      last = from;
    }
    // Chunks a neighbour announced whose stripe has no parent link now (it failed) or a silent
    // one: pull them at once from that neighbour instead of waiting for the origin margin.
    this.#planPullsAnnounced = !this.#allParentsLive(now);
    if (this.#planPullsAnnounced) {
      // The newest such chunk of all: each link's are looked at from its newest down.
      for (const state of this.#links.values()) {
        this.#forgetExpired(state);
        const held = state.remoteHas;
        for (let seq = held.newest(); seq > last; seq--) {
          if (held.has(seq) && this.#stripeParent(seq, now) !== 'live') {
            last = seq;
            break;
          }
        }
      }
    }
    // The chunks held from the playhead on need nothing: start at the first one missing.
    for (let seq = this.#store.firstMissing(from); seq <= last; seq++) {
      if (
        this.#store.has(seq) ||
        this.#verifying.has(seq) ||
        this.#originInFlight.has(seq) ||
        this.#beingReceived(seq)
      ) {
        continue;
      }
      const due = playback.dueTime(seq, now);
      const left = due === null ? Infinity : due - now;
      // A chunk still on its way down its stripe is left to come: it is pulled from a neighbour
      // that holds it when it is late (its stripe has no parent now, the parent pushed a later
      // chunk of the stripe, or the playhead is within the margin); the origin is asked when no
      // neighbour holds it within the margin, or when the neighbour has used up half of it.
      const parent = this.#stripeParent(seq, now);
      const requested = this.#requested(seq);
      if (!requested && (left <= margin || this.#overdue(seq, parent))) {
        this.#requestFromNeighbour(seq);
        acted = true;
      }
      // A silent parent is asked itself too: an honest one answers (the chunk, or ABSENT when
      // its own feed failed), one that answers nothing is reported (`#onRequestTimeout`).
      if (typeof parent === 'object' && !this.#awaiting(parent.remoteId)) {
        this.#sendRequest(parent, seq);
        acted = true;
      }
      if (left <= margin && (!this.#requested(seq) || left <= margin / 2)) {
        this.#fetchFromOrigin(seq, now);
        acted = true;
      }
      if (due !== null) planAt = Math.min(planAt, due - (requested ? margin / 2 : margin));
    }
    return acted ? now : planAt - PLAN_EARLY_MS;
  }

  /**
   * Whether chunk `seq` will not be pushed: no parent for its stripe, a silent one, or a later
   * chunk of its stripe came (parents push a stripe in order, so it was skipped).
   */
  #overdue(seq: number, parent: PeerLinkState | 'live' | 'none'): boolean {
    if (parent !== 'live') return true;
    return this.#store.heldLaterInClass(seq, Math.max(1, this.#neighbours.parents.length));
  }

  #allParentsLive(now: number): boolean {
    const { parents } = this.#neighbours;
    const silentMs = this.#silentParentMs();
    for (const parent of parents) {
      if (!pushing(this.#links.get(parent), now, silentMs)) return false;
    }
    return parents.length > 0;
  }

  /** When the first parent that is pushing now turns silent if it sends nothing more. */
  #nextSilence(now: number): number {
    const silentMs = this.#silentParentMs();
    let at = Infinity;
    for (const parent of this.#neighbours.parents) {
      const state = this.#links.get(parent);
      if (pushing(state, now, silentMs)) at = Math.min(at, state.lastChunkAtMs + silentMs);
    }
    return at;
  }

  /** How long a parent may send no chunk before it counts as silent (`SILENT_PARENT_PERIODS`). */
  #silentParentMs(): number {
    const chunkMs = this.#info?.chunkDurationMs ?? DEFAULTS.chunkDurationMs;
    return SILENT_PARENT_PERIODS * Math.max(1, this.#neighbours.parents.length) * chunkMs;
  }

  /**
   * The parent that pushes chunk `seq` (its stripe): 'live' when linked, greeted and sending;
   * its link when it is silent (`#silentParentMs`); 'none' without a greeted link.
   */
  #stripeParent(seq: number, now: number): PeerLinkState | 'live' | 'none' {
    const { parents } = this.#neighbours;
    const parent = parents[seq % Math.max(1, parents.length)];
    const state = parent === undefined ? undefined : this.#links.get(parent);
    if (state?.greeted !== true) return 'none';
    return now - state.lastChunkAtMs > this.#silentParentMs() ? state : 'live';
  }

  /**
   * Whether `state`'s peer is one whose silence is reported: a parent (it pushes to us, and
   * answers its stripe's chunks) or a peer we probe. A backup is only passed over when it does not
   * answer: its upload serves others first.
   */
  #owesAnswers(state: PeerLinkState): boolean {
    return this.#neighbours.parents.includes(state.remoteId) || this.#probes.has(state.remoteId);
  }

  /** Whether a request to `remoteId` is in flight. */
  #awaiting(remoteId: string): boolean {
    for (const pending of this.#pending.values()) if (pending.remoteId === remoteId) return true;
    return false;
  }

  #newestAnnounced(): number {
    let newest = -1;
    for (const state of this.#links.values()) {
      this.#forgetExpired(state);
      newest = Math.max(newest, state.remoteHas.newest());
    }
    return newest;
  }

  /** Drops per-chunk bookkeeping for chunks behind the playhead. */
  #forgetBefore(seq: number): void {
    // Mostly both are empty: no iterator for them.
    if (this.#originLastTry.size > 0) {
      for (const key of this.#originLastTry.keys()) if (key < seq) this.#originLastTry.delete(key);
    }
    if (this.#triedHolders.size > 0) {
      for (const key of this.#triedHolders.keys()) if (key < seq) this.#triedHolders.delete(key);
    }
  }

  #beingReceived(seq: number): boolean {
    for (const state of this.#links.values()) if (state.receiving(seq)) return true;
    return false;
  }

  #requested(seq: number): boolean {
    return this.#pendingPerSeq.has(seq);
  }

  #dropPending(requestId: number, seq: number): void {
    this.#pending.delete(requestId);
    const left = (this.#pendingPerSeq.get(seq) ?? 1) - 1;
    if (left > 0) this.#pendingPerSeq.set(seq, left);
    else this.#pendingPerSeq.delete(seq);
  }

  #requestFromNeighbour(seq: number): void {
    if (this.#pending.size >= MAX_PEER_REQUESTS) return;
    const tried = this.#triedHolders.get(seq);
    const holders: PeerLinkState[] = [];
    for (const state of this.#links.values()) {
      this.#forgetExpired(state);
      if (state.greeted && state.remoteHas.has(seq) && tried?.has(state.remoteId) !== true) {
        holders.push(state);
      }
    }
    // A random holder spreads repair requests over the neighbours that can answer; one that let
    // a request time out and sent nothing since is asked only when no other holds the chunk.
    const answering = holders.filter((state) => !state.quiet);
    const pool = answering.length > 0 ? answering : holders;
    const holder = pool[this.#c.random.int(pool.length)];
    if (holder !== undefined) this.#sendRequest(holder, seq);
  }

  #sendRequest(state: PeerLinkState, seq: number): void {
    const requestId = this.#nextRequestId++;
    const remoteId = state.remoteId;
    const timer = this.#c.clock.setTimeout(() => {
      this.#markDirty();
      this.#onRequestTimeout(requestId);
    }, this.#o.requestTimeoutMs);
    this.#pendingPerSeq.set(seq, (this.#pendingPerSeq.get(seq) ?? 0) + 1);
    state.enqueue(
      [encodeFrame({ type: FrameType.Request, requestId, seq })],
      this.#o.linkHighWaterBytes,
    );
    this.#pending.set(requestId, {
      seq,
      remoteId,
      timer,
      sentAtOnce: state.idle,
      answersBefore: state.answers,
    });
  }

  /**
   * A request went unanswered: the chunk is asked of others; a neighbour that lets
   * `UNANSWERED_LIMIT` requests in a row time out, sending nothing that answers, is reported.
   */
  #onRequestTimeout(requestId: number): void {
    const pending = this.#pending.get(requestId);
    this.#settleRequest(requestId, false);
    const state = pending === undefined ? undefined : this.#links.get(pending.remoteId);
    if (pending?.sentAtOnce !== true || state === undefined) return;
    const now = this.#c.clock.now();
    if (state.answers !== pending.answersBefore) {
      state.unanswered = 0;
      return;
    }
    if (now - state.lastUnansweredAtMs < this.#o.requestTimeoutMs) return;
    state.lastUnansweredAtMs = now;
    state.answersAtUnanswered = state.answers;
    if (++state.unanswered < UNANSWERED_LIMIT) {
      this.#signalSilent(state.remoteId, now);
      return;
    }
    if (!this.#owesAnswers(state)) return;
    this.#log.warn('closing a link whose peer answers no request', {
      remoteId: state.remoteId,
      unanswered: state.unanswered,
    });
    this.#report(state.remoteId, 'unresponsive');
    state.link.close();
  }

  /**
   * Tells the tracker, once, that parent `remoteId` pushes nothing and let a request time out, so
   * that it re-wires our stripe at once, without waiting for the `UNANSWERED_LIMIT` proof that a
   * report needs: the stripe's chunks meanwhile come from other holders and the origin, whose
   * upload a silent parent's whole subtree would swamp. Only while another parent pushes: with
   * every parent silent the fault may be on our side of the links, or a swamped swarm's.
   */
  #signalSilent(remoteId: string, now: number): void {
    const { parents } = this.#neighbours;
    if (!parents.includes(remoteId) || this.#signalled.has(remoteId)) return;
    const silentMs = this.#silentParentMs();
    const otherPushes = (parent: string): boolean =>
      parent !== remoteId && pushing(this.#links.get(parent), now, silentMs);
    if (!parents.some(otherPushes)) return;
    this.#signalled.add(remoteId);
    this.#tracker?.send({ type: 'silent', peer: remoteId });
  }

  #settleRequest(requestId: number, answered: boolean): void {
    const pending = this.#pending.get(requestId);
    if (pending === undefined) return;
    this.#c.clock.clearTimeout(pending.timer);
    this.#dropPending(requestId, pending.seq);
    if (answered) {
      this.#triedHolders.delete(pending.seq);
      return;
    }
    let tried = this.#triedHolders.get(pending.seq);
    if (tried === undefined) {
      tried = new Set();
      this.#triedHolders.set(pending.seq, tried);
    }
    tried.add(pending.remoteId);
  }

  #fetchFromOrigin(seq: number, now: number): void {
    const origin = this.#c.origin;
    const info = this.#info;
    if (origin === undefined || info === undefined) return;
    if (now - (this.#originLastTry.get(seq) ?? -Infinity) < ORIGIN_RETRY_MS) return;
    this.#originLastTry.set(seq, now);
    this.#log.debug('fetching from the origin', {
      seq,
      dueInMs: (this.#playback?.dueTime(seq, now) ?? now) - now,
      newest: this.#store.newestSeq,
      requested: this.#requested(seq),
    });
    const controller = new AbortController();
    this.#originInFlight.set(seq, controller);
    origin.fetchChunk(info.stream, seq, controller.signal).then(
      (chunk) => {
        this.#markDirty();
        this.#originInFlight.delete(seq);
        this.#originLastTry.delete(seq);
        if (this.#state !== 'started') return;
        this.#stats.bytesFromOrigin += chunk.byteLength;
        if (chunk.seq !== seq) {
          this.#log.warn('origin answered with another chunk', { asked: seq, got: chunk.seq });
          return;
        }
        if (this.#store.has(seq)) {
          this.#stats.duplicateChunks++;
          return;
        }
        this.#verifyAndAccept(chunk, 'origin', 'origin');
      },
      (error: unknown) => {
        this.#markDirty();
        this.#originInFlight.delete(seq);
        if (this.#state === 'started') {
          this.#log.debug('origin fetch failed', { seq, error: errorMessage(error) });
        }
      },
    );
  }
}

/**
 * Whether a chunk received is the one held, metadata and bytes alike (every duplicate is checked:
 * no allocation, and relayed bytes that are the held ones, in the same memory, are not compared
 * again).
 */
function sameChunk(held: Chunk, meta: ChunkMeta, bytes: Uint8Array): boolean {
  return (
    held.rendition === meta.rendition &&
    held.seq === meta.seq &&
    held.segment === meta.segment &&
    held.index === meta.index &&
    held.mediaTimeMs === meta.mediaTimeMs &&
    held.durationMs === meta.durationMs &&
    held.captureTimeMs === meta.captureTimeMs &&
    held.byteLength === meta.byteLength &&
    equalBytes(held.digest, meta.digest) &&
    equalBytes(held.signature, meta.signature) &&
    (sameMemory(held.bytes, bytes) || equalBytes(held.bytes, bytes))
  );
}

/** Whether two views show the same bytes of one memory (each peer decodes a view of its own). */
function sameMemory(a: Uint8Array, b: Uint8Array): boolean {
  return a.buffer === b.buffer && a.byteOffset === b.byteOffset && a.byteLength === b.byteLength;
}

/** A chunk and its DATA frames (see `PeerCore.#framesOf`); never modified. */
interface ChunkFrames {
  readonly chunk: Chunk;
  /** Its DATA frames: the messages it came in when they can be relayed as they are. */
  readonly data: readonly Uint8Array[];
}

/** The chunks received in relayable DATA frames, by the metadata object they came with. */
const relayedByMeta = new WeakMap<ChunkMeta, ChunkFrames>();

/**
 * The chunk of `meta` and `bytes` that came in the DATA frames `data`, with them. Peers of one
 * process that receive a chunk in the very same messages (the simulator hands one message to every
 * receiver and decodes it once) share one: a thousand simulated peers then hold one copy of a
 * chunk's bookkeeping, not a thousand. Only the same metadata object, bytes and messages are
 * shared, so nothing is compared byte by byte; the chunk shared is never modified.
 */
function relayedChunk(
  meta: ChunkMeta,
  bytes: Uint8Array,
  data: readonly Uint8Array[],
): ChunkFrames {
  const known = relayedByMeta.get(meta);
  if (known?.chunk.bytes === bytes && sameMessages(known.data, data)) return known;
  const frames = { chunk: chunkOf(meta, bytes), data };
  relayedByMeta.set(meta, frames);
  return frames;
}

/** Whether a link is greeted and a chunk began on it within `silentMs`. */
function pushing(
  state: PeerLinkState | undefined,
  now: number,
  silentMs: number,
): state is PeerLinkState {
  return state?.greeted === true && now - state.lastChunkAtMs <= silentMs;
}

/** Bits 0, n, 2n… of a 32-bit map, per n (`#heldBeforeFor`). */
const EVERY_NTH_BIT: number[] = [];

function everyNthBit(n: number): number {
  let bits = EVERY_NTH_BIT[n];
  if (bits === undefined) {
    bits = 0;
    for (let i = 0; i < HELD_BEFORE_CHUNKS; i += n) bits |= 1 << i;
    EVERY_NTH_BIT[n] = bits >>> 0;
  }
  return bits >>> 0;
}

/** A one-chunk HAVE: 17 bytes. */
function announcement(seq: number): Uint8Array {
  return encodeFrame({ type: FrameType.Have, fromSeq: seq, bitmap: ANNOUNCE_ONE });
}

/**
 * A received chunk: its metadata and bytes in an object literal, so every chunk a peer receives
 * has the same shape (a spread of `meta` costs more, and a peer handles hundreds per second).
 */
function chunkOf(meta: ChunkMeta, bytes: Uint8Array): Chunk {
  return {
    rendition: meta.rendition,
    seq: meta.seq,
    segment: meta.segment,
    index: meta.index,
    mediaTimeMs: meta.mediaTimeMs,
    durationMs: meta.durationMs,
    captureTimeMs: meta.captureTimeMs,
    byteLength: meta.byteLength,
    digest: meta.digest,
    signature: meta.signature,
    bytes,
  };
}

function modelQoe(report: PlaybackReport | null): PlayerQoe {
  return {
    playing: report?.state === 'playing',
    stalls: report?.stalls ?? 0,
    stalledMs: report?.stalledMs ?? 0,
    latencyMs: report?.latencyMs ?? null,
  };
}
