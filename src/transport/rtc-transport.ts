/**
 * What the two WebRTC adapters (node-datachannel, the browser's RTCPeerConnection) share: the
 * registry of links by remote peer, routing of relayed signaling to them, option checks, and
 * guarding the owner's callbacks. Each adapter supplies only its link class. Browser-safe.
 */
import { errorMessage, InvalidStateError, SwarmcastError } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import type { SignalData } from '../protocol/tracker.js';
import type { Link, PeerTransport, TransportEvents } from './types.js';

/** The defaults both adapters use. */
export const RTC_LINK_DEFAULTS = {
  /** A link not open this long after it was started is closed. */
  connectTimeoutMs: 10_000,
  /** `drain` fires when a link's buffered amount falls to this after having been above it. */
  lowWaterBytes: 256 * 1024,
} as const;

export interface RtcLinkOptions {
  /** A link not open this long after `connect()` or the offer is closed. @default 10000 */
  connectTimeoutMs?: number;
  /** The data channel's bufferedAmountLowThreshold, in bytes. @default 262144 */
  lowWaterBytes?: number;
}

/** What the shared transport needs of an adapter's link. */
export interface RtcLinkLike extends Link {
  readonly hasRemoteDescription: boolean;
  /** Applies the remote offer or answer (the browser's is asynchronous). */
  setRemoteDescription(sdp: string, type: 'offer' | 'answer'): unknown;
  addRemoteCandidate(candidate: string, mid: string): void;
  /** Closes the link for `reason`; `closed` reaches the host once. */
  finish(reason: string): void;
}

/** What a link needs from its transport: settings, and where its events go. */
export interface LinkHost<L, C> {
  readonly logger: Logger;
  /** The adapter's peer-connection configuration. */
  readonly config: C;
  readonly connectTimeoutMs: number;
  readonly lowWaterBytes: number;
  signal(link: L, data: SignalData): void;
  emit(event: 'open' | 'drain', link: L): void;
  message(link: L, data: Uint8Array): void;
  /** Called once, when the link closes. */
  closed(link: L): void;
}

/** A `PeerTransport` over links of type `L`, built by `createLink`. */
export abstract class RtcTransportBase<L extends RtcLinkLike, C> implements PeerTransport {
  readonly #logger: Logger;
  readonly #events: TransportEvents;
  readonly #host: LinkHost<L, C>;
  readonly #links = new Map<string, L>();
  #closed = false;

  constructor(logger: Logger, config: C, options: RtcLinkOptions, events: TransportEvents) {
    this.#logger = logger;
    this.#events = events;
    this.#host = {
      logger,
      config,
      connectTimeoutMs: positive(
        options.connectTimeoutMs ?? RTC_LINK_DEFAULTS.connectTimeoutMs,
        'connectTimeoutMs',
      ),
      lowWaterBytes: nonNegativeInteger(
        options.lowWaterBytes ?? RTC_LINK_DEFAULTS.lowWaterBytes,
        'lowWaterBytes',
      ),
      signal: (link, data) => {
        this.#call(() => {
          this.#events.signal(link.remoteId, data);
        });
      },
      emit: (event, link) => {
        this.#call(() => {
          this.#events[event](link);
        });
      },
      message: (link, data) => {
        this.#call(() => {
          this.#events.message(link, data);
        });
      },
      closed: (link) => {
        if (this.#links.get(link.remoteId) === link) this.#links.delete(link.remoteId);
        this.#call(() => {
          this.#events.close(link);
        });
      },
    };
  }

  /** Builds the adapter's link. */
  protected abstract createLink(host: LinkHost<L, C>, remoteId: string, initiator: boolean): L;

  /** Number of links not yet closed (for stats and leak checks). */
  get linkCount(): number {
    return this.#links.size;
  }

  /**
   * Opens a link to `remoteId`, replacing any link already there. Two peers must not connect to
   * each other at the same time (each offer would replace the other's link and neither would
   * open): the tracker says who connects, children to their parents.
   */
  connect(remoteId: string): Link {
    if (this.#closed) throw new InvalidStateError('transport is closed');
    if (remoteId === '') throw new TypeError('remoteId is empty');
    return this.#startLink(remoteId, true);
  }

  signal(from: string, data: SignalData): void {
    if (this.#closed) return;
    const link = this.#links.get(from);
    if (data.kind === 'candidate') {
      if (link === undefined) {
        this.#logger.debug('candidate for no link ignored', { peer: from });
        return;
      }
      link.addRemoteCandidate(data.candidate, data.mid);
      return;
    }
    if (data.sdpType === 'offer') {
      // A fresh offer means the remote dropped whatever link we had with it.
      void this.#startLink(from, false).setRemoteDescription(data.sdp, 'offer');
      return;
    }
    if (link?.initiator !== true || link.hasRemoteDescription) {
      this.#logger.debug('unexpected answer ignored', { peer: from });
      return;
    }
    void link.setRemoteDescription(data.sdp, 'answer');
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const link of [...this.#links.values()]) link.finish('transport closed');
  }

  #startLink(remoteId: string, initiator: boolean): L {
    this.#links.get(remoteId)?.finish('replaced by a new link');
    const link = this.createLink(this.#host, remoteId, initiator);
    this.#links.set(remoteId, link);
    return link;
  }

  /** Runs an owner callback; one that throws is logged and cannot break the adapter's events. */
  #call(callback: () => void): void {
    try {
      callback();
    } catch (error) {
      this.#logger.error('transport event listener threw', { error: errorMessage(error) });
    }
  }
}

function positive(value: number, name: string): number {
  if (!Number.isFinite(value) || value <= 0) {
    throw new SwarmcastError('invalid-argument', `${name} must be a positive number`);
  }
  return value;
}

function nonNegativeInteger(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new SwarmcastError('invalid-argument', `${name} must be a non-negative integer`);
  }
  return value;
}
