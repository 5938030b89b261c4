/**
 * The simulated origin: the chunks the simulated source published, served to peer nodes over the
 * simulated network from the origin's own node, so every fetch pays the origin's upload capacity
 * (DESIGN: servers 10 Mbps up), the latency both ways and the peer's download capacity.
 */
import { SwarmcastError } from '../common/errors.js';
import { CHUNK_META_BYTES, type Chunk } from '../protocol/chunk.js';
import type { OriginClient } from '../transport/types.js';
import type { Pipe, SimNetwork } from './network.js';

/** Bytes of an HTTP request for a chunk, and of a 404 answer. */
const REQUEST_BYTES = 200;

export interface SimOriginComponents {
  network: SimNetwork;
  /** Called when a promise handed to a peer core settles (the engine's `markAsync`). */
  onSettle: () => void;
}

export interface SimOriginOptions {
  /** The network node the origin runs on; it must exist. */
  nodeId: string;
  /** Chunks kept, newest first; older ones are answered 404. */
  windowChunks: number;
}

/** The origin's store and the clients that fetch from it. */
export class SimOrigin {
  readonly nodeId: string;
  readonly #network: SimNetwork;
  readonly #onSettle: () => void;
  readonly #windowChunks: number;
  readonly #chunks = new Map<number, Chunk>();
  /** Chunk bytes (bodies) sent to peers. */
  bytesSent = 0;
  chunksServed = 0;
  notFound = 0;

  constructor(components: SimOriginComponents, options: SimOriginOptions) {
    components.network.node(options.nodeId);
    if (!Number.isInteger(options.windowChunks) || options.windowChunks < 1) {
      throw new SwarmcastError('invalid-argument', 'windowChunks must be a positive integer');
    }
    this.#network = components.network;
    this.#onSettle = components.onSettle;
    this.nodeId = options.nodeId;
    this.#windowChunks = options.windowChunks;
  }

  /** Stores a chunk (ingest); chunks older than the window are dropped. */
  add(chunk: Chunk): void {
    this.#chunks.set(chunk.seq, chunk);
    this.#chunks.delete(chunk.seq - this.#windowChunks);
  }

  has(seq: number): boolean {
    return this.#chunks.has(seq);
  }

  /** The origin client of the peer on node `nodeId`. */
  client(nodeId: string): OriginClient {
    const up = this.#network.pipe(nodeId, this.nodeId);
    const down = this.#network.pipe(this.nodeId, nodeId);
    return {
      fetchChunk: (_stream, seq, signal) => this.#fetch(up, down, seq, signal),
    };
  }

  #fetch(up: Pipe, down: Pipe, seq: number, signal: AbortSignal): Promise<Chunk> {
    return new Promise<Chunk>((resolve, reject) => {
      let settled = false;
      const settle = (outcome: () => void): void => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        outcome();
        this.#onSettle();
      };
      const onAbort = (): void => {
        settle(() => {
          reject(signal.reason as Error);
        });
      };
      if (signal.aborted) {
        onAbort();
        return;
      }
      signal.addEventListener('abort', onAbort);
      this.#network.send(up, REQUEST_BYTES, () => {
        const chunk = this.#chunks.get(seq);
        if (chunk === undefined) {
          this.notFound++;
          this.#network.send(down, REQUEST_BYTES, () => {
            settle(() => {
              reject(new SwarmcastError('origin-unavailable', `the origin has no chunk ${seq}`));
            });
          });
          return;
        }
        this.bytesSent += chunk.byteLength;
        this.chunksServed++;
        this.#network.send(down, CHUNK_META_BYTES + chunk.byteLength, () => {
          settle(() => {
            resolve(chunk);
          });
        });
      });
    });
  }
}
