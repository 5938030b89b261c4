/**
 * Attack modes for tests and experiments: a polluting peer is an honest `PeerCore` whose transport
 * (and, for `join-flood`, whose tracker connection) is wrapped by a decorator that rewrites what it
 * sends. Nothing here forks the peer core, and the same decorators wrap the simulator's memory
 * transport and the real WebRTC one. docs/SECURITY.md lists what each mode tests.
 *
 * Rewrites never modify a message in place: transports may hand the sender's buffer to the
 * receiver, and a relay sends on the very messages it received, so a rewritten frame is a copy.
 */
import { createHash } from 'node:crypto';
import {
  CHUNK_META_BYTES,
  SIGNATURE_BYTES,
  decodeChunkMeta,
  type ChunkMeta,
} from '../protocol/chunk.js';
import {
  FRAME_HEADER_BYTES,
  FrameType,
  MAX_FRAME_BYTES,
  chunkFrames,
  encodeFrame,
} from '../protocol/frames.js';
import type { ClientMessage } from '../protocol/tracker.js';
import type {
  Link,
  PeerTransport,
  PeerTransportFactory,
  TrackerConnectionFactory,
  TransportEvents,
} from '../transport/types.js';

export const ATTACK_MODES = [
  /** Every chunk's bytes inverted. */
  'corrupt',
  /** Every chunk relabelled as a later one (CHUNK and DATA frames carry `seq + WRONG_ID_SHIFT`). */
  'wrong-id',
  /** The first chunk sent as it is, then its bytes and signed metadata in place of every later one. */
  'replay',
  /** Every chunk's bytes replaced, with their true SHA-256 digest and a signature by no one. */
  'forged-signature',
  /** Every HAVE frame announces `FAKE_HAVE_CHUNKS` chunks from its first seq. */
  'fake-have',
  /** `FLOOD_REQUESTS` REQUEST frames for recent chunks after every frame sent. */
  'request-flood',
  /** DATA frames padded to the largest message a link carries, past their chunk's length. */
  'oversized',
  /** CHUNK frames cut to half their length. */
  'truncated',
  /** Chunks (pushed or answered) and ABSENT answers are never sent. */
  'never-answer',
  /** The tracker connection sends `JOIN_FLOOD` more joins after its join. */
  'join-flood',
] as const;
export type AttackMode = (typeof ATTACK_MODES)[number];

/** How far ahead `wrong-id` relabels a chunk: a second of 125 ms chunks, not yet published. */
export const WRONG_ID_SHIFT = 8;
/** Chunks a `fake-have` HAVE frame announces. */
export const FAKE_HAVE_CHUNKS = 1024;
/** REQUEST frames `request-flood` adds after each frame it sends. */
export const FLOOD_REQUESTS = 4;
/** Extra joins `join-flood` sends after its own. */
export const JOIN_FLOOD = 50;
/** Request ids of flood requests start here, far from the core's own counter. */
const FLOOD_REQUEST_ID_BASE = 0x8000_0000;

/**
 * Told of every harmful thing an attack sends (a bad chunk, a bad frame, a flood message), and to
 * which peer (`to`, the link's remote id; absent for what goes to the tracker).
 */
export type AttackListener = (mode: AttackMode, to?: string) => void;

/** A chunk whose CHUNK frame was sent on and whose DATA frames are being collected. */
interface Collecting {
  readonly requestId: number;
  readonly heldBefore: number;
  readonly meta: ChunkMeta;
  readonly bytes: Uint8Array;
  received: number;
}

/**
 * Rewrites the messages one link sends, for one mode: `rewrite(message)` returns the messages to
 * send instead (none, the same one, or others). One per link: chunk-level modes hold a chunk's
 * frames until its last DATA frame, and `replay` keeps the first chunk it saw.
 */
export class FrameRewriter {
  readonly #mode: AttackMode;
  readonly #onAttack: AttackListener;
  #collecting: Collecting | undefined;
  #replayed: { meta: ChunkMeta; bytes: Uint8Array } | undefined;
  #newestSeq = -1;
  #nextFloodId = FLOOD_REQUEST_ID_BASE;

  constructor(mode: AttackMode, onAttack: AttackListener = () => undefined) {
    this.#mode = mode;
    this.#onAttack = onAttack;
  }

  rewrite(message: Uint8Array): Uint8Array[] {
    if (message.byteLength < FRAME_HEADER_BYTES) return [message];
    const view = new DataView(message.buffer, message.byteOffset, message.byteLength);
    const type = view.getUint8(1);
    const seq = view.getUint32(8);
    if (type === FrameType.Chunk || type === FrameType.Have) {
      this.#newestSeq = Math.max(this.#newestSeq, seq);
    }
    switch (this.#mode) {
      case 'corrupt':
      case 'wrong-id':
      case 'replay':
      case 'forged-signature':
        return this.#rewriteChunks(message, type, view);
      case 'fake-have':
        if (type !== FrameType.Have) return [message];
        this.#onAttack(this.#mode);
        return [
          encodeFrame({
            type: FrameType.Have,
            fromSeq: seq,
            bitmap: new Uint8Array(FAKE_HAVE_CHUNKS / 8).fill(0xff),
          }),
        ];
      case 'request-flood':
        return [message, ...this.#flood()];
      case 'oversized': {
        if (type !== FrameType.Data) return [message];
        this.#onAttack(this.#mode);
        const padded = new Uint8Array(MAX_FRAME_BYTES);
        padded.set(message);
        return [padded];
      }
      case 'truncated':
        if (type !== FrameType.Chunk) return [message];
        this.#onAttack(this.#mode);
        return [message.slice(0, FRAME_HEADER_BYTES + Math.floor(CHUNK_META_BYTES / 2))];
      case 'never-answer':
        if (type === FrameType.Chunk || type === FrameType.Data || type === FrameType.Absent) {
          if (type === FrameType.Chunk) this.#onAttack(this.#mode);
          return [];
        }
        return [message];
      case 'join-flood':
        return [message];
    }
  }

  /** Holds a chunk's frames until its last DATA frame, then sends the rewritten chunk. */
  #rewriteChunks(message: Uint8Array, type: number, view: DataView): Uint8Array[] {
    if (type === FrameType.Chunk) {
      const meta = decodeChunkMeta(message, FRAME_HEADER_BYTES);
      this.#collecting = {
        requestId: view.getUint32(4),
        heldBefore: view.getUint32(12),
        meta,
        bytes: new Uint8Array(meta.byteLength),
        received: 0,
      };
      return [];
    }
    const collecting = this.#collecting;
    if (type !== FrameType.Data || collecting === undefined) return [message];
    const payload = message.subarray(FRAME_HEADER_BYTES);
    collecting.bytes.set(payload, view.getUint32(12));
    collecting.received += payload.byteLength;
    if (collecting.received < collecting.meta.byteLength) return [];
    this.#collecting = undefined;
    const forged = this.#forge(collecting.meta, collecting.bytes);
    if (forged === undefined) {
      return chunkFrames(
        collecting.requestId,
        collecting.meta,
        collecting.bytes,
        collecting.heldBefore,
      );
    }
    this.#onAttack(this.#mode);
    return chunkFrames(collecting.requestId, forged.meta, forged.bytes, collecting.heldBefore);
  }

  /** The chunk this mode sends in place of `meta`/`bytes`; undefined: send it as it is. */
  #forge(meta: ChunkMeta, bytes: Uint8Array): { meta: ChunkMeta; bytes: Uint8Array } | undefined {
    switch (this.#mode) {
      case 'corrupt':
        return { meta, bytes: inverted(bytes) };
      case 'wrong-id':
        return { meta: { ...meta, seq: meta.seq + WRONG_ID_SHIFT }, bytes };
      case 'replay': {
        const old = this.#replayed;
        if (old === undefined) {
          this.#replayed = { meta, bytes };
          return undefined;
        }
        return old.meta.seq === meta.seq
          ? undefined
          : { meta: { ...old.meta, seq: meta.seq }, bytes: old.bytes };
      }
      case 'forged-signature': {
        const fake = inverted(bytes);
        const digest = new Uint8Array(createHash('sha256').update(fake).digest());
        return {
          meta: { ...meta, digest, signature: new Uint8Array(SIGNATURE_BYTES).fill(0x5a) },
          bytes: fake,
        };
      }
      default:
        return undefined;
    }
  }

  /** Requests for the newest chunks this link has seen, under request ids the core never uses. */
  #flood(): Uint8Array[] {
    if (this.#newestSeq < 0) return [];
    this.#onAttack(this.#mode);
    const out: Uint8Array[] = [];
    for (let i = 0; i < FLOOD_REQUESTS; i++) {
      out.push(
        encodeFrame({
          type: FrameType.Request,
          requestId: this.#nextFloodId++,
          seq: Math.max(0, this.#newestSeq - i),
        }),
      );
    }
    return out;
  }
}

function inverted(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.byteLength);
  for (let i = 0; i < bytes.byteLength; i++) out[i] = ~(bytes[i] ?? 0) & 0xff;
  return out;
}

/**
 * Wraps a transport factory so that every link's outgoing messages go through `rewrite`, made
 * once per link. The core sees the same wrapper for a link in every event and call.
 */
export function rewritingTransport(
  factory: PeerTransportFactory,
  rewriterFor: (link: Link) => (message: Uint8Array) => readonly Uint8Array[],
): PeerTransportFactory {
  return (events) => {
    const wrappers = new WeakMap<Link, Link>();
    const wrap = (inner: Link): Link => {
      let outer = wrappers.get(inner);
      if (outer === undefined) {
        const rewrite = rewriterFor(inner);
        outer = {
          remoteId: inner.remoteId,
          initiator: inner.initiator,
          get bufferedAmount() {
            return inner.bufferedAmount;
          },
          send: (message) => {
            for (const out of rewrite(message)) inner.send(out);
          },
          close: () => {
            inner.close();
          },
        };
        wrappers.set(inner, outer);
      }
      return outer;
    };
    const wrapped: TransportEvents = {
      signal: (to, data) => {
        events.signal(to, data);
      },
      open: (link) => {
        events.open(wrap(link));
      },
      message: (link, data) => {
        events.message(wrap(link), data);
      },
      drain: (link) => {
        events.drain(wrap(link));
      },
      close: (link) => {
        events.close(wrap(link));
      },
    };
    const transport = factory(wrapped);
    const outer: PeerTransport = {
      connect: (remoteId) => wrap(transport.connect(remoteId)),
      signal: (from, data) => {
        transport.signal(from, data);
      },
      close: () => {
        transport.close();
      },
    };
    return outer;
  };
}

/** A polluter's transport: every link rewritten by a `FrameRewriter` of `mode`. */
export function attackTransport(
  mode: AttackMode,
  factory: PeerTransportFactory,
  onAttack?: AttackListener,
): PeerTransportFactory {
  return rewritingTransport(factory, (link) => {
    const rewriter = new FrameRewriter(mode, (attack) => onAttack?.(attack, link.remoteId));
    return (message) => rewriter.rewrite(message);
  });
}

/**
 * A polluter's tracker connection: in `join-flood` mode every `join` is followed by `JOIN_FLOOD`
 * more; other modes send what the core sends.
 */
export function attackTracker(
  mode: AttackMode,
  factory: TrackerConnectionFactory,
  onAttack?: AttackListener,
): TrackerConnectionFactory {
  if (mode !== 'join-flood') return factory;
  return (events) => {
    const connection = factory(events);
    return {
      send: (message: ClientMessage) => {
        connection.send(message);
        if (message.type !== 'join') return;
        onAttack?.(mode);
        for (let i = 0; i < JOIN_FLOOD; i++) connection.send(message);
      },
      close: () => {
        connection.close();
      },
    };
  };
}
