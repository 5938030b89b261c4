/**
 * Publishes a live stream to a remote origin over its ingest API (see server.ts): the stream
 * description, then the init segment, then chunks, strictly in order, one request at a time, with
 * retries on transient failures and a bounded queue that drops whole segments when the origin
 * cannot keep up (a live stream cannot wait).
 */
import type { Clock, TimerHandle } from '../common/clock.js';
import { InvalidStateError, errorMessage, type ErrorCode } from '../common/errors.js';
import { Emitter } from '../common/events.js';
import { silentLogger, type Logger } from '../common/logger.js';
import { asBufferSource } from '../crypto/hash.js';
import { encodeChunk, type Chunk } from '../protocol/chunk.js';
import type { InitSegment } from '../protocol/media.js';
import { OriginHttpError, readErrorMessage } from '../transport/origin-http.js';
import { CHUNK_CONTENT_TYPE, INIT_UPLOAD_CONTENT_TYPE, encodeInitUpload } from './server.js';
import type { StreamDescription } from './store.js';

/** Defaults of `OriginIngestClientOptions`. */
export const INGEST_CLIENT_DEFAULTS = {
  /** 8 s of 0.5 s chunks. */
  maxQueuedChunks: 16,
  maxAttempts: 4,
  retryDelayMs: 250,
  requestTimeoutMs: 10_000,
} as const;

export interface OriginIngestClientComponents {
  readonly clock: Clock;
  readonly logger?: Logger;
}

export interface OriginIngestClientOptions {
  /** Base URL of the origin, e.g. `http://127.0.0.1:8080`. */
  readonly originUrl: string;
  /** The origin's ingest secret (sent as `Authorization: Bearer <secret>`). */
  readonly secret: string;
  /**
   * Chunks waiting to be sent; past this the oldest are dropped, with the rest of their segment.
   * @default INGEST_CLIENT_DEFAULTS.maxQueuedChunks
   */
  readonly maxQueuedChunks?: number;
  /**
   * Tries per request, the first included, on network errors, timeouts and HTTP 408, 425, 429,
   * 500, 502, 503 and 504.
   * @default INGEST_CLIENT_DEFAULTS.maxAttempts
   */
  readonly maxAttempts?: number;
  /**
   * Wait before the first retry; doubles on each further retry.
   * @default INGEST_CLIENT_DEFAULTS.retryDelayMs
   */
  readonly retryDelayMs?: number;
  /**
   * A request unanswered after this long is aborted (and retried).
   * @default INGEST_CLIENT_DEFAULTS.requestTimeoutMs
   */
  readonly requestTimeoutMs?: number;
}

export interface OriginIngestEvents {
  /** The origin accepted (or already held) this chunk. */
  'chunk:sent': { seq: number; bytes: number };
  /** This chunk will not reach the origin: the queue overflowed or the origin refused it. */
  'chunk:dropped': { seq: number; reason: string };
  /** The description or init segment could not be delivered. */
  error: { error: OriginHttpError };
}

export interface OriginIngestStats {
  readonly chunksSent: number;
  readonly chunksDropped: number;
  /** Request body bytes the origin accepted. */
  readonly bytesSent: number;
  readonly retries: number;
}

/** A queued upload, with the stream it was published for. */
type Item = { readonly stream: string } & (
  | { readonly kind: 'description'; readonly description: StreamDescription }
  | { readonly kind: 'init'; readonly init: InitSegment }
  | { readonly kind: 'chunk'; readonly chunk: Chunk }
);

/** Statuses worth another try. */
const TRANSIENT_STATUSES = new Set([408, 425, 429, 500, 502, 503, 504]);

/** Sends one stream to a remote origin. */
export class OriginIngestClient {
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #events: Emitter<OriginIngestEvents>;
  readonly #base: URL;
  readonly #authorization: string;
  readonly #maxQueuedChunks: number;
  readonly #maxAttempts: number;
  readonly #retryDelayMs: number;
  readonly #requestTimeoutMs: number;
  readonly #queue: Item[] = [];
  #stream: string | undefined;
  /** A segment that lost a chunk: its later chunks are dropped, not sent. */
  #brokenSegment: number | undefined;
  #pumping = false;
  #idleWaiters: (() => void)[] = [];
  #inFlight: AbortController | undefined;
  #sleep: { handle: TimerHandle; wake: () => void } | undefined;
  #closed = false;
  #stats = { chunksSent: 0, chunksDropped: 0, bytesSent: 0, retries: 0 };

  constructor(components: OriginIngestClientComponents, options: OriginIngestClientOptions) {
    this.#clock = components.clock;
    this.#logger = (components.logger ?? silentLogger).child('ingest');
    this.#events = new Emitter(this.#logger);
    this.#base = new URL(
      options.originUrl.endsWith('/') ? options.originUrl : `${options.originUrl}/`,
    );
    this.#authorization = `Bearer ${options.secret}`;
    this.#maxQueuedChunks = options.maxQueuedChunks ?? INGEST_CLIENT_DEFAULTS.maxQueuedChunks;
    this.#maxAttempts = options.maxAttempts ?? INGEST_CLIENT_DEFAULTS.maxAttempts;
    this.#retryDelayMs = options.retryDelayMs ?? INGEST_CLIENT_DEFAULTS.retryDelayMs;
    this.#requestTimeoutMs = options.requestTimeoutMs ?? INGEST_CLIENT_DEFAULTS.requestTimeoutMs;
    for (const [name, value, min] of [
      ['maxQueuedChunks', this.#maxQueuedChunks, 1],
      ['maxAttempts', this.#maxAttempts, 1],
      ['retryDelayMs', this.#retryDelayMs, 0],
      ['requestTimeoutMs', this.#requestTimeoutMs, 1],
    ] as const) {
      if (!Number.isSafeInteger(value) || value < min) {
        throw new TypeError(`${name} must be an integer of at least ${min}`);
      }
    }
  }

  on<K extends keyof OriginIngestEvents>(
    event: K,
    listener: (payload: OriginIngestEvents[K]) => void,
  ): () => void {
    return this.#events.on(event, listener);
  }

  get stats(): OriginIngestStats {
    return { ...this.#stats };
  }

  /** Queues the stream description: (re)starts the stream on the origin. */
  publishStream(description: StreamDescription): void {
    this.#checkOpen();
    this.#stream = description.stream;
    this.#brokenSegment = undefined;
    this.#enqueue({ stream: description.stream, kind: 'description', description });
  }

  /** Queues the init segment; after `publishStream`. */
  publishInit(init: InitSegment): void {
    this.#enqueue({ stream: this.#checkStream(), kind: 'init', init });
  }

  /** Queues a signed chunk; after `publishStream`. Never blocks: overflow drops the oldest. */
  publishChunk(chunk: Chunk): void {
    this.#queue.push({ stream: this.#checkStream(), kind: 'chunk', chunk });
    let queued = this.#queue.filter((item) => item.kind === 'chunk').length;
    while (queued > this.#maxQueuedChunks) {
      const index = this.#queue.findIndex((item) => item.kind === 'chunk');
      const oldest = this.#queue[index];
      if (oldest?.kind !== 'chunk') break;
      this.#queue.splice(index, 1);
      this.#drop(oldest.chunk, 'ingest queue full');
      queued--;
    }
    this.#pump();
  }

  /** Resolves once everything queued so far was sent or dropped. */
  flush(): Promise<void> {
    if (!this.#pumping) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Drops the queue and aborts the request in flight. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue.length = 0;
    this.#inFlight?.abort(new InvalidStateError('ingest client closed'));
    if (this.#sleep !== undefined) {
      this.#clock.clearTimeout(this.#sleep.handle);
      this.#sleep.wake();
    }
  }

  #checkOpen(): void {
    if (this.#closed) throw new InvalidStateError('ingest client is closed');
  }

  /** The stream being published; throws when closed or before `publishStream`. */
  #checkStream(): string {
    this.#checkOpen();
    if (this.#stream === undefined) throw new InvalidStateError('publishStream() first');
    return this.#stream;
  }

  #enqueue(item: Item): void {
    this.#queue.push(item);
    this.#pump();
  }

  #drop(chunk: Chunk, reason: string): void {
    this.#brokenSegment = chunk.segment;
    this.#stats.chunksDropped++;
    this.#logger.warn('chunk dropped', { seq: chunk.seq, reason });
    this.#events.emit('chunk:dropped', { seq: chunk.seq, reason });
  }

  #pump(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    void this.#run().finally(() => {
      this.#pumping = false;
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const wake of waiters) wake();
    });
  }

  async #run(): Promise<void> {
    // close() empties the queue, which ends this loop.
    for (let item = this.#queue.shift(); item !== undefined; item = this.#queue.shift()) {
      const stream = item.stream;
      if (item.kind === 'chunk') {
        await this.#sendChunk(stream, item.chunk);
        continue;
      }
      const [path, contentType, body] =
        item.kind === 'description'
          ? [
              `ingest/${stream}`,
              'application/json',
              new TextEncoder().encode(JSON.stringify(item.description)),
            ]
          : [`ingest/${stream}/init`, INIT_UPLOAD_CONTENT_TYPE, encodeInitUpload(item.init)];
      try {
        await this.#request('PUT', path, contentType, body);
        this.#logger.info(item.kind === 'description' ? 'stream published' : 'init published', {
          stream,
        });
      } catch (error) {
        if (this.#closed) return;
        const failure = asHttpError(error);
        this.#logger.error('publish failed', { stream, what: item.kind, error: failure.message });
        this.#events.emit('error', { error: failure });
      }
    }
  }

  async #sendChunk(stream: string, chunk: Chunk): Promise<void> {
    if (chunk.segment === this.#brokenSegment) {
      this.#drop(chunk, `segment ${chunk.segment} already lost a chunk`);
      return;
    }
    const body = encodeChunk(chunk);
    try {
      await this.#request('POST', `ingest/${stream}/chunks`, CHUNK_CONTENT_TYPE, body);
      this.#stats.chunksSent++;
      this.#events.emit('chunk:sent', { seq: chunk.seq, bytes: body.byteLength });
    } catch (error) {
      if (this.#closed) return;
      this.#drop(chunk, asHttpError(error).message);
    }
  }

  /** One request with retries; resolves on 2xx, rejects with `OriginHttpError` otherwise. */
  async #request(
    method: string,
    path: string,
    contentType: string,
    body: Uint8Array,
  ): Promise<void> {
    const url = new URL(path, this.#base);
    for (let attempt = 1; ; attempt++) {
      const failure = await this.#attempt(method, url, contentType, body);
      if (failure === undefined) {
        this.#stats.bytesSent += body.byteLength;
        return;
      }
      const transient = failure.status === undefined || TRANSIENT_STATUSES.has(failure.status);
      if (!transient || attempt >= this.#maxAttempts) throw failure;
      this.#stats.retries++;
      this.#logger.debug('retrying', { method, path, attempt, error: failure.message });
      await this.#wait(this.#retryDelayMs * 2 ** (attempt - 1));
      if (this.#closed) throw failure;
    }
  }

  async #attempt(
    method: string,
    url: URL,
    contentType: string,
    body: Uint8Array,
  ): Promise<OriginHttpError | undefined> {
    const controller = new AbortController();
    this.#inFlight = controller;
    const timer = this.#clock.setTimeout(() => {
      controller.abort(new Error(`no answer within ${this.#requestTimeoutMs} ms`));
    }, this.#requestTimeoutMs);
    try {
      const response = await globalThis.fetch(url, {
        method,
        headers: { Authorization: this.#authorization, 'Content-Type': contentType },
        body: asBufferSource(body),
        signal: controller.signal,
      });
      if (response.ok) {
        await response.body?.cancel();
        return undefined;
      }
      const reason = await readErrorMessage(response);
      return new OriginHttpError(
        codeOfStatus(response.status),
        `origin refused ${method} ${url.pathname}: ${reason}`,
        response.status,
      );
    } catch (error) {
      const cause: unknown = controller.signal.aborted ? controller.signal.reason : error;
      return new OriginHttpError(
        'origin-unavailable',
        `${method} ${url.pathname} failed: ${errorMessage(cause)}`,
        undefined,
        { cause },
      );
    } finally {
      this.#clock.clearTimeout(timer);
      this.#inFlight = undefined;
    }
  }

  /** Sleeps on the clock; close() wakes it (and it does not sleep once closed). */
  #wait(delayMs: number): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = (): void => {
        this.#sleep = undefined;
        resolve();
      };
      this.#sleep = { handle: this.#clock.setTimeout(wake, delayMs), wake };
    });
  }
}

function codeOfStatus(status: number): ErrorCode {
  if (status === 401 || status === 403) return 'unauthorized';
  if (status === 404) return 'unknown-stream';
  if (status === 409) return 'out-of-order';
  if (status === 413) return 'message-too-large';
  if (status >= 500 || TRANSIENT_STATUSES.has(status)) return 'origin-unavailable';
  return 'invalid-argument';
}

function asHttpError(error: unknown): OriginHttpError {
  return error instanceof OriginHttpError
    ? error
    : new OriginHttpError('origin-unavailable', errorMessage(error), undefined, { cause: error });
}
