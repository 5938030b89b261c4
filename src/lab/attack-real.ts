/**
 * `swarmcast lab attack --mode real`: the attack lab on real processes. Each run is a
 * `LocalSwarm` (a broadcaster running ffmpeg, an origin, a tracker, and viewer processes over real
 * WebRTC on loopback); the polluters are `swarmcast peer --attack MODE` processes, started first
 * (`LocalSwarmOptions.attackFirst`) so that they join first and sit next to the broadcaster,
 * where they relay to everyone below them.
 * Each attack run has its own attack-free baseline of the same size, run just before it, so that
 * both see the same load on the machine.
 *
 * The honest viewers run with `--audit`: they report a fingerprint of every chunk they verify
 * and send, which the lab compares with what the broadcaster published (`ChunkAuditor`). The
 * polluters report the time of their first harmful message, and the tracker the time it removed
 * them. Records, verdicts and the report are the simulator's (`attack.ts`).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { SwarmcastError } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import { TRACKER_DEFAULTS } from '../tracker/core/tracker-core.js';
import {
  attackRecord,
  polluterCount,
  type AttackLabOptions,
  type AttackProgress,
  type AttackRecord,
  type RunResult,
} from './attack.js';
import type { AttackMode } from './attacks.js';
import { ChunkAuditor } from './chunk-audit.js';
import { LOCAL_SWARM_DEFAULTS, LocalSwarm, type LocalSwarmOptions } from './local-swarm.js';
import { MIO_REAL_PICTURE } from './mio-real.js';

export interface RealAttackLabOptions {
  /** Viewer processes in the swarm, polluters included. @default 11 */
  peers: number;
  /** Share of the viewers that pollute (rounded, at least 1). @default 0.1 */
  polluterFraction: number;
  attacks: readonly AttackMode[];
  /** Wall-clock length of each run, from when every viewer has joined. @default 40000 */
  durationMs: number;
  /** The swarm of every run (its size and `audit` are the lab's). @default REAL_ATTACK_SWARM */
  swarm: Partial<LocalSwarmOptions>;
}

/**
 * The stream of every run: the real MioStream lab's picture at the attack-real integration
 * test's bitrate, so that a dozen processes and ffmpeg share a small machine.
 */
export const REAL_ATTACK_SWARM: Partial<LocalSwarmOptions> = {
  ...MIO_REAL_PICTURE,
  videoKbps: 800,
  peerLogLevel: 'error',
};

export const REAL_ATTACK_LAB_DEFAULTS: Omit<RealAttackLabOptions, 'attacks'> = {
  peers: 11,
  polluterFraction: 0.1,
  durationMs: 40_000,
  swarm: REAL_ATTACK_SWARM,
};

/** How often a run looks at the viewers' progress and the polluters' place in the overlay. */
const SAMPLE_MS = 250;
/**
 * The longest a run waits for its viewer processes to join (each is a Node process that loads
 * the CLI, all at once on what may be a small machine) before its duration starts anyway.
 */
const JOIN_TIMEOUT_MS = 60_000;

/** Where a run's polluters were: the most children each had at once (0: a leaf, relaying nothing). */
export interface RealRunPlacement {
  readonly attack: AttackMode;
  readonly polluterChildrenMax: readonly number[];
  /** Honest viewers that never started playing, in the attack run and in its baseline. */
  readonly honestNotPlaying: number;
  readonly baselineNotPlaying: number;
  /** Honest viewers the tracker removed (evicted, cut, timed out), in the attack run and its baseline. */
  readonly honestRemoved: number;
  readonly baselineRemoved: number;
}

/** The records (one per mode), and where the polluters sat in each run. */
export interface RealAttackLabResult {
  readonly records: AttackRecord[];
  readonly placements: RealRunPlacement[];
}

export interface RealAttackLabComponents {
  readonly logger: Logger;
  /** Aborting stops the run under way (every process of it) and the lab, which then rejects. */
  readonly signal?: AbortSignal;
}

/** One real run: `attack` by `polluters` processes started first (none: a baseline). */
async function runRealOnce(
  components: RealAttackLabComponents,
  options: Omit<RealAttackLabOptions, 'attacks'>,
  attack: AttackMode | null,
  polluters: number,
): Promise<{ run: RunResult; childrenMax: number[]; notPlaying: number; removed: number }> {
  const { logger, signal } = components;
  const bad = attack === null ? 0 : polluters;
  const swarm = new LocalSwarm(
    { logger },
    {
      ...options.swarm,
      peers: options.peers - bad,
      audit: true,
      ...(attack === null ? {} : { attackFirst: { mode: attack, polluters } }),
    },
  );
  const auditor = new ChunkAuditor();
  swarm.on('chunk:published', ({ chunk }) => {
    auditor.publish(chunk);
  });
  swarm.on('peer:audit', ({ audit }) => {
    for (const sighting of audit.verified) auditor.verifiedSighting(sighting);
    for (const sighting of audit.sent) auditor.sentSighting(sighting);
  });
  const removedIds = new Set<string>();
  swarm.on('peer:removed', ({ peerId }) => {
    removedIds.add(peerId);
  });
  let failure: SwarmcastError | undefined;
  swarm.on('swarm:error', ({ error }) => {
    failure = error;
  });
  const childrenMax = Array.from({ length: bad }, () => 0);
  let result;
  try {
    signal?.throwIfAborted();
    await swarm.start();
    const joinBy = performance.now() + JOIN_TIMEOUT_MS;
    let endsAt: number | undefined;
    while (
      failure === undefined &&
      signal?.aborted !== true &&
      (endsAt === undefined || performance.now() < endsAt)
    ) {
      const viewers = [...swarm.peers(), ...swarm.polluters()];
      if (
        endsAt === undefined &&
        (viewers.every((p) => p.report?.stats.peerId != null) || performance.now() > joinBy)
      ) {
        endsAt = performance.now() + options.durationMs;
      }
      for (const p of swarm.polluters()) {
        const children = p.report?.children.length ?? 0;
        childrenMax[p.index] = Math.max(childrenMax[p.index] ?? 0, children);
      }
      await sleep(Math.min(SAMPLE_MS, Math.max(0, (endsAt ?? joinBy) - performance.now())));
    }
  } finally {
    result = await swarm.stop();
  }
  signal?.throwIfAborted();
  if (failure !== undefined) throw failure;

  // Positions in the join order: the polluters are 0 .. bad - 1, honest viewer i is bad + i.
  const stalledMs = new Map<number, number>();
  const latencyMs = new Map<number, number>();
  const originBytes = new Map<number, number>();
  let rejected = 0;
  let notPlaying = 0;
  let removed = 0;
  for (const peer of result.peers) {
    const stats = peer.report?.stats;
    const position = bad + peer.index;
    if (stats?.playback?.startupMs == null) notPlaying++;
    if (stats?.peerId != null && removedIds.has(stats.peerId)) removed++;
    stalledMs.set(position, stats?.playback?.stalledMs ?? 0);
    const latency = stats?.playback?.latencyP50Ms;
    if (latency != null) latencyMs.set(position, latency);
    originBytes.set(position, stats?.bytesFromOrigin ?? 0);
    rejected += stats?.rejectedChunks ?? 0;
  }
  // Every harmful message counts: a polluter process does not know which peers are polluters.
  const outcomes = result.polluters.map((p) => ({
    firstAttackMs: p.report?.attack?.firstHarmfulAtMs ?? null,
    attackedPolluters: false,
    removedMs: p.removedAtMs,
    reason: p.removedReason,
  }));
  return {
    run: { stalledMs, latencyMs, originBytes, rejected, auditor, polluters: outcomes },
    childrenMax,
    notPlaying,
    removed,
  };
}

/**
 * For each attack mode: a baseline of `peers` honest viewers, then the attack run with the same
 * number of viewers, the first `polluterCount` of them polluters. One record per mode.
 */
export async function runRealAttackLab(
  components: RealAttackLabComponents,
  options: RealAttackLabOptions,
  onProgress?: (progress: AttackProgress) => void,
): Promise<RealAttackLabResult> {
  const count = polluterCount(options.peers, options.polluterFraction);
  const positions = Array.from({ length: count }, (_, i) => i);
  const total = options.attacks.length * 2;
  const recordOptions: Pick<AttackLabOptions, 'peers' | 'seed' | 'durationMs'> = {
    peers: options.peers,
    // Real runs are not seeded: the record's seed is 0.
    seed: 0,
    durationMs: options.durationMs,
  };
  const records: AttackRecord[] = [];
  const placements: RealRunPlacement[] = [];
  let done = 0;
  for (const attack of options.attacks) {
    const baseline = await runRealOnce(components, options, null, count);
    onProgress?.({ done: ++done, total, label: `baseline for ${attack}` });
    const run = await runRealOnce(components, options, attack, count);
    onProgress?.({ done: ++done, total, label: attack });
    records.push(
      attackRecord({
        mode: 'real',
        options: recordOptions,
        attack,
        polluters: positions,
        run: run.run,
        baseline: baseline.run,
      }),
    );
    placements.push({
      attack,
      polluterChildrenMax: run.childrenMax,
      honestNotPlaying: run.notPlaying,
      baselineNotPlaying: baseline.notPlaying,
      honestRemoved: run.removed,
      baselineRemoved: baseline.removed,
    });
  }
  return { records, placements };
}

/** The real lab's set-up, for its report. */
export function realAttackSetup(options: Omit<RealAttackLabOptions, 'attacks'>): string {
  const o = { ...LOCAL_SWARM_DEFAULTS, ...options.swarm };
  return (
    `Set-up: \`LocalSwarm\` on loopback, every viewer its own Node process over node-datachannel WebRTC; ` +
    `ffmpeg test pattern ${String(o.width)}x${String(o.height)} at ${String(o.videoKbps)} kbps, ${String(o.chunkDurationMs)} ms chunks, ` +
    `${String(o.targetLatencyMs)} ms behind live, ${o.topology} of ${String(o.treeStripes)} stripe(s), root fanout ${String(o.rootFanout)}; ` +
    `eviction after ${String(TRACKER_DEFAULTS.evictionReports)} distinct reporters; each run lasts ${String(options.durationMs / 1000)} s from when every viewer process has joined the tracker. ` +
    'Placement: the polluters are started first and the honest viewers ' +
    `(one every ${String(o.peerStartIntervalMs)} ms) once the polluters have joined the tracker, so the polluters take the places next to the broadcaster, from which they relay to the honest viewers (the most children each had is below the table). ` +
    'Each attack run has its own baseline run (the same number of viewers, all honest) just before it; ' +
    "stalls and latency are the honest viewers' means, the baseline's over the viewers in the honest viewers' join positions. " +
    'Honest viewers report a fingerprint of every chunk they verify and send (`swarmcast peer --audit`); the lab compares it with what the broadcaster published.'
  );
}

/** What the report adds under the table in real mode: where each run's polluters were. */
export function realPlacementNotes(placements: readonly RealRunPlacement[]): string {
  const lines = [
    '## Placement and start-up',
    '',
    '| attack | most children of each polluter | honest viewers that never played | in the baseline | honest viewers removed by the tracker | in the baseline |',
    '|---|---|---|---|---|---|',
  ];
  for (const p of placements) {
    lines.push(
      `| ${p.attack} | ${p.polluterChildrenMax.join(', ')} | ${String(p.honestNotPlaying)} | ${String(p.baselineNotPlaying)} | ` +
        `${String(p.honestRemoved)} | ${String(p.baselineRemoved)} |`,
    );
  }
  lines.push('');
  return lines.join('\n');
}
