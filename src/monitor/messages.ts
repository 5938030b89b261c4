/**
 * What the monitor's observer stream carries, shared by the tracker side
 * (`src/monitor/observer.node.ts`) and the page's script (`src/monitor/app.ts`).
 */
import type { TrackerSnapshot } from '../tracker/core/tracker-core.js';

/** Path of the monitor page on the tracker's port; the other monitor routes live under it. */
export const MONITOR_PATH = '/monitor';
export const MONITOR_SCRIPT_PATH = `${MONITOR_PATH}/app.js`;
export const MONITOR_STYLE_PATH = `${MONITOR_PATH}/app.css`;
/** Server-sent events: one `update` event per period. */
export const MONITOR_EVENTS_PATH = `${MONITOR_PATH}/events`;
/** One update as JSON (for scripts and tests). */
export const MONITOR_SNAPSHOT_PATH = `${MONITOR_PATH}/snapshot`;

/** `POST` here (JSON body `{}`) kills one peer. */
export function killPath(peerId: string): string {
  return `${MONITOR_PATH}/peers/${encodeURIComponent(peerId)}/kill`;
}

/** Figures the tracker cannot know, fed by whoever runs the origin (the runner). */
export interface MonitorStats {
  /** Bytes of media the origin has sent since it started. */
  readonly originBytesSent: number;
  /** Bytes the broadcaster's node has sent on peer links since it started. */
  readonly broadcasterBytesUploaded: number;
}

/** Something that happened between two updates. */
export interface MonitorEvent {
  readonly atMs: number;
  readonly kind: 'joined' | 'left' | 'killed';
  readonly peerId: string;
  readonly stream: string;
}

/** Which controls this tracker offers, and why the others are missing. */
export interface MonitorControls {
  readonly kill: boolean;
  /** Notes shown on the page about controls that are not offered. */
  readonly notes: readonly string[];
}

export interface MonitorUpdate {
  /** Wall-clock time of the update (ms since the epoch). */
  readonly timeMs: number;
  readonly snapshot: TrackerSnapshot;
  /** Null when no runner feeds origin figures. */
  readonly stats: MonitorStats | null;
  /** Events since the previous update (all recent ones in the first update of a stream). */
  readonly events: readonly MonitorEvent[];
  readonly controls: MonitorControls;
}
