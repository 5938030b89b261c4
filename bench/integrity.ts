/**
 * `npm run bench -- integrity`: MioStream's verification trade-off (its figures 13-14: stalled
 * chunks and stalled time per threshold) measured on the real pipeline. One local swarm per
 * setting (broadcaster, origin, tracker and N viewer processes over WebRTC on loopback), run one
 * after the other: `hmac-sha256` at each threshold of `BENCH_THRESHOLDS`, then the Ed25519
 * default as the baseline. Each run lasts `durationS` once every viewer plays. Per setting: stalls, stalled time and skipped chunks per viewer, CPU
 * per viewer process, and how many authenticity checks (HMAC or signature) each verified chunk got.
 */
import Table from 'cli-table3';
import type { Logger } from '../src/common/logger.js';
import { sum } from '../src/common/stats.js';
import { pipelineFigures } from '../src/lab/figures.js';
import { LocalSwarm, type LocalSwarmResult } from '../src/lab/local-swarm.js';
import type { StreamIntegrity } from '../src/protocol/tracker.js';
import { BENCH_THRESHOLDS } from './crypto.js';

export interface IntegrityBenchOptions {
  /** Viewer processes per run. */
  readonly peers: number;
  /** Seconds each run lasts after its last viewer started. */
  readonly durationS: number;
}

export interface IntegrityRun {
  readonly scheme: StreamIntegrity['scheme'];
  /** The HMAC threshold; null for Ed25519 (every chunk, always). */
  readonly threshold: number | null;
  readonly peers: number;
  readonly durationS: number;
  /** Stalls after startup per viewer (the paper's "stalled video chunks"). */
  readonly stallsPerPeer: number;
  readonly stalledMsPerPeer: number;
  /** Chunks per viewer the player skipped because they never arrived in time. */
  readonly chunksMissingPerPeer: number;
  readonly chunksPlayedPerPeer: number;
  /** Mean CPU share of one core per viewer process, in percent. */
  readonly cpuPerPeerPct: number | null;
  /** Chunks the viewers' verifiers were handed. */
  readonly chunksVerified: number;
  /** Authenticity checks (HMAC or signature) per chunk verified. */
  readonly checksPerChunk: number | null;
  /** Chunks refused by verification (0 without an attacker). */
  readonly rejectedChunks: number;
  readonly broadcasterFailed: string | null;
}

/** How long a run waits for every viewer to play before its measured span starts anyway. */
const PLAYING_TIMEOUT_MS = 30_000;

/** The settings run, in order: HMAC at each threshold, then the Ed25519 baseline. */
export const INTEGRITY_SETTINGS: readonly StreamIntegrity[] = [
  ...BENCH_THRESHOLDS.map((threshold) => ({ scheme: 'hmac-sha256' as const, threshold })),
  { scheme: 'ed25519' },
];

async function runOne(
  logger: Logger,
  integrity: StreamIntegrity,
  options: IntegrityBenchOptions,
): Promise<IntegrityRun> {
  const swarm = new LocalSwarm({ logger }, { peers: options.peers, integrity });
  const failure: { message: string | null } = { message: null };
  swarm.on('swarm:error', ({ error }) => {
    failure.message = error.message;
  });
  let result: LocalSwarmResult;
  try {
    await swarm.start();
    // The measured span starts once every viewer plays (their processes take seconds to start).
    const playingBy = Date.now() + PLAYING_TIMEOUT_MS;
    while (
      Date.now() < playingBy &&
      failure.message === null &&
      !swarm.peers().every((p) => p.report?.stats.playback?.state === 'playing')
    ) {
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const until = Date.now() + options.durationS * 1000;
    while (Date.now() < until && failure.message === null) {
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  } finally {
    result = await swarm.stop();
  }
  const figures = pipelineFigures(result);
  const stats = result.peers.flatMap((p) => (p.report === undefined ? [] : [p.report.stats]));
  const verified = sum(stats.map((s) => s.verifier?.verified ?? 0));
  const authenticated = sum(stats.map((s) => s.verifier?.authenticated ?? 0));
  const perPeer = (n: number): number => n / Math.max(1, figures.peers);
  return {
    scheme: integrity.scheme,
    threshold: integrity.scheme === 'hmac-sha256' ? integrity.threshold : null,
    peers: figures.peers,
    durationS: figures.durationS,
    stallsPerPeer: perPeer(figures.stalls),
    stalledMsPerPeer: perPeer(figures.stalledMs),
    chunksMissingPerPeer: perPeer(figures.chunksMissing),
    chunksPlayedPerPeer: perPeer(figures.chunksPlayed),
    cpuPerPeerPct: figures.cpuPerPeerPct,
    chunksVerified: verified,
    checksPerChunk: verified > 0 ? authenticated / verified : null,
    rejectedChunks: sum(stats.map((s) => s.rejectedChunks)),
    broadcasterFailed: failure.message,
  };
}

/** Runs every setting of `INTEGRITY_SETTINGS` in turn; `onRun` hears of each as it ends. */
export async function integrityBench(
  logger: Logger,
  options: IntegrityBenchOptions,
  onRun?: (run: IntegrityRun) => void,
): Promise<IntegrityRun[]> {
  const runs: IntegrityRun[] = [];
  for (const integrity of INTEGRITY_SETTINGS) {
    const run = await runOne(logger, integrity, options);
    onRun?.(run);
    runs.push(run);
  }
  return runs;
}

/** The runs as one table for the terminal. */
export function formatIntegrityBench(runs: readonly IntegrityRun[]): string {
  const table = new Table({
    head: [
      'scheme',
      'threshold',
      'stalls/peer',
      'stalled ms/peer',
      'missing/peer',
      'played/peer',
      'cpu %/peer',
      'checks/chunk',
      'rejected',
    ],
    style: { head: [], border: [] },
  });
  for (const r of runs) {
    table.push([
      r.scheme,
      r.threshold ?? '-',
      r.stallsPerPeer.toFixed(2),
      r.stalledMsPerPeer.toFixed(0),
      r.chunksMissingPerPeer.toFixed(2),
      r.chunksPlayedPerPeer.toFixed(1),
      r.cpuPerPeerPct?.toFixed(2) ?? '-',
      r.checksPerChunk?.toFixed(3) ?? '-',
      r.rejectedChunks,
    ]);
  }
  return `${table.toString()}\n`;
}
