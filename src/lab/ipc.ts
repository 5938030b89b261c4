/** Messages between a swarm runner and the peer processes it forks (Node IPC channel). */
import type { PeerStats } from '../peer/core.js';
import type { AttackMode } from './attacks.js';
import type { ChunkSighting } from './chunk-audit.js';

/** What a polluting peer process (`swarmcast peer --attack MODE`) has done. */
export interface PolluterActivity {
  readonly mode: AttackMode;
  /** Harmful messages sent (bad chunks, bad frames, flood messages). */
  readonly harmful: number;
  /** Wall-clock time (ms since the epoch) of the first one; null before any. */
  readonly firstHarmfulAtMs: number | null;
}

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
  /** Present when the process is a polluter. */
  readonly attack?: PolluterActivity;
}

/**
 * What an auditing peer process (`swarmcast peer --audit`) verified and sent since its previous
 * audit message, for the attack lab to compare with what the source published (`ChunkAuditor`).
 * Sent before each report, and before the final one.
 */
export interface PeerAuditReport {
  readonly type: 'audit';
  readonly verified: readonly ChunkSighting[];
  readonly sent: readonly ChunkSighting[];
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

export function isPeerAuditReport(value: unknown): value is PeerAuditReport {
  return (
    typeof value === 'object' && value !== null && (value as { type?: unknown }).type === 'audit'
  );
}

export function isStopRequest(value: unknown): value is StopRequest {
  return (
    typeof value === 'object' && value !== null && (value as { type?: unknown }).type === 'stop'
  );
}
