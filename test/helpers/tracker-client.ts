/**
 * A raw WebSocket client of the tracker for integration tests: it speaks the JSON protocol by
 * hand (no peer core), validates what the tracker sends with the protocol decoder, and does the
 * authenticated handshake with a real Ed25519 key when asked.
 */
import { WebSocket } from 'ws';
import { fromBase64Url, toBase64Url } from '../../src/common/bytes.js';
import { generateNodeSigner } from '../../src/crypto/ed25519.node.js';
import { authMessage } from '../../src/crypto/handshake.js';
import type { SyncSigner } from '../../src/crypto/keys.js';
import {
  TRACKER_PROTOCOL_VERSION,
  decodeTrackerMessage,
  type ClientMessage,
  type StreamInfo,
  type TrackerMessage,
} from '../../src/protocol/tracker.js';

const WAIT_MS = 3000;

type Role = 'viewer' | 'broadcaster';

/** The `hello` a peer with `key` sends. */
export function helloFor(
  key: SyncSigner,
  role: Role,
  extra: { admission?: string; uploadKbps?: number } = {},
): Extract<ClientMessage, { type: 'hello' }> {
  return {
    type: 'hello',
    version: TRACKER_PROTOCOL_VERSION,
    role,
    publicKey: key.publicKey,
    ...extra,
  };
}

/** The `auth` that answers `challenge` for a peer with `key`. */
export function authFor(
  key: SyncSigner,
  role: Role,
  challenge: Extract<TrackerMessage, { type: 'challenge' }>,
): ClientMessage {
  const signed = authMessage(
    fromBase64Url(challenge.nonce),
    key.publicKey,
    role,
    challenge.trackerKey,
  );
  return { type: 'auth', signature: toBase64Url(key.signSync(signed)) };
}

const open = new Set<TestClient>();

/** Terminates every client still open (call it in `afterEach`). */
export function terminateClients(): void {
  for (const client of open) client.socket.terminate();
  open.clear();
}

export class TestClient {
  readonly socket: WebSocket;
  /** Its key; `hello()` presents it. */
  readonly key: SyncSigner;
  peerId = '';
  /** Every message received, in order (nothing is removed from it). */
  readonly received: TrackerMessage[] = [];
  readonly #queue: TrackerMessage[] = [];
  readonly #waiters = new Set<() => void>();
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(socket: WebSocket, key: SyncSigner) {
    this.socket = socket;
    this.key = key;
    socket.on('message', (data, isBinary) => {
      if (isBinary) throw new Error('the tracker sent a binary frame');
      const message = decodeTrackerMessage((data as Buffer).toString('utf8'));
      this.received.push(message);
      this.#queue.push(message);
      for (const wake of [...this.#waiters]) wake();
    });
    this.closed = new Promise((resolve) => {
      socket.on('close', (code, reason) => {
        resolve({ code, reason: reason.toString() });
      });
    });
  }

  /** Connects; `key` is the identity it will present (default: a fresh one). */
  static async open(
    url: string,
    options: { autoPong?: boolean; key?: SyncSigner } = {},
  ): Promise<TestClient> {
    const { key = generateNodeSigner(), ...socketOptions } = options;
    const socket = new WebSocket(url, socketOptions);
    const client = new TestClient(socket, key);
    open.add(client);
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => {
        resolve();
      });
      socket.once('error', reject);
    });
    return client;
  }

  send(message: ClientMessage | { type: string }): void {
    this.socket.send(JSON.stringify(message));
  }

  /** Resolves with the next message of `type`, dropping nothing else. */
  async next<T extends TrackerMessage['type']>(
    type: T,
    timeoutMs = WAIT_MS,
  ): Promise<Extract<TrackerMessage, { type: T }>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.#queue.findIndex((m) => m.type === type);
      if (index >= 0) {
        return this.#queue.splice(index, 1)[0] as Extract<TrackerMessage, { type: T }>;
      }
      const leftMs = deadline - Date.now();
      if (leftMs <= 0) throw new Error(`no ${type} message within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          clearTimeout(timer);
          this.#waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, leftMs);
        this.#waiters.add(wake);
      });
    }
  }

  /** The whole handshake: hello, the challenge answered with its key, welcome. */
  async hello(role: Role, extra: { admission?: string } = {}): Promise<this> {
    this.send(helloFor(this.key, role, extra));
    this.send(authFor(this.key, role, await this.next('challenge')));
    this.peerId = (await this.next('welcome')).peerId;
    return this;
  }

  /** Joins `stream` (a broadcaster with its `info`) and resolves with its credential. */
  async join(info?: StreamInfo, stream = info?.stream ?? 'live'): Promise<string> {
    this.send({ type: 'join', stream, ...(info === undefined ? {} : { info }) });
    return (await this.next('joined')).credential;
  }
}
