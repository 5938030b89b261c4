/**
 * Origin-only playback for a browser viewer with no peer-to-peer (no WebRTC, or the tracker is
 * unreachable): reads the stream's description and live edge from `<origin>/live/<stream>/
 * stream.json`, then fetches the chunks in order from a little behind the live edge, verifies
 * each one against the broadcaster's key and hands it to the player. An `hmac-sha256` stream's
 * key goes only to the tracker's members: its chunks are checked for length and digest only,
 * their authenticity resting on the origin's (HTTPS) as in any plain DASH player.
 */
import { type Clock } from '../common/clock.js';
import { errorMessage, InvalidStateError } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import { digestVerifier } from '../crypto/chunk-integrity.js';
import { signatureVerifier, type ChunkVerifier } from '../crypto/chunk-signing.js';
import type { Chunk } from '../protocol/chunk.js';
import { streamInfoSchema } from '../protocol/tracker.js';
import { OriginHttpError } from '../transport/origin-http.js';
import type { OriginClient } from '../transport/types.js';
import { z } from 'zod';

/** What `stream.json` says that the feed uses (the origin sends more). */
const streamJsonSchema = streamInfoSchema
  .omit({ originUrl: true })
  .loose()
  .extend({
    liveEdge: z
      .object({ firstSeq: z.number().int().min(0), lastSeq: z.number().int().min(0) })
      .nullable(),
  });
type StreamJson = z.infer<typeof streamJsonSchema>;

/** Pause between two reads of `stream.json` while the stream is not live. */
const DESCRIBE_RETRY_MS = 1000;
/** Pause after a failed fetch that was not a plain "not there yet". */
const ERROR_RETRY_MS = 1000;
/** Consecutive "not there yet" answers after which the live edge is read again. */
const MISSES_BEFORE_RESYNC = 8;

export interface OriginFeedOptions {
  /** Base URL of the origin. */
  originUrl: string;
  stream: string;
  /** How far behind the live edge the feed starts. */
  targetLatencyMs: number;
}

export interface OriginFeedComponents {
  clock: Clock;
  logger: Logger;
  origin: OriginClient;
  /** Receives every verified chunk, in seq order. */
  onChunk: (chunk: Chunk) => void;
}

export class OriginFeed {
  readonly #c: OriginFeedComponents;
  readonly #o: OriginFeedOptions;
  readonly #abort = new AbortController();
  #state: 'new' | 'running' | 'stopped' = 'new';
  #bytes = 0;

  constructor(components: OriginFeedComponents, options: OriginFeedOptions) {
    this.#c = components;
    this.#o = options;
  }

  /** Body bytes of the verified chunks fetched. */
  get bytesFromOrigin(): number {
    return this.#bytes;
  }

  start(): void {
    if (this.#state !== 'new') throw new InvalidStateError('origin feed already started');
    this.#state = 'running';
    this.#run().catch((error: unknown) => {
      if (this.#state === 'running') {
        this.#c.logger.error('origin feed failed', { error: errorMessage(error) });
      }
    });
  }

  /** Idempotent. */
  stop(): void {
    if (this.#state === 'stopped') return;
    this.#state = 'stopped';
    this.#abort.abort();
  }

  async #run(): Promise<void> {
    let info = await this.#describe();
    if (info === null) return;
    const verifier: ChunkVerifier =
      info.integrity?.scheme === 'hmac-sha256'
        ? digestVerifier()
        : signatureVerifier(info.stream, info.publicKey);
    let seq = this.#startSeq(info);
    let misses = 0;
    while (this.#running()) {
      let chunk: Chunk;
      try {
        chunk = await this.#c.origin.fetchChunk(this.#o.stream, seq, this.#abort.signal);
      } catch (error) {
        if (!this.#running()) return;
        if (!(error instanceof OriginHttpError) || error.status !== 404) {
          this.#c.logger.debug('origin fetch failed', { seq, error: errorMessage(error) });
          await this.#sleep(ERROR_RETRY_MS);
          continue;
        }
        if (++misses >= MISSES_BEFORE_RESYNC) {
          misses = 0;
          const fresh = await this.#describe();
          if (fresh === null) return;
          info = fresh;
          const edge = info.liveEdge;
          // Fallen out of the origin's window (the tab slept): start again near live.
          if (edge !== null && seq < edge.firstSeq) seq = this.#startSeq(info);
        }
        await this.#sleep(info.chunkDurationMs / 4);
        continue;
      }
      misses = 0;
      try {
        await verifier.verify(chunk);
      } catch (error) {
        this.#c.logger.warn('origin chunk rejected', { seq, error: errorMessage(error) });
        seq++;
        continue;
      }
      if (!this.#running()) return;
      this.#bytes += chunk.byteLength;
      this.#c.onChunk(chunk);
      seq++;
    }
  }

  /** The first chunk to fetch: a segment and the target latency behind the newest one. */
  #startSeq(info: StreamJson): number {
    const edge = info.liveEdge;
    if (edge === null) return 0;
    const back = Math.ceil(
      (this.#o.targetLatencyMs + info.segmentDurationMs) / info.chunkDurationMs,
    );
    return Math.max(edge.firstSeq, edge.lastSeq - back);
  }

  /** Reads `stream.json` until the stream has a live edge; null once stopped. */
  async #describe(): Promise<StreamJson | null> {
    const base = this.#o.originUrl.endsWith('/') ? this.#o.originUrl : `${this.#o.originUrl}/`;
    const url = new URL(`live/${encodeURIComponent(this.#o.stream)}/stream.json`, base);
    while (this.#running()) {
      try {
        const response = await globalThis.fetch(url, {
          signal: this.#abort.signal,
          cache: 'no-store',
        });
        if (response.ok) {
          const info = streamJsonSchema.safeParse(await response.json());
          if (!info.success) {
            this.#c.logger.warn('unreadable stream description', { error: info.error.message });
          } else if (info.data.liveEdge !== null) {
            return info.data;
          }
        }
      } catch (error) {
        if (!this.#running()) return null;
        this.#c.logger.debug('stream description unavailable', { error: errorMessage(error) });
      }
      await this.#sleep(DESCRIBE_RETRY_MS);
    }
    return null;
  }

  /** Re-read after every await: stop() may have run meanwhile. */
  #running(): boolean {
    return this.#state === 'running';
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.#c.clock.setTimeout(resolve, ms);
    });
  }
}
