/**
 * Fetching chunks from the origin over HTTP (`GET <origin>/live/<stream>/chunks/<seq>`), for Node
 * and browsers alike: only `globalThis.fetch`, no Node modules.
 */
import { SwarmcastError, errorMessage, type ErrorCode } from '../common/errors.js';
import { silentLogger, type Logger } from '../common/logger.js';
import { CHUNK_META_BYTES, MAX_CHUNK_BYTES, decodeChunk, type Chunk } from '../protocol/chunk.js';
import { ProtocolError } from '../common/errors.js';
import type { OriginClient } from './types.js';

/** An HTTP exchange with the origin that failed; `status` is undefined when no answer came. */
export class OriginHttpError extends SwarmcastError {
  readonly status: number | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    status: number | undefined,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
    this.status = status;
  }
}

/** The origin's explanation of an error answer (its JSON `message`), or the status text. */
export async function readErrorMessage(response: Response): Promise<string> {
  const text = await response.text().catch(() => '');
  try {
    const body = JSON.parse(text) as unknown;
    if (typeof body === 'object' && body !== null && 'message' in body) {
      return `${response.status} ${String(body.message)}`;
    }
  } catch {
    // Not JSON: fall back to the status line.
  }
  return `${response.status} ${response.statusText}`.trim();
}

export interface HttpOriginClientComponents {
  readonly logger?: Logger;
}

export interface HttpOriginClientOptions {
  /** Base URL of the origin, e.g. `http://127.0.0.1:8080`; chunks are under `/live/<stream>/`. */
  readonly originUrl: string;
}

/** `OriginClient` over HTTP. Errors: `OriginHttpError` ('origin-unavailable') and `ProtocolError`. */
export class HttpOriginClient implements OriginClient {
  readonly #logger: Logger;
  readonly #base: URL;

  constructor(components: HttpOriginClientComponents, options: HttpOriginClientOptions) {
    this.#logger = (components.logger ?? silentLogger).child('origin-client');
    this.#base = new URL(
      options.originUrl.endsWith('/') ? options.originUrl : `${options.originUrl}/`,
    );
  }

  /**
   * Fetches chunk `seq` of `stream`, not yet verified. Rejects with `OriginHttpError` when the
   * origin is unreachable or does not have it, `ProtocolError` when the body is not that chunk,
   * and with `signal.reason` when aborted.
   */
  async fetchChunk(stream: string, seq: number, signal: AbortSignal): Promise<Chunk> {
    const url = new URL(`live/${encodeURIComponent(stream)}/chunks/${String(seq)}`, this.#base);
    let response: Response;
    try {
      response = await globalThis.fetch(url, { signal });
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      throw new OriginHttpError(
        'origin-unavailable',
        `origin unreachable for chunk ${seq} of ${stream}: ${errorMessage(error)}`,
        undefined,
        { cause: error },
      );
    }
    if (!response.ok) {
      const reason = await readErrorMessage(response);
      throw new OriginHttpError(
        'origin-unavailable',
        `origin has no chunk ${seq} of ${stream}: ${reason}`,
        response.status,
      );
    }
    const declared = Number(response.headers.get('content-length') ?? Number.NaN);
    if (declared > CHUNK_META_BYTES + MAX_CHUNK_BYTES) {
      await response.body?.cancel();
      throw new ProtocolError(
        'message-too-large',
        `chunk ${seq} of ${declared} bytes is too large`,
      );
    }
    const chunk = decodeChunk(new Uint8Array(await response.arrayBuffer()));
    if (chunk.seq !== seq) {
      throw new ProtocolError(
        'malformed-frame',
        `asked the origin for chunk ${seq}, got ${chunk.seq}`,
      );
    }
    this.#logger.debug('chunk fetched', { stream, seq, bytes: chunk.byteLength });
    return chunk;
  }
}
