/**
 * The Node tracker connection: the tracker protocol (JSON text messages) over a `ws` WebSocket.
 * Every message from the tracker is validated with `decodeTrackerMessage` before it is delivered;
 * one that fails is logged and dropped, and the connection stays up.
 */
import { WebSocket, type RawData } from 'ws';
import { errorMessage, SwarmcastError } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import {
  decodeTrackerMessage,
  encodeMessage,
  MAX_TRACKER_MESSAGE_BYTES,
  type ClientMessage,
  type TrackerMessage,
} from '../protocol/tracker.js';
import type {
  TrackerConnection,
  TrackerConnectionEvents,
  TrackerConnectionFactory,
} from './types.js';

/** Defaults of `WsTrackerConnectionOptions`. */
export const WS_TRACKER_CONNECTION_DEFAULTS = {
  /** Messages `send()` holds while the socket is still connecting. */
  maxQueuedMessages: 64,
} as const;

/**
 * Frames above this close the socket (1009) instead of being read: a tracker message is at most
 * `MAX_TRACKER_MESSAGE_BYTES` characters of UTF-8, so at most four times that many bytes. Smaller
 * oversized messages are read and refused by the decoder.
 */
const MAX_FRAME_BYTES = 4 * MAX_TRACKER_MESSAGE_BYTES;

export interface WsTrackerConnectionOptions {
  /** The tracker's WebSocket URL, `ws://` or `wss://`. */
  url: string;
  /**
   * Messages held by `send()` before the socket opens; one more closes the connection.
   * @default 64
   */
  maxQueuedMessages?: number;
}

export interface WsTrackerConnectionComponents {
  logger: Logger;
}

/** A `TrackerConnection` over the `ws` client. Connects at construction. */
export class WsTrackerConnection implements TrackerConnection {
  readonly #logger: Logger;
  readonly #events: TrackerConnectionEvents;
  readonly #maxQueuedMessages: number;
  readonly #socket: WebSocket;
  readonly #queue: string[] = [];
  #closed = false;

  constructor(
    components: WsTrackerConnectionComponents,
    options: WsTrackerConnectionOptions,
    events: TrackerConnectionEvents,
  ) {
    this.#logger = components.logger;
    this.#events = events;
    this.#maxQueuedMessages =
      options.maxQueuedMessages ?? WS_TRACKER_CONNECTION_DEFAULTS.maxQueuedMessages;
    if (!Number.isSafeInteger(this.#maxQueuedMessages) || this.#maxQueuedMessages < 0) {
      throw new SwarmcastError(
        'invalid-argument',
        'maxQueuedMessages must be a non-negative integer',
      );
    }
    if (!/^wss?:\/\//.test(options.url)) {
      throw new SwarmcastError('invalid-argument', `not a WebSocket URL: ${options.url}`);
    }
    this.#socket = new WebSocket(options.url, { maxPayload: MAX_FRAME_BYTES });
    this.#socket.on('open', () => {
      this.#opened();
    });
    this.#socket.on('message', (data, isBinary) => {
      this.#received(data, isBinary);
    });
    this.#socket.on('error', (error) => {
      this.#finish(`error: ${error.message}`);
    });
    this.#socket.on('close', (code, reason) => {
      const text = reason.toString();
      this.#finish(text === '' ? `closed (${code})` : `closed (${code}): ${text}`);
    });
  }

  send(message: ClientMessage): void {
    if (this.#closed) return;
    const text = encodeMessage(message);
    if (this.#socket.readyState === WebSocket.OPEN) {
      this.#socket.send(text);
      return;
    }
    if (this.#queue.length >= this.#maxQueuedMessages) {
      this.#logger.warn('send queue full before the tracker connection opened');
      this.#finish('send queue full');
      return;
    }
    this.#queue.push(text);
  }

  close(): void {
    this.#finish('closed locally');
  }

  #opened(): void {
    if (this.#closed) return;
    this.#logger.info('tracker connection open', { url: this.#socket.url });
    for (const text of this.#queue.splice(0)) this.#socket.send(text);
    this.#call(() => {
      this.#events.open();
    });
  }

  #received(data: RawData, isBinary: boolean): void {
    if (this.#closed) return;
    if (isBinary) {
      this.#logger.warn('binary message from the tracker dropped');
      return;
    }
    const text = rawText(data);
    let message: TrackerMessage;
    try {
      message = decodeTrackerMessage(text);
    } catch (error) {
      this.#logger.warn('invalid message from the tracker dropped', { error: errorMessage(error) });
      return;
    }
    this.#call(() => {
      this.#events.message(message);
    });
  }

  /** Closes the socket for `reason`; the first call fires `close`. */
  #finish(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue.length = 0;
    if (this.#socket.readyState === WebSocket.OPEN) this.#socket.close(1000);
    else if (this.#socket.readyState === WebSocket.CONNECTING) this.#socket.terminate();
    this.#logger.info('tracker connection closed', { reason });
    this.#call(() => {
      this.#events.close(reason);
    });
  }

  /** Runs an owner callback; one that throws is logged and cannot break the socket's handlers. */
  #call(callback: () => void): void {
    try {
      callback();
    } catch (error) {
      this.#logger.error('tracker connection listener threw', { error: errorMessage(error) });
    }
  }
}

/** The text of a message as `ws` hands it over (one Buffer with the default binaryType). */
function rawText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  return data.toString('utf8');
}

/** A factory that opens `WsTrackerConnection`s to `options.url`. */
export function wsTrackerConnectionFactory(
  components: WsTrackerConnectionComponents,
  options: WsTrackerConnectionOptions,
): TrackerConnectionFactory {
  return (events) => new WsTrackerConnection(components, options, events);
}
