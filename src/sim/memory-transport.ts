/**
 * `PeerTransport` over the simulated network (`network.ts`): every link is a pair of pipes
 * between two nodes, so messages pay their nodes' upload and download capacity and the latency
 * between them. Signaling goes out through `events.signal` like WebRTC's: a small synthetic offer
 * and answer naming the link, which the owner relays through the tracker. Once the answer is back,
 * the link opens on both ends after `connectRtts` round trips (ICE checks, DTLS and SCTP
 * handshakes).
 *
 * Messages are handed over, not copied: the receiver gets the sender's `Uint8Array`. Callers must
 * not modify a message after sending it (the peer core never does); this saves a copy per hop,
 * which matters at a thousand peers.
 */
import type { TimerHandle } from '../common/clock.js';
import { InvalidStateError, SwarmcastError } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import { RingQueue } from '../common/ring-queue.js';
import { decodeFrame, MAX_FRAME_BYTES, type Frame } from '../protocol/frames.js';
import type { SignalData } from '../protocol/tracker.js';
import type { Link, PeerTransport, TransportEvents } from '../transport/types.js';
import type { Pipe, SimNetwork } from './network.js';

export const MEMORY_TRANSPORT_DEFAULTS = {
  /** A link not open this long after `connect()` or the offer is closed. */
  connectTimeoutMs: 10_000,
  /** `drain` fires when a link's buffered amount falls to this after having been above it. */
  lowWaterBytes: 256 * 1024,
  /** Round trips from the answer's arrival to the link being open on both ends. */
  connectRtts: 2,
} as const;

export interface MemoryTransportOptions {
  /** The node this transport sends from; it must be in the network. */
  nodeId: string;
  /** @default MEMORY_TRANSPORT_DEFAULTS.connectTimeoutMs */
  connectTimeoutMs?: number;
  /** @default MEMORY_TRANSPORT_DEFAULTS.lowWaterBytes */
  lowWaterBytes?: number;
  /** @default MEMORY_TRANSPORT_DEFAULTS.connectRtts */
  connectRtts?: number;
}

export interface MemoryTransportComponents {
  network: SimNetwork;
  logger: Logger;
}

/** The synthetic SDP: a marker and the link's token. */
const SDP_PREFIX = 'swarmcast-sim link ';

type LinkState = 'connecting' | 'open' | 'closed';

/** The two ends of one link, by token, per network. */
const pairs = new WeakMap<
  SimNetwork,
  Map<number, { initiator: MemoryLink; answerer?: MemoryLink }>
>();

function pairsOf(
  network: SimNetwork,
): Map<number, { initiator: MemoryLink; answerer?: MemoryLink }> {
  let map = pairs.get(network);
  if (map === undefined) {
    map = new Map();
    pairs.set(network, map);
  }
  return map;
}

/**
 * The frame decoder of the peers of one simulated network (`PeerComponents.decodeFrame`): messages
 * are handed over, not copied, and a relay passes on the messages it got, so one message reaches
 * many peers. It is decoded once, and each of them gets the same frame (the core never modifies a
 * frame); a thousand peers then hold one copy of each chunk's metadata instead of a thousand. A
 * message that does not decode throws at every peer, as it would on its own.
 */
export function sharedFrameDecoder(): (message: Uint8Array) => Frame {
  const decoded = new WeakMap<Uint8Array, Frame>();
  return (message) => {
    let frame = decoded.get(message);
    if (frame === undefined) {
      frame = decodeFrame(message);
      decoded.set(message, frame);
    }
    return frame;
  };
}

class MemoryLink implements Link {
  readonly remoteId: string;
  readonly initiator: boolean;
  readonly token: number;
  readonly #transport: MemoryTransport;
  readonly #network: SimNetwork;
  /** The owner's `message` handler, called straight from the link (the hottest call there is). */
  readonly #onMessage: TransportEvents['message'];
  /** To the remote node; undefined when no node has that name (the link can never open). */
  readonly out: Pipe | undefined;
  state: LinkState = 'connecting';
  /** The other end, once paired. */
  remote: MemoryLink | undefined;
  answered = false;
  /**
   * Messages sent and not yet out of the sender's uplink, from `#outgoingHead` on: when each
   * leaves, and its size (two arrays rather than an object per message).
   */
  readonly #outgoingLeftAt = new RingQueue<number>();
  readonly #outgoingBytes = new RingQueue<number>();
  #buffered = 0;
  /** When the last message sent leaves the uplink. */
  #lastLeftAt = 0;
  #drainArmed = false;
  readonly #timer: TimerHandle;

  constructor(transport: MemoryTransport, remoteId: string, initiator: boolean, token: number) {
    this.#transport = transport;
    this.#network = transport.network;
    this.#onMessage = transport.onMessage;
    this.remoteId = remoteId;
    this.initiator = initiator;
    this.token = token;
    this.out = this.#network.hasNode(remoteId)
      ? this.#network.pipe(transport.nodeId, remoteId)
      : undefined;
    this.#timer = this.#network.clock.setTimeout(() => {
      if (this.state === 'connecting') this.close();
    }, transport.connectTimeoutMs);
  }

  get bufferedAmount(): number {
    if (this.state !== 'open' || this.#buffered === 0) return 0;
    const now = this.#network.clock.now();
    if (this.#lastLeftAt <= now) {
      // Everything sent has left: no need to walk the queue.
      this.#clearOutgoing();
      return 0;
    }
    const leftAt = this.#outgoingLeftAt;
    while (leftAt.size > 0 && (leftAt.at(0) ?? 0) <= now) {
      leftAt.shift();
      this.#buffered -= this.#outgoingBytes.shift() ?? 0;
    }
    return this.#buffered;
  }

  send(message: Uint8Array): void {
    if (message.byteLength > MAX_FRAME_BYTES) {
      throw new TypeError(`a link message is at most ${MAX_FRAME_BYTES} bytes`);
    }
    if (this.state === 'closed') return;
    if (this.state !== 'open') throw new InvalidStateError('link is not open yet');
    const remote = this.remote;
    const out = this.out;
    if (out === undefined || remote === undefined) {
      throw new InvalidStateError('link is not open yet');
    }
    const leftAt = this.#network.transfer(out, message.byteLength, remote, message);
    this.#lastLeftAt = leftAt;
    this.#outgoingLeftAt.push(leftAt);
    this.#outgoingBytes.push(message.byteLength);
    this.#buffered += message.byteLength;
    if (!this.#drainArmed && this.bufferedAmount > this.#transport.lowWaterBytes) {
      this.#drainArmed = true;
      this.#armDrain();
    }
  }

  close(): void {
    if (this.state === 'closed') return;
    this.finish();
    const remote = this.remote;
    if (remote !== undefined && this.out !== undefined) {
      this.#network.notify(this.out, () => {
        remote.finish();
      });
    }
  }

  /** The link is closed here; `close` fires once. The remote end is not told. */
  finish(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.#network.clock.clearTimeout(this.#timer);
    this.#clearOutgoing();
    pairsOf(this.#network).delete(this.token);
    this.#transport.closed(this);
  }

  /** Dies with its node: no event here; the remote end sees a close after one round trip. */
  fail(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.#network.clock.clearTimeout(this.#timer);
    this.out?.cut();
    pairsOf(this.#network).delete(this.token);
    const remote = this.remote;
    const rttMs = this.out?.rttMs;
    if (remote !== undefined && rttMs !== undefined) {
      this.#network.clock.setTimeout(() => {
        remote.finish();
      }, rttMs);
    }
  }

  open(): void {
    if (this.state !== 'connecting') return;
    this.state = 'open';
    this.#network.clock.clearTimeout(this.#timer);
    this.#transport.opened(this);
  }

  received(message: Uint8Array): void {
    if (this.state !== 'open') return;
    this.#onMessage(this, message);
  }

  #clearOutgoing(): void {
    this.#outgoingLeftAt.clear();
    this.#outgoingBytes.clear();
    this.#buffered = 0;
  }

  /** Fires `drain` once the buffered amount has fallen to the low-water mark. */
  #armDrain(): void {
    const low = this.#transport.lowWaterBytes;
    let remaining = this.bufferedAmount;
    let at = this.#network.clock.now();
    for (let i = 0; i < this.#outgoingLeftAt.size && remaining > low; i++) {
      remaining -= this.#outgoingBytes.at(i) ?? 0;
      at = this.#outgoingLeftAt.at(i) ?? at;
    }
    this.#network.clock.setTimeout(() => {
      if (this.state !== 'open') return;
      if (this.bufferedAmount > low) {
        this.#armDrain();
        return;
      }
      this.#drainArmed = false;
      this.#transport.drained(this);
    }, at - this.#network.clock.now());
  }
}

/** A `PeerTransport` whose links are pipes of a `SimNetwork`. */
export class MemoryTransport implements PeerTransport {
  readonly network: SimNetwork;
  readonly nodeId: string;
  readonly connectTimeoutMs: number;
  readonly lowWaterBytes: number;
  /** `events.message`, for the links to call. */
  readonly onMessage: TransportEvents['message'];
  readonly #connectRtts: number;
  readonly #logger: Logger;
  readonly #events: TransportEvents;
  readonly #links = new Map<string, MemoryLink>();
  #state: 'running' | 'closed' | 'failed' = 'running';

  constructor(
    components: MemoryTransportComponents,
    options: MemoryTransportOptions,
    events: TransportEvents,
  ) {
    this.network = components.network;
    this.#logger = components.logger;
    this.#events = events;
    this.onMessage = events.message.bind(events);
    this.network.node(options.nodeId);
    this.nodeId = options.nodeId;
    this.connectTimeoutMs = positive(
      options.connectTimeoutMs ?? MEMORY_TRANSPORT_DEFAULTS.connectTimeoutMs,
      'connectTimeoutMs',
    );
    this.lowWaterBytes = nonNegative(
      options.lowWaterBytes ?? MEMORY_TRANSPORT_DEFAULTS.lowWaterBytes,
      'lowWaterBytes',
    );
    this.#connectRtts = nonNegative(
      options.connectRtts ?? MEMORY_TRANSPORT_DEFAULTS.connectRtts,
      'connectRtts',
    );
  }

  /** Links not yet closed. */
  get linkCount(): number {
    return this.#links.size;
  }

  connect(remoteId: string): Link {
    if (this.#state !== 'running') throw new InvalidStateError('transport is closed');
    if (remoteId === '') throw new TypeError('remoteId is empty');
    const token = this.network.nextToken();
    const link = this.#startLink(remoteId, true, token);
    pairsOf(this.network).set(token, { initiator: link });
    this.#emitSignal(remoteId, {
      kind: 'description',
      sdpType: 'offer',
      sdp: `${SDP_PREFIX}${token}`,
    });
    return link;
  }

  signal(from: string, data: SignalData): void {
    if (this.#state !== 'running' || data.kind !== 'description') return;
    const token = parseToken(data.sdp);
    if (token === undefined) {
      this.#logger.debug('signal that is not a simulated link ignored', { peer: from });
      return;
    }
    if (data.sdpType === 'offer') {
      // A fresh offer means the remote dropped whatever link we had with it.
      const link = this.#startLink(from, false, token);
      const pair = pairsOf(this.network).get(token);
      const initiator = pair?.initiator;
      if (
        pair !== undefined &&
        initiator?.state === 'connecting' &&
        this.network.hasNode(initiator.remoteId) &&
        this.network.node(initiator.remoteId) === this.network.node(this.nodeId)
      ) {
        pair.answerer = link;
      }
      this.#emitSignal(from, {
        kind: 'description',
        sdpType: 'answer',
        sdp: `${SDP_PREFIX}${token}`,
      });
      return;
    }
    const link = this.#links.get(from);
    const pair = pairsOf(this.network).get(token);
    const answerer = pair?.answerer;
    if (
      link?.initiator !== true ||
      link.token !== token ||
      link.answered ||
      answerer === undefined
    ) {
      this.#logger.debug('unexpected answer ignored', { peer: from });
      return;
    }
    const out = link.out;
    if (out === undefined) return;
    link.answered = true;
    link.remote = answerer;
    answerer.remote = link;
    this.network.clock.setTimeout(() => {
      if (link.state === 'connecting' && answerer.state === 'connecting') {
        link.open();
        answerer.open();
      }
    }, this.#connectRtts * out.rttMs);
  }

  close(): void {
    if (this.#state !== 'running') return;
    this.#state = 'closed';
    for (const link of [...this.#links.values()]) link.close();
  }

  /**
   * The node crashed: its links close on the remote ends one round trip later (the time for the
   * network to notice), nothing more is sent or delivered, and this transport reports nothing.
   */
  fail(): void {
    if (this.#state !== 'running') return;
    this.#state = 'failed';
    for (const link of this.#links.values()) link.fail();
    this.#links.clear();
  }

  // ---- called by links ---------------------------------------------------------------------

  opened(link: MemoryLink): void {
    this.#events.open(link);
  }

  drained(link: MemoryLink): void {
    this.#events.drain(link);
  }

  closed(link: MemoryLink): void {
    if (this.#links.get(link.remoteId) === link) this.#links.delete(link.remoteId);
    if (this.#state !== 'failed') this.#events.close(link);
  }

  #startLink(remoteId: string, initiator: boolean, token: number): MemoryLink {
    this.#links.get(remoteId)?.close();
    const link = new MemoryLink(this, remoteId, initiator, token);
    this.#links.set(remoteId, link);
    return link;
  }

  /** Signals leave after the current call, as a real stack's would. */
  #emitSignal(to: string, data: SignalData): void {
    this.network.clock.setTimeout(() => {
      if (this.#state === 'running') this.#events.signal(to, data);
    }, 0);
  }
}

function parseToken(sdp: string): number | undefined {
  if (!sdp.startsWith(SDP_PREFIX)) return undefined;
  const token = Number(sdp.slice(SDP_PREFIX.length));
  return Number.isSafeInteger(token) && token > 0 ? token : undefined;
}

function positive(value: number, name: string): number {
  if (!(value > 0) || !Number.isFinite(value)) {
    throw new SwarmcastError('invalid-argument', `${name} must be a positive number`);
  }
  return value;
}

function nonNegative(value: number, name: string): number {
  if (!(value >= 0) || !Number.isFinite(value)) {
    throw new SwarmcastError('invalid-argument', `${name} must be a finite number ≥ 0`);
  }
  return value;
}
