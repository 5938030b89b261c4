/**
 * The Node peer transport: one WebRTC data channel per link, over node-datachannel's native API
 * (libdatachannel). Signaling leaves through `events.signal()` and comes back through `signal()`;
 * the owner relays it through the tracker.
 *
 * Process exit: `close()` frees a transport's native resources (every PeerConnection closed), and
 * once none is left the process exits on its own, with one exception: when both ends of a link
 * close at the same moment (say two transports of one process closed together), libdatachannel
 * can miss the data channel's close callback (about one link in 600 on loopback, node-datachannel
 * 0.33.4) and node-datachannel then holds the event loop open. A process that ends should therefore
 * close its transports and then call `shutdownRtc()` once: node-datachannel's process-wide
 * `cleanup()`, never to be called per transport since it stops every transport in the process.
 */
import { cleanup, PeerConnection, type DataChannel, type RtcConfig } from 'node-datachannel';
import { errorMessage, InvalidStateError, SwarmcastError } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import { MAX_FRAME_BYTES } from '../protocol/frames.js';
import type { SignalData } from '../protocol/tracker.js';
import { preferDtlsServer } from './sdp.js';
import { RtcTransportBase, type LinkHost, type RtcLinkOptions } from './rtc-transport.js';
import type { Link, PeerTransportFactory, TransportEvents } from './types.js';

/** Remote ICE candidates kept for a link whose remote description has not arrived yet. */
const MAX_PENDING_CANDIDATES = 64;
/** Label of the one data channel of every link. */
const CHANNEL_LABEL = 'swarmcast';

export interface RtcTransportOptions extends RtcLinkOptions {
  /**
   * The local address ICE gathers candidates on. Tests and `npm start` pass `127.0.0.1` (exactly
   * one loopback candidate). Unset: every non-loopback interface.
   */
  bindAddress?: string;
  /**
   * STUN/TURN servers as libdatachannel URLs (`stun:host:port`, `turn:user:pass@host:port`).
   * @default []
   */
  iceServers?: readonly string[];
  /** Lowest local UDP port ICE may use. @default any */
  portRangeBegin?: number;
  /** Highest local UDP port ICE may use. @default any */
  portRangeEnd?: number;
}

export interface RtcTransportComponents {
  logger: Logger;
}

type LinkState = 'connecting' | 'open' | 'closed';

type Host = LinkHost<RtcLink, RtcConfig>;

/** One link: a PeerConnection carrying one ordered, reliable, binary data channel. */
class RtcLink implements Link {
  readonly remoteId: string;
  readonly initiator: boolean;
  readonly #pc: PeerConnection;
  readonly #host: Host;
  #channel: DataChannel | undefined;
  #state: LinkState = 'connecting';
  #hasRemoteDescription = false;
  #localDescriptionSent = false;
  /** Local candidates held until they may be signaled (see `#flushLocalCandidates`). */
  readonly #localCandidates: SignalData[] = [];
  /** Remote candidates held until the remote description arrives. */
  readonly #remoteCandidates: { candidate: string; mid: string }[] = [];
  readonly #timer: ReturnType<typeof setTimeout>;

  constructor(host: Host, remoteId: string, initiator: boolean) {
    this.#host = host;
    this.remoteId = remoteId;
    this.initiator = initiator;
    this.#pc = new PeerConnection(remoteId, host.config);
    this.#timer = setTimeout(() => {
      this.finish('not open before the connect timeout');
    }, host.connectTimeoutMs);
    this.#pc.onLocalDescription((sdp, type) => {
      if (this.#state === 'closed' || (type !== 'offer' && type !== 'answer')) return;
      host.signal(this, { kind: 'description', sdpType: type, sdp });
      this.#localDescriptionSent = true;
      this.#flushLocalCandidates();
    });
    this.#pc.onLocalCandidate((candidate, mid) => {
      if (this.#state === 'closed') return;
      // libdatachannel prefixes the SDP attribute name; browsers expect the bare candidate.
      const data: SignalData = {
        kind: 'candidate',
        candidate: candidate.startsWith('a=') ? candidate.slice(2) : candidate,
        mid,
      };
      this.#localCandidates.push(data);
      this.#flushLocalCandidates();
    });
    // Besides reporting failures, this listener is what lets node-datachannel release the
    // connection's native callbacks once it is closed: without it the process never exits.
    this.#pc.onStateChange((state) => {
      // libdatachannel never restarts ICE: a disconnected connection does not come back.
      if (state === 'failed' || state === 'disconnected' || state === 'closed') {
        this.finish(`connection ${state}`);
      }
    });
    if (initiator) {
      this.#attach(this.#pc.createDataChannel(CHANNEL_LABEL));
    } else {
      this.#pc.onDataChannel((channel) => {
        if (this.#channel === undefined) {
          this.#attach(channel);
        } else {
          host.logger.warn('extra data channel refused', { peer: remoteId });
          // As for the pc, a close listener lets node-datachannel free the channel's callbacks.
          channel.onClosed(() => undefined);
          channel.close();
        }
      });
    }
  }

  get bufferedAmount(): number {
    return this.#state === 'open' && this.#channel !== undefined
      ? this.#channel.bufferedAmount()
      : 0;
  }

  get hasRemoteDescription(): boolean {
    return this.#hasRemoteDescription;
  }

  send(message: Uint8Array): void {
    if (message.byteLength > MAX_FRAME_BYTES) {
      throw new TypeError(`a link message is at most ${MAX_FRAME_BYTES} bytes`);
    }
    if (this.#state === 'closed') return;
    if (this.#state !== 'open' || this.#channel === undefined) {
      throw new InvalidStateError('link is not open yet');
    }
    try {
      this.#channel.sendMessageBinary(message);
    } catch (error) {
      // The channel closed natively before its close callback reached us.
      this.finish(`send failed: ${errorMessage(error)}`);
    }
  }

  close(): void {
    this.finish('closed locally');
  }

  /** Applies a remote description; a failure closes the link. */
  setRemoteDescription(sdp: string, type: 'offer' | 'answer'): void {
    if (this.#state === 'closed') return;
    try {
      this.#pc.setRemoteDescription(type === 'offer' ? preferDtlsServer(sdp) : sdp, type);
    } catch (error) {
      this.#host.logger.warn('bad remote description', {
        peer: this.remoteId,
        error: errorMessage(error),
      });
      this.finish('bad remote description');
      return;
    }
    this.#hasRemoteDescription = true;
    this.#flushLocalCandidates();
    for (const { candidate, mid } of this.#remoteCandidates.splice(0)) {
      this.addRemoteCandidate(candidate, mid);
    }
  }

  /** Adds a remote ICE candidate, or keeps it until the remote description arrives. */
  addRemoteCandidate(candidate: string, mid: string): void {
    if (this.#state === 'closed') return;
    if (!this.#hasRemoteDescription) {
      if (this.#remoteCandidates.length < MAX_PENDING_CANDIDATES) {
        this.#remoteCandidates.push({ candidate, mid });
      }
      return;
    }
    try {
      this.#pc.addRemoteCandidate(candidate, mid);
    } catch (error) {
      // One unusable candidate does not doom the link: ICE tries the others.
      this.#host.logger.debug('remote candidate refused', {
        peer: this.remoteId,
        error: errorMessage(error),
      });
    }
  }

  /** Closes the link for `reason`; the first call frees everything and fires `close`. */
  finish(reason: string): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    clearTimeout(this.#timer);
    this.#channel?.close();
    this.#pc.close();
    this.#host.logger.debug('link closed', { peer: this.remoteId, reason });
    this.#host.closed(this);
  }

  /**
   * Signals the local candidates once they may go. Never before the local description:
   * node-datachannel delivers each kind of callback on its own queue, so a candidate can reach us
   * first. And the initiator holds its candidates until it has applied the answer: a remote that
   * knows them checks us at once, which can complete our ICE while libdatachannel is still
   * applying the answer, before it stored the remote fingerprint; the DTLS handshake then fails
   * (seen in about one link in 600, one in 60 for the first links of a process). Held back, the
   * remote can only answer our checks, which start after the answer is in place.
   */
  #flushLocalCandidates(): void {
    if (!this.#localDescriptionSent || (this.initiator && !this.#hasRemoteDescription)) return;
    for (const data of this.#localCandidates.splice(0)) this.#host.signal(this, data);
  }

  #attach(channel: DataChannel): void {
    this.#channel = channel;
    channel.setBufferedAmountLowThreshold(this.#host.lowWaterBytes);
    channel.onOpen(() => {
      this.#opened();
    });
    channel.onClosed(() => {
      this.finish('channel closed');
    });
    channel.onError((error) => {
      this.finish(`channel error: ${error}`);
    });
    channel.onBufferedAmountLow(() => {
      if (this.#state === 'open') this.#host.emit('drain', this);
    });
    channel.onMessage((message) => {
      this.#received(message);
    });
    // The answerer's channel can arrive already open, with no open callback to come.
    if (channel.isOpen()) this.#opened();
  }

  #opened(): void {
    if (this.#state !== 'connecting') return;
    this.#state = 'open';
    clearTimeout(this.#timer);
    this.#host.logger.debug('link open', { peer: this.remoteId, initiator: this.initiator });
    this.#host.emit('open', this);
  }

  #received(message: string | Buffer | ArrayBuffer): void {
    if (this.#state === 'closed') return;
    // A message proves the channel open even if its open callback has not reached us yet.
    this.#opened();
    if (typeof message === 'string') {
      this.#host.logger.warn('text message on a link: closing it', { peer: this.remoteId });
      this.finish('protocol violation: text message');
      return;
    }
    if (message.byteLength > MAX_FRAME_BYTES) {
      this.#host.logger.warn('oversized message on a link: closing it', { peer: this.remoteId });
      this.finish('protocol violation: oversized message');
      return;
    }
    this.#host.message(this, ownBytes(message));
  }
}

/** A `PeerTransport` over node-datachannel. */
export class RtcTransport extends RtcTransportBase<RtcLink, RtcConfig> {
  constructor(
    components: RtcTransportComponents,
    options: RtcTransportOptions,
    events: TransportEvents,
  ) {
    const config: RtcConfig = {
      iceServers: [...(options.iceServers ?? [])],
      // The peer protocol never sends more, and the remote must not send us more.
      maxMessageSize: MAX_FRAME_BYTES,
    };
    if (options.bindAddress !== undefined) config.bindAddress = options.bindAddress;
    if (options.portRangeBegin !== undefined || options.portRangeEnd !== undefined) {
      config.portRangeBegin = port(options.portRangeBegin ?? 1, 'portRangeBegin');
      config.portRangeEnd = port(options.portRangeEnd ?? 65_535, 'portRangeEnd');
      if (config.portRangeBegin > config.portRangeEnd) {
        throw new SwarmcastError('invalid-argument', 'portRangeBegin is above portRangeEnd');
      }
    }
    super(components.logger, config, options, events);
  }

  protected createLink(host: Host, remoteId: string, initiator: boolean): RtcLink {
    return new RtcLink(host, remoteId, initiator);
  }
}

/**
 * A plain Uint8Array of a received message. node-datachannel copies each message into a Buffer
 * that owns exactly its memory (not a slice of node's pool), so a view of it is enough; anything
 * else is copied.
 */
function ownBytes(message: Buffer | ArrayBuffer): Uint8Array {
  if (message instanceof ArrayBuffer) return new Uint8Array(message);
  const owned = message.byteOffset === 0 && message.buffer.byteLength === message.byteLength;
  return owned ? new Uint8Array(message.buffer, 0, message.byteLength) : new Uint8Array(message);
}

/**
 * Frees node-datachannel's process-wide state (its threads and any native callback still held)
 * so that the process can exit. Call it once at shutdown, after closing every transport: no
 * transport works after it.
 */
export function shutdownRtc(): void {
  cleanup();
}

/** A factory that builds `RtcTransport`s with the same components and options. */
export function rtcTransportFactory(
  components: RtcTransportComponents,
  options: RtcTransportOptions,
): PeerTransportFactory {
  return (events) => new RtcTransport(components, options, events);
}

function port(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1 || value > 65_535) {
    throw new SwarmcastError('invalid-argument', `${name} must be a port number`);
  }
  return value;
}
