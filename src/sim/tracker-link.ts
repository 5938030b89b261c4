/**
 * The tracker in the simulator: an in-process `TrackerCore` on a node of the simulated network,
 * and `TrackerConnection`s that reach it from peer nodes with the latency between them. Messages
 * travel as objects (no JSON), in order; each is validated on arrival against the protocol's
 * schema, as the WebSocket adapters do, so nothing a real connection would refuse gets through,
 * and what is delivered is the parsed copy. Tracker traffic is small and not charged to the nodes'
 * capacity.
 */
import type { Clock } from '../common/clock.js';
import { SwarmcastError } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import type { Random } from '../common/random.js';
import { nodeSignatureCheck } from '../crypto/ed25519.node.js';
import type { SyncSigner } from '../crypto/keys.js';
import {
  clientMessageSchema,
  trackerMessageSchema,
  type ClientMessage,
  type TrackerMessage,
} from '../protocol/tracker.js';
import { TrackerCore, type TrackerOptions } from '../tracker/core/tracker-core.js';
import type {
  TrackerConnection,
  TrackerConnectionEvents,
  TrackerConnectionFactory,
} from '../transport/types.js';
import type { Pipe, SimNetwork } from './network.js';

export interface SimTrackerComponents {
  network: SimNetwork;
  clock: Clock;
  random: Random;
  logger: Logger;
  /** The tracker's key (`simSigner`). */
  signer: SyncSigner;
}

export interface SimTrackerOptions extends TrackerOptions {
  /** The network node the tracker runs on; it must exist. */
  nodeId: string;
  /** Round trips from a connection's start to its being open (TCP, then the WebSocket upgrade). @default 2 */
  connectRtts?: number;
}

/** Message counts of all connections, to check that nothing went missing. */
export interface SimTrackerCounters {
  /** Messages handed to `send()` on either side while the connection was open. */
  readonly sent: number;
  readonly delivered: number;
  /** Messages in flight when their connection closed (a real socket loses those too). */
  readonly droppedAtClose: number;
}

/** A connection from a peer node: one pipe each way. */
class SimTrackerConnection implements TrackerConnection {
  readonly #tracker: SimTracker;
  readonly #events: TrackerConnectionEvents;
  readonly #up: Pipe;
  readonly #down: Pipe;
  #id: string | undefined;
  #state: 'connecting' | 'open' | 'closed' = 'connecting';

  constructor(tracker: SimTracker, nodeId: string, events: TrackerConnectionEvents) {
    this.#tracker = tracker;
    this.#events = events;
    this.#up = tracker.network.pipe(nodeId, tracker.nodeId);
    this.#down = tracker.network.pipe(tracker.nodeId, nodeId);
    tracker.network.clock.setTimeout(() => {
      this.#open(nodeId);
    }, tracker.connectRtts * this.#up.rttMs);
  }

  send(message: ClientMessage): void {
    if (this.#state !== 'open') return;
    const id = this.#id;
    if (id === undefined) return;
    this.#tracker.sent++;
    this.#tracker.network.notify(this.#up, () => {
      if (this.#state === 'closed') {
        this.#tracker.droppedAtClose++;
        return;
      }
      this.#tracker.delivered++;
      this.#tracker.core.receive(id, checked(clientMessageSchema.safeParse(message)));
    });
  }

  close(): void {
    if (this.#state === 'closed') return;
    const id = this.#id;
    this.#state = 'closed';
    if (id !== undefined) {
      this.#tracker.network.notify(this.#up, () => {
        this.#tracker.core.disconnect(id);
      });
    }
    this.#events.close('closed locally');
  }

  /** The peer's node crashed: the tracker sees the connection drop one round trip later. */
  fail(): void {
    if (this.#state === 'closed') return;
    const id = this.#id;
    this.#state = 'closed';
    this.#up.cut();
    this.#down.cut();
    if (id !== undefined) {
      this.#tracker.network.clock.setTimeout(() => {
        this.#tracker.core.disconnect(id);
      }, this.#up.rttMs);
    }
  }

  #open(nodeId: string): void {
    if (this.#state !== 'connecting') return;
    this.#state = 'open';
    this.#id = this.#tracker.core.connect(
      (message) => {
        this.#fromTracker(nodeId, message);
      },
      (reason) => {
        this.#tracker.network.notify(this.#down, () => {
          if (this.#state === 'closed') return;
          this.#state = 'closed';
          this.#events.close(reason);
        });
      },
    );
    this.#events.open();
  }

  #fromTracker(nodeId: string, message: TrackerMessage): void {
    if (this.#state === 'closed') return;
    this.#tracker.sent++;
    // The peer id the tracker gives this node is how other peers will address it.
    if (message.type === 'welcome') this.#tracker.network.addAlias(message.peerId, nodeId);
    this.#tracker.network.notify(this.#down, () => {
      if (this.#state === 'closed') {
        this.#tracker.droppedAtClose++;
        return;
      }
      this.#tracker.delivered++;
      this.#events.message(checked(trackerMessageSchema.safeParse(message)));
    });
  }
}

/** The tracker core on its node, and the connections of peer nodes to it. */
export class SimTracker {
  readonly core: TrackerCore;
  readonly network: SimNetwork;
  readonly nodeId: string;
  readonly connectRtts: number;
  sent = 0;
  delivered = 0;
  droppedAtClose = 0;
  readonly #connections = new Map<string, SimTrackerConnection>();

  constructor(components: SimTrackerComponents, options: SimTrackerOptions) {
    const { nodeId, connectRtts, ...trackerOptions } = options;
    components.network.node(nodeId);
    this.network = components.network;
    this.nodeId = nodeId;
    this.connectRtts = connectRtts ?? 2;
    this.core = new TrackerCore(
      {
        clock: components.clock,
        random: components.random,
        logger: components.logger,
        signer: components.signer,
        checkSignature: nodeSignatureCheck(),
      },
      trackerOptions,
    );
  }

  /** The connection factory for the peer on node `nodeId`. */
  connectionFactory(nodeId: string): TrackerConnectionFactory {
    return (events) => {
      const connection = new SimTrackerConnection(this, nodeId, events);
      this.#connections.set(nodeId, connection);
      return connection;
    };
  }

  /** Crashes the connection of node `nodeId` (see `SimTrackerConnection.fail`). */
  fail(nodeId: string): void {
    this.#connections.get(nodeId)?.fail();
    this.#connections.delete(nodeId);
  }

  counters(): SimTrackerCounters {
    return { sent: this.sent, delivered: this.delivered, droppedAtClose: this.droppedAtClose };
  }

  close(): void {
    this.core.close();
  }
}

function checked<T>(result: { success: true; data: T } | { success: false; error: Error }): T {
  if (result.success) return result.data;
  throw new SwarmcastError(
    'malformed-message',
    `a simulated tracker message failed validation: ${result.error.message}`,
  );
}
