/** The browser tracker connection: `WebSocketTrackerConnection` over the browser's `WebSocket`. */
import type { Logger } from '../common/logger.js';
import type { TrackerConnectionEvents, TrackerConnectionFactory } from './types.js';
import {
  WebSocketTrackerConnection,
  type TrackerSocket,
  type WebSocketTrackerConnectionOptions,
} from './tracker-ws.js';

export type BrowserTrackerConnectionOptions = WebSocketTrackerConnectionOptions;

export interface BrowserTrackerConnectionComponents {
  logger: Logger;
}

function openBrowserSocket(url: string): TrackerSocket {
  return new globalThis.WebSocket(url);
}

/** A `TrackerConnection` over the browser's WebSocket. Connects at construction. */
export class BrowserTrackerConnection extends WebSocketTrackerConnection {
  constructor(
    components: BrowserTrackerConnectionComponents,
    options: BrowserTrackerConnectionOptions,
    events: TrackerConnectionEvents,
  ) {
    super({ ...components, openSocket: openBrowserSocket }, options, events);
  }
}

/** A factory that opens `BrowserTrackerConnection`s to `options.url`. */
export function browserTrackerConnectionFactory(
  components: BrowserTrackerConnectionComponents,
  options: BrowserTrackerConnectionOptions,
): TrackerConnectionFactory {
  return (events) => new BrowserTrackerConnection(components, options, events);
}
