/**
 * The browser peer transport: one WebRTC data channel per link over the browser's own
 * `RTCPeerConnection`, with the semantics of the Node adapter (`rtc.node.ts`): one ordered,
 * reliable, binary channel per link; `open` and `close` once per link; `drain` at the low-water
 * mark; local candidates held until the description they belong to is out, remote ones until the
 * remote description is set; the answerer takes the DTLS server role (`preferDtlsServer`).
 * Signaling leaves through `events.signal()` and comes back through `signal()`.
 */
import { errorMessage, InvalidStateError } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import { asBufferSource } from '../crypto/hash.js';
import { MAX_FRAME_BYTES } from '../protocol/frames.js';
import type { SignalData } from '../protocol/tracker.js';
import { preferDtlsServer } from './sdp.js';
import { RtcTransportBase, type LinkHost, type RtcLinkOptions } from './rtc-transport.js';
import type { Link, PeerTransportFactory, TransportEvents } from './types.js';

/** Remote ICE candidates kept for a link whose remote description has not arrived yet. */
const MAX_PENDING_CANDIDATES = 64;
/** Label of the one data channel of every link. */
const CHANNEL_LABEL = 'swarmcast';

export interface BrowserRtcTransportOptions extends RtcLinkOptions {
  /** STUN/TURN servers, as the browser's `RTCIceServer`s. @default [] */
  iceServers?: readonly RTCIceServer[];
}

export interface BrowserRtcTransportComponents {
  logger: Logger;
}

/** True when this browser has WebRTC data channels. */
export function hasWebRtc(): boolean {
  return typeof globalThis.RTCPeerConnection === 'function';
}

type LinkState = 'connecting' | 'open' | 'closed';

type Host = LinkHost<BrowserRtcLink, RTCConfiguration>;

/** One link: an RTCPeerConnection carrying one ordered, reliable, binary data channel. */
class BrowserRtcLink implements Link {
  readonly remoteId: string;
  readonly initiator: boolean;
  readonly #pc: RTCPeerConnection;
  readonly #host: Host;
  #channel: RTCDataChannel | undefined;
  #state: LinkState = 'connecting';
  #hasRemoteDescription = false;
  #localDescriptionSent = false;
  readonly #localCandidates: SignalData[] = [];
  readonly #remoteCandidates: { candidate: string; mid: string }[] = [];
  readonly #timer: ReturnType<typeof setTimeout>;

  constructor(host: Host, remoteId: string, initiator: boolean) {
    this.#host = host;
    this.remoteId = remoteId;
    this.initiator = initiator;
    this.#pc = new RTCPeerConnection(host.config);
    this.#timer = setTimeout(() => {
      this.finish('not open before the connect timeout');
    }, host.connectTimeoutMs);
    this.#pc.onicecandidate = (event) => {
      const candidate = event.candidate;
      // A null or empty candidate marks the end of gathering: nothing to relay.
      if (this.#state === 'closed' || candidate === null || candidate.candidate === '') return;
      const data: SignalData = {
        kind: 'candidate',
        candidate: candidate.candidate,
        mid: candidate.sdpMid ?? '0',
      };
      if (this.#localDescriptionSent) host.signal(this, data);
      else this.#localCandidates.push(data);
    };
    this.#pc.onconnectionstatechange = () => {
      // Unlike libdatachannel, a browser may recover from 'disconnected': only 'failed' is final.
      const state = this.#pc.connectionState;
      if (state === 'failed' || state === 'closed') this.finish(`connection ${state}`);
    };
    if (initiator) {
      this.#attach(this.#pc.createDataChannel(CHANNEL_LABEL));
      void this.#describe(() => this.#pc.createOffer());
    } else {
      this.#pc.ondatachannel = (event) => {
        if (this.#channel === undefined) {
          this.#attach(event.channel);
        } else {
          host.logger.warn('extra data channel refused', { peer: remoteId });
          event.channel.close();
        }
      };
    }
  }

  get bufferedAmount(): number {
    return this.#state === 'open' && this.#channel !== undefined ? this.#channel.bufferedAmount : 0;
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
      this.#channel.send(asBufferSource(message));
    } catch (error) {
      // The channel closed (or its send buffer overflowed) before its close event reached us.
      this.finish(`send failed: ${errorMessage(error)}`);
    }
  }

  close(): void {
    this.finish('closed locally');
  }

  /** Applies a remote description (and answers an offer); a failure closes the link. */
  async setRemoteDescription(sdp: string, type: 'offer' | 'answer'): Promise<void> {
    if (this.#state === 'closed') return;
    try {
      await this.#pc.setRemoteDescription({
        type,
        sdp: type === 'offer' ? preferDtlsServer(sdp) : sdp,
      });
    } catch (error) {
      this.#host.logger.warn('bad remote description', {
        peer: this.remoteId,
        error: errorMessage(error),
      });
      this.finish('bad remote description');
      return;
    }
    this.#hasRemoteDescription = true;
    for (const { candidate, mid } of this.#remoteCandidates.splice(0)) {
      this.addRemoteCandidate(candidate, mid);
    }
    if (type === 'offer') await this.#describe(() => this.#pc.createAnswer());
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
    // node-datachannel gives no m-line index; there is one m-line (the data channel's).
    this.#pc
      .addIceCandidate({ candidate, sdpMid: mid, sdpMLineIndex: 0 })
      .catch((error: unknown) => {
        // One unusable candidate does not doom the link: ICE tries the others.
        this.#host.logger.debug('remote candidate refused', {
          peer: this.remoteId,
          error: errorMessage(error),
        });
      });
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

  /** Creates the local offer or answer, sets it, signals it, then the candidates held back. */
  async #describe(create: () => Promise<RTCSessionDescriptionInit>): Promise<void> {
    try {
      const description = await create();
      if (this.#state === 'closed') return;
      await this.#pc.setLocalDescription(description);
    } catch (error) {
      if (this.#state === 'closed') return;
      this.#host.logger.warn('could not create a local description', {
        peer: this.remoteId,
        error: errorMessage(error),
      });
      this.finish('local description failed');
      return;
    }
    const local = this.#pc.localDescription;
    // The link may have closed while the description was being made.
    if (this.#isClosed() || local === null) return;
    if (local.type !== 'offer' && local.type !== 'answer') return;
    this.#host.signal(this, { kind: 'description', sdpType: local.type, sdp: local.sdp });
    this.#localDescriptionSent = true;
    for (const data of this.#localCandidates.splice(0)) this.#host.signal(this, data);
  }

  #isClosed(): boolean {
    return this.#state === 'closed';
  }

  #attach(channel: RTCDataChannel): void {
    this.#channel = channel;
    channel.binaryType = 'arraybuffer';
    channel.bufferedAmountLowThreshold = this.#host.lowWaterBytes;
    channel.onopen = () => {
      this.#opened();
    };
    channel.onclose = () => {
      this.finish('channel closed');
    };
    channel.onerror = (event) => {
      const error = event instanceof RTCErrorEvent ? event.error.message : 'unknown';
      this.finish(`channel error: ${error}`);
    };
    channel.onbufferedamountlow = () => {
      if (this.#state === 'open') this.#host.emit('drain', this);
    };
    channel.onmessage = (event: MessageEvent<unknown>) => {
      this.#received(event.data);
    };
    // The answerer's channel can arrive already open, with no open event to come.
    if (channel.readyState === 'open') this.#opened();
  }

  #opened(): void {
    if (this.#state !== 'connecting') return;
    this.#state = 'open';
    clearTimeout(this.#timer);
    this.#host.logger.debug('link open', { peer: this.remoteId, initiator: this.initiator });
    this.#host.emit('open', this);
  }

  #received(data: unknown): void {
    if (this.#state === 'closed') return;
    this.#opened();
    if (!(data instanceof ArrayBuffer)) {
      this.#host.logger.warn('non-binary message on a link: closing it', { peer: this.remoteId });
      this.finish('protocol violation: text message');
      return;
    }
    if (data.byteLength > MAX_FRAME_BYTES) {
      this.#host.logger.warn('oversized message on a link: closing it', { peer: this.remoteId });
      this.finish('protocol violation: oversized message');
      return;
    }
    this.#host.message(this, new Uint8Array(data));
  }
}

/** A `PeerTransport` over the browser's `RTCPeerConnection`. */
export class BrowserRtcTransport extends RtcTransportBase<BrowserRtcLink, RTCConfiguration> {
  constructor(
    components: BrowserRtcTransportComponents,
    options: BrowserRtcTransportOptions,
    events: TransportEvents,
  ) {
    if (!hasWebRtc()) throw new InvalidStateError('this browser has no RTCPeerConnection');
    super(components.logger, { iceServers: [...(options.iceServers ?? [])] }, options, events);
  }

  protected createLink(host: Host, remoteId: string, initiator: boolean): BrowserRtcLink {
    return new BrowserRtcLink(host, remoteId, initiator);
  }
}

/** A factory that builds `BrowserRtcTransport`s with the same components and options. */
export function browserRtcTransportFactory(
  components: BrowserRtcTransportComponents,
  options: BrowserRtcTransportOptions = {},
): PeerTransportFactory {
  return (events) => new BrowserRtcTransport(components, options, events);
}
