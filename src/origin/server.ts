/**
 * The origin's HTTP face: a live DASH stream any player can play (manifest, init, media
 * segments), the signed chunks and digests peers fetch, and an authenticated ingest API for a
 * remote broadcaster. Plain node:http, cacheable by any CDN in front of it.
 *
 * Read routes (GET, HEAD; OPTIONS for CORS preflight):
 *   /time                          ISO 8601 time of the origin's clock (the MPD's UTCTiming)
 *   /live/<stream>/manifest.mpd    the live MPD
 *   /live/<stream>/init.mp4        the init segment
 *   /live/<stream>/<n>.m4s         media segment n (its chunks concatenated)
 *   /live/<stream>/chunks/<seq>    one chunk, `encodeChunk` form
 *   /live/<stream>/digests.json    signed digests of the chunks in the window
 *   /live/<stream>/stream.json     the stream description and its live edge
 *   /watch/<stream>                the viewer page (when `viewer` is configured)
 *   /swarmcast-viewer.js           the viewer's browser bundle (when `viewer` is configured)
 * Ingest routes (`Authorization: Bearer <secret>`; disabled when no secret is configured):
 *   PUT  /ingest/<stream>          StreamDescription JSON; (re)starts the stream
 *   PUT  /ingest/<stream>/init     `encodeInitUpload` body
 *   POST /ingest/<stream>/chunks   `encodeChunk` body; verified against the stream's key (an
 *                                  `hmac-sha256` stream's: length and digest only, see below)
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import type { Clock } from '../common/clock.js';
import {
  InvalidStateError,
  ProtocolError,
  SwarmcastError,
  errorMessage,
} from '../common/errors.js';
import { silentLogger, type Logger } from '../common/logger.js';
import { verifyChunk, verifyChunkDigest } from '../crypto/chunk-signing.js';
import { importPublicKeyBase64Url } from '../crypto/keys.js';
import {
  CHUNK_META_BYTES,
  MAX_CHUNK_BYTES,
  STREAM_ID_PATTERN,
  decodeChunk,
  encodeChunk,
} from '../protocol/chunk.js';
import type { InitSegment, TrackInfo } from '../protocol/media.js';
import { watchPageHtml } from '../browser/watch-page.js';
import { buildMpd, type MpdOptions } from './mpd.js';
import {
  OutOfOrderError,
  streamDescriptionSchema,
  type OriginStore,
  type OriginStream,
  type StreamDescription,
} from './store.js';

/** Largest stream-description upload (JSON). */
export const MAX_DESCRIPTION_BYTES = 16 * 1024;
/** Largest JSON header of an init upload. */
export const MAX_INIT_HEADER_BYTES = 16 * 1024;
/** Largest init upload (header and init segment). */
export const MAX_INIT_UPLOAD_BYTES = 1024 * 1024;
/** Largest chunk upload: one `encodeChunk` of the largest chunk a decoder accepts. */
export const MAX_CHUNK_UPLOAD_BYTES = CHUNK_META_BYTES + MAX_CHUNK_BYTES;
/** Media type of a chunk body (`encodeChunk`), fetched by peers and uploaded by broadcasters. */
export const CHUNK_CONTENT_TYPE = 'application/vnd.swarmcast.chunk';
/** Media type of an init upload (`encodeInitUpload`). */
export const INIT_UPLOAD_CONTENT_TYPE = 'application/vnd.swarmcast.init';

/** Shortest ingest secret accepted. */
export const MIN_SECRET_CHARS = 16;

const CACHE_IMMUTABLE = 'public, max-age=31536000, immutable';
const CACHE_LONG = 'public, max-age=86400';
const CACHE_SHORT = 'public, max-age=1';
const CACHE_NONE = 'no-cache';
const READ_METHODS = ['GET', 'HEAD', 'OPTIONS'] as const;
/** Largest segment number or seq in a URL (the wire's u32). */
const MAX_NUMBER = 0xffff_ffff;

const trackInfoSchema = z.strictObject({
  id: z.number().int().min(0).max(MAX_NUMBER),
  kind: z.enum(['video', 'audio']),
  codec: z.string().regex(/^[A-Za-z0-9.+-]{1,64}$/),
  timescale: z.number().int().min(1).max(MAX_NUMBER),
  width: z.number().int().min(1).max(16_384).optional(),
  height: z.number().int().min(1).max(16_384).optional(),
  sampleRate: z.number().int().min(1).max(1_000_000).optional(),
  channels: z.number().int().min(1).max(64).optional(),
});
const initHeaderSchema = z.strictObject({ tracks: z.array(trackInfoSchema).min(1).max(16) });

/**
 * Body of `PUT /ingest/<stream>/init`: a u32 big-endian length N, N bytes of UTF-8 JSON
 * `{"tracks": TrackInfo[]}`, then the init segment's bytes.
 */
export function encodeInitUpload(init: InitSegment): Uint8Array {
  const header = new TextEncoder().encode(JSON.stringify({ tracks: init.tracks }));
  const out = new Uint8Array(4 + header.byteLength + init.bytes.byteLength);
  new DataView(out.buffer).setUint32(0, header.byteLength);
  out.set(header, 4);
  out.set(init.bytes, 4 + header.byteLength);
  return out;
}

/** Parses `encodeInitUpload`'s output; throws `ProtocolError` on anything else. */
export function decodeInitUpload(body: Uint8Array): InitSegment {
  if (body.byteLength < 4) throw new ProtocolError('malformed-message', 'init upload truncated');
  const headerBytes = new DataView(body.buffer, body.byteOffset, 4).getUint32(0);
  if (headerBytes > MAX_INIT_HEADER_BYTES || body.byteLength <= 4 + headerBytes) {
    throw new ProtocolError('malformed-message', 'init upload header length out of range');
  }
  let json: unknown;
  try {
    json = JSON.parse(
      new TextDecoder('utf-8', { fatal: true }).decode(body.subarray(4, 4 + headerBytes)),
    );
  } catch (error) {
    throw new ProtocolError('malformed-message', 'init upload header is not JSON', {
      cause: error,
    });
  }
  const header = initHeaderSchema.safeParse(json);
  if (!header.success) {
    throw new ProtocolError('malformed-message', `init upload header: ${header.error.message}`);
  }
  const tracks: TrackInfo[] = header.data.tracks;
  return { tracks, bytes: body.slice(4 + headerBytes) };
}

/**
 * Parses the body of `PUT /ingest/<stream>`: the stream description as UTF-8 JSON
 * (`streamDescriptionSchema`), at most `MAX_DESCRIPTION_BYTES`. Throws `ProtocolError` on
 * anything else: too large, not UTF-8, not JSON, or not a description.
 */
export function decodeStreamDescription(body: Uint8Array | string): StreamDescription {
  // A string's UTF-8 is at least as long as the string: a long one need not be encoded to refuse.
  if (typeof body === 'string' && body.length > MAX_DESCRIPTION_BYTES) {
    throw descriptionTooLarge(body.length);
  }
  const bytes = typeof body === 'string' ? new TextEncoder().encode(body) : body;
  if (bytes.byteLength > MAX_DESCRIPTION_BYTES) throw descriptionTooLarge(bytes.byteLength);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (error) {
    throw new ProtocolError(
      'malformed-message',
      `stream description is not JSON: ${errorMessage(error)}`,
      { cause: error },
    );
  }
  const parsed = streamDescriptionSchema.safeParse(json);
  if (!parsed.success) {
    throw new ProtocolError(
      'malformed-message',
      `invalid stream description: ${parsed.error.message}`,
    );
  }
  return parsed.data;
}

function descriptionTooLarge(bytes: number): ProtocolError {
  return new ProtocolError(
    'message-too-large',
    `stream description of ${String(bytes)} bytes, above ${String(MAX_DESCRIPTION_BYTES)}`,
  );
}

/** Bytes the origin has sent in response bodies (HEAD and errors count as `other`). */
export interface OriginStats {
  /** Every response body byte. */
  readonly totalBytes: number;
  readonly manifestBytes: number;
  readonly initBytes: number;
  /** Media segments (`<n>.m4s`): what DASH players download. */
  readonly segmentBytes: number;
  /** Chunks (`chunks/<seq>`): what peers fetch when their peers were too slow. */
  readonly chunkBytes: number;
  /** Requests answered, of any kind. */
  readonly requests: number;
}

type ByteKind = 'manifest' | 'init' | 'segment' | 'chunk' | 'other';

export interface OriginServerComponents {
  readonly store: OriginStore;
  readonly clock: Clock;
  readonly logger?: Logger;
}

export interface OriginServerOptions {
  /**
   * Shared secret a remote broadcaster presents as `Authorization: Bearer <secret>`, at least
   * `MIN_SECRET_CHARS` long. Ingest routes answer 403 when none is configured.
   * @default undefined (ingest over HTTP disabled)
   */
  readonly ingestSecret?: string;
  /**
   * Largest chunk upload in bytes (`encodeChunk` form).
   * @default MAX_CHUNK_UPLOAD_BYTES
   */
  readonly maxChunkUploadBytes?: number;
  /**
   * Largest init upload in bytes.
   * @default MAX_INIT_UPLOAD_BYTES
   */
  readonly maxInitUploadBytes?: number;
  /**
   * The URL players reach this origin at (behind a proxy or CDN), used to write an absolute
   * UTCTiming URL into the MPD.
   * @default undefined (the MPD points at `../../time`, relative to its own URL)
   */
  readonly publicUrl?: string;
  /** Manifest tuning. */
  readonly mpd?: MpdOptions;
  /**
   * Serves the viewer page and its script; both answer 404 when unset.
   * @default undefined
   */
  readonly viewer?: ViewerPageOptions;
}

export interface ViewerPageOptions {
  /** The tracker's `ws://` URL the page joins; null: the page plays from the origin alone. */
  readonly trackerUrl: string | null;
  /** The browser bundle (`loadViewerBundle()` in `src/browser/bundle.node.ts`). */
  readonly script: Uint8Array;
}

export interface ListenOptions {
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** @default 0 (any free port) */
  readonly port?: number;
}

/** An HTTP error answer: status, stable error string, message. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

interface Reply {
  readonly status: number;
  readonly contentType: string;
  readonly cacheControl: string;
  readonly body: Uint8Array | string;
  readonly kind: ByteKind;
  readonly headers?: Record<string, string>;
}

type Route =
  | { readonly kind: 'read'; readonly handle: () => Reply }
  | {
      readonly kind: 'ingest';
      readonly method: 'PUT' | 'POST';
      readonly maxBytes: number;
      readonly handle: (body: Uint8Array) => Promise<void>;
    };

/** Serves an `OriginStore` over HTTP. */
export class OriginServer {
  readonly #store: OriginStore;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #options: OriginServerOptions;
  readonly #secretDigest: Buffer | undefined;
  /** The MPD's UTCTiming URL. */
  readonly #timeUrl: string;
  readonly #keys = new WeakMap<OriginStream, Promise<CryptoKey>>();
  readonly #server: Server;
  #listening: Promise<string> | undefined;
  #closing: Promise<void> | undefined;
  #stats = {
    totalBytes: 0,
    manifestBytes: 0,
    initBytes: 0,
    segmentBytes: 0,
    chunkBytes: 0,
    requests: 0,
  };

  constructor(components: OriginServerComponents, options: OriginServerOptions = {}) {
    this.#store = components.store;
    this.#clock = components.clock;
    this.#logger = (components.logger ?? silentLogger).child('origin');
    this.#options = options;
    if (options.ingestSecret !== undefined && options.ingestSecret.length < MIN_SECRET_CHARS) {
      throw new TypeError(`ingestSecret must be at least ${MIN_SECRET_CHARS} characters`);
    }
    for (const name of ['maxChunkUploadBytes', 'maxInitUploadBytes'] as const) {
      const value = options[name];
      if (value !== undefined && !(Number.isSafeInteger(value) && value > 0)) {
        throw new TypeError(`${name} must be a positive integer`);
      }
    }
    // new URL() throws TypeError on a bad publicUrl here rather than on every manifest.
    this.#timeUrl =
      options.publicUrl === undefined
        ? '../../time'
        : new URL('time', withSlash(options.publicUrl)).href;
    this.#secretDigest =
      options.ingestSecret === undefined ? undefined : sha256Digest(options.ingestSecret);
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch((error: unknown) => {
        this.#logger.error('request failed', { url: req.url, error: errorMessage(error) });
        res.destroy();
      });
    });
  }

  /** Byte counters of what the origin sent. */
  get stats(): OriginStats {
    return { ...this.#stats };
  }

  /** Starts listening; resolves to the base URL (`http://127.0.0.1:<port>`). */
  listen(options: ListenOptions = {}): Promise<string> {
    if (this.#closing !== undefined) throw new InvalidStateError('origin server is closed');
    if (this.#listening !== undefined)
      throw new InvalidStateError('origin server is already listening');
    const host = options.host ?? '127.0.0.1';
    this.#listening = new Promise<string>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(options.port ?? 0, host, () => {
        this.#server.off('error', reject);
        const address = this.#server.address() as AddressInfo;
        const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
        const url = `http://${shownHost}:${address.port}`;
        this.#logger.info('listening', { url });
        resolve(url);
      });
    });
    // A failed listen (port taken) may be retried.
    this.#listening.catch(() => {
      this.#listening = undefined;
    });
    return this.#listening;
  }

  /** Stops listening and drops open connections. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.#listening?.catch(() => undefined);
      if (!this.#server.listening) return;
      await new Promise<void>((resolve) => {
        this.#server.close(() => {
          resolve();
        });
        this.#server.closeAllConnections();
      });
    })();
    return this.#closing;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.#stats.requests++;
    res.setHeader('Access-Control-Allow-Origin', '*');
    const method = req.method ?? 'GET';
    try {
      const route = this.#route(pathOf(req.url ?? '/'));
      const allowed: readonly string[] =
        route.kind === 'read' ? READ_METHODS : [route.method, 'OPTIONS'];
      if (method === 'OPTIONS') {
        this.#preflight(res, allowed);
        return;
      }
      if (!allowed.includes(method)) {
        throw new HttpError(405, 'method-not-allowed', `${method} is not allowed here`, {
          Allow: allowed.join(', '),
        });
      }
      if (route.kind === 'read') {
        this.#reply(req, res, route.handle());
        return;
      }
      this.#authorize(req);
      await route.handle(await readBody(req, route.maxBytes));
      res.writeHead(204, { 'Cache-Control': 'no-store' });
      res.end();
    } catch (error) {
      this.#replyError(req, res, toHttpError(error));
    }
  }

  #route(path: string): Route {
    const parts = path.split('/').slice(1);
    const [root, stream, name, extra, ...rest] = parts;
    if (rest.length > 0) throw notFound(path);
    if (root === 'time' && stream === undefined) {
      return { kind: 'read', handle: () => this.#time() };
    }
    if (root === 'live' && stream !== undefined && name !== undefined) {
      checkStreamId(stream);
      if (name === 'chunks' && extra !== undefined) {
        const seq = parseNumber(extra);
        return { kind: 'read', handle: () => this.#chunk(stream, seq) };
      }
      if (extra !== undefined) throw notFound(path);
      if (name === 'manifest.mpd') return { kind: 'read', handle: () => this.#manifest(stream) };
      if (name === 'init.mp4') return { kind: 'read', handle: () => this.#init(stream) };
      if (name === 'digests.json') return { kind: 'read', handle: () => this.#digests(stream) };
      if (name === 'stream.json') return { kind: 'read', handle: () => this.#streamJson(stream) };
      if (name.endsWith('.m4s')) {
        const n = parseNumber(name.slice(0, -'.m4s'.length));
        return { kind: 'read', handle: () => this.#segment(stream, n) };
      }
    }
    const viewer = this.#options.viewer;
    if (viewer !== undefined && root === 'watch' && stream !== undefined && name === undefined) {
      checkStreamId(stream);
      const html = watchPageHtml({ stream, trackerUrl: viewer.trackerUrl });
      return {
        kind: 'read',
        handle: () => ok('text/html; charset=utf-8', CACHE_NONE, html, 'other'),
      };
    }
    if (viewer !== undefined && root === 'swarmcast-viewer.js' && stream === undefined) {
      const script = viewer.script;
      return {
        kind: 'read',
        handle: () => ok('text/javascript; charset=utf-8', CACHE_NONE, script, 'other'),
      };
    }
    if (root === 'ingest' && stream !== undefined && extra === undefined) {
      checkStreamId(stream);
      if (name === undefined) {
        return {
          kind: 'ingest',
          method: 'PUT',
          maxBytes: MAX_DESCRIPTION_BYTES,
          handle: (body) => this.#ingestDescription(stream, body),
        };
      }
      if (name === 'init') {
        return {
          kind: 'ingest',
          method: 'PUT',
          maxBytes: this.#options.maxInitUploadBytes ?? MAX_INIT_UPLOAD_BYTES,
          handle: (body) => {
            this.#requireStream(stream).setInit(decodeInitUpload(body));
            return Promise.resolve();
          },
        };
      }
      if (name === 'chunks') {
        return {
          kind: 'ingest',
          method: 'POST',
          maxBytes: this.#options.maxChunkUploadBytes ?? MAX_CHUNK_UPLOAD_BYTES,
          handle: (body) => this.#ingestChunk(stream, body),
        };
      }
    }
    throw notFound(path);
  }

  #time(): Reply {
    return {
      status: 200,
      contentType: 'text/plain; charset=utf-8',
      cacheControl: 'no-store',
      body: new Date(this.#clock.now()).toISOString(),
      kind: 'other',
    };
  }

  #manifest(id: string): Reply {
    const stream = this.#requireStream(id);
    const init = stream.getInit();
    const zero = stream.mediaZeroTimeMs;
    const bandwidth = stream.peakBitrateBps;
    if (init === undefined || zero === undefined || bandwidth === undefined) {
      throw new HttpError(404, 'not-found', `stream ${id} has no media yet`);
    }
    const body = buildMpd(
      {
        description: stream.description,
        init,
        mediaZeroTimeMs: zero,
        windowMs: this.#store.windowMs,
        bandwidthBps: bandwidth,
        nowMs: this.#clock.now(),
        timeUrl: this.#timeUrl,
      },
      this.#options.mpd,
    );
    return ok('application/dash+xml', CACHE_NONE, body, 'manifest');
  }

  #init(id: string): Reply {
    const init = this.#requireStream(id).getInit();
    if (init === undefined)
      throw new HttpError(404, 'not-found', `stream ${id} has no init segment yet`);
    return ok('video/mp4', CACHE_LONG, init.bytes, 'init');
  }

  #segment(id: string, n: number): Reply {
    const bytes = this.#requireStream(id).getSegment(n);
    if (bytes === undefined) throw new HttpError(404, 'not-found', `segment ${n} is not available`);
    return ok('video/iso.segment', CACHE_IMMUTABLE, bytes, 'segment');
  }

  #chunk(id: string, seq: number): Reply {
    const chunk = this.#requireStream(id).getChunk(seq);
    if (chunk === undefined) throw new HttpError(404, 'not-found', `chunk ${seq} is not available`);
    return ok(CHUNK_CONTENT_TYPE, CACHE_IMMUTABLE, encodeChunk(chunk), 'chunk');
  }

  #digests(id: string): Reply {
    const stream = this.#requireStream(id);
    const body = JSON.stringify({
      stream: id,
      publicKey: stream.description.publicKey,
      chunks: stream.digests(),
    });
    return ok('application/json', CACHE_SHORT, body, 'other');
  }

  #streamJson(id: string): Reply {
    const stream = this.#requireStream(id);
    const body = JSON.stringify({
      ...stream.description,
      windowMs: this.#store.windowMs,
      liveEdge: stream.liveEdge ?? null,
    });
    return ok('application/json', CACHE_NONE, body, 'other');
  }

  async #ingestDescription(id: string, body: Uint8Array): Promise<void> {
    const description = decodeStreamDescription(body);
    if (description.stream !== id) {
      throw new HttpError(
        400,
        'invalid-argument',
        `description is for stream ${description.stream}, not ${id}`,
      );
    }
    // Refuse a key that cannot verify anything before the stream exists.
    const key = importPublicKeyBase64Url(description.publicKey);
    await key.catch((error: unknown) => {
      throw new HttpError(400, 'invalid-argument', `unusable public key: ${errorMessage(error)}`);
    });
    const stream = this.#store.createStream(description);
    this.#keys.set(stream, key);
  }

  async #ingestChunk(id: string, body: Uint8Array): Promise<void> {
    const stream = this.#requireStream(id);
    const chunk = decodeChunk(body);
    if (stream.description.integrity?.scheme === 'hmac-sha256') {
      // The origin does not hold an HMAC stream's key (the tracker gives it to the stream's
      // members only): the ingest secret authenticates the uploader, the digest the bytes.
      await verifyChunkDigest(chunk);
    } else {
      await verifyChunk(id, await this.#publicKey(stream), chunk);
    }
    if (stream.addChunk(chunk)) {
      this.#logger.debug('chunk ingested', { stream: id, seq: chunk.seq, bytes: chunk.byteLength });
    }
  }

  /** The stream's Ed25519 public key, imported once. */
  #publicKey(stream: OriginStream): Promise<CryptoKey> {
    let key = this.#keys.get(stream);
    if (key === undefined) {
      key = importPublicKeyBase64Url(stream.description.publicKey);
      this.#keys.set(stream, key);
    }
    return key;
  }

  #requireStream(id: string): OriginStream {
    const stream = this.#store.getStream(id);
    if (stream === undefined) throw new HttpError(404, 'unknown-stream', `no stream ${id}`);
    return stream;
  }

  #authorize(req: IncomingMessage): void {
    if (this.#secretDigest === undefined) {
      throw new HttpError(403, 'unauthorized', 'ingest is disabled: no secret is configured');
    }
    const match = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '');
    if (match?.[1] === undefined || !timingSafeEqual(sha256Digest(match[1]), this.#secretDigest)) {
      throw new HttpError(401, 'unauthorized', 'missing or wrong ingest secret', {
        'WWW-Authenticate': 'Bearer realm="swarmcast-ingest"',
      });
    }
  }

  #preflight(res: ServerResponse, allowed: readonly string[]): void {
    res.writeHead(204, {
      'Access-Control-Allow-Methods': allowed.join(', '),
      'Access-Control-Allow-Headers': 'Authorization, Content-Type',
      'Access-Control-Max-Age': '86400',
      'Cache-Control': CACHE_LONG,
    });
    res.end();
  }

  #reply(req: IncomingMessage, res: ServerResponse, reply: Reply): void {
    const body = typeof reply.body === 'string' ? Buffer.from(reply.body, 'utf8') : reply.body;
    res.writeHead(reply.status, {
      ...reply.headers,
      'Content-Type': reply.contentType,
      'Content-Length': String(body.byteLength),
      'Cache-Control': reply.cacheControl,
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    const kind = reply.kind;
    res.once('finish', () => {
      this.#count(kind, body.byteLength);
    });
    res.end(body);
  }

  #replyError(req: IncomingMessage, res: ServerResponse, error: HttpError): void {
    if (res.headersSent || req.socket.destroyed) {
      res.destroy();
      return;
    }
    if (error.status >= 500)
      this.#logger.error('request failed', { url: req.url, error: error.message });
    else
      this.#logger.debug('request refused', {
        url: req.url,
        status: error.status,
        error: error.message,
      });
    const headers: Record<string, string> = { ...error.headers };
    // An upload refused before it was read: do not wait for the rest of it.
    if (!req.complete) headers.Connection = 'close';
    this.#reply(req, res, {
      status: error.status,
      contentType: 'application/json',
      cacheControl: 'no-store',
      body: JSON.stringify({ error: error.error, message: error.message }),
      kind: 'other',
      headers,
    });
  }

  #count(kind: ByteKind, bytes: number): void {
    this.#stats.totalBytes += bytes;
    if (kind !== 'other') this.#stats[`${kind}Bytes`] += bytes;
  }
}

function ok(
  contentType: string,
  cacheControl: string,
  body: Uint8Array | string,
  kind: ByteKind,
): Reply {
  return { status: 200, contentType, cacheControl, body, kind };
}

function pathOf(url: string): string {
  try {
    return new URL(url, 'http://origin.invalid').pathname;
  } catch {
    throw new HttpError(400, 'invalid-argument', 'unparsable request URL');
  }
}

function notFound(path: string): HttpError {
  return new HttpError(404, 'not-found', `nothing at ${path}`);
}

function checkStreamId(stream: string): void {
  if (!STREAM_ID_PATTERN.test(stream))
    throw new HttpError(400, 'invalid-argument', 'invalid stream id');
}

/** A canonical decimal u32 (no sign, no leading zero); 400 otherwise. */
function parseNumber(text: string): number {
  const n = /^(0|[1-9][0-9]{0,9})$/.test(text) ? Number(text) : Number.NaN;
  if (!(n <= MAX_NUMBER)) throw new HttpError(400, 'invalid-argument', `not a number: ${text}`);
  return n;
}

function withSlash(url: string): string {
  return url.endsWith('/') ? url : `${url}/`;
}

function sha256Digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** Reads a request body of at most `maxBytes`; 413 as soon as it is known to be larger. */
function readBody(req: IncomingMessage, maxBytes: number): Promise<Uint8Array> {
  const declared = Number(req.headers['content-length'] ?? Number.NaN);
  if (declared > maxBytes) {
    return Promise.reject(
      new HttpError(413, 'message-too-large', `body of ${declared} bytes is over ${maxBytes}`),
    );
  }
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let length = 0;
    const onData = (part: Buffer): void => {
      length += part.byteLength;
      if (length > maxBytes) {
        stop();
        reject(new HttpError(413, 'message-too-large', `body is over ${maxBytes} bytes`));
        return;
      }
      parts.push(part);
    };
    const onEnd = (): void => {
      stop();
      const body = Buffer.concat(parts, length);
      resolve(new Uint8Array(body.buffer, body.byteOffset, body.byteLength));
    };
    const onError = (error: Error): void => {
      stop();
      reject(error);
    };
    const stop = (): void => {
      req.off('data', onData).off('end', onEnd).off('error', onError);
    };
    req.on('data', onData).on('end', onEnd).on('error', onError);
  });
}

/** Maps what a handler threw to an HTTP answer. */
function toHttpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  if (error instanceof OutOfOrderError) return new HttpError(409, error.code, error.message);
  if (error instanceof SwarmcastError) {
    const status =
      error.code === 'unknown-stream' ? 404 : error.code === 'invalid-state' ? 409 : 400;
    return new HttpError(status, error.code, error.message);
  }
  return new HttpError(500, 'internal', errorMessage(error));
}
