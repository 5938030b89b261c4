/**
 * The simulated network: nodes with an upload and a download capacity and an access latency, and
 * ordered one-way pipes between them. A message of `n` bytes leaves its sender after waiting for
 * everything the node is already sending (one FIFO uplink shared by all its pipes) plus
 * `n × 8 / uploadKbps` ms; it crosses the pipe in the pipe's one-way latency (the sum of both
 * nodes' access latencies); it enters the receiver after waiting for its downlink (one FIFO shared
 * by all pipes into the node) plus `n × 8 / downloadKbps` ms. A lost packet on a reliable ordered
 * data channel is retransmitted, so loss costs an extra round trip, never a message, and holds
 * back the messages behind it on the same pipe (head-of-line blocking).
 *
 * A message takes its place in the receiver's downlink when it reaches it (one event), then
 * comes out of the pipe when its last byte is in (a second event); messages on one pipe keep
 * their order.
 *
 * Works with any Clock: the simulator's virtual one, or the system clock (the transport
 * compliance suite runs the memory transport in real time).
 */
import type { Clock } from '../common/clock.js';
import { SwarmcastError } from '../common/errors.js';
import type { Random } from '../common/random.js';
import { RingQueue } from '../common/ring-queue.js';
import { SimClock } from './engine.js';

/** How a node attaches to the network. */
export interface SimNodeOptions {
  /** Upload capacity; `Infinity` for no limit. */
  uploadKbps: number;
  /** Download capacity; `Infinity` for no limit. */
  downloadKbps: number;
  /** One-way delay from the node to the network core, in ms; a pipe's latency is the sum of its ends'. */
  latencyMs: number;
  /** Probability that a message from or to this node needs a retransmission (0-1). @default 0 */
  lossRate?: number;
}

/** Byte counts of one node, for checks against capacity. */
export interface SimNodeCounters {
  readonly bytesSent: number;
  readonly bytesReceived: number;
  readonly messagesSent: number;
  readonly messagesReceived: number;
  /** Most bytes the node's uplink sent in any one second of virtual time (`[k s, (k+1) s)`). */
  readonly peakSentBytesPerSecond: number;
  readonly retransmissions: number;
}

/** Length of the bins in which upload is counted for `peakSentBytesPerSecond`. */
const BIN_MS = 1000;
/** A queue read from a head index drops what it has read once the head passes this. */
const COMPACT_AFTER = 1024;

/** One node of the network. */
export class SimNode {
  readonly id: string;
  readonly uploadKbps: number;
  readonly downloadKbps: number;
  readonly latencyMs: number;
  readonly lossRate: number;
  /** Time the uplink finishes what it has been given. */
  upFreeAt = 0;
  /** Time the downlink finishes what has been reserved on it. */
  downFreeAt = 0;
  bytesSent = 0;
  bytesReceived = 0;
  messagesSent = 0;
  messagesReceived = 0;
  retransmissions = 0;
  /**
   * Bytes sent per second bin, from bin `#binsFrom` on (0 for a bin nothing was sent in): an array,
   * not a map, as a node sends from bin to bin without going back.
   */
  readonly #sentBins: number[] = [];
  #binsFrom = 0;

  constructor(id: string, options: SimNodeOptions) {
    checkCapacity(options.uploadKbps, 'uploadKbps');
    checkCapacity(options.downloadKbps, 'downloadKbps');
    if (!Number.isFinite(options.latencyMs) || options.latencyMs < 0) {
      throw new SwarmcastError('invalid-argument', 'latencyMs must be a finite number ≥ 0');
    }
    const lossRate = options.lossRate ?? 0;
    if (!(lossRate >= 0 && lossRate < 1)) {
      throw new SwarmcastError('invalid-argument', 'lossRate must be in [0, 1)');
    }
    this.id = id;
    this.uploadKbps = options.uploadKbps;
    this.downloadKbps = options.downloadKbps;
    this.latencyMs = options.latencyMs;
    this.lossRate = lossRate;
  }

  /** Counts `bytes` leaving the uplink during `[startMs, endMs]`, spread over the bins it spans. */
  recordSent(bytes: number, startMs: number, endMs: number): void {
    this.bytesSent += bytes;
    this.messagesSent++;
    const first = Math.floor(startMs / BIN_MS);
    const last = Math.floor(endMs / BIN_MS);
    if (first === last || endMs <= startMs) {
      this.#addToBin(first, bytes);
      return;
    }
    const perMs = bytes / (endMs - startMs);
    for (let bin = first; bin <= last; bin++) {
      const from = Math.max(startMs, bin * BIN_MS);
      const to = Math.min(endMs, (bin + 1) * BIN_MS);
      if (to > from) this.#addToBin(bin, perMs * (to - from));
    }
  }

  #addToBin(bin: number, bytes: number): void {
    const bins = this.#sentBins;
    if (bins.length === 0) this.#binsFrom = bin;
    // On the system clock a bin is counted from the epoch: start the array at the first one.
    while (bin < this.#binsFrom) {
      bins.unshift(0);
      this.#binsFrom--;
    }
    const i = bin - this.#binsFrom;
    while (bins.length <= i) bins.push(0);
    bins[i] = (bins[i] ?? 0) + bytes;
  }

  counters(): SimNodeCounters {
    let peak = 0;
    for (const bytes of this.#sentBins) peak = Math.max(peak, bytes);
    return {
      bytesSent: this.bytesSent,
      bytesReceived: this.bytesReceived,
      messagesSent: this.messagesSent,
      messagesReceived: this.messagesReceived,
      peakSentBytesPerSecond: peak,
      retransmissions: this.retransmissions,
    };
  }
}

/** What comes out of a pipe at `due`: a message, or a control notice. */
interface Delivery {
  readonly pipe: Pipe;
  /** Set when it is put in the pipe's delivery queue. */
  due: number;
  handOver(): void;
}

/** What receives the messages `SimNetwork.transfer` carries. */
export interface Receiver<M> {
  received(message: M): void;
}

/** A message on its way: one object from `send` to its delivery (no closure per step). */
class Transfer<M> implements Delivery {
  readonly pipe: Pipe;
  readonly bytes: number;
  /** Arrival of its last byte at the receiver's downlink, when that is limited. */
  readonly arrivesAt: number;
  readonly receiver: Receiver<M>;
  readonly message: M;
  due = 0;
  /** It took its place in the receiver's downlink (tracked off the simulator's clock). */
  entered = false;

  constructor(pipe: Pipe, bytes: number, arrivesAt: number, receiver: Receiver<M>, message: M) {
    this.pipe = pipe;
    this.bytes = bytes;
    this.arrivesAt = arrivesAt;
    this.receiver = receiver;
    this.message = message;
  }

  handOver(): void {
    const to = this.pipe.to;
    to.bytesReceived += this.bytes;
    to.messagesReceived++;
    this.receiver.received(this.message);
  }
}

/** A control notice: takes no capacity. */
class Notice implements Delivery {
  readonly pipe: Pipe;
  readonly deliver: () => void;
  due = 0;

  constructor(pipe: Pipe, deliver: () => void) {
    this.pipe = pipe;
    this.deliver = deliver;
  }

  handOver(): void {
    this.deliver();
  }
}

/** The receiver of `send`'s messages: a callback, called. */
const CALL: Receiver<() => void> = {
  received: (deliver) => {
    deliver();
  },
};

/**
 * One direction of a connection between two nodes: messages come out in the order they went in.
 * Deliveries wait in a queue and each timer flushes the queue up to its own time, so the order
 * holds even on a clock whose timers with the same due time may fire out of order.
 */
export class Pipe {
  readonly from: SimNode;
  readonly to: SimNode;
  readonly latencyMs: number;
  readonly lossRate: number;
  /** Delivery time of the last message put in; the next cannot come out before it. */
  lastAt = 0;
  /** Arrival at the receiver's downlink of the last message sent; the next cannot pass it. */
  lastArrivalAt = 0;
  /**
   * Messages on their way to the receiver's downlink, in order, from `arrivalsHead` on (on a clock
   * other than the simulator's, whose timers may fire out of order).
   */
  readonly arrivals: Transfer<unknown>[] = [];
  arrivalsHead = 0;
  #cut = false;
  readonly #queue = new RingQueue<Delivery>(4);

  constructor(from: SimNode, to: SimNode) {
    this.from = from;
    this.to = to;
    this.latencyMs = from.latencyMs + to.latencyMs;
    this.lossRate = 1 - (1 - from.lossRate) * (1 - to.lossRate);
  }

  /** Round-trip time between the two nodes. */
  get rttMs(): number {
    return 2 * this.latencyMs;
  }

  /** Nothing more comes out of the pipe: what is in flight is dropped. */
  cut(): void {
    this.#cut = true;
    this.#queue.clear();
  }

  get isCut(): boolean {
    return this.#cut;
  }

  push(delivery: Delivery): void {
    this.#queue.push(delivery);
  }

  /** Delivers, in order, every queued message due at or before `at`. */
  flush(at: number): void {
    for (;;) {
      const next = this.#queue.at(0);
      if (next === undefined || next.due > at) return;
      this.#queue.shift();
      next.handOver();
      // A delivery may have cut the pipe (the receiver closed it).
      if (this.#cut) return;
    }
  }
}

export interface SimNetworkComponents {
  clock: Clock;
  /** Draws the retransmissions; give it a stream of its own. */
  random: Random;
}

/** The nodes and the timing of everything sent between them. */
export class SimNetwork {
  readonly clock: Clock;
  readonly #random: Random;
  readonly #nodes = new Map<string, SimNode>();
  /** Other names of nodes: the peer ids the tracker gives them. */
  readonly #aliases = new Map<string, SimNode>();
  #nextToken = 1;

  constructor(components: SimNetworkComponents) {
    this.clock = components.clock;
    this.#random = components.random;
  }

  addNode(id: string, options: SimNodeOptions): SimNode {
    if (this.#nodes.has(id)) {
      throw new SwarmcastError('invalid-argument', `node ${id} is already in the network`);
    }
    const node = new SimNode(id, options);
    this.#nodes.set(id, node);
    return node;
  }

  /** Makes `alias` (e.g. a tracker-assigned peer id) another name of node `id`. */
  addAlias(alias: string, id: string): void {
    this.#aliases.set(alias, this.node(id));
  }

  /** The node named `id` or aliased `id`; throws `invalid-argument` if there is none. */
  node(id: string): SimNode {
    const node = this.#nodes.get(id) ?? this.#aliases.get(id);
    if (node === undefined) throw new SwarmcastError('invalid-argument', `no node ${id}`);
    return node;
  }

  hasNode(id: string): boolean {
    return this.#nodes.has(id) || this.#aliases.has(id);
  }

  nodes(): IterableIterator<SimNode> {
    return this.#nodes.values();
  }

  /** A fresh id, unique in this network (for pairing the two ends of a link). */
  nextToken(): number {
    return this.#nextToken++;
  }

  pipe(from: string, to: string): Pipe {
    return new Pipe(this.node(from), this.node(to));
  }

  /**
   * Sends `bytes` on `pipe`: queues them on the sender's uplink and the receiver's downlink and
   * calls `deliver` when the last byte is in. Returns the time the last byte leaves the sender.
   */
  send(pipe: Pipe, bytes: number, deliver: () => void): number {
    return this.transfer(pipe, bytes, CALL, deliver);
  }

  /** `send` that hands `message` to `receiver` when its `bytes` are in. */
  transfer<M>(pipe: Pipe, bytes: number, receiver: Receiver<M>, message: M): number {
    const now = this.clock.now();
    const from = pipe.from;
    const to = pipe.to;
    const startMs = Math.max(now, from.upFreeAt);
    const leftAt = startMs + serialisationMs(bytes, from.uploadKbps);
    from.upFreeAt = leftAt;
    from.recordSent(bytes, startMs, leftAt);
    let arrivesAt = leftAt + pipe.latencyMs;
    if (pipe.lossRate > 0 && this.#random.next() < pipe.lossRate) {
      from.retransmissions++;
      arrivesAt += pipe.rttMs;
    }
    // Head-of-line blocking: nothing reaches the receiver before what was sent ahead of it.
    arrivesAt = Math.max(arrivesAt, pipe.lastArrivalAt);
    pipe.lastArrivalAt = arrivesAt;
    const transfer = new Transfer(pipe, bytes, arrivesAt, receiver, message);
    // The downlink is taken when the message reaches it, not when it is sent: a message waiting
    // behind a busy uplink must not hold the receiver's downlink for other senders meanwhile.
    // An unlimited downlink has no queue, so the message goes into the pipe at once.
    if (to.downloadKbps === Infinity) {
      this.#enqueue(transfer, arrivesAt);
    } else if (this.clock instanceof SimClock) {
      // The simulator's clock fires a pipe's arrivals in the order they were sent (their times do
      // not decrease, and ties go in insertion order): each takes only itself in.
      this.clock.schedule(this.#enter, transfer, arrivesAt - now);
    } else {
      pipe.arrivals.push(transfer);
      this.#after(arrivesAt - now, this.#arrive, transfer);
    }
    return leftAt;
  }

  /**
   * Sends a control notice that takes no capacity (a close, a reset) on `pipe`: it arrives after
   * `delayMs` (default: the pipe's latency), and after everything already in the pipe.
   */
  notify(pipe: Pipe, deliver: () => void, delayMs = pipe.latencyMs): void {
    this.#enqueue(new Notice(pipe, deliver), this.clock.now() + delayMs);
  }

  /**
   * `transfer` reached the receiver's downlink on a clock whose timers may fire out of order (the
   * system clock rounds delays). Arrivals enter it in the pipe's order: each takes every earlier
   * one in too.
   */
  readonly #arrive = (transfer: Transfer<unknown>): void => {
    if (transfer.entered) return;
    const pipe = transfer.pipe;
    for (;;) {
      const earlier = pipe.arrivals[pipe.arrivalsHead++];
      if (earlier === undefined) break;
      earlier.entered = true;
      this.#enter(earlier);
      if (earlier === transfer) break;
    }
    if (pipe.arrivalsHead === pipe.arrivals.length) {
      pipe.arrivals.length = 0;
      pipe.arrivalsHead = 0;
    } else if (pipe.arrivalsHead > COMPACT_AFTER) {
      pipe.arrivals.splice(0, pipe.arrivalsHead);
      pipe.arrivalsHead = 0;
    }
  };

  /** `transfer` takes its place in the receiver's downlink, and comes out of the pipe after it. */
  readonly #enter = (transfer: Transfer<unknown>): void => {
    const to = transfer.pipe.to;
    const inAt =
      Math.max(transfer.arrivesAt, to.downFreeAt) +
      serialisationMs(transfer.bytes, to.downloadKbps);
    to.downFreeAt = inAt;
    this.#enqueue(transfer, inAt);
  };

  #enqueue(delivery: Delivery, at: number): void {
    const pipe = delivery.pipe;
    if (pipe.isCut) return;
    const due = Math.max(at, pipe.lastAt);
    pipe.lastAt = due;
    delivery.due = due;
    pipe.push(delivery);
    this.#after(due - this.clock.now(), flushUpTo, delivery);
  }

  /** Calls `callback(arg)` after `delayMs`: on the simulator's clock, without a closure. */
  #after<A>(delayMs: number, callback: (arg: A) => void, arg: A): void {
    if (this.clock instanceof SimClock) {
      this.clock.schedule(callback, arg, delayMs);
    } else {
      this.clock.setTimeout(() => {
        callback(arg);
      }, delayMs);
    }
  }
}

/** A delivery's timer: everything in its pipe due by then comes out. */
function flushUpTo(delivery: Delivery): void {
  delivery.pipe.flush(delivery.due);
}

/** Milliseconds `bytes` take at `kbps` (kilobits per second = bits per millisecond). */
export function serialisationMs(bytes: number, kbps: number): number {
  return kbps === Infinity ? 0 : (bytes * 8) / kbps;
}

function checkCapacity(value: number, name: string): void {
  if (!(value > 0)) throw new SwarmcastError('invalid-argument', `${name} must be positive`);
}
