/**
 * The interfaces a peer core talks through. Adapters: node-datachannel (`rtc.node.ts`), the
 * browser's RTCPeerConnection (`rtc.browser.ts`) and the simulator's memory transport
 * (`src/sim/memory-transport.ts`). The Node and memory adapters pass the same compliance suite
 * (test/helpers/transport-compliance.ts).
 */
import type { Chunk } from '../protocol/chunk.js';
import type { ClientMessage, SignalData, TrackerMessage } from '../protocol/tracker.js';

/** One bidirectional, reliable, ordered message link to another peer (a data channel). */
export interface Link {
  /** The tracker-assigned id of the peer at the other end. */
  readonly remoteId: string;
  /** True for the side that called `connect()`. */
  readonly initiator: boolean;
  /** Bytes queued for sending and not yet handed to the network. */
  readonly bufferedAmount: number;
  /** Sends one message of at most `MAX_FRAME_BYTES`. Ignored once the link is closed. */
  send(message: Uint8Array): void;
  /** Closes the link; `close` fires once on both ends. Idempotent. */
  close(): void;
}

/** What a transport reports to its owner. */
export interface TransportEvents {
  /** Signaling for `to` that the owner must relay through the tracker. */
  signal(to: string, data: SignalData): void;
  /** The link is open: messages can be sent. Fires once per link. */
  open(link: Link): void;
  /** A message arrived on the link. */
  message(link: Link, data: Uint8Array): void;
  /** `bufferedAmount` fell to the low-water mark after having been above it. */
  drain(link: Link): void;
  /** The link closed (either side, or failed to open). Fires once per link. */
  close(link: Link): void;
}

/** Creates links to other peers. */
export interface PeerTransport {
  /** Starts opening a link to `remoteId`; this side sends the offer. */
  connect(remoteId: string): Link;
  /** Hands over signaling relayed by the tracker; an offer from an unknown peer creates a link. */
  signal(from: string, data: SignalData): void;
  /** Closes every link. Idempotent. */
  close(): void;
}

export type PeerTransportFactory = (events: TransportEvents) => PeerTransport;

/** What a tracker connection reports to its owner. */
export interface TrackerConnectionEvents {
  open(): void;
  message(message: TrackerMessage): void;
  /** The connection closed or could not be opened. Fires once. */
  close(reason: string): void;
}

/** A connection to the tracker; messages are validated by the adapter before they are delivered. */
export interface TrackerConnection {
  send(message: ClientMessage): void;
  close(): void;
}

export type TrackerConnectionFactory = (events: TrackerConnectionEvents) => TrackerConnection;

/** Fetches chunks from the origin (the last resort when no peer delivered in time). */
export interface OriginClient {
  /** The chunk `seq` of `stream`, not yet verified; rejects if the origin does not have it. */
  fetchChunk(stream: string, seq: number, signal: AbortSignal): Promise<Chunk>;
}
