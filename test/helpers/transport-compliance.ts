/**
 * The compliance suite every `PeerTransport` adapter passes (libp2p's interface-compliance-tests):
 * node-datachannel, the browser's RTCPeerConnection and the simulator's memory transport.
 *
 * An adapter hands in a `TestNetwork` that builds its transports; the suite wires their `signal`
 * events to each other's `signal()` directly (no tracker), checking on the way that every signal
 * would pass the tracker's validation, and delivers them asynchronously and in order, like a
 * relay. Waits are bounded in real time: an adapter on a virtual clock runs it in real-time mode.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { concatBytes, equalBytes } from '../../src/common/bytes.js';
import { errorMessage, InvalidStateError } from '../../src/common/errors.js';
import { SeededRandom } from '../../src/common/random.js';
import { MAX_FRAME_BYTES } from '../../src/protocol/frames.js';
import { decodeClientMessage, encodeMessage, type SignalData } from '../../src/protocol/tracker.js';
import type { Link, PeerTransport, TransportEvents } from '../../src/transport/types.js';

/** What an adapter provides to the suite. */
export interface TestNetwork {
  /** The connect timeout the transports are built with; keep it short (1-3 s). */
  readonly connectTimeoutMs: number;
  /** The drain low-water mark the transports are built with, in bytes. */
  readonly lowWaterBytes: number;
  /** Builds the transport of peer `id`, reporting to `events`. */
  createTransport(id: string, events: TransportEvents): PeerTransport;
  /** Frees what the network itself holds; called after every transport it built is closed. */
  close(): Promise<void>;
}

/** Upper bound for anything that should happen "at once" on a loaded 2-core machine. */
const SETTLE_MS = 5000;
/** How long the suite watches for events that must not come. */
const QUIET_MS = 200;
/** Connection attempts `openPair()` makes before it gives up. */
const OPEN_ATTEMPTS = 3;

/** Resolves once `condition()` holds; rejects after `timeoutMs` naming `what`. */
export async function waitFor(
  condition: () => boolean,
  what: string,
  timeoutMs = SETTLE_MS,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(5);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** One transport of the swarm under test and everything it reported. */
export class TestPeer implements TransportEvents {
  readonly id: string;
  readonly transport: PeerTransport;
  readonly opens: Link[] = [];
  readonly closes: Link[] = [];
  readonly drains: Link[] = [];
  readonly received = new Map<Link, Uint8Array[]>();
  /** Every signal this peer emitted, delivered or not. */
  readonly signals: { to: string; data: SignalData }[] = [];
  /** When set, this peer's signals are dropped: it never answers. */
  muted = false;
  readonly #swarm: TestSwarm;

  constructor(swarm: TestSwarm, id: string, network: TestNetwork) {
    this.#swarm = swarm;
    this.id = id;
    this.transport = network.createTransport(id, this);
  }

  signal(to: string, data: SignalData): void {
    this.signals.push({ to, data });
    this.#swarm.relay(this, to, data);
  }

  open(link: Link): void {
    this.opens.push(link);
  }

  message(link: Link, data: Uint8Array): void {
    let list = this.received.get(link);
    if (list === undefined) {
      list = [];
      this.received.set(link, list);
    }
    list.push(data);
  }

  drain(link: Link): void {
    this.drains.push(link);
  }

  close(link: Link): void {
    this.closes.push(link);
  }

  /** The open link this peer has to `remoteId` (the latest one opened). */
  linkTo(remoteId: string): Link {
    const link = this.opens.findLast((l) => l.remoteId === remoteId);
    if (link === undefined) throw new Error(`${this.id} has no open link to ${remoteId}`);
    return link;
  }

  hasOpened(remoteId: string, count = 1): boolean {
    return this.opens.filter((l) => l.remoteId === remoteId).length >= count;
  }

  closeCount(link: Link): number {
    return this.closes.filter((l) => l === link).length;
  }

  receivedOn(link: Link): Uint8Array[] {
    return this.received.get(link) ?? [];
  }

  receivedBytes(link: Link): number {
    let total = 0;
    for (const m of this.receivedOn(link)) total += m.byteLength;
    return total;
  }

  /** Every event this peer recorded, for "nothing more happened" checks. */
  eventCount(): number {
    let messages = 0;
    for (const list of this.received.values()) messages += list.length;
    return this.opens.length + this.closes.length + this.drains.length + messages;
  }
}

/** The transports of one test, wired to each other. */
export class TestSwarm {
  readonly peers = new Map<string, TestPeer>();
  /** Signals that would not pass the tracker's validation. */
  readonly invalidSignals: string[] = [];
  readonly #network: TestNetwork;
  #closed = false;

  constructor(network: TestNetwork) {
    this.#network = network;
  }

  add(...ids: string[]): TestPeer[] {
    return ids.map((id) => {
      const peer = new TestPeer(this, id, this.#network);
      this.peers.set(id, peer);
      return peer;
    });
  }

  relay(from: TestPeer, to: string, data: SignalData): void {
    try {
      decodeClientMessage(encodeMessage({ type: 'signal', to, data }));
    } catch (error) {
      this.invalidSignals.push(`${from.id} -> ${to}: ${errorMessage(error)}`);
      return;
    }
    if (from.muted) return;
    queueMicrotask(() => {
      if (!this.#closed) this.peers.get(to)?.transport.signal(from.id, data);
    });
  }

  /**
   * `a` connects to `b`; resolves with both ends once both are open. A WebRTC open can fail (about
   * one link in a thousand on a busy loopback): the link then closes, as the contract says, and
   * like any owner the suite connects again, up to `OPEN_ATTEMPTS` times in all. The failed
   * attempt's events are forgotten so that each case sees only the link it tests.
   */
  async openPair(a: TestPeer, b: TestPeer): Promise<{ ab: Link; ba: Link }> {
    for (let attempt = 1; ; attempt++) {
      const marks = [a, b].map((p) => [p, p.opens.length, p.closes.length] as const);
      const before = b.opens.filter((l) => l.remoteId === a.id).length;
      const ab = a.transport.connect(b.id);
      await waitFor(
        () => (a.opens.includes(ab) && b.hasOpened(a.id, before + 1)) || a.closes.includes(ab),
        `a link ${a.id} -> ${b.id} to open`,
        this.#network.connectTimeoutMs + SETTLE_MS,
      );
      if (!a.closes.includes(ab)) return { ab, ba: b.linkTo(a.id) };
      if (attempt === OPEN_ATTEMPTS) {
        throw new Error(`a link ${a.id} -> ${b.id} failed to open ${attempt} times`);
      }
      // Let the other end of the failed attempt close too (at the latest at its timeout).
      await sleep(this.#network.connectTimeoutMs + QUIET_MS);
      for (const [peer, opens, closes] of marks) {
        peer.opens.length = opens;
        peer.closes.length = closes;
      }
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const peer of this.peers.values()) peer.transport.close();
    await this.#network.close();
  }
}

/** `count` messages of 4 to `maxBytes` - 1 bytes, each starting with its index, seeded by `seed`. */
function numberedMessages(count: number, maxBytes: number, seed: number): Uint8Array[] {
  const random = new SeededRandom(seed);
  const messages: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const message = new Uint8Array(4 + random.int(maxBytes - 4));
    new DataView(message.buffer).setUint32(0, i);
    const salt = random.int(256);
    for (let j = 4; j < message.length; j++) message[j] = (j * 7 + salt) & 0xff;
    messages.push(message);
  }
  return messages;
}

/** Index of the first message of `received` that differs from `sent`, or -1. */
function firstMismatch(sent: readonly Uint8Array[], received: readonly Uint8Array[]): number {
  for (let i = 0; i < Math.max(sent.length, received.length); i++) {
    const s = sent[i];
    const r = received[i];
    if (s === undefined || r === undefined || !equalBytes(s, r)) return i;
  }
  return -1;
}

/** Runs the compliance suite against the adapter that `makeNetwork` builds. */
export function transportCompliance(name: string, makeNetwork: () => Promise<TestNetwork>): void {
  describe(`${name} (PeerTransport compliance)`, () => {
    let network: TestNetwork;
    let swarm: TestSwarm;

    beforeEach(async () => {
      network = await makeNetwork();
      swarm = new TestSwarm(network);
    });

    afterEach(async () => {
      await swarm.close();
      expect(swarm.invalidSignals).toEqual([]);
    });

    it('connect() opens a link that fires open once on each end with the right initiator flags', async () => {
      const [a, b] = swarm.add('a', 'b') as [TestPeer, TestPeer];
      const { ab, ba } = await swarm.openPair(a, b);
      await sleep(QUIET_MS);
      expect(a.opens).toEqual([ab]);
      expect(b.opens).toEqual([ba]);
      expect(ab.remoteId).toBe('b');
      expect(ba.remoteId).toBe('a');
      expect(ab.initiator).toBe(true);
      expect(ba.initiator).toBe(false);
      expect(a.closes).toEqual([]);
      expect(b.closes).toEqual([]);
    }, 15_000);

    it('link.send() before the link is open throws an invalid-state error', () => {
      const [a] = swarm.add('a', 'b') as [TestPeer, TestPeer];
      const link = a.transport.connect('b');
      expect(() => {
        link.send(new Uint8Array(1));
      }).toThrow(InvalidStateError);
    }, 15_000);

    it('1000 messages arrive in order and byte-exact in both directions', async () => {
      const [a, b] = swarm.add('a', 'b') as [TestPeer, TestPeer];
      const { ab, ba } = await swarm.openPair(a, b);
      const forward = numberedMessages(1000, 4096, 1);
      const backward = numberedMessages(1000, 4096, 2);
      for (let i = 0; i < 1000; i++) {
        ab.send(forward[i] ?? new Uint8Array());
        ba.send(backward[i] ?? new Uint8Array());
      }
      await waitFor(
        () => b.receivedOn(ba).length >= 1000 && a.receivedOn(ab).length >= 1000,
        'all 2000 messages',
        10_000,
      );
      expect(firstMismatch(forward, b.receivedOn(ba))).toBe(-1);
      expect(firstMismatch(backward, a.receivedOn(ab))).toBe(-1);
    }, 20_000);

    it('a 65535-byte message passes and a 65536-byte one throws TypeError', async () => {
      const [a, b] = swarm.add('a', 'b') as [TestPeer, TestPeer];
      const { ab, ba } = await swarm.openPair(a, b);
      const full = new Uint8Array(MAX_FRAME_BYTES).map((_, i) => (i * 13) & 0xff);
      expect(() => {
        ab.send(new Uint8Array(MAX_FRAME_BYTES + 1));
      }).toThrow(TypeError);
      ab.send(full);
      await waitFor(() => b.receivedOn(ba).length === 1, 'the 65535-byte message');
      expect(equalBytes(b.receivedOn(ba)[0] ?? new Uint8Array(), full)).toBe(true);
    }, 15_000);

    it('bufferedAmount rises under a burst, drain fires, and every byte sent is received', async () => {
      const [a, b] = swarm.add('a', 'b') as [TestPeer, TestPeer];
      const { ab, ba } = await swarm.openPair(a, b);
      const count = Math.ceil((8 * network.lowWaterBytes) / MAX_FRAME_BYTES) + 16;
      const burst = numberedMessages(count, MAX_FRAME_BYTES + 1, 4);
      let maxBuffered = 0;
      const drainsBefore = a.drains.length;
      for (const message of burst) {
        ab.send(message);
        maxBuffered = Math.max(maxBuffered, ab.bufferedAmount);
      }
      expect(maxBuffered).toBeGreaterThan(network.lowWaterBytes);
      // A drain reports that the buffer fell to the low-water mark at some point; the event can
      // reach JavaScript after more was queued, so its level at delivery is not asserted.
      await waitFor(() => a.drains.length > drainsBefore, 'drain');
      expect(a.drains.slice(drainsBefore).every((l) => l === ab)).toBe(true);
      const sentBytes = concatBytes(burst);
      await waitFor(() => b.receivedBytes(ba) >= sentBytes.byteLength, 'every burst byte', 15_000);
      expect(b.receivedBytes(ba)).toBe(sentBytes.byteLength);
      expect(equalBytes(concatBytes(b.receivedOn(ba)), sentBytes)).toBe(true);
      await waitFor(() => ab.bufferedAmount === 0, 'an empty send buffer');
    }, 30_000);

    for (const side of ['initiator', 'answerer'] as const) {
      it(`link.close() on the ${side} fires close exactly once on both ends and later sends are no-ops`, async () => {
        const [a, b] = swarm.add('a', 'b') as [TestPeer, TestPeer];
        const { ab, ba } = await swarm.openPair(a, b);
        const [closer, other] = side === 'initiator' ? [ab, ba] : [ba, ab];
        closer.close();
        closer.close();
        await waitFor(() => a.closeCount(ab) === 1 && b.closeCount(ba) === 1, 'close on both ends');
        closer.close();
        other.close();
        ab.send(new Uint8Array([1, 2, 3]));
        ba.send(new Uint8Array([4, 5, 6]));
        await sleep(QUIET_MS);
        expect(a.closes).toEqual([ab]);
        expect(b.closes).toEqual([ba]);
        expect(b.receivedOn(ba)).toEqual([]);
        expect(a.receivedOn(ab)).toEqual([]);
        expect(ab.bufferedAmount).toBe(0);
      }, 15_000);
    }

    it('transport.close() closes all its links on both ends, is idempotent, and connect() then throws', async () => {
      const [a, b, c] = swarm.add('a', 'b', 'c') as [TestPeer, TestPeer, TestPeer];
      const { ab, ba } = await swarm.openPair(a, b);
      const { ab: ac, ba: ca } = await swarm.openPair(a, c);
      a.transport.close();
      a.transport.close();
      await waitFor(
        () => a.closes.length === 2 && b.closes.length === 1 && c.closes.length === 1,
        'every link to close',
      );
      await sleep(QUIET_MS);
      expect(new Set(a.closes)).toEqual(new Set([ab, ac]));
      expect(b.closes).toEqual([ba]);
      expect(c.closes).toEqual([ca]);
      expect(() => a.transport.connect('b')).toThrow(InvalidStateError);
    }, 15_000);

    it('a link to a peer that never answers closes on both ends within connectTimeoutMs', async () => {
      const [a, b] = swarm.add('a', 'b') as [TestPeer, TestPeer];
      b.muted = true;
      const started = Date.now();
      const link = a.transport.connect('b');
      const limitMs = network.connectTimeoutMs + SETTLE_MS;
      await waitFor(() => a.closeCount(link) === 1, 'the unanswered link to close', limitMs);
      const elapsedMs = Date.now() - started;
      // The offer reached b, which made a link of its own that can never open either.
      await waitFor(() => b.closes.length === 1, 'the answerer to give up', limitMs);
      await sleep(QUIET_MS);
      expect(elapsedMs).toBeGreaterThanOrEqual(network.connectTimeoutMs - 50);
      expect(a.opens).toEqual([]);
      expect(b.opens).toEqual([]);
      expect(a.closes).toEqual([link]);
      expect(b.closes.length).toBe(1);
    }, 30_000);

    it('three transports open a link between every pair at once and each carries messages both ways', async () => {
      const peers = swarm.add('a', 'b', 'c') as [TestPeer, TestPeer, TestPeer];
      const [a, b, c] = peers;
      a.transport.connect('b');
      a.transport.connect('c');
      b.transport.connect('c');
      await waitFor(
        () => peers.every((p) => p.opens.length === 2),
        'six link ends to open',
        10_000,
      );
      const text = new TextEncoder();
      for (const peer of peers) {
        for (const link of peer.opens) link.send(text.encode(`${peer.id}>${link.remoteId}`));
      }
      await waitFor(
        () => peers.every((p) => p.opens.every((l) => p.receivedOn(l).length === 1)),
        'one message on every link end',
      );
      const decoder = new TextDecoder();
      for (const peer of peers) {
        for (const link of peer.opens) {
          const got = onlyMessage(peer.receivedOn(link));
          expect(decoder.decode(got)).toBe(`${link.remoteId}>${peer.id}`);
        }
      }
      expect([a.closes, b.closes, c.closes]).toEqual([[], [], []]);
    }, 20_000);

    it('connect() to a peer with a live link replaces it: the old link closes on both ends and a new one opens', async () => {
      const [a, b] = swarm.add('a', 'b') as [TestPeer, TestPeer];
      const { ab: first, ba: firstBack } = await swarm.openPair(a, b);
      const { ab: second, ba: secondBack } = await swarm.openPair(a, b);
      await waitFor(() => b.closeCount(firstBack) === 1, 'the old link to close on the answerer');
      expect(second).not.toBe(first);
      expect(secondBack).not.toBe(firstBack);
      expect(a.closes).toEqual([first]);
      expect(b.closes).toEqual([firstBack]);
      second.send(new Uint8Array([7]));
      await waitFor(() => b.receivedOn(secondBack).length === 1, 'a message on the new link');
      await sleep(QUIET_MS);
      expect(a.closes).toEqual([first]);
      expect(b.closes).toEqual([firstBack]);
    }, 15_000);

    it('signals for a link that is closed are ignored', async () => {
      const [a, b] = swarm.add('a', 'b') as [TestPeer, TestPeer];
      const { ab, ba } = await swarm.openPair(a, b);
      ab.close();
      await waitFor(() => b.closeCount(ba) === 1, 'close on the answerer');
      const events = a.eventCount() + b.eventCount();
      for (const { data } of b.signals.filter((s) => s.to === 'a')) a.transport.signal('b', data);
      await sleep(QUIET_MS);
      expect(a.eventCount() + b.eventCount()).toBe(events);
    }, 15_000);
  });
}

/** The one message of a list that must hold exactly one. */
function onlyMessage(list: readonly Uint8Array[]): Uint8Array {
  expect(list.length).toBe(1);
  return list[0] ?? new Uint8Array();
}
