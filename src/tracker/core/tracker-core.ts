/**
 * The tracker (the supervisor), sans-IO: it takes decoded messages from an adapter (the `ws`
 * server, or the simulator) and answers through the `send`/`close` functions each connection
 * registered. Time and randomness are injected; there is no socket or timer of its own here.
 */
import type { Clock, TimerHandle } from '../../common/clock.js';
import { DEFAULTS } from '../../common/defaults.js';
import { errorMessage, InvalidStateError, SwarmcastError } from '../../common/errors.js';
import type { ProtocolError } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import type { Random } from '../../common/random.js';
import { TokenBucket } from '../../common/token-bucket.js';
import { fromBase64Url, toBase64Url } from '../../common/bytes.js';
import { issueCredential } from '../../crypto/credentials.js';
import { authMessage, NONCE_BYTES, rawKey } from '../../crypto/handshake.js';
import type { SyncSignatureCheck, SyncSigner } from '../../crypto/keys.js';
import { STREAM_KEY_BYTES } from '../../crypto/chunk-integrity.js';
import { STREAM_ID_PATTERN } from '../../protocol/chunk.js';
import {
  TRACKER_PROTOCOL_VERSION,
  trackerErrorCodeSchema,
  type ClientMessage,
  type QoeSample,
  type StreamInfo,
  type TopologyKind,
  type TrackerErrorCode,
  type TrackerMessage,
} from '../../protocol/tracker.js';
import { listTopology } from './list.js';
import { meshTopology } from './mesh.js';
import { sameIds, validBitrate, type Topology, type TopologyFactory } from './topology.js';
import { treeTopology } from './tree.js';

/** Tracker defaults that are not shared with other roles. */
export const TRACKER_DEFAULTS = {
  /**
   * A connection that has not completed the handshake (hello, challenge, auth, welcome) this long
   * after connecting is closed.
   */
  handshakeTimeoutMs: 5000,
  /** Lifetime of a credential; a fresh one is sent when half of it is left. */
  credentialTtlMs: 600_000,
  /** Messages per second a connection may send, sustained (token bucket refill rate). */
  rateLimitPerSecond: 50,
  /** Messages a connection may send at once (token bucket capacity). */
  rateLimitBurst: 100,
  /** Messages dropped by the rate limit, with no pause that refills the bucket, before the
   * connection is closed. */
  maxRateLimitedMessages: 100,
  /** Protocol errors (garbage, out-of-order messages) after which the connection is closed. */
  maxProtocolErrors: 20,
  /** Distinct neighbours whose reports evict a peer (docs/SECURITY.md, "Polluters"). */
  evictionReports: 2,
  /**
   * How long a reported peer that feeds others besides its reporter keeps its place, for them to
   * report it too, before it is demoted.
   */
  witnessWindowMs: 2000,
  /** A report counts if the reported peer is the reporter's neighbour or was this recently. */
  reportWindowMs: 10_000,
  /** Reports a peer may have open (against peers not evicted yet); further ones are ignored. */
  maxOpenReports: 3,
} as const;

/** Witnesses asked, one after another, to probe a peer reported once (see `#probe`). */
const MAX_PROBES = 2;
/**
 * Witnesses a `silent` signal has probe the peer beyond the reports its eviction needs: a witness
 * may be a polluter itself, gone before it reports (then a retry comes only `PROBE_RETRY_MS`
 * later, and a demoted polluter, feeding no one, meets no other witness).
 */
const SPARE_WITNESSES = 1;
/** A probe that brought no second report is followed by another witness's after this long. */
const PROBE_RETRY_MS = 5000;
/** How often a peer reported when there was no member to probe it looks for one again. */
const PROBE_WAIT_MS = 1000;
/** Bytes of randomness in a peer id: 12 bytes are 16 base64url characters. */
const PEER_ID_BYTES = 12;
/** Draws of a fresh peer id before giving up (a repeat means the Random is broken). */
const PEER_ID_ATTEMPTS = 8;
/** Largest timing option: the protocol carries timings as 1 ms to 1 hour. */
const MAX_TIMING_MS = 3_600_000;

export interface TrackerOptions {
  /** How often peers are told to send a heartbeat. @default DEFAULTS.heartbeatIntervalMs */
  heartbeatIntervalMs?: number;
  /**
   * A peer silent this long (no message of any kind) is failed and its children re-parented.
   * @default DEFAULTS.heartbeatTimeoutMs
   */
  heartbeatTimeoutMs?: number;
  /**
   * A connection must complete the handshake this soon. @default
   * TRACKER_DEFAULTS.handshakeTimeoutMs
   */
  handshakeTimeoutMs?: number;
  /** Lifetime of the credentials the tracker issues. @default TRACKER_DEFAULTS.credentialTtlMs */
  credentialTtlMs?: number;
  /**
   * The Ed25519 public keys (raw, base64url) the operator registered to broadcast, each for the
   * one stream it names or, without one, for any stream. `'any'` lets every authenticated peer
   * broadcast (tests and closed networks only). @default [] (no one may broadcast)
   */
  broadcasters?: readonly RegisteredBroadcaster[] | 'any';
  /** Topology of a stream whose broadcaster's `join` names none. @default 'tree' */
  topology?: TopologyKind;
  /**
   * Builds the topology of each kind. @default `listTopology()`, `treeTopology({ rootFanout,
   * fanout })` and `meshTopology()`
   */
  topologies?: Partial<Record<TopologyKind, TopologyFactory>>;
  /** Children of the broadcaster in the default tree. @default DEFAULTS.rootFanout */
  rootFanout?: number;
  /** Stripes of the default tree (2 or more: a multi-tree). @default DEFAULTS.treeStripes */
  treeStripes?: number;
  /** Children of every viewer in the default tree. @default DEFAULTS.treeFanout */
  fanout?: number;
  /**
   * Stream bitrate for the capacity rule when the broadcaster's stream info carries none.
   * @default none: capacity is unknown and fanouts apply
   */
  bitrateKbps?: number;
  /** Sustained messages per second per connection. @default TRACKER_DEFAULTS.rateLimitPerSecond */
  rateLimitPerSecond?: number;
  /** Burst of messages per connection. @default TRACKER_DEFAULTS.rateLimitBurst */
  rateLimitBurst?: number;
  /**
   * Messages dropped by the rate limit, with no pause that refills the bucket, before the
   * connection is closed. @default TRACKER_DEFAULTS.maxRateLimitedMessages
   */
  maxRateLimitedMessages?: number;
  /**
   * Protocol errors (undecodable, out-of-order or invalid messages) before a connection is
   * closed. @default TRACKER_DEFAULTS.maxProtocolErrors
   */
  maxProtocolErrors?: number;
  /**
   * Distinct authenticated neighbours that must report a peer before it is evicted (its key is
   * then banned from the stream); 2 or more, so that one false reporter cannot evict anyone.
   * @default TRACKER_DEFAULTS.evictionReports
   */
  evictionReports?: number;
  /**
   * How long a reported peer that feeds others besides its reporter keeps its place before it is
   * demoted, so that they can report it too. @default TRACKER_DEFAULTS.witnessWindowMs
   */
  witnessWindowMs?: number;
  /**
   * How long after two peers stop being neighbours a report of one by the other still counts.
   * @default TRACKER_DEFAULTS.reportWindowMs
   */
  reportWindowMs?: number;
  /**
   * Reports a peer may have open against peers not (yet) evicted; further ones are ignored, which
   * bounds the re-wiring a false reporter can cause. @default TRACKER_DEFAULTS.maxOpenReports
   */
  maxOpenReports?: number;
}

export interface TrackerComponents {
  clock: Clock;
  /** Draws peer ids and challenge nonces: unguessable in real runs (`CryptoRandom`). */
  random: Random;
  logger: Logger;
  /** The tracker's Ed25519 key: signs credentials; peers learn its public key in `challenge`. */
  signer: SyncSigner;
  /** Checks the peers' answers to the challenge. */
  checkSignature: SyncSignatureCheck;
  /** Which viewers may join (a shared secret, a JWT…). @default everyone authenticated */
  admission?: Admission;
}

/** A key the operator allows to broadcast. */
export interface RegisteredBroadcaster {
  /** Ed25519 public key, raw, base64url (43 characters). */
  readonly publicKey: string;
  /** The stream it may broadcast. @default any stream */
  readonly stream?: string;
}

/** Whether a viewer is admitted, and to which stream (e.g. a token's `stream` claim). */
export type AdmissionVerdict =
  | { readonly admitted: true; readonly stream?: string }
  | { readonly admitted: false; readonly reason: string };

/**
 * Decides which viewers the tracker admits, from the secret or token in their `hello` (absent
 * when they sent none). Synchronous checks return the verdict, and the peer is welcomed at once;
 * an asynchronous one (a JWT's signature) returns a promise.
 */
export interface Admission {
  admit(presented: string | undefined): AdmissionVerdict | Promise<AdmissionVerdict>;
}

const ADMITTED: AdmissionVerdict = { admitted: true };

/** Sends one message to the peer on this connection. */
export type SendFunction = (message: TrackerMessage) => void;
/** Closes the connection; `reason` is short and human-readable. The adapter then calls
 * `disconnect()` or not: the core has already forgotten the connection. */
export type CloseFunction = (reason: string) => void;

export type PeerRole = 'viewer' | 'broadcaster';

export interface NodeSnapshot {
  readonly id: string;
  readonly role: PeerRole;
  readonly parents: readonly string[];
  readonly children: readonly string[];
  readonly backupParents: readonly string[];
  readonly backupChildren: readonly string[];
  readonly uploadKbps: number | null;
  /** The last QoE sample the peer sent with a heartbeat. */
  readonly qoe: QoeSample | null;
}

export interface StreamSnapshot {
  readonly info: StreamInfo;
  readonly topology: TopologyKind;
  /** Broadcaster first, then viewers in arrival order. */
  readonly nodes: readonly NodeSnapshot[];
}

export interface TrackerSnapshot {
  /** Open connections, joined or not. */
  readonly connections: number;
  readonly streams: readonly StreamSnapshot[];
}

/** The four lists of a `neighbours` message. */
interface NeighbourLists {
  readonly parents: string[];
  readonly children: string[];
  readonly backupParents: string[];
  readonly backupChildren: string[];
}

const NO_NEIGHBOURS: NeighbourLists = {
  parents: [],
  children: [],
  backupParents: [],
  backupChildren: [],
};

interface StreamState {
  readonly info: StreamInfo;
  /**
   * An `hmac-sha256` stream's key (base64url), made here with the injected Random and sent only
   * in `joined` to the broadcaster and the admitted members: never logged, never in a snapshot.
   */
  readonly streamKey: string | undefined;
  /** Replaced together by `setTopology`. */
  kind: TopologyKind;
  topology: Topology;
  /** Each node's backup parents as last read from the topology (absent: none). */
  readonly backupParents: Map<string, readonly string[]>;
  /** The inverse: who keeps a standby link to each node, in the order the links appeared. */
  readonly backupChildren: Map<string, Set<string>>;
  readonly broadcaster: Connection;
  /** Members by peer id, broadcaster included, in arrival order. */
  readonly members: Map<string, Connection>;
  /** The distinct reporters of each reported member not evicted yet. */
  readonly reports: Map<string, Set<string>>;
  /**
   * Reported members at least one of whose reports named something it sent (a bad chunk, a
   * protocol violation), not only its silence: only their keys are banned.
   */
  readonly offended: Set<string>;
  /** Public keys of evicted peers: they may not join the stream again. */
  readonly banned: Set<string>;
}

interface Welcomed {
  readonly peerId: string;
  readonly role: PeerRole;
  readonly uploadKbps: number | undefined;
  /** The key the peer proved it holds. */
  readonly publicKey: string;
  /** The only stream its admission lets it join, if it names one. */
  readonly stream: string | undefined;
}

type HelloMessage = Extract<ClientMessage, { type: 'hello' }>;

/** A handshake attempt: from `hello` to `welcome` or refusal. */
interface Handshake {
  readonly hello: HelloMessage;
  /** Fresh for each attempt: an `auth` signed for another nonce does not verify. */
  readonly nonce: Uint8Array;
  /** Set while an asynchronous admission decides. */
  admitting: boolean;
}

interface Connection {
  readonly id: string;
  readonly send: SendFunction;
  readonly close: CloseFunction;
  readonly bucket: TokenBucket;
  /** The handshake under way, if any. */
  handshake: Handshake | undefined;
  /** Set by a successful handshake. */
  welcomed: Welcomed | undefined;
  /** Expiry of the last credential issued (0: none). */
  credentialExpiresAtMs: number;
  stream: StreamState | undefined;
  /** The neighbour lists last sent, to send only changes. */
  sent: NeighbourLists | undefined;
  /** Peers that left those lists, with when: reports of them still count for a while. */
  readonly formerNeighbours: Map<string, number>;
  /** The peers this one reported (at most one report per offender). */
  readonly reported: Set<string>;
  /** Peers this one was asked to probe, with when: its reports of them count for a while. */
  readonly probing: Map<string, number>;
  /** Parents this one signalled `silent` within `reportWindowMs`, with when. */
  readonly signalled: Map<string, number>;
  qoe: QoeSample | null;
  lastSeenMs: number;
  protocolErrors: number;
  /** The handshake timer, then the liveness timer. */
  timer: TimerHandle | undefined;
}

/**
 * The tracker core. Adapters call `connect()` for each new connection, then `receive()` for each
 * decoded message, `protocolError()` for each message they could not decode, and `disconnect()`
 * when the connection closes.
 */
export class TrackerCore {
  readonly #clock: Clock;
  readonly #random: Random;
  readonly #logger: Logger;
  readonly #signer: SyncSigner;
  readonly #checkSignature: SyncSignatureCheck;
  readonly #admission: Admission;
  readonly #broadcasters: readonly RegisteredBroadcaster[] | 'any';
  readonly #options: Required<
    Omit<
      TrackerOptions,
      'rootFanout' | 'fanout' | 'treeStripes' | 'bitrateKbps' | 'topologies' | 'broadcasters'
    >
  > & { topologies: Record<TopologyKind, TopologyFactory> };
  readonly #bitrateKbps: number | undefined;
  readonly #connections = new Map<string, Connection>();
  readonly #peers = new Map<string, Connection>();
  readonly #streams = new Map<string, StreamState>();
  #nextConnection = 1;
  #closed = false;

  constructor(components: TrackerComponents, options: TrackerOptions = {}) {
    this.#clock = components.clock;
    this.#random = components.random;
    this.#logger = components.logger;
    this.#signer = components.signer;
    this.#checkSignature = components.checkSignature;
    this.#admission = components.admission ?? { admit: () => ADMITTED };
    this.#broadcasters = registrations(options.broadcasters ?? []);
    this.#options = {
      heartbeatIntervalMs: timing(
        'heartbeatIntervalMs',
        options.heartbeatIntervalMs ?? DEFAULTS.heartbeatIntervalMs,
      ),
      heartbeatTimeoutMs: timing(
        'heartbeatTimeoutMs',
        options.heartbeatTimeoutMs ?? DEFAULTS.heartbeatTimeoutMs,
      ),
      handshakeTimeoutMs: timing(
        'handshakeTimeoutMs',
        options.handshakeTimeoutMs ?? TRACKER_DEFAULTS.handshakeTimeoutMs,
      ),
      credentialTtlMs: timing(
        'credentialTtlMs',
        options.credentialTtlMs ?? TRACKER_DEFAULTS.credentialTtlMs,
      ),
      topology: options.topology ?? 'tree',
      topologies: {
        list: options.topologies?.list ?? listTopology(),
        tree:
          options.topologies?.tree ??
          treeTopology({
            rootFanout: options.rootFanout,
            fanout: options.fanout,
            stripes: options.treeStripes,
          }),
        mesh: options.topologies?.mesh ?? meshTopology(),
      },
      rateLimitPerSecond: positive(
        'rateLimitPerSecond',
        options.rateLimitPerSecond ?? TRACKER_DEFAULTS.rateLimitPerSecond,
      ),
      rateLimitBurst: count(
        'rateLimitBurst',
        options.rateLimitBurst ?? TRACKER_DEFAULTS.rateLimitBurst,
      ),
      maxRateLimitedMessages: count(
        'maxRateLimitedMessages',
        options.maxRateLimitedMessages ?? TRACKER_DEFAULTS.maxRateLimitedMessages,
      ),
      maxProtocolErrors: count(
        'maxProtocolErrors',
        options.maxProtocolErrors ?? TRACKER_DEFAULTS.maxProtocolErrors,
      ),
      evictionReports: count(
        'evictionReports',
        options.evictionReports ?? TRACKER_DEFAULTS.evictionReports,
      ),
      witnessWindowMs: timing(
        'witnessWindowMs',
        options.witnessWindowMs ?? TRACKER_DEFAULTS.witnessWindowMs,
      ),
      reportWindowMs: timing(
        'reportWindowMs',
        options.reportWindowMs ?? TRACKER_DEFAULTS.reportWindowMs,
      ),
      maxOpenReports: count(
        'maxOpenReports',
        options.maxOpenReports ?? TRACKER_DEFAULTS.maxOpenReports,
      ),
    };
    if (this.#options.evictionReports < 2) {
      throw new SwarmcastError(
        'invalid-argument',
        'evictionReports must be at least 2: one reporter alone must not evict a peer',
      );
    }
    this.#bitrateKbps = validBitrate(options.bitrateKbps);
    if (this.#options.heartbeatTimeoutMs <= this.#options.heartbeatIntervalMs) {
      throw new SwarmcastError(
        'invalid-argument',
        'heartbeatTimeoutMs must be longer than heartbeatIntervalMs',
      );
    }
  }

  /** Registers a new connection and returns its id (not the peer id, which hello assigns). */
  connect(send: SendFunction, close: CloseFunction): string {
    if (this.#closed) throw new InvalidStateError('tracker is closed');
    const id = `c${this.#nextConnection++}`;
    const now = this.#clock.now();
    const connection: Connection = {
      id,
      send,
      close,
      bucket: new TokenBucket(this.#options.rateLimitPerSecond, this.#options.rateLimitBurst, now),
      handshake: undefined,
      welcomed: undefined,
      credentialExpiresAtMs: 0,
      stream: undefined,
      sent: undefined,
      formerNeighbours: new Map(),
      reported: new Set(),
      probing: new Map(),
      signalled: new Map(),
      qoe: null,
      lastSeenMs: now,
      protocolErrors: 0,
      timer: undefined,
    };
    connection.timer = this.#clock.setTimeout(() => {
      connection.timer = undefined;
      this.#logger.debug('handshake timeout', { connection: id });
      this.#drop(connection, 'handshake timeout');
    }, this.#options.handshakeTimeoutMs);
    this.#connections.set(id, connection);
    this.#logger.debug('connection opened', { connection: id });
    return id;
  }

  /** Handles one decoded message. Messages for unknown (closed) connections are ignored. */
  receive(connectionId: string, message: ClientMessage): void {
    const connection = this.#admit(connectionId);
    if (connection === undefined) return;
    if (message.type === 'hello') {
      this.#hello(connection, message);
      return;
    }
    if (message.type === 'auth') {
      this.#auth(connection, message);
      return;
    }
    const welcomed = connection.welcomed;
    if (welcomed === undefined) {
      this.#refuse(connection, 'out-of-order', `${message.type} before authentication`);
      return;
    }
    switch (message.type) {
      case 'join':
        this.#join(connection, welcomed, message);
        break;
      case 'signal':
        this.#signal(connection, welcomed, message);
        break;
      case 'heartbeat':
        if (message.qoe !== undefined) connection.qoe = message.qoe;
        this.#refreshCredential(connection, welcomed);
        break;
      case 'leave':
        // Leaving when not in a stream (e.g. just after it ended) is a no-op.
        this.#detach(connection, 'left');
        break;
      case 'report':
        this.#report(connection, welcomed, message);
        break;
      case 'silent':
        this.#silent(connection, welcomed, message.peer);
        break;
    }
  }

  /** The adapter could not decode a message: the peer gets an `error` with the code. */
  protocolError(connectionId: string, error: ProtocolError): void {
    const connection = this.#admit(connectionId);
    if (connection === undefined) return;
    const parsed = trackerErrorCodeSchema.safeParse(error.code);
    this.#refuse(connection, parsed.success ? parsed.data : 'malformed-message', error.message);
  }

  /** The connection closed: the peer leaves its stream at once. Unknown ids are ignored. */
  disconnect(connectionId: string): void {
    const connection = this.#connections.get(connectionId);
    if (connection === undefined) return;
    this.#forget(connection, 'disconnected');
  }

  /**
   * Removes a peer at once as if it had failed (an operator's kill): the topology is repaired,
   * its neighbours are told, and its connection is closed. Returns false for an unknown peer id.
   */
  evict(peerId: string): boolean {
    const connection = this.#peers.get(peerId);
    if (connection === undefined) return false;
    this.#logger.info('evicting peer', { peer: peerId });
    this.#drop(connection, 'evicted');
    return true;
  }

  /**
   * Switches a live stream to a topology of `kind` (an operator's control): builds it anew, adds
   * the stream's viewers in their arrival order, and sends `neighbours` to every member whose
   * lists changed. Returns false for an unknown stream.
   */
  setTopology(streamName: string, kind: TopologyKind): boolean {
    const stream = this.#streams.get(streamName);
    if (stream === undefined) return false;
    const topology = this.#buildTopology(kind, stream.topology.rootId, stream.info);
    for (const [id, member] of stream.members) {
      if (member === stream.broadcaster) continue;
      const uploadKbps = member.welcomed?.uploadKbps;
      topology.add(uploadKbps === undefined ? { id } : { id, uploadKbps });
    }
    const from = stream.kind;
    stream.kind = kind;
    stream.topology = topology;
    this.#logger.info('topology switched', { stream: streamName, from, to: kind });
    this.#publish(stream, [...stream.members.keys()]);
    return true;
  }

  snapshot(): TrackerSnapshot {
    const streams: StreamSnapshot[] = [];
    for (const stream of this.#streams.values()) {
      const nodes: NodeSnapshot[] = [];
      for (const [id, member] of stream.members) {
        nodes.push({
          id,
          role: member === stream.broadcaster ? 'broadcaster' : 'viewer',
          ...listsOf(stream, id),
          uploadKbps: member.welcomed?.uploadKbps ?? null,
          qoe: member.qoe,
        });
      }
      streams.push({ info: stream.info, topology: stream.kind, nodes });
    }
    return { connections: this.#connections.size, streams };
  }

  /** Closes every connection and forgets every stream, telling no one. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const connection of this.#connections.values()) {
      if (connection.timer !== undefined) this.#clock.clearTimeout(connection.timer);
      connection.close('tracker closed');
    }
    this.#connections.clear();
    this.#peers.clear();
    this.#streams.clear();
  }

  /** The connection, if it exists and the message passes the rate limit; refreshes liveness. */
  #admit(connectionId: string): Connection | undefined {
    const connection = this.#connections.get(connectionId);
    if (connection === undefined) return undefined;
    const now = this.#clock.now();
    connection.lastSeenMs = now;
    const verdict = connection.bucket.take(now);
    if (verdict === 'accept') return connection;
    if (verdict === 'first-drop') {
      this.#logger.warn('rate limited', { connection: connectionId });
      this.#sendError(connection, 'rate-limited', 'too many messages: slow down');
    } else if (connection.bucket.dropped > this.#options.maxRateLimitedMessages) {
      this.#logger.warn('closing a flooding connection', { connection: connectionId });
      this.#drop(connection, 'rate limit exceeded');
    }
    return undefined;
  }

  /** Step 1 of the handshake: a fresh challenge for the key and role the peer announces. */
  #hello(connection: Connection, message: HelloMessage): void {
    if (connection.welcomed !== undefined) {
      this.#refuse(connection, 'out-of-order', 'already authenticated');
      return;
    }
    if (connection.handshake?.admitting === true) {
      this.#refuse(connection, 'out-of-order', 'authentication under way');
      return;
    }
    if (message.version !== TRACKER_PROTOCOL_VERSION) {
      this.#refuse(
        connection,
        'unsupported-version',
        `protocol version ${message.version} is not supported; use ${TRACKER_PROTOCOL_VERSION}`,
      );
      return;
    }
    // A new hello starts a new attempt: the previous nonce, if any, is worthless from now on.
    const nonce = this.#random.bytes(NONCE_BYTES);
    connection.handshake = { hello: message, nonce, admitting: false };
    connection.send({
      type: 'challenge',
      nonce: toBase64Url(nonce),
      trackerKey: this.#signer.publicKey,
    });
  }

  /** Step 2: the signed answer to this connection's challenge, then admission. */
  #auth(connection: Connection, message: Extract<ClientMessage, { type: 'auth' }>): void {
    const handshake = connection.handshake;
    if (connection.welcomed !== undefined || handshake === undefined || handshake.admitting) {
      this.#refuse(connection, 'out-of-order', 'auth without a pending challenge');
      return;
    }
    const { hello, nonce } = handshake;
    const signed = authMessage(nonce, hello.publicKey, hello.role, this.#signer.publicKey);
    if (!this.#checkSignature(hello.publicKey, fromBase64Url(message.signature), signed)) {
      this.#deny(connection, "the signature does not answer this connection's challenge");
      return;
    }
    const verdict = hello.role === 'viewer' ? this.#admission.admit(hello.admission) : ADMITTED;
    if (!(verdict instanceof Promise)) {
      this.#conclude(connection, handshake, verdict);
      return;
    }
    handshake.admitting = true;
    verdict.then(
      (settled) => {
        this.#conclude(connection, handshake, settled);
      },
      (error: unknown) => {
        this.#logger.error('admission failed', { error: errorMessage(error) });
        this.#conclude(connection, handshake, { admitted: false, reason: 'admission failed' });
      },
    );
  }

  /** Step 3: welcome (AUTHENTICATED) with a fresh peer id, or refusal. */
  #conclude(connection: Connection, handshake: Handshake, verdict: AdmissionVerdict): void {
    // The connection may have closed, or timed out, while an asynchronous admission decided.
    if (this.#connections.get(connection.id) !== connection || connection.handshake !== handshake) {
      return;
    }
    connection.handshake = undefined;
    if (!verdict.admitted) {
      this.#deny(connection, `not admitted: ${verdict.reason}`);
      return;
    }
    const { hello } = handshake;
    const peerId = this.#newPeerId();
    connection.welcomed = {
      peerId,
      role: hello.role,
      uploadKbps: hello.uploadKbps,
      publicKey: hello.publicKey,
      stream: verdict.stream,
    };
    this.#peers.set(peerId, connection);
    if (connection.timer !== undefined) this.#clock.clearTimeout(connection.timer);
    this.#armLiveness(connection, this.#options.heartbeatTimeoutMs);
    connection.send({
      type: 'welcome',
      version: TRACKER_PROTOCOL_VERSION,
      peerId,
      heartbeatIntervalMs: this.#options.heartbeatIntervalMs,
      heartbeatTimeoutMs: this.#options.heartbeatTimeoutMs,
    });
    this.#logger.debug('peer authenticated', {
      connection: connection.id,
      peer: peerId,
      role: hello.role,
    });
  }

  /** A failed handshake: the peer is told why and the connection is closed. */
  #deny(connection: Connection, reason: string): void {
    this.#logger.info('handshake refused', { connection: connection.id, reason });
    this.#sendError(connection, 'unauthorized', reason);
    this.#drop(connection, 'authentication failed');
  }

  /** A credential for the member's stream, valid `credentialTtlMs` from now. */
  #issueCredential(connection: Connection, welcomed: Welcomed, stream: string): string {
    const expiresAtMs = this.#clock.now() + this.#options.credentialTtlMs;
    connection.credentialExpiresAtMs = expiresAtMs;
    return issueCredential(this.#signer, {
      peerId: welcomed.peerId,
      stream,
      role: welcomed.role,
      publicKey: welcomed.publicKey,
      expiresAtMs,
    });
  }

  /** Sends a member a fresh credential once half of the current one's lifetime is gone. */
  #refreshCredential(connection: Connection, welcomed: Welcomed): void {
    const stream = connection.stream;
    if (stream === undefined) return;
    const leftMs = connection.credentialExpiresAtMs - this.#clock.now();
    if (leftMs > this.#options.credentialTtlMs / 2) return;
    connection.send({
      type: 'credential',
      credential: this.#issueCredential(connection, welcomed, stream.info.stream),
    });
  }

  /** Whether the operator registered `publicKey` to broadcast `stream`. */
  #mayBroadcast(publicKey: string, stream: string): boolean {
    const registered = this.#broadcasters;
    return (
      registered === 'any' ||
      registered.some(
        (r) => r.publicKey === publicKey && (r.stream === undefined || r.stream === stream),
      )
    );
  }

  #join(
    connection: Connection,
    welcomed: Welcomed,
    message: Extract<ClientMessage, { type: 'join' }>,
  ): void {
    if (connection.stream !== undefined) {
      this.#refuse(connection, 'out-of-order', `already joined ${connection.stream.info.stream}`);
      return;
    }
    const existing = this.#streams.get(message.stream);
    if (welcomed.role === 'broadcaster') {
      if (message.info?.stream !== message.stream) {
        this.#refuse(
          connection,
          'malformed-message',
          'a broadcaster join carries info for its stream',
        );
      } else if (!this.#mayBroadcast(welcomed.publicKey, message.stream)) {
        this.#sendError(
          connection,
          'unauthorized',
          `this key is not registered to broadcast ${message.stream}`,
        );
      } else if (existing !== undefined) {
        this.#sendError(connection, 'unauthorized', `stream ${message.stream} has a broadcaster`);
      } else {
        this.#createStream(
          connection,
          welcomed,
          message.info,
          message.topology ?? this.#options.topology,
        );
      }
    } else if (message.info !== undefined || message.topology !== undefined) {
      this.#sendError(
        connection,
        'unauthorized',
        'only a broadcaster announces a stream and its topology',
      );
    } else if (welcomed.stream !== undefined && welcomed.stream !== message.stream) {
      this.#sendError(connection, 'unauthorized', `admitted to stream ${welcomed.stream} only`);
    } else if (existing === undefined) {
      this.#sendError(connection, 'unknown-stream', `no stream ${message.stream}`);
    } else if (existing.banned.has(welcomed.publicKey)) {
      this.#sendError(connection, 'unauthorized', `this key was evicted from ${message.stream}`);
      this.#drop(connection, 'evicted key');
    } else {
      existing.members.set(welcomed.peerId, connection);
      connection.stream = existing;
      const affected = existing.topology.add({
        id: welcomed.peerId,
        ...(welcomed.uploadKbps === undefined ? {} : { uploadKbps: welcomed.uploadKbps }),
      });
      this.#sendJoined(connection, welcomed, existing);
      this.#logger.info('peer joined', { stream: message.stream, peer: welcomed.peerId });
      this.#publish(existing, affected);
    }
  }

  #createStream(
    connection: Connection,
    welcomed: Welcomed,
    info: StreamInfo,
    kind: TopologyKind,
  ): void {
    const { peerId } = welcomed;
    const stream: StreamState = {
      info,
      streamKey:
        info.integrity?.scheme === 'hmac-sha256'
          ? toBase64Url(this.#random.bytes(STREAM_KEY_BYTES))
          : undefined,
      kind,
      topology: this.#buildTopology(kind, peerId, info),
      backupParents: new Map(),
      backupChildren: new Map(),
      broadcaster: connection,
      members: new Map([[peerId, connection]]),
      reports: new Map(),
      offended: new Set(),
      banned: new Set(),
    };
    this.#streams.set(info.stream, stream);
    connection.stream = stream;
    this.#sendJoined(connection, welcomed, stream);
    this.#logger.info('stream created', {
      stream: info.stream,
      broadcaster: peerId,
      topology: kind,
    });
    this.#publish(stream, [peerId]);
  }

  /** Tells a member it joined: the stream, its credential, and the HMAC stream key if any. */
  #sendJoined(connection: Connection, welcomed: Welcomed, stream: StreamState): void {
    const { info, streamKey } = stream;
    connection.send({
      type: 'joined',
      info,
      credential: this.#issueCredential(connection, welcomed, info.stream),
      ...(streamKey === undefined ? {} : { streamKey }),
    });
  }

  /** A new, empty topology of `kind` rooted at the broadcaster, with the stream's bitrate. */
  #buildTopology(kind: TopologyKind, rootId: string, info: StreamInfo): Topology {
    const bitrateKbps = info.bitrateKbps ?? this.#bitrateKbps;
    return this.#options.topologies[kind](rootId, bitrateKbps === undefined ? {} : { bitrateKbps });
  }

  #signal(
    connection: Connection,
    welcomed: Welcomed,
    message: Extract<ClientMessage, { type: 'signal' }>,
  ): void {
    const stream = connection.stream;
    if (stream === undefined) {
      this.#refuse(connection, 'out-of-order', 'signal before join');
      return;
    }
    const target = stream.members.get(message.to);
    if (target === undefined || target === connection) {
      this.#sendError(connection, 'unknown-peer', `no peer ${message.to} in this stream`);
      return;
    }
    target.send({ type: 'signal', from: welcomed.peerId, data: message.data });
  }

  /** Removes a member from its stream and repairs the topology, or ends the stream. */
  #detach(connection: Connection, how: 'left' | 'failed'): void {
    const stream = connection.stream;
    const peerId = connection.welcomed?.peerId;
    if (stream === undefined || peerId === undefined) return;
    connection.stream = undefined;
    connection.sent = undefined;
    stream.members.delete(peerId);
    stream.reports.delete(peerId);
    stream.offended.delete(peerId);
    if (stream.broadcaster === connection) {
      this.#endStream(stream);
      return;
    }
    const affected = stream.topology.remove(peerId);
    this.#logger.info(`peer ${how}`, { stream: stream.info.stream, peer: peerId });
    // The departed node is a candidate too, so that its standby links leave the inverse index.
    this.#publish(stream, [...affected, peerId]);
    stream.backupChildren.delete(peerId);
    // A witness that leaves while probing (a polluter evicted meanwhile) reports nothing: another
    // one probes in its place at once, not `PROBE_RETRY_MS` later.
    const now = this.#clock.now();
    for (const [probed, askedAtMs] of connection.probing) {
      const target = stream.members.get(probed);
      const reporters = stream.reports.get(probed)?.size ?? 0;
      if (
        target !== undefined &&
        now - askedAtMs < PROBE_RETRY_MS &&
        reporters < this.#options.evictionReports
      ) {
        this.#probe(stream, target, probed, 1);
      }
    }
  }

  #endStream(stream: StreamState): void {
    const name = stream.info.stream;
    for (const member of stream.members.values()) {
      member.stream = undefined;
      member.sent = undefined;
      member.send({ type: 'neighbours', stream: name, ...NO_NEIGHBOURS });
    }
    this.#streams.delete(name);
    this.#logger.info('stream ended', { stream: name, viewers: stream.members.size });
  }

  /**
   * Sends `neighbours` to each of `candidates`, and to each node whose backup children changed
   * because a candidate's backup parents did, whose lists differ from what it was last told.
   */
  #publish(stream: StreamState, candidates: readonly string[]): void {
    const targets = new Set(candidates);
    for (const id of candidates) refreshBackups(stream, id, targets);
    for (const id of targets) {
      const member = stream.members.get(id);
      if (member === undefined) continue;
      const lists = listsOf(stream, id);
      const sent = member.sent;
      if (
        sent !== undefined &&
        sameIds(sent.parents, lists.parents) &&
        sameIds(sent.children, lists.children) &&
        sameIds(sent.backupParents, lists.backupParents) &&
        sameIds(sent.backupChildren, lists.backupChildren)
      ) {
        continue;
      }
      if (sent !== undefined) this.#rememberFormerNeighbours(member, sent, lists);
      member.sent = lists;
      member.send({ type: 'neighbours', stream: stream.info.stream, ...lists });
    }
  }

  /**
   * A member reports a neighbour that sent it a bad chunk, broke the peer protocol, or answered
   * nothing. The first report demotes the peer (it re-joins at the edge: its children are
   * re-parented at once), at once if the reporter is the only one it feeds, else after
   * `witnessWindowMs` unless a second report came, and has a witness probe it; the
   * `evictionReports`-th distinct reporter evicts it, or only cuts it when every report was of
   * silence (docs/SECURITY.md, "Polluters").
   */
  #report(
    connection: Connection,
    welcomed: Welcomed,
    message: Extract<ClientMessage, { type: 'report' }>,
  ): void {
    const stream = connection.stream;
    if (stream === undefined) {
      this.#refuse(connection, 'out-of-order', 'report before join');
      return;
    }
    const target = stream.members.get(message.peer);
    // Already gone (evicted on an earlier report, left, failed): nothing to do.
    if (target === undefined || connection.reported.has(message.peer)) return;
    if (target === connection || target === stream.broadcaster) {
      this.#refuse(connection, 'unauthorized', 'a peer reports only another viewer');
      return;
    }
    if (!this.#wasNeighbour(connection, message.peer) && !this.#probed(connection, message.peer)) {
      this.#refuse(connection, 'unauthorized', `${message.peer} is not a neighbour of yours`);
      return;
    }
    let open = 0;
    for (const id of connection.reported) if (stream.reports.has(id)) open++;
    if (open >= this.#options.maxOpenReports) {
      this.#logger.warn('ignoring a report: the reporter has too many open reports', {
        reporter: welcomed.peerId,
        peer: message.peer,
      });
      return;
    }
    connection.reported.add(message.peer);
    let reporters = stream.reports.get(message.peer);
    if (reporters === undefined) {
      reporters = new Set();
      stream.reports.set(message.peer, reporters);
    }
    reporters.add(welcomed.peerId);
    this.#logger.info('peer reported', {
      stream: stream.info.stream,
      peer: message.peer,
      reporter: welcomed.peerId,
      reason: message.reason,
      seq: message.seq,
      reporters: reporters.size,
    });
    if (message.reason !== 'unresponsive') stream.offended.add(message.peer);
    if (reporters.size >= this.#options.evictionReports) {
      this.#evictReported(stream, target, message.peer, reporters.size);
    } else if (reporters.size === 1) {
      // A peer that feeds others besides the reporter keeps its place a moment, so that they can
      // witness what it sends (demoting it at once would leave it no second reporter).
      const witnesses = stream.topology
        .childrenOf(message.peer)
        .some((child) => child !== welcomed.peerId);
      if (!witnesses) {
        this.#demote(stream, target, message.peer);
        return;
      }
      this.#clock.setTimeout(() => {
        if (stream.members.get(message.peer) === target && reporters.size === 1) {
          this.#demote(stream, target, message.peer);
        }
      }, this.#options.witnessWindowMs);
    }
  }

  /**
   * A member's parent pushes it nothing and let its request time out while another of its
   * parents pushes (`silent`): the parent is demoted at once, as on a first report (it feeds no one any more: its
   * children, the sender among them, are re-parented), and witnesses probe it, but the signal
   * counts toward no eviction: only the witnesses' reports do. A member is heard once per parent
   * within `reportWindowMs`, and about at most `maxOpenReports` parents in that window, so that a
   * false signaller re-wires no more than a false reporter.
   */
  #silent(connection: Connection, welcomed: Welcomed, peerId: string): void {
    const stream = connection.stream;
    if (stream === undefined) {
      this.#refuse(connection, 'out-of-order', 'silent before join');
      return;
    }
    const target = stream.members.get(peerId);
    if (target === undefined) return;
    if (!this.#wasNeighbour(connection, peerId)) {
      this.#refuse(connection, 'unauthorized', `${peerId} is not a neighbour of yours`);
      return;
    }
    // The broadcaster is never moved; a parent no longer the sender's was re-wired already.
    if (
      target === stream.broadcaster ||
      !stream.topology.parentsOf(welcomed.peerId).includes(peerId)
    ) {
      return;
    }
    const now = this.#clock.now();
    const signalled = connection.signalled;
    for (const [id, atMs] of signalled) {
      if (now - atMs > this.#options.reportWindowMs) signalled.delete(id);
    }
    if (signalled.has(peerId) || signalled.size >= this.#options.maxOpenReports) return;
    signalled.set(peerId, now);
    this.#logger.info('parent signalled silent', {
      stream: stream.info.stream,
      peer: peerId,
      child: welcomed.peerId,
    });
    this.#demote(stream, target, peerId, connection);
  }

  /** Whether `peerId` is in the lists `connection` was last sent, or left them recently. */
  #wasNeighbour(connection: Connection, peerId: string): boolean {
    const sent = connection.sent;
    if (
      sent !== undefined &&
      (sent.parents.includes(peerId) ||
        sent.children.includes(peerId) ||
        sent.backupParents.includes(peerId) ||
        sent.backupChildren.includes(peerId))
    ) {
      return true;
    }
    const leftAtMs = connection.formerNeighbours.get(peerId);
    return leftAtMs !== undefined && this.#clock.now() - leftAtMs <= this.#options.reportWindowMs;
  }

  /** Whether the tracker asked `connection` to probe `peerId` within the report window. */
  #probed(connection: Connection, peerId: string): boolean {
    const askedAtMs = connection.probing.get(peerId);
    return askedAtMs !== undefined && this.#clock.now() - askedAtMs <= this.#options.reportWindowMs;
  }

  /** Records the peers that left `member`'s lists, and forgets those that left long ago. */
  #rememberFormerNeighbours(
    member: Connection,
    before: NeighbourLists,
    after: NeighbourLists,
  ): void {
    const now = this.#clock.now();
    const former = member.formerNeighbours;
    for (const [id, leftAtMs] of former) {
      if (now - leftAtMs > this.#options.reportWindowMs) former.delete(id);
    }
    const kept = new Set([
      ...after.parents,
      ...after.children,
      ...after.backupParents,
      ...after.backupChildren,
    ]);
    for (const list of [
      before.parents,
      before.children,
      before.backupParents,
      before.backupChildren,
    ]) {
      for (const id of list) if (!kept.has(id)) former.set(id, now);
    }
  }

  /**
   * A first report, or a `silent` signal: the peer re-joins the topology as a node that feeds no
   * one (`relay: false`; a topology that cannot place it so puts it at its edge), so its children,
   * the reporter among them, are re-parented at once; and a witness probes it (`#probe`), so that
   * a second reporter can decide even when it fed no one but its reporter. After a signal, which
   * is no report, `evictionReports` witnesses other than the `signaller` and `SPARE_WITNESSES`
   * more probe it at once. (Not after a report: probes cost a swamped honest peer a report each,
   * and two cut it.)
   */
  #demote(stream: StreamState, target: Connection, peerId: string, signaller?: Connection): void {
    const uploadKbps = target.welcomed?.uploadKbps;
    const removed = stream.topology.remove(peerId);
    const added = stream.topology.add({
      id: peerId,
      relay: false,
      ...(uploadKbps === undefined ? {} : { uploadKbps }),
    });
    this.#logger.info('peer demoted', { stream: stream.info.stream, peer: peerId });
    this.#publish(stream, [...removed, ...added, peerId]);
    this.#probe(stream, target, peerId, MAX_PROBES, signaller);
    if (signaller !== undefined) {
      // No report yet: enough witnesses for an eviction at once, and spares.
      for (let more = 1; more < this.#options.evictionReports + SPARE_WITNESSES; more++) {
        this.#probe(stream, target, peerId, 1, signaller);
      }
    }
  }

  /**
   * Asks a member that has not reported `peerId` to probe it (link to it, ask it for chunks it
   * announces, and report it if what comes is bad or nothing comes). While it stays reported once,
   * another witness is asked `PROBE_RETRY_MS` later, `probes` times in all. With no member to ask
   * (the peer was reported before anyone else joined), the first one within `PROBE_WAIT_MS` is.
   * `signaller`, the member whose `silent` signal demoted the peer, is not asked at once: it
   * witnessed already, and the demoted peer closes its link to it.
   */
  #probe(
    stream: StreamState,
    target: Connection,
    peerId: string,
    probes: number,
    signaller?: Connection,
  ): void {
    const reporters = stream.reports.get(peerId);
    if (probes <= 0 || stream.members.get(peerId) !== target) return;
    const witnesses = [...stream.members].filter(
      ([id, member]) =>
        member !== target &&
        member !== stream.broadcaster &&
        member !== signaller &&
        reporters?.has(id) !== true &&
        !member.probing.has(peerId),
    );
    const witness = witnesses[this.#random.int(witnesses.length)];
    if (witness === undefined) {
      this.#probeLater(stream, target, peerId, probes, PROBE_WAIT_MS);
      return;
    }
    const [witnessId, connection] = witness;
    const now = this.#clock.now();
    for (const [id, askedAtMs] of connection.probing) {
      if (now - askedAtMs > this.#options.reportWindowMs) connection.probing.delete(id);
    }
    connection.probing.set(peerId, now);
    this.#logger.info('probing a reported peer', {
      stream: stream.info.stream,
      peer: peerId,
      witness: witnessId,
    });
    connection.send({ type: 'probe', peer: peerId });
    this.#probeLater(stream, target, peerId, probes - 1, PROBE_RETRY_MS);
  }

  /** `#probe` after `delayMs`, if `peerId` is still reported once then. */
  #probeLater(
    stream: StreamState,
    target: Connection,
    peerId: string,
    probes: number,
    delayMs: number,
  ): void {
    this.#clock.setTimeout(() => {
      if (stream.reports.get(peerId)?.size === 1) this.#probe(stream, target, peerId, probes);
    }, delayMs);
  }

  /**
   * Evicts a peer reported by enough distinct neighbours: it is removed as on a failure, its key
   * is banned from the stream, its connection is closed, and every member is told to drop it.
   */
  #evictReported(stream: StreamState, target: Connection, peerId: string, reporters: number): void {
    if (!stream.offended.has(peerId)) {
      // Reported only as silent: no proof of malice (an honest peer whose upload is swamped is
      // silent too), so it is cut as a failed peer would be, and may join again.
      this.#logger.warn('cutting a peer reported as unresponsive', {
        stream: stream.info.stream,
        peer: peerId,
        reporters,
      });
      this.#drop(target, 'unresponsive');
      return;
    }
    const publicKey = target.welcomed?.publicKey;
    if (publicKey !== undefined) stream.banned.add(publicKey);
    this.#logger.warn('evicting a reported peer', {
      stream: stream.info.stream,
      peer: peerId,
      reporters,
    });
    this.#sendError(target, 'unauthorized', `evicted: reported by ${reporters} neighbours`);
    this.#drop(target, 'evicted');
    for (const member of stream.members.values()) member.send({ type: 'revoked', peer: peerId });
  }

  /** Fails the connection if it stays silent `delayMs` more; re-arms while it is not. */
  #armLiveness(connection: Connection, delayMs: number): void {
    connection.timer = this.#clock.setTimeout(() => {
      connection.timer = undefined;
      const silentMs = this.#clock.now() - connection.lastSeenMs;
      const leftMs = this.#options.heartbeatTimeoutMs - silentMs;
      if (leftMs > 0) {
        this.#armLiveness(connection, leftMs);
        return;
      }
      this.#logger.debug('heartbeat timeout', { connection: connection.id, silentMs });
      this.#drop(connection, 'heartbeat timeout');
    }, delayMs);
  }

  /** Replies with an error caused by a misbehaving peer; too many close the connection. */
  #refuse(connection: Connection, code: TrackerErrorCode, message: string): void {
    this.#sendError(connection, code, message);
    connection.protocolErrors++;
    if (connection.protocolErrors >= this.#options.maxProtocolErrors) {
      this.#logger.warn('closing a connection after repeated protocol errors', {
        connection: connection.id,
        errors: connection.protocolErrors,
      });
      this.#drop(connection, 'too many protocol errors');
    }
  }

  #sendError(connection: Connection, code: TrackerErrorCode, message: string): void {
    this.#logger.debug('refused', { connection: connection.id, code, message });
    connection.send({ type: 'error', code, message: message.slice(0, 1024) });
  }

  /** The core closes the connection: repair first, then tell the adapter. */
  #drop(connection: Connection, reason: string): void {
    this.#forget(connection, 'failed');
    connection.close(reason);
  }

  #forget(connection: Connection, reason: 'disconnected' | 'failed'): void {
    if (connection.timer !== undefined) this.#clock.clearTimeout(connection.timer);
    connection.timer = undefined;
    this.#connections.delete(connection.id);
    const peerId = connection.welcomed?.peerId;
    if (peerId !== undefined) this.#peers.delete(peerId);
    this.#detach(connection, reason === 'failed' ? 'failed' : 'left');
    this.#logger.debug('connection closed', { connection: connection.id, reason });
  }

  #newPeerId(): string {
    for (let attempt = 0; attempt < PEER_ID_ATTEMPTS; attempt++) {
      const id = toBase64Url(this.#random.bytes(PEER_ID_BYTES));
      if (!this.#peers.has(id)) return id;
    }
    throw new InvalidStateError('the injected Random keeps repeating peer ids');
  }
}

/** A member's four lists as the topology and the inverse index hold them now. */
function listsOf(stream: StreamState, id: string): NeighbourLists {
  return {
    parents: [...stream.topology.parentsOf(id)],
    children: [...stream.topology.childrenOf(id)],
    backupParents: [...stream.topology.backupParentsOf(id)],
    backupChildren: [...(stream.backupChildren.get(id) ?? [])],
  };
}

/**
 * Reads `id`'s backup parents from the topology (none once it has left) and updates the inverse
 * index; the nodes whose backup children changed are added to `changed`.
 */
function refreshBackups(stream: StreamState, id: string, changed: Set<string>): void {
  const before = stream.backupParents.get(id) ?? [];
  const after = stream.topology.has(id) ? [...stream.topology.backupParentsOf(id)] : [];
  if (sameIds(before, after)) return;
  for (const gone of before) {
    if (after.includes(gone)) continue;
    stream.backupChildren.get(gone)?.delete(id);
    changed.add(gone);
  }
  for (const added of after) {
    if (before.includes(added)) continue;
    let inverse = stream.backupChildren.get(added);
    if (inverse === undefined) {
      inverse = new Set();
      stream.backupChildren.set(added, inverse);
    }
    inverse.add(id);
    changed.add(added);
  }
  if (after.length === 0) stream.backupParents.delete(id);
  else stream.backupParents.set(id, after);
}

function timing(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1 || value > MAX_TIMING_MS) {
    throw new SwarmcastError(
      'invalid-argument',
      `${name} must be an integer from 1 to ${MAX_TIMING_MS} ms, got ${value}`,
    );
  }
  return value;
}

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) {
    throw new SwarmcastError('invalid-argument', `${name} must be positive, got ${value}`);
  }
  return value;
}

function count(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new SwarmcastError(
      'invalid-argument',
      `${name} must be a positive integer, got ${value}`,
    );
  }
  return value;
}

/** Checks the operator's broadcaster registrations once, at construction. */
function registrations(
  value: readonly RegisteredBroadcaster[] | 'any',
): readonly RegisteredBroadcaster[] | 'any' {
  if (value === 'any') return value;
  for (const r of value) {
    rawKey(r.publicKey);
    if (r.stream !== undefined && !STREAM_ID_PATTERN.test(r.stream)) {
      throw new SwarmcastError('invalid-argument', `not a stream id: ${r.stream}`);
    }
  }
  return [...value];
}
