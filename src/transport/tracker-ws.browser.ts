/**
 * The browser tracker connection: the tracker protocol (JSON text messages) over the browser's
 * own `WebSocket`. Every message from the tracker is validated with `decodeTrackerMessage` before
 * it is delivered; one that fails is logged and dropped, and the connection stays up.
 */
import { errorMessage, SwarmcastError } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import {
  decodeTrackerMessage,
  encodeMessage,
  type ClientMessage,
  type TrackerMessage,
} from '../protocol/tracker.js';
import type {
  TrackerConnection,
  TrackerConnectionEvents,
  TrackerConnectionFactory,
} from './types.js';

/** Defaults of `BrowserTrackerConnectionOptions`. */
export const BROWSER_TRACKER_CONNECTION_DEFAULTS = {
  /** Messages `send()` holds while the socket is still connecting. */
  maxQueuedMessages: 64,
} as const;

export interface BrowserTrackerConnectionOptions {
  /** The tracker's WebSocket URL, `ws://` or `wss://`. */
  url: string;
  /**
   * Messages held by `send()` before the socket opens; one more closes the connection.
   * @default 64
   */
  maxQueuedMessages?: number;
}

export interface BrowserTrackerConnectionComponents {
  logger: Logger;
}

/** A `TrackerConnection` over the browser's WebSocket. Connects at construction. */
export class BrowserTrackerConnection implements TrackerConnection {
  readonly #logger: Logger;
  readonly #events: TrackerConnectionEvents;
  readonly #maxQueuedMessages: number;
  readonly #socket: WebSocket;
  readonly #queue: string[] = [];
  #closed = false;

  constructor(
    components: BrowserTrackerConnectionComponents,
    options: BrowserTrackerConnectionOptions,
    events: TrackerConnectionEvents,
  ) {
    this.#logger = components.logger;
    this.#events = events;
    this.#maxQueuedMessages =
      options.maxQueuedMessages ?? BROWSER_TRACKER_CONNECTION_DEFAULTS.maxQueuedMessages;
    if (!Number.isSafeInteger(this.#maxQueuedMessages) || this.#maxQueuedMessages < 0) {
      throw new SwarmcastError(
        'invalid-argument',
        'maxQueuedMessages must be a non-negative integer',
      );
    }
    if (!/^wss?:\/\//.test(options.url)) {
      throw new SwarmcastError('invalid-argument', `not a WebSocket URL: ${options.url}`);
    }
    this.#socket = new WebSocket(options.url);
    this.#socket.onopen = () => {
      this.#opened();
    };
    this.#socket.onmessage = (event: MessageEvent<unknown>) => {
      this.#received(event.data);
    };
    // A browser hides why a socket failed; the close event that follows carries the code.
    this.#socket.onclose = (event) => {
      this.#finish(
        event.reason === '' ? `closed (${event.code})` : `closed (${event.code}): ${event.reason}`,
      );
    };
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

  /** Closes the socket for `reason`; the first call fires `close`. */
  #finish(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue.length = 0;
    this.#socket.onopen = null;
    this.#socket.onmessage = null;
    this.#socket.onclose = null;
    if (this.#socket.readyState !== WebSocket.CLOSED) this.#socket.close(1000);
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

/** A factory that opens `BrowserTrackerConnection`s to `options.url`. */
export function browserTrackerConnectionFactory(
  components: BrowserTrackerConnectionComponents,
  options: BrowserTrackerConnectionOptions,
): TrackerConnectionFactory {
  return (events) => new BrowserTrackerConnection(components, options, events);
}
