/** The tracker connection over the `ws` client (Node). */
import WebSocket from 'ws';
import { errorMessage } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import {
  decodeTrackerMessage,
  encodeMessage,
  MAX_TRACKER_MESSAGE_BYTES,
  type ClientMessage,
} from '../protocol/tracker.js';
import type {
  TrackerConnection,
  TrackerConnectionEvents,
  TrackerConnectionFactory,
} from './types.js';

/** Messages queued while the socket opens; more means the caller is misbehaving. */
const MAX_QUEUED_MESSAGES = 64;

export interface WsTrackerConnectionOptions {
  /** ws:// or wss:// URL of the tracker. */
  url: string;
}

export class WsTrackerConnection implements TrackerConnection {
  readonly #log: Logger;
  readonly #events: TrackerConnectionEvents;
  readonly #socket: WebSocket;
  readonly #queue: string[] = [];
  #closed = false;

  constructor(
    components: { logger: Logger },
    options: WsTrackerConnectionOptions,
    events: TrackerConnectionEvents,
  ) {
    this.#log = components.logger;
    this.#events = events;
    this.#socket = new WebSocket(options.url, { maxPayload: 4 * MAX_TRACKER_MESSAGE_BYTES });
    this.#socket.on('open', () => {
      for (const text of this.#queue.splice(0)) this.#socket.send(text);
      events.open();
    });
    this.#socket.on('message', (data, isBinary) => {
      if (isBinary) {
        this.#log.warn('dropped a binary message from the tracker');
        return;
      }
      // With the default binaryType ('nodebuffer') a text message arrives as one Buffer.
      const text = Buffer.isBuffer(data)
        ? data.toString('utf8')
        : Buffer.concat(Array.isArray(data) ? data : [Buffer.from(data)]).toString('utf8');
      try {
        events.message(decodeTrackerMessage(text));
      } catch (error) {
        this.#log.warn('dropped a message from the tracker', { error: errorMessage(error) });
      }
    });
    this.#socket.on('error', (error) => {
      this.#log.debug('tracker socket error', { error: error.message });
      this.#finish(error.message);
    });
    this.#socket.on('close', (code, reason) => {
      this.#finish(`closed (${code}${reason.byteLength > 0 ? ` ${reason.toString()}` : ''})`);
    });
  }

  send(message: ClientMessage): void {
    if (this.#closed) return;
    const text = encodeMessage(message);
    if (this.#socket.readyState === WebSocket.OPEN) {
      this.#socket.send(text);
    } else if (this.#queue.length < MAX_QUEUED_MESSAGES) {
      this.#queue.push(text);
    } else {
      this.#log.warn('tracker not connected yet; dropped a message', { type: message.type });
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#socket.close(1000);
    this.#finish('closed by us');
  }

  #finish(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue.length = 0;
    if (this.#socket.readyState === WebSocket.CONNECTING) this.#socket.terminate();
    this.#events.close(reason);
  }
}

export function wsTrackerConnectionFactory(
  components: { logger: Logger },
  options: WsTrackerConnectionOptions,
): TrackerConnectionFactory {
  return (events) => new WsTrackerConnection(components, options, events);
}
