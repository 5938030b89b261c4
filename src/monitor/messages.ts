/**
 * What the monitor's observer stream carries, shared by the tracker side
 * (`src/monitor/observer.node.ts`) and the page's script (`src/monitor/app.ts`).
 */
import type { AttackMode } from '../lab/attacks.js';
import type { VictimDistribution } from '../lab/failures.js';
import type { MioRunRecord } from '../lab/mio.js';
import type { TopologyKind } from '../protocol/tracker.js';
import type { TrackerSnapshot } from '../tracker/core/tracker-core.js';

/** Path of the monitor page on the tracker's port; the other monitor routes live under it. */
export const MONITOR_PATH = '/monitor';
export const MONITOR_SCRIPT_PATH = `${MONITOR_PATH}/app.js`;
export const MONITOR_STYLE_PATH = `${MONITOR_PATH}/app.css`;
/** Server-sent events: one `update` event per period. */
export const MONITOR_EVENTS_PATH = `${MONITOR_PATH}/events`;
/** One update as JSON (for scripts and tests). */
export const MONITOR_SNAPSHOT_PATH = `${MONITOR_PATH}/snapshot`;

/** `POST` a `TopologyRequest` here to switch a live stream's topology. */
export const MONITOR_TOPOLOGY_PATH = `${MONITOR_PATH}/topology`;
/** `POST` a `FailureSetting` here to start, change or (rate 0) stop failure injection. */
export const MONITOR_FAILURES_PATH = `${MONITOR_PATH}/failures`;
/** `POST` a `LabRequest` here to run one simulated cell of the MioStream lab. */
export const MONITOR_LAB_PATH = `${MONITOR_PATH}/lab`;
/** `POST` an `AttackRequest` here to start polluting viewer processes. */
export const MONITOR_ATTACK_PATH = `${MONITOR_PATH}/attack`;

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

/** Switch `stream` to a topology of `kind`. */
export interface TopologyRequest {
  readonly stream: string;
  readonly kind: TopologyKind;
}

/** Failure injection as the lab does it: `rate` failures per second, victims by position. */
export interface FailureSetting {
  /** Failures per second, 0 stops (limits: `controls.node.ts`). */
  readonly rate: number;
  readonly distribution: VictimDistribution;
}

/** The runner's failure injection: its setting and what it did. */
export interface FailureInjection extends FailureSetting {
  /** Viewers failed (and replaced) since the runner started, over every setting. */
  readonly injected: number;
}

/** Start `polluters` more viewer processes that attack in `mode` (limits: `controls.node.ts`). */
export interface AttackRequest {
  readonly mode: AttackMode;
  readonly polluters: number;
}

/** One polluting viewer process, as the runner knows it. */
export interface PolluterStatus {
  /** Its tracker id, once it has reported one. */
  readonly peerId: string | null;
  readonly mode: AttackMode;
  readonly alive: boolean;
  /** Harmful messages it sent (bad chunks, bad frames, flood messages). */
  readonly harmful: number;
  /** Why the tracker closed its connection (`evicted`, …); null while it has not. */
  readonly removedReason: string | null;
  /** From its first harmful message to the tracker closing its connection; null if either is missing. */
  readonly evictionMs: number | null;
}

/** The runner's attacks: the polluters started so far and what became of them. */
export interface AttackStatus {
  /** Polluters alive at once, at most (half the swarm's viewers). */
  readonly maxPolluters: number;
  readonly polluters: readonly PolluterStatus[];
}

/** One cell of the MioStream lab, run on the simulator (limits: `controls.node.ts`). */
export interface LabRequest {
  readonly topology: TopologyKind;
  readonly distribution: VictimDistribution;
  /** Failures per second. */
  readonly rate: number;
  /** Viewers. */
  readonly peers: number;
  /** Virtual length of the run. */
  readonly durationS: number;
  /** Base seed of the run, as `npm run lab -- --seed`. @default 1 */
  readonly seed?: number;
}

/** A lab scenario's request and its record, as the lab writes it to results.json. */
export interface LabResult {
  readonly request: LabRequest;
  readonly record: MioRunRecord;
  /** Wall-clock time the simulation took. */
  readonly wallMs: number;
}

/** Which controls this tracker offers, and why the others are missing. */
export interface MonitorControls {
  readonly kill: boolean;
  /** The runner's failure injection; null when no runner offers it. */
  readonly failures: FailureInjection | null;
  /** The runner's attacks; null when no runner offers them. */
  readonly attack: AttackStatus | null;
  readonly lab: {
    /** The scenario running now (one at a time). */
    readonly running: LabRequest | null;
    /** The last scenario that completed. */
    readonly last: LabResult | null;
  };
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
