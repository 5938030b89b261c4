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

/**
 * What the network updates for every message, by node index and by pipe index, in typed arrays.
 * A message then touches a few numbers in a few dense arrays, not a node and a pipe object each
 * somewhere in the heap: at a thousand nodes those were the simulator's costliest cache misses.
 */
class NetworkState {
  nodeCount = 0;
  pipeCount = 0;
  /** Per node: when the uplink finishes what it has been given. */
  upFreeAt = new Float64Array(16);
  /** Per node: when the downlink finishes what has been reserved on it. */
  downFreeAt = new Float64Array(16);
  /** Per node: the capacities (`Infinity`: unlimited). */
  uploadKbps = new Float64Array(16);
  downloadKbps = new Float64Array(16);
  bytesSent = new Float64Array(16);
  messagesSent = new Float64Array(16);
  bytesReceived = new Float64Array(16);
  messagesReceived = new Float64Array(16);
  /** Per node: the second bin it sends in now, the bytes sent in it, and the most in any before. */
  sentBin = new Float64Array(16);
  sentBinBytes = new Float64Array(16);
  sentPeak = new Float64Array(16);
  /** Per pipe: delivery time of the last message put in; the next cannot come out before it. */
  pipeLastAt = new Float64Array(16);
  /** Per pipe: arrival at the receiver's downlink of the last message sent; the next cannot pass it. */
  pipeLastArrivalAt = new Float64Array(16);
  /** Per pipe: 1 once cut. */
  pipeCut = new Uint8Array(16);

  addNode(uploadKbps: number, downloadKbps: number): number {
    const i = this.nodeCount++;
    if (i === this.upFreeAt.length) {
      const n = 2 * i;
      this.upFreeAt = grown(this.upFreeAt, n);
      this.downFreeAt = grown(this.downFreeAt, n);
      this.uploadKbps = grown(this.uploadKbps, n);
      this.downloadKbps = grown(this.downloadKbps, n);
      this.bytesSent = grown(this.bytesSent, n);
      this.messagesSent = grown(this.messagesSent, n);
      this.bytesReceived = grown(this.bytesReceived, n);
      this.messagesReceived = grown(this.messagesReceived, n);
      this.sentBin = grown(this.sentBin, n);
      this.sentBinBytes = grown(this.sentBinBytes, n);
      this.sentPeak = grown(this.sentPeak, n);
    }
    this.uploadKbps[i] = uploadKbps;
    this.downloadKbps[i] = downloadKbps;
    this.sentBin[i] = Number.NaN;
    return i;
  }

  addPipe(): number {
    const i = this.pipeCount++;
    if (i === this.pipeLastAt.length) {
      const n = 2 * i;
      this.pipeLastAt = grown(this.pipeLastAt, n);
      this.pipeLastArrivalAt = grown(this.pipeLastArrivalAt, n);
      const cut = new Uint8Array(n);
      cut.set(this.pipeCut);
      this.pipeCut = cut;
    }
    return i;
  }

  /** Counts `bytes` leaving node `i`'s uplink during `[startMs, endMs]`, spread over the bins it spans. */
  recordSent(i: number, bytes: number, startMs: number, endMs: number): void {
    this.bytesSent[i] = (this.bytesSent[i] ?? 0) + bytes;
    this.messagesSent[i] = (this.messagesSent[i] ?? 0) + 1;
    const first = Math.floor(startMs / BIN_MS);
    const last = Math.floor(endMs / BIN_MS);
    if (first === last || endMs <= startMs) {
      this.#addToBin(i, first, bytes);
      return;
    }
    const perMs = bytes / (endMs - startMs);
    for (let bin = first; bin <= last; bin++) {
      const from = Math.max(startMs, bin * BIN_MS);
      const to = Math.min(endMs, (bin + 1) * BIN_MS);
      if (to > from) this.#addToBin(i, bin, perMs * (to - from));
    }
  }

  /**
   * Adds to node `i`'s bin `bin`. Its uplink is FIFO, so bins come in order; should a system clock
   * step back, the bytes count in the bin it is in.
   */
  #addToBin(i: number, bin: number, bytes: number): void {
    if (bin <= (this.sentBin[i] ?? Number.NaN)) {
      this.sentBinBytes[i] = (this.sentBinBytes[i] ?? 0) + bytes;
      return;
    }
    this.sentPeak[i] = Math.max(this.sentPeak[i] ?? 0, this.sentBinBytes[i] ?? 0);
    this.sentBin[i] = bin;
    this.sentBinBytes[i] = bytes;
  }
}

/** `array`'s numbers in a new array of `length`. */
function grown(array: Float64Array<ArrayBuffer>, length: number): Float64Array<ArrayBuffer> {
  const copy = new Float64Array(length);
  copy.set(array);
  return copy;
}

/** One node of the network. */
export class SimNode {
  readonly id: string;
  /** Its index in the network's state. */
  readonly index: number;
  readonly uploadKbps: number;
  readonly downloadKbps: number;
  readonly latencyMs: number;
  readonly lossRate: number;
  retransmissions = 0;
  readonly #state: NetworkState;

  constructor(id: string, options: SimNodeOptions, state: NetworkState) {
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
    this.#state = state;
    this.index = state.addNode(this.uploadKbps, this.downloadKbps);
  }

  counters(): SimNodeCounters {
    const state = this.#state;
    const i = this.index;
    return {
      bytesSent: state.bytesSent[i] ?? 0,
      bytesReceived: state.bytesReceived[i] ?? 0,
      messagesSent: state.messagesSent[i] ?? 0,
      messagesReceived: state.messagesReceived[i] ?? 0,
      peakSentBytesPerSecond: Math.max(state.sentPeak[i] ?? 0, state.sentBinBytes[i] ?? 0),
      retransmissions: this.retransmissions,
    };
  }
}

/** What comes out of a pipe at `due`: a message, or a control notice. */
interface Delivery {
  readonly pipe: Pipe;
  /** `pipe.index`, kept here so that a delivery's timers need not read the pipe. */
  readonly pipeIndex: number;
  /** Set when it is put in the pipe's delivery queue. */
  due: number;
  handOver(state: NetworkState): void;
}

/** What receives the messages `SimNetwork.transfer` carries. */
export interface Receiver<M> {
  received(message: M): void;
}

/** A message on its way: one object from `send` to its delivery (no closure per step). */
class Transfer<M> implements Delivery {
  readonly pipe: Pipe;
  readonly pipeIndex: number;
  /** The receiving node's index. */
  readonly to: number;
  readonly bytes: number;
  /** Arrival of its last byte at the receiver's downlink, when that is limited. */
  arrivesAt: number;
  readonly receiver: Receiver<M>;
  readonly message: M;
  due = 0;
  /** It took its place in the receiver's downlink (tracked off the simulator's clock). */
  entered = false;

  constructor(pipe: Pipe, bytes: number, arrivesAt: number, receiver: Receiver<M>, message: M) {
    this.pipe = pipe;
    this.pipeIndex = pipe.index;
    this.to = pipe.to.index;
    this.bytes = bytes;
    this.arrivesAt = arrivesAt;
    this.receiver = receiver;
    this.message = message;
  }

  handOver(state: NetworkState): void {
    const to = this.to;
    state.bytesReceived[to] = (state.bytesReceived[to] ?? 0) + this.bytes;
    state.messagesReceived[to] = (state.messagesReceived[to] ?? 0) + 1;
    this.receiver.received(this.message);
  }
}

/** A control notice: takes no capacity. */
class Notice implements Delivery {
  readonly pipe: Pipe;
  readonly pipeIndex: number;
  readonly deliver: () => void;
  due = 0;

  constructor(pipe: Pipe, deliver: () => void) {
    this.pipe = pipe;
    this.pipeIndex = pipe.index;
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
 * On a clock other than the simulator's, deliveries wait in a queue and each timer flushes the
 * queue up to its own time, so the order holds even though timers with the same due time may fire
 * out of order there.
 */
export class Pipe {
  readonly from: SimNode;
  readonly to: SimNode;
  /** Its index in the network's state. */
  readonly index: number;
  readonly latencyMs: number;
  readonly lossRate: number;
  /**
   * Messages on their way to the receiver's downlink, in order, from `arrivalsHead` on (on a clock
   * other than the simulator's, whose timers may fire out of order).
   */
  readonly arrivals: Transfer<unknown>[] = [];
  arrivalsHead = 0;
  readonly #state: NetworkState;
  readonly #queue = new RingQueue<Delivery>(4);

  constructor(from: SimNode, to: SimNode, state: NetworkState) {
    this.from = from;
    this.to = to;
    this.#state = state;
    this.index = state.addPipe();
    this.latencyMs = from.latencyMs + to.latencyMs;
    this.lossRate = 1 - (1 - from.lossRate) * (1 - to.lossRate);
  }

  /** Round-trip time between the two nodes. */
  get rttMs(): number {
    return 2 * this.latencyMs;
  }

  /** Nothing more comes out of the pipe: what is in flight is dropped. */
  cut(): void {
    this.#state.pipeCut[this.index] = 1;
    this.#queue.clear();
  }

  get isCut(): boolean {
    return this.#state.pipeCut[this.index] === 1;
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
      next.handOver(this.#state);
      // A delivery may have cut the pipe (the receiver closed it).
      if (this.isCut) return;
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
  readonly #state = new NetworkState();
  #nextToken = 1;

  constructor(components: SimNetworkComponents) {
    this.clock = components.clock;
    this.#random = components.random;
  }

  addNode(id: string, options: SimNodeOptions): SimNode {
    if (this.#nodes.has(id)) {
      throw new SwarmcastError('invalid-argument', `node ${id} is already in the network`);
    }
    const node = new SimNode(id, options, this.#state);
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
    return new Pipe(this.node(from), this.node(to), this.#state);
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
    const state = this.#state;
    const transfer = new Transfer(pipe, bytes, 0, receiver, message);
    const from = pipe.from.index;
    const startMs = Math.max(now, state.upFreeAt[from] ?? 0);
    const leftAt = startMs + serialisationMs(bytes, state.uploadKbps[from] ?? 0);
    state.upFreeAt[from] = leftAt;
    state.recordSent(from, bytes, startMs, leftAt);
    let arrivesAt = leftAt + pipe.latencyMs;
    if (pipe.lossRate > 0 && this.#random.next() < pipe.lossRate) {
      pipe.from.retransmissions++;
      arrivesAt += pipe.rttMs;
    }
    // Head-of-line blocking: nothing reaches the receiver before what was sent ahead of it.
    arrivesAt = Math.max(arrivesAt, state.pipeLastArrivalAt[transfer.pipeIndex] ?? 0);
    state.pipeLastArrivalAt[transfer.pipeIndex] = arrivesAt;
    transfer.arrivesAt = arrivesAt;
    // The downlink is taken when the message reaches it, not when it is sent: a message waiting
    // behind a busy uplink must not hold the receiver's downlink for other senders meanwhile.
    // An unlimited downlink has no queue, so the message goes into the pipe at once.
    if (state.downloadKbps[transfer.to] === Infinity) {
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
    const state = this.#state;
    const to = transfer.to;
    const inAt =
      Math.max(transfer.arrivesAt, state.downFreeAt[to] ?? 0) +
      serialisationMs(transfer.bytes, state.downloadKbps[to] ?? 0);
    state.downFreeAt[to] = inAt;
    this.#enqueue(transfer, inAt);
  };

  #enqueue(delivery: Delivery, at: number): void {
    const state = this.#state;
    const pipe = delivery.pipeIndex;
    if (state.pipeCut[pipe] === 1) return;
    const due = Math.max(at, state.pipeLastAt[pipe] ?? 0);
    state.pipeLastAt[pipe] = due;
    delivery.due = due;
    if (this.clock instanceof SimClock) {
      // Its timers fire in the order they were set when their times do not decrease, as a pipe's
      // due times do: each delivers its own message, in the pipe's order, with no queue.
      this.clock.schedule(this.#handOverUncut, delivery, due - this.clock.now());
    } else {
      delivery.pipe.push(delivery);
      this.#after(due - this.clock.now(), flushUpTo, delivery);
    }
  }

  /** A delivery's timer on the simulator's clock: it comes out unless its pipe was cut meanwhile. */
  readonly #handOverUncut = (delivery: Delivery): void => {
    if (this.#state.pipeCut[delivery.pipeIndex] !== 1) delivery.handOver(this.#state);
  };

  /** Calls `callback(arg)` after `delayMs` on a clock other than the simulator's. */
  #after<A>(delayMs: number, callback: (arg: A) => void, arg: A): void {
    this.clock.setTimeout(() => {
      callback(arg);
    }, delayMs);
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
