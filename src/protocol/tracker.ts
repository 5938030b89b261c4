/**
 * The tracker <-> peer protocol: JSON text messages over a WebSocket. One discriminated union per
 * direction, validated at the boundary with zod; nothing unvalidated reaches a core.
 * Documented message by message in docs/PROTOCOL.md.
 */
import { z } from 'zod';
import { ProtocolError } from '../common/errors.js';
import { MAX_CREDENTIAL_CHARS } from '../crypto/credentials.js';
import { STREAM_ID_PATTERN } from './chunk.js';

/**
 * Protocol version carried in `hello` and `welcome` (2: the authenticated handshake; 3: the
 * stream's integrity scheme in its info and the HMAC stream key in `joined`).
 */
export const TRACKER_PROTOCOL_VERSION = 3;
/** Largest message either side accepts, in bytes of UTF-8 JSON (SDP fits easily). */
export const MAX_TRACKER_MESSAGE_BYTES = 16 * 1024;
/** Most peer ids in one `neighbours` list. */
export const MAX_NEIGHBOURS = 64;
/** Longest admission secret or token a `hello` may carry. */
export const MAX_ADMISSION_CHARS = 4096;

/** The virtual topologies a broadcaster may ask for in its `join` (docs/TOPOLOGIES.md). */
export const TOPOLOGY_KINDS = ['list', 'tree', 'mesh'] as const;
export type TopologyKind = (typeof TOPOLOGY_KINDS)[number];

/**
 * How a stream's chunks are authenticated (docs/SECURITY.md). `ed25519`: the broadcaster's
 * signature, checked on every chunk (the default). `hmac-sha256`: MioStream's scheme, an HMAC
 * with a stream key the tracker hands to the stream's members, checked on a random share
 * `threshold` (0-1) of the chunks; kept to measure the paper's trade-off, forgeable by any member.
 */
export const INTEGRITY_SCHEMES = ['ed25519', 'hmac-sha256'] as const;
export type IntegrityScheme = (typeof INTEGRITY_SCHEMES)[number];

/** Why a peer reports a neighbour (the `report` message). */
export const REPORT_REASONS = ['bad-chunk', 'protocol-violation', 'unresponsive'] as const;
export type ReportReason = (typeof REPORT_REASONS)[number];

const peerId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/);
const streamId = z.string().regex(STREAM_ID_PATTERN);
const base64Url = z.string().regex(/^[A-Za-z0-9_-]{1,1024}$/);
const kbps = z.number().int().min(0).max(100_000_000);
const ms = z.number().int().min(1).max(3_600_000);
/** 32 bytes in base64url: an Ed25519 public key, or a challenge nonce. */
const bytes32 = z.string().regex(/^[A-Za-z0-9_-]{43}$/);
/** An Ed25519 signature (64 bytes) in base64url. */
const signature = z.string().regex(/^[A-Za-z0-9_-]{86}$/);
const credential = z.string().regex(new RegExp(`^[A-Za-z0-9_-]{1,${MAX_CREDENTIAL_CHARS}}$`));

/** A stream's integrity scheme; absent from a stream's info means `ed25519`. */
export const streamIntegritySchema = z.discriminatedUnion('scheme', [
  z.strictObject({ scheme: z.literal('ed25519') }),
  z.strictObject({
    scheme: z.literal('hmac-sha256'),
    /** Probability that a peer checks a chunk's HMAC (0: never, 1: every chunk). */
    threshold: z.number().min(0).max(1),
  }),
]);
export type StreamIntegrity = z.infer<typeof streamIntegritySchema>;

/** WebRTC signaling payload relayed verbatim between two peers. */
export const signalDataSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('description'),
    sdpType: z.enum(['offer', 'answer']),
    sdp: z.string().max(12 * 1024),
  }),
  z.strictObject({
    kind: z.literal('candidate'),
    candidate: z.string().max(1024),
    mid: z.string().max(64),
  }),
]);
export type SignalData = z.infer<typeof signalDataSchema>;

/** What a viewer learns about a stream when it joins. */
export const streamInfoSchema = z.strictObject({
  stream: streamId,
  /** The broadcaster's Ed25519 public key, raw, base64url. */
  publicKey: base64Url,
  chunkDurationMs: ms,
  segmentDurationMs: ms,
  /** Base URL of the origin, where missing chunks are fetched (`<originUrl>/live/<stream>/…`). */
  originUrl: z.url().max(1024),
  /**
   * Bitrate of the stream (all tracks), for the tracker's capacity rule: a viewer gets at most
   * ⌊uploadKbps / bitrateKbps⌋ children. Absent: the tracker's `bitrateKbps` option, if any.
   */
  bitrateKbps: kbps.min(1).optional(),
  /** How chunks are authenticated. Absent: `{ scheme: 'ed25519' }`. */
  integrity: streamIntegritySchema.optional(),
  /**
   * The broadcaster's clock (ms since the Unix epoch) before its first chunk: no chunk `n` is
   * captured before `epochMs + n × chunkDurationMs`. A peer that holds no chunk yet uses it to
   * tell a possession map announcing chunks not yet published. Absent: no such check until the
   * peer holds a chunk.
   */
  epochMs: z.number().int().min(0).optional(),
});
export type StreamInfo = z.infer<typeof streamInfoSchema>;

/** A peer's playback summary, sent with heartbeats (for the monitor and the QoE table). */
export const qoeSampleSchema = z.strictObject({
  playing: z.boolean(),
  stalls: z.number().int().min(0),
  stalledMs: z.number().min(0),
  latencyMs: z.number().min(0).nullable(),
  bytesFromPeers: z.number().int().min(0),
  bytesFromOrigin: z.number().int().min(0),
  bytesUploaded: z.number().int().min(0),
});
export type QoeSample = z.infer<typeof qoeSampleSchema>;

export const clientMessageSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('hello'),
    version: z.number().int(),
    role: z.enum(['viewer', 'broadcaster']),
    /** The peer's Ed25519 public key (raw, base64url); `auth` proves it holds the private key. */
    publicKey: bytes32,
    /** The join secret or token the tracker's admission asks of viewers. */
    admission: z.string().min(1).max(MAX_ADMISSION_CHARS).optional(),
    uploadKbps: kbps.optional(),
    downloadKbps: kbps.optional(),
  }),
  /** The answer to `challenge`: a signature over `authMessage()` (src/crypto/handshake.ts). */
  z.strictObject({ type: z.literal('auth'), signature }),
  z.strictObject({
    type: z.literal('join'),
    stream: streamId,
    /** Broadcaster only: announces the stream. */
    info: streamInfoSchema.optional(),
    /** Broadcaster only: the stream's topology. Absent: the tracker's default (`tree`). */
    topology: z.enum(TOPOLOGY_KINDS).optional(),
  }),
  z.strictObject({ type: z.literal('signal'), to: peerId, data: signalDataSchema }),
  z.strictObject({ type: z.literal('heartbeat'), qoe: qoeSampleSchema.optional() }),
  z.strictObject({ type: z.literal('leave') }),
  /**
   * The sender dropped what `peer` (a neighbour, now or just before) sent it: a chunk that failed
   * verification (`seq`), or frames that broke the peer protocol. At most one per offender.
   */
  z.strictObject({
    type: z.literal('report'),
    peer: peerId,
    reason: z.enum(REPORT_REASONS),
    seq: z.number().int().min(0).max(0xffff_ffff).optional(),
  }),
  /**
   * The sender's parent `peer` pushes nothing and let a request time out: re-wire the sender's
   * stripe away from it. Not a report: it counts toward no eviction.
   */
  z.strictObject({ type: z.literal('silent'), peer: peerId }),
]);
export type ClientMessage = z.infer<typeof clientMessageSchema>;

export const trackerErrorCodeSchema = z.enum([
  'malformed-message',
  'message-too-large',
  'unknown-message-type',
  'unsupported-version',
  'out-of-order',
  'unknown-peer',
  'unknown-stream',
  'rate-limited',
  'unauthorized',
]);
export type TrackerErrorCode = z.infer<typeof trackerErrorCodeSchema>;

export const trackerMessageSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('challenge'),
    /** 32 fresh random bytes for this attempt. */
    nonce: bytes32,
    /** The tracker's Ed25519 public key: it signs credentials. */
    trackerKey: bytes32,
  }),
  z.strictObject({
    type: z.literal('welcome'),
    version: z.number().int(),
    /** The pseudonymous id the tracker gives this connection. */
    peerId,
    heartbeatIntervalMs: ms,
    heartbeatTimeoutMs: ms,
  }),
  z
    .strictObject({
      type: z.literal('joined'),
      info: streamInfoSchema,
      /** Signed by the tracker: presented in the HELLO frame of every data channel. */
      credential,
      /**
       * The stream's HMAC key (32 random bytes, base64url): present exactly when the stream's
       * integrity scheme is `hmac-sha256`, sent to the stream's broadcaster and members only.
       */
      streamKey: bytes32.optional(),
    })
    .refine((m) => (m.info.integrity?.scheme === 'hmac-sha256') === (m.streamKey !== undefined), {
      message: 'streamKey is required for an hmac-sha256 stream and refused for any other',
      path: ['streamKey'],
    }),
  /** A fresh credential, sent before the current one expires. */
  z.strictObject({ type: z.literal('credential'), credential }),
  z.strictObject({
    type: z.literal('neighbours'),
    stream: streamId,
    /** Peers that feed this one; it opens the links to them. */
    parents: z.array(peerId).max(MAX_NEIGHBOURS),
    /** Peers this one feeds; they open the links. */
    children: z.array(peerId).max(MAX_NEIGHBOURS),
    /**
     * Peers this one keeps a standby link to: it opens the links, nothing is pushed on them, and
     * it may pull from them at once when a parent fails, before the tracker's repair arrives.
     * Never its own parents, children, itself, or a peer downstream of it.
     */
    backupParents: z.array(peerId).max(MAX_NEIGHBOURS),
    /** The inverse of `backupParents`: peers that keep a standby link to this one (they open it). */
    backupChildren: z.array(peerId).max(MAX_NEIGHBOURS),
  }),
  z.strictObject({ type: z.literal('signal'), from: peerId, data: signalDataSchema }),
  /**
   * The tracker evicted `peer` from the stream (reported by enough neighbours): close any link to
   * it and refuse its HELLO.
   */
  z.strictObject({ type: z.literal('revoked'), peer: peerId }),
  /**
   * `peer` was reported once: link to it, ask it for a few chunks it announces, and report it if
   * what it sends is bad or nothing comes (a witness for a polluter that fed only its reporter).
   */
  z.strictObject({ type: z.literal('probe'), peer: peerId }),
  z.strictObject({
    type: z.literal('error'),
    code: trackerErrorCodeSchema,
    message: z.string().max(1024),
  }),
]);
export type TrackerMessage = z.infer<typeof trackerMessageSchema>;

/** Message types a client may send, for telling "unknown type" from "malformed". */
const CLIENT_TYPES: ReadonlySet<string> = new Set(
  clientMessageSchema.options.map((o) => o.shape.type.value),
);
const TRACKER_TYPES: ReadonlySet<string> = new Set(
  trackerMessageSchema.options.map((o) => o.shape.type.value),
);

function decode<T>(text: string, schema: z.ZodType<T>, knownTypes: ReadonlySet<string>): T {
  // A UTF-16 code unit is at most 3 UTF-8 bytes: count bytes only when it could matter.
  if (
    text.length > MAX_TRACKER_MESSAGE_BYTES ||
    (text.length * 3 > MAX_TRACKER_MESSAGE_BYTES &&
      new TextEncoder().encode(text).byteLength > MAX_TRACKER_MESSAGE_BYTES)
  ) {
    throw new ProtocolError('message-too-large', `message over ${MAX_TRACKER_MESSAGE_BYTES} bytes`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ProtocolError('malformed-message', 'message is not JSON');
  }
  if (typeof value !== 'object' || value === null || !('type' in value)) {
    throw new ProtocolError('malformed-message', 'message has no type');
  }
  const type = value.type;
  if (typeof type !== 'string' || !knownTypes.has(type)) {
    throw new ProtocolError('unknown-message-type', `unknown message type ${JSON.stringify(type)}`);
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where =
      issue === undefined ? '' : ` at ${issue.path.join('.') || 'root'}: ${issue.message}`;
    throw new ProtocolError('malformed-message', `invalid ${type} message${where}`);
  }
  return parsed.data;
}

/** Parses and validates one message from a peer; throws `ProtocolError` with a typed code. */
export function decodeClientMessage(text: string): ClientMessage {
  return decode(text, clientMessageSchema, CLIENT_TYPES);
}

/** Parses and validates one message from the tracker; throws `ProtocolError` with a typed code. */
export function decodeTrackerMessage(text: string): TrackerMessage {
  return decode(text, trackerMessageSchema, TRACKER_TYPES);
}

export function encodeMessage(message: ClientMessage | TrackerMessage): string {
  return JSON.stringify(message);
}
