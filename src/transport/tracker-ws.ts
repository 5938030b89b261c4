/**
 * The tracker connection: the tracker protocol (JSON text messages) over a browser-style
 * WebSocket. Browser-safe: the socket is opened by an injected `openSocket`, so the browser passes
 * its own `WebSocket` and Node the `ws` client (see `tracker-ws.browser.ts`, `tracker-ws.node.ts`).
 * Every message from the tracker is validated with `decodeTrackerMessage` before it is delivered;
 * one that fails is logged and dropped, and the connection stays up.
 */
import { errorMessage, SwarmcastError } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import {
  decodeTrackerMessage,
  encodeMessage,
  type ClientMessage,
  type TrackerMessage,
} from '../protocol/tracker.js';
import type { TrackerConnection, TrackerConnectionEvents } from './types.js';

/** Defaults of `WebSocketTrackerConnectionOptions`. */
export const TRACKER_CONNECTION_DEFAULTS = {
  /** Messages `send()` holds while the socket is still connecting. */
  maxQueuedMessages: 64,
} as const;

/** `readyState` values of the WebSocket standard (the same in browsers and `ws`). */
const CONNECTING = 0;
const OPEN = 1;

/**
 * The part of the browser WebSocket API the connection uses; both the browser's `WebSocket` and
 * the `ws` client have it. A text message's `data` is a string.
 */
export interface TrackerSocket {
  readonly url: string;
  readonly readyState: number;
  send(text: string): void;
  close(code: number): void;
  addEventListener(type: 'open', listener: () => void): void;
  addEventListener(type: 'message', listener: (event: { readonly data: unknown }) => void): void;
  addEventListener(type: 'error', listener: (event: { readonly type: string }) => void): void;
  addEventListener(
    type: 'close',
    listener: (event: { readonly code: number; readonly reason: string }) => void,
  ): void;
}

/** Opens a `TrackerSocket` to a `ws://` or `wss://` URL; it starts connecting at once. */
export type OpenTrackerSocket = (url: string) => TrackerSocket;

export interface WebSocketTrackerConnectionOptions {
  /** The tracker's WebSocket URL, `ws://` or `wss://`. */
  url: string;
  /**
   * Messages held by `send()` before the socket opens; one more closes the connection.
   * @default 64
   */
  maxQueuedMessages?: number;
}

export interface WebSocketTrackerConnectionComponents {
  logger: Logger;
  openSocket: OpenTrackerSocket;
}

/** A `TrackerConnection` over a `TrackerSocket`. Connects at construction. */
export class WebSocketTrackerConnection implements TrackerConnection {
  readonly #logger: Logger;
  readonly #events: TrackerConnectionEvents;
  readonly #maxQueuedMessages: number;
  readonly #socket: TrackerSocket;
  readonly #queue: string[] = [];
  #closed = false;

  constructor(
    components: WebSocketTrackerConnectionComponents,
    options: WebSocketTrackerConnectionOptions,
    events: TrackerConnectionEvents,
  ) {
    this.#logger = components.logger;
    this.#events = events;
    this.#maxQueuedMessages =
      options.maxQueuedMessages ?? TRACKER_CONNECTION_DEFAULTS.maxQueuedMessages;
    if (!Number.isSafeInteger(this.#maxQueuedMessages) || this.#maxQueuedMessages < 0) {
      throw new SwarmcastError(
        'invalid-argument',
        'maxQueuedMessages must be a non-negative integer',
      );
    }
    if (!/^wss?:\/\//.test(options.url)) {
      throw new SwarmcastError('invalid-argument', `not a WebSocket URL: ${options.url}`);
    }
    // The listeners stay for the socket's life (`ws` throws an error event nobody listens to);
    // after `#finish` they do nothing.
    this.#socket = components.openSocket(options.url);
    this.#socket.addEventListener('open', () => {
      this.#opened();
    });
    this.#socket.addEventListener('message', (event) => {
      this.#received(event.data);
    });
    // A browser hides why a socket failed and only the close event that follows carries a code;
    // `ws` gives the cause as the error event's message.
    this.#socket.addEventListener('error', (event) => {
      if ('message' in event && typeof event.message === 'string' && event.message !== '') {
        this.#finish(`error: ${event.message}`);
      }
    });
    this.#socket.addEventListener('close', (event) => {
      this.#finish(
        event.reason === '' ? `closed (${event.code})` : `closed (${event.code}): ${event.reason}`,
      );
    });
  }

  send(message: ClientMessage): void {
    if (this.#closed) return;
    const text = encodeMessage(message);
    if (this.#socket.readyState === OPEN) {
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

  #received(data: unknown): void {
    if (this.#closed) return;
    if (typeof data !== 'string') {
      this.#logger.warn('binary message from the tracker dropped');
      return;
    }
    let message: TrackerMessage;
    try {
      message = decodeTrackerMessage(data);
    } catch (error) {
      this.#logger.warn('invalid message from the tracker dropped', { error: errorMessage(error) });
      return;
    }
    this.#call(() => {
      this.#events.message(message);
    });
  }

  /** Closes the socket for `reason` (aborting it while connecting); the first call fires `close`. */
  #finish(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue.length = 0;
    const state = this.#socket.readyState;
    if (state === CONNECTING || state === OPEN) this.#socket.close(1000);
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
