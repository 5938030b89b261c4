/** A viewer peer in Node: the peer core wired to node-datachannel, `ws` and HTTP. */
import { SystemClock } from '../common/clock.js';
import type { Logger } from '../common/logger.js';
import { CryptoRandom } from '../common/random.js';
import type { Signer } from '../crypto/keys.js';
import { HttpOriginClient } from '../transport/origin-http.js';
import { rtcTransportFactory, type RtcTransportOptions } from '../transport/rtc.node.js';
import { wsTrackerConnectionFactory } from '../transport/tracker-ws.node.js';
import type { PeerTransportFactory, TrackerConnectionFactory } from '../transport/types.js';
import { PEER_DEFAULTS, PeerCore, type PeerOptions } from './core.js';

export interface NodePeerOptions extends Partial<Omit<PeerOptions, 'stream'>> {
  stream: string;
  /** ws:// URL of the tracker. */
  trackerUrl: string;
  /** Base URL of the origin (viewers only). */
  originUrl?: string;
  /** WebRTC settings; `bindAddress: '127.0.0.1'` keeps everything on loopback. */
  rtc?: RtcTransportOptions;
}

/**
 * Wraps the real I/O before the core gets it (the lab's polluters: `attackTransport`,
 * `attackTracker` in `src/lab/attacks.ts`). Each field is the identity when absent.
 */
export interface NodePeerDecorators {
  transport?: (factory: PeerTransportFactory) => PeerTransportFactory;
  tracker?: (factory: TrackerConnectionFactory) => TrackerConnectionFactory;
}

/**
 * Builds a peer core with real I/O. Call `start()` on it. `identity` is its Ed25519 key (a
 * broadcaster's must be registered with the tracker); without one it makes a fresh key pair.
 * `decorate` wraps its transport and tracker connection.
 */
export function createNodePeer(
  components: { logger: Logger; identity?: Signer; decorate?: NodePeerDecorators },
  options: NodePeerOptions,
): PeerCore {
  const { logger, decorate = {} } = components;
  const role = options.role ?? 'viewer';
  const origin =
    options.originUrl === undefined
      ? undefined
      : new HttpOriginClient({ logger }, { originUrl: options.originUrl });
  if (role === 'viewer' && origin === undefined) {
    throw new TypeError('a viewer needs the origin URL');
  }
  return new PeerCore(
    {
      clock: new SystemClock(),
      random: new CryptoRandom(),
      logger,
      transport: (decorate.transport ?? asIs)(
        rtcTransportFactory({ logger: logger.child('rtc') }, options.rtc ?? {}),
      ),
      tracker: (decorate.tracker ?? asIs)(
        wsTrackerConnectionFactory(
          { logger: logger.child('tracker') },
          { url: options.trackerUrl },
        ),
      ),
      ...(origin === undefined ? {} : { origin }),
      ...(components.identity === undefined ? {} : { identity: components.identity }),
    },
    { ...PEER_DEFAULTS, ...options, role },
  );
}

function asIs<T>(value: T): T {
  return value;
}
