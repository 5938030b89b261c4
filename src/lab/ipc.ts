/** Messages between a swarm runner and the peer processes it forks (Node IPC channel). */
import type { PeerStats } from '../peer/core.js';

/** A peer process's figures, sent every second and once more when it stops. */
export interface PeerProcessReport {
  readonly type: 'report';
  readonly final: boolean;
  readonly stats: PeerStats;
  readonly parents: readonly string[];
  readonly children: readonly string[];
  /** CPU time (user + system) the process used since it started. */
  readonly cpuMs: number;
  /** Wall time since the process started. */
  readonly wallMs: number;
}

/** Asks a peer process to leave gracefully, send its final report and exit. */
export interface StopRequest {
  readonly type: 'stop';
}

export function isPeerProcessReport(value: unknown): value is PeerProcessReport {
  return (
    typeof value === 'object' && value !== null && (value as { type?: unknown }).type === 'report'
  );
}

export function isStopRequest(value: unknown): value is StopRequest {
  return (
    typeof value === 'object' && value !== null && (value as { type?: unknown }).type === 'stop'
  );
}
