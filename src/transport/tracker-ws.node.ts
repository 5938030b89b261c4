/**
 * The Node tracker connection: `WebSocketTrackerConnection` over the `ws` client, which refuses
 * frames too large to be a tracker message.
 */
import { WebSocket } from 'ws';
import type { Logger } from '../common/logger.js';
import { MAX_TRACKER_MESSAGE_BYTES } from '../protocol/tracker.js';
import type { TrackerConnectionEvents, TrackerConnectionFactory } from './types.js';
import {
  WebSocketTrackerConnection,
  type TrackerSocket,
  type WebSocketTrackerConnectionOptions,
} from './tracker-ws.js';

/**
 * Frames above this close the socket (1009) instead of being read: a tracker message is at most
 * `MAX_TRACKER_MESSAGE_BYTES` characters of UTF-8, so at most four times that many bytes. Smaller
 * oversized messages are read and refused by the decoder.
 */
const MAX_FRAME_BYTES = 4 * MAX_TRACKER_MESSAGE_BYTES;

export type WsTrackerConnectionOptions = WebSocketTrackerConnectionOptions;

export interface WsTrackerConnectionComponents {
  logger: Logger;
}

/** Opens a `ws` client socket; with `ws` 8 a text message's `event.data` is a string. */
function openWsSocket(url: string): TrackerSocket {
  return new WebSocket(url, { maxPayload: MAX_FRAME_BYTES });
}

/** A `TrackerConnection` over the `ws` client. Connects at construction. */
export class WsTrackerConnection extends WebSocketTrackerConnection {
  constructor(
    components: WsTrackerConnectionComponents,
    options: WsTrackerConnectionOptions,
    events: TrackerConnectionEvents,
  ) {
    super({ ...components, openSocket: openWsSocket }, options, events);
  }
}

/** A factory that opens `WsTrackerConnection`s to `options.url`. */
export function wsTrackerConnectionFactory(
  components: WsTrackerConnectionComponents,
  options: WsTrackerConnectionOptions,
): TrackerConnectionFactory {
  return (events) => new WsTrackerConnection(components, options, events);
}
