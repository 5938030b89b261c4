/**
 * The MioStream lab on the simulator: the paper's experiment (section 4: 83 peers, a 1-minute
 * stream of ~1.16 Mbps, failures at 0-5 per second, victims from three distributions, three
 * topologies) run as a grid of `SimSwarm` runs, one record per run.
 *
 * Peers replaced mid-run are counted per peer slot: the swarm has `peers` slots, a replacement
 * takes the slot of the viewer it replaces, and a slot's stalled time, stalls and received bytes
 * are the sums over every viewer that occupied it. "Per peer" figures are means over slots, so a
 * failure's cost to the newcomer (its stalls after startup) stays in the figures while the number
 * of peers averaged over stays the swarm's size.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { errorMessage, InvalidStateError, SwarmcastError } from '../common/errors.js';
import type { Random } from '../common/random.js';
import { mean, percentile, sum } from '../common/stats.js';
import type { PeerStats } from '../peer/core.js';
import { deriveSeed } from '../sim/engine.js';
import { simFigures } from '../sim/figures.js';
import { SimSwarm, type SimSwarmOptions } from '../sim/swarm.js';
import type { TopologyKind } from '../tracker/core/topology.js';
import type { TrackerSnapshot } from '../tracker/core/tracker-core.js';
import { mioCharts, recordsAtSize } from './charts.js';
import {
  failureSchedule,
  VICTIM_DISTRIBUTIONS,
  type ScheduledFailure,
  type VictimDistribution,
} from './failures.js';
import type { PipelineFigures } from './figures.js';

/**
 * The lab's tree is a multi-tree of two stripes: at the paper's 2 Mbps up for a 1.16 Mbps stream
 * a viewer cannot feed two full copies, but it can feed three half-streams (docs/TOPOLOGIES.md).
 */
export const MIO_TREE_STRIPES = 2;

/**
 * The broadcaster (10 Mbps up) feeds three nodes in each stripe of the lab's tree: a failure of
 * one of them cuts a third of a stripe rather than all of it, and the trees are a level shallower.
 */
export const MIO_ROOT_FANOUT = 3;

/** Machines in the paper's experiment. */
export const PAPER_PEERS = 83;

export interface MioLabOptions {
  topologies: readonly TopologyKind[];
  distributions: readonly VictimDistribution[];
  /** Failure rates of the grid, failures per second. */
  ratesPerS: readonly number[];
  /** Repetitions of each grid cell (each with its own seed). @default 4 */
  reps: number;
  /** Swarm sizes (viewers) of the grid; the paper's is 83 machines. @default [83] */
  peerCounts: readonly number[];
  /** Virtual length of each run. @default 60000 */
  durationMs: number;
  /** Base seed; each run's seed is derived from it and the run's grid cell and rep. @default 1 */
  seed: number;
  /** Stream bitrate (the paper's video: ~1.16 Mbps). @default 1160 */
  bitrateKbps: number;
  /** @default 2000 */
  viewerUploadKbps: number;
  /** @default 10000 */
  viewerDownloadKbps: number;
  /** Upload capacity of the origin (and the broadcaster's node). @default 10000 */
  serverUploadKbps: number;
  /** Initial viewers join over this window from 1 s into the run. @default 2000 */
  joinWindowMs: number;
  /** Failures start this long after the broadcaster starts (once every viewer joined). @default 5000 */
  failuresFromMs: number;
  /** Duration of one chunk, the unit peers exchange and verify. @default 125 */
  chunkDurationMs: number;
  /** Latency behind live at which viewers play. @default 3000 */
  targetLatencyMs: number;
}

export const MIO_LAB_DEFAULTS: MioLabOptions = {
  topologies: ['list', 'tree', 'mesh'],
  distributions: ['uniform', 'binomial', 'poisson'],
  ratesPerS: [0, 1, 2, 3, 4, 5],
  reps: 4,
  peerCounts: [PAPER_PEERS],
  durationMs: 60_000,
  seed: 1,
  bitrateKbps: 1160,
  viewerUploadKbps: 2000,
  viewerDownloadKbps: 10_000,
  serverUploadKbps: 10_000,
  joinWindowMs: 2000,
  failuresFromMs: 5000,
  // Eighth-second chunks: each hop stores and verifies a whole chunk before relaying it, so at
  // 2 Mbps up a hop costs ~72 ms per child instead of ~290 ms at the pipeline's 500 ms, and a
  // 7-hop multi-tree delivers a chunk ~1 s after capture (docs/results/mio/REPORT.md).
  chunkDurationMs: 125,
  // Three seconds behind live, as LL-DASH players: the second beyond delivery is what a repair
  // (detection, re-wiring, the missed chunks flowing down the new parent) has to work in.
  targetLatencyMs: 3000,
};

/** One run of the grid. "Per peer" = mean over the swarm's peer slots (see the module comment). */
export interface MioRunRecord {
  readonly topology: TopologyKind;
  readonly distribution: VictimDistribution;
  /** Failures per second. */
  readonly rate: number;
  readonly peers: number;
  readonly durationS: number;
  readonly rep: number;
  readonly seed: number;
  /** Failures injected (each replaced by a newcomer). */
  readonly failures: number;
  /** Mean over slots of the total stalled time after startup. */
  readonly stalledMsPerPeer: number;
  readonly stalledMsPerPeerP95: number;
  readonly stalledMsPerPeerMax: number;
  /** `stalledMsPerPeer` as a share of the run's length, in percent (the paper's 1.8 %). */
  readonly stalledPct: number;
  readonly stallsPerPeer: number;
  /** Total stalled time / number of stalls, all slots (0 without stalls). */
  readonly meanStallMs: number;
  /** Mean over slots of accepted chunk bytes (not bits) per second of session. */
  readonly goodputBpsPerPeer: number;
  /** Highest per-viewer 95th-percentile capture-to-play latency (null: nothing played). */
  readonly latencyP95Ms: number | null;
  readonly latencyP50Ms: number | null;
  /** 1 − bytes the origin and broadcaster sent / bytes viewers received. */
  readonly offload: number;
  /** Chunks players skipped (never arrived in time), all viewers. */
  readonly chunksMissing: number;
  readonly startupMsP95: number | null;
}

/** One grid cell and rep, before it runs. */
export interface MioRunSpec {
  readonly topology: TopologyKind;
  readonly distribution: VictimDistribution;
  readonly rate: number;
  readonly peers: number;
  readonly rep: number;
  readonly seed: number;
}

/** The runs of the grid in the order `runMioLab` runs them, each with its derived seed. */
export function mioRunSpecs(options: MioLabOptions): MioRunSpec[] {
  if (!Number.isInteger(options.reps) || options.reps < 1) {
    throw new SwarmcastError(
      'invalid-argument',
      `reps must be a positive integer: ${options.reps}`,
    );
  }
  const specs: MioRunSpec[] = [];
  for (const peers of options.peerCounts) {
    for (const topology of options.topologies) {
      for (const distribution of options.distributions) {
        for (const rate of options.ratesPerS) {
          for (let rep = 0; rep < options.reps; rep++) {
            const cell = `mio:${peers}:${topology}:${distribution}:${rate}:${rep}`;
            const seed = deriveSeed(options.seed, cell);
            specs.push({ topology, distribution, rate, peers, rep, seed });
          }
        }
      }
    }
  }
  return specs;
}

/** The lab's set-up of a simulated swarm (capacities, stream, chunks, latency, overlay). */
export type MioSwarmOptions = Pick<
  SimSwarmOptions,
  | 'bitrateKbps'
  | 'viewerUploadKbps'
  | 'viewerDownloadKbps'
  | 'serverUploadKbps'
  | 'joinWindowMs'
  | 'chunkDurationMs'
  | 'tracker'
  | 'peer'
>;

/**
 * The `SimSwarm` options of the lab's set-up with `topology` as the overlay (the tree as a
 * multi-tree of `MIO_TREE_STRIPES` stripes, `MIO_ROOT_FANOUT` nodes per stripe under the
 * broadcaster); the caller adds the seed, the swarm's size and the run's length.
 */
export function mioSwarmOptions(lab: MioLabOptions, topology: TopologyKind): MioSwarmOptions {
  return {
    bitrateKbps: lab.bitrateKbps,
    viewerUploadKbps: lab.viewerUploadKbps,
    viewerDownloadKbps: lab.viewerDownloadKbps,
    serverUploadKbps: lab.serverUploadKbps,
    joinWindowMs: lab.joinWindowMs,
    chunkDurationMs: lab.chunkDurationMs,
    tracker: { topology, treeStripes: MIO_TREE_STRIPES, rootFanout: MIO_ROOT_FANOUT },
    peer: { targetLatencyMs: lab.targetLatencyMs },
  };
}

/** Runs one grid cell and rep on the simulator and returns its record. */
export async function runMioOnce(options: MioLabOptions, spec: MioRunSpec): Promise<MioRunRecord> {
  const swarm = new SimSwarm(
    {},
    {
      ...mioSwarmOptions(options, spec.topology),
      seed: spec.seed,
      peers: spec.peers,
      durationMs: options.durationMs,
    },
  );
  // Every viewer's slot: initial viewers own theirs, a replacement inherits its victim's.
  const slotOf = new Map<number, number>();
  for (let i = 0; i < spec.peers; i++) slotOf.set(i, i);
  const schedule = mioFailureSchedule(options, spec, swarm.engine.random('failures'));
  let failures = 0;
  for (const failure of schedule) {
    swarm.engine.clock.setTimeout(() => {
      const victim = victimAt(swarm, failure.position);
      if (victim === undefined) return;
      failures++;
      swarm.failViewer(swarm.nowMs, victim, {
        replace: true,
        onReplaced: (index) => {
          slotOf.set(index, slotOf.get(victim) ?? victim);
        },
      });
    }, failure.atMs - swarm.nowMs);
  }
  const summary = await swarm.run();
  return mioRecord(options, spec, summary.peers, simFigures(summary), slotOf, failures);
}

/**
 * The failures of one run of the grid: from `failuresFromMs` to the end of the run, victims drawn
 * from `random` (the run's `failures` stream, so both modes fail the same positions at the same times).
 */
export function mioFailureSchedule(
  options: MioLabOptions,
  spec: MioRunSpec,
  random: Random,
): ScheduledFailure[] {
  return failureSchedule(random, {
    ratePerS: spec.rate,
    startMs: options.failuresFromMs,
    endMs: options.durationMs,
    viewers: spec.peers,
    distribution: spec.distribution,
  });
}

/** The live viewer at `position` in the topology order (see `victimCandidates`). */
function victimAt(swarm: SimSwarm, position: number): number | undefined {
  const id = victimCandidates(topologyOrder(swarm.snapshot()), position)[0];
  if (id === undefined) return undefined;
  return swarm.liveViewers().find((index) => swarm.viewer(index).stats().peerId === id);
}

/** Tracker ids of the viewers in the topology order: the snapshot's viewers, in arrival order. */
export function topologyOrder(snapshot: TrackerSnapshot): string[] {
  return (snapshot.streams[0]?.nodes ?? []).filter((n) => n.role === 'viewer').map((n) => n.id);
}

/**
 * The viewers of `order` nearest to `position` first: the one at `position` (clipped to the
 * order), then the one after it, the one before it, two after, and so on.
 */
export function victimCandidates(order: readonly string[], position: number): string[] {
  const at = Math.min(position, order.length - 1);
  const ids: string[] = [];
  for (let d = 0; ids.length < order.length; d++) {
    for (const i of d === 0 ? [at] : [at + d, at - d]) {
      const id = order[i];
      if (id !== undefined) ids.push(id);
    }
  }
  return ids;
}

/** One viewer's counters at the end of a run (or when it failed), by its index in the run. */
export interface MioViewerResult {
  readonly index: number;
  readonly stats: PeerStats;
}

/**
 * The record of one run from its viewers' counters and the run's figures. `slotOf` maps a
 * viewer's index to its slot (a replacement's is its victim's); viewers missing from it own the
 * slot of their index.
 */
export function mioRecord(
  options: MioLabOptions,
  spec: MioRunSpec,
  viewers: readonly MioViewerResult[],
  figures: PipelineFigures,
  slotOf: ReadonlyMap<number, number>,
  failures: number,
): MioRunRecord {
  const slots = Array.from({ length: spec.peers }, () => ({
    stalledMs: 0,
    stalls: 0,
    bytes: 0,
    sessionMs: 0,
  }));
  for (const peer of viewers) {
    const slot = slots[slotOf.get(peer.index) ?? peer.index];
    if (slot === undefined) continue;
    slot.stalledMs += peer.stats.playback?.stalledMs ?? 0;
    slot.stalls += peer.stats.playback?.stalls ?? 0;
    // `PeerStats.goodputBps` is in bits per second (see `PeerCore.stats()`); the paper's is bytes.
    slot.bytes += (peer.stats.goodputBps * peer.stats.sessionMs) / 8000;
    slot.sessionMs += peer.stats.sessionMs;
  }
  const stalled = slots.map((s) => s.stalledMs);
  const stalls = sum(slots.map((s) => s.stalls));
  const stalledMsPerPeer = mean(stalled);
  return {
    topology: spec.topology,
    distribution: spec.distribution,
    rate: spec.rate,
    peers: spec.peers,
    durationS: options.durationMs / 1000,
    rep: spec.rep,
    seed: spec.seed,
    failures,
    stalledMsPerPeer: round(stalledMsPerPeer),
    stalledMsPerPeerP95: round(percentile(stalled, 95)),
    stalledMsPerPeerMax: round(Math.max(...stalled)),
    stalledPct: round((100 * stalledMsPerPeer) / options.durationMs, 3),
    stallsPerPeer: round(stalls / spec.peers, 3),
    meanStallMs: stalls > 0 ? round(sum(stalled) / stalls) : 0,
    goodputBpsPerPeer: round(
      mean(slots.map((s) => (s.sessionMs > 0 ? (1000 * s.bytes) / s.sessionMs : 0))),
    ),
    latencyP95Ms: figures.latencyP95Ms === null ? null : round(figures.latencyP95Ms),
    latencyP50Ms: figures.latencyP50Ms === null ? null : round(figures.latencyP50Ms),
    offload: round(figures.offload, 4),
    chunksMissing: figures.chunksMissing,
    startupMsP95: figures.startupMsP95 === null ? null : round(figures.startupMsP95),
  };
}

function round(value: number, decimals = 1): number {
  const f = 10 ** decimals;
  return Math.round(value * f) / f;
}

/** Progress of a lab run, after each run completes. */
export interface MioProgress {
  readonly done: number;
  readonly total: number;
  readonly record: MioRunRecord;
}

/** A grid run sent to a worker thread (`mio-worker.ts`); `index` is its place in the grid. */
export interface MioWorkerTask {
  readonly index: number;
  readonly options: MioLabOptions;
  readonly spec: MioRunSpec;
}

/** A worker's answer to a `MioWorkerTask`: the run's record, or why it failed. */
export type MioWorkerReply =
  | { readonly index: number; readonly record: MioRunRecord }
  | { readonly index: number; readonly error: string };

/**
 * Runs the whole grid (topologies × distributions × rates × reps) and returns one record per
 * run, in the grid's order. With `jobs` above 1, that many worker threads run the runs side by
 * side (each run is seeded by its spec alone, so the records are those of a one-by-one run);
 * `onProgress` is told after each run, in the order they finish. The first run that fails ends
 * the lab with an error naming it, and every worker is stopped.
 */
export async function runMioLab(
  options: MioLabOptions,
  onProgress?: (progress: MioProgress) => void,
  jobs = 1,
): Promise<MioRunRecord[]> {
  if (!Number.isInteger(jobs) || jobs < 1) {
    throw new SwarmcastError('invalid-argument', `jobs must be a positive integer: ${jobs}`);
  }
  const specs = mioRunSpecs(options);
  if (jobs === 1 || specs.length < 2) {
    const records: MioRunRecord[] = [];
    for (const spec of specs) {
      const record = await runMioOnce(options, spec);
      records.push(record);
      onProgress?.({ done: records.length, total: specs.length, record });
    }
    return records;
  }
  return runInWorkers(options, specs, Math.min(jobs, specs.length), onProgress);
}

/**
 * A worker thread running `mio-worker`. From source (run through tsx, whose loader a worker
 * thread does not inherit on Node 20), the thread registers tsx's loader before loading it.
 */
function startWorker(): Worker {
  if (!import.meta.url.endsWith('.ts'))
    return new Worker(new URL('./mio-worker.js', import.meta.url));
  const url = JSON.stringify(new URL('./mio-worker.ts', import.meta.url).href);
  return new Worker(
    `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${url}); });`,
    { eval: true },
  );
}

async function runInWorkers(
  options: MioLabOptions,
  specs: readonly MioRunSpec[],
  jobs: number,
  onProgress: ((progress: MioProgress) => void) | undefined,
): Promise<MioRunRecord[]> {
  const records: (MioRunRecord | undefined)[] = specs.map(() => undefined);
  const workers: Worker[] = [];
  let next = 0;
  let done = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      const fail = (index: number, reason: string): void => {
        const spec = specs[index];
        const run =
          spec === undefined
            ? 'a run of the grid'
            : `the run ${spec.topology} ${spec.distribution} ${spec.rate}/s rep ${spec.rep} (seed ${spec.seed})`;
        reject(new InvalidStateError(`${run} failed: ${reason}`));
      };
      const start = (worker: Worker, current: { index: number }): void => {
        const index = next++;
        const spec = specs[index];
        current.index = spec === undefined ? -1 : index;
        if (spec !== undefined)
          worker.postMessage({ index, options, spec } satisfies MioWorkerTask);
      };
      for (let i = 0; i < jobs; i++) {
        const worker = startWorker();
        workers.push(worker);
        const current = { index: -1 };
        worker.on('message', (reply: MioWorkerReply) => {
          if ('error' in reply) {
            fail(reply.index, reply.error);
            return;
          }
          current.index = -1;
          records[reply.index] = reply.record;
          done++;
          try {
            onProgress?.({ done, total: specs.length, record: reply.record });
          } catch (error) {
            reject(error instanceof Error ? error : new Error(errorMessage(error)));
            return;
          }
          if (done === specs.length) resolve();
          else start(worker, current);
        });
        worker.on('error', (error) => {
          fail(current.index, errorMessage(error));
        });
        worker.on('exit', (code) => {
          if (current.index >= 0) fail(current.index, `its worker thread exited (code ${code})`);
        });
        start(worker, current);
      }
    });
  } finally {
    await Promise.all(workers.map((worker) => worker.terminate()));
  }
  return records.map((record, i) => {
    if (record === undefined) throw new InvalidStateError(`run ${i} of the grid has no record`);
    return record;
  });
}

/** The paper's mean stalled time per peer (ms) at 0 and 5 failures/s, section 4.4. */
export const PAPER_STALLED_MS: Record<
  TopologyKind,
  { readonly rate0: number; readonly rate5: number }
> = {
  list: { rate0: 2807, rate5: 7325 },
  tree: { rate0: 169, rate5: 2410 },
  mesh: { rate0: 169, rate5: 1093 },
};
/** The paper's stalled playback share of play time, percent. */
export const PAPER_STALLED_PCT = 1.8;
/** Issue 3's goal for tree and mesh at 5 failures/s: mean stalled time per peer at most this. */
export const GOAL_STALLED_MS_AT_RATE5 = 100;

export interface MioReportContext {
  /** The command line that produced the records. */
  readonly command: string;
  readonly options: MioLabOptions;
  /** Wall time of the whole grid. */
  readonly wallMs: number;
  /** 'sim': the simulator; 'real': real processes over WebRTC on loopback (`mio-real.ts`). */
  readonly mode: 'sim' | 'real';
  /** Paragraphs on the mode's set-up, printed after the common one. */
  readonly notes?: readonly string[];
}

/** REPORT.md: the set-up, our figures beside the paper's, and which goals are met. */
export function mioReport(records: readonly MioRunRecord[], context: MioReportContext): string {
  const o = context.options;
  // The tables compare with the paper at its size (83 viewers) when it was run, else the largest.
  const { size, records: sized } = recordsAtSize(records, PAPER_PEERS);
  const cell = (t: TopologyKind, d: VictimDistribution | null, rate: number): MioRunRecord[] =>
    sized.filter(
      (r) => r.topology === t && r.rate === rate && (d === null || r.distribution === d),
    );
  const meanOf = (rs: readonly MioRunRecord[], key: 'stalledMsPerPeer' | 'stallsPerPeer') =>
    rs.length === 0 ? '—' : String(round(mean(rs.map((r) => r[key]))));
  const lines = [
    `# MioStream lab (${context.mode === 'sim' ? 'simulator' : 'real processes over WebRTC'})`,
    '',
    'Made by:',
    '',
    '```',
    context.command,
    '```',
    '',
    `Set-up: ${o.peerCounts.join(', ')} viewers, ${String(o.durationMs / 1000)} s of stream at ${String(o.bitrateKbps)} kbps in ${String(o.chunkDurationMs)} ms chunks played ${String(o.targetLatencyMs)} ms behind live, tree of ${String(MIO_TREE_STRIPES)} stripes, ` +
      (context.mode === 'sim'
        ? `viewers ${String(o.viewerDownloadKbps)} kbps down / ${String(o.viewerUploadKbps)} kbps up, origin ${String(o.serverUploadKbps)} kbps up; ` +
          `initial viewers join over ${String(o.joinWindowMs / 1000)} s from 1 s; `
        : `no upload or download caps (every link is on loopback); initial viewers start over ${String(o.joinWindowMs / 1000)} s; `) +
      `failures from ${String(o.failuresFromMs / 1000)} s to the end, ` +
      `evenly spaced at the given rate, each victim (by position in the tracker's topology order) replaced at once by a newcomer. ` +
      `${String(o.reps)} rep(s) per cell, base seed ${String(o.seed)}, ${String(records.length)} runs, wall time ${String(round(context.wallMs / 1000))} s.`,
    '',
    ...(context.notes ?? []).flatMap((note) => [note, '']),
    '"Per peer" is per peer slot: a newcomer takes the slot of the viewer it replaces and a slot sums the stalls of all its occupants; figures are means over slots and reps.',
    '',
    `## Mean stalled time per peer (ms) with ${String(size)} viewers, ours beside the paper`,
    '',
    '| topology | failures/s | uniform | binomial | poisson | all | stalls/peer (all) | stalled % of play | paper |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  const topologies = [...new Set(sized.map((r) => r.topology))];
  const rates = [...new Set(sized.map((r) => r.rate))].sort((a, b) => a - b);
  for (const t of topologies) {
    for (const rate of rates) {
      const all = cell(t, null, rate);
      const paper =
        rate === 0 ? PAPER_STALLED_MS[t].rate0 : rate === 5 ? PAPER_STALLED_MS[t].rate5 : null;
      lines.push(
        `| ${t} | ${String(rate)} | ${VICTIM_DISTRIBUTIONS.map((d) => meanOf(cell(t, d, rate), 'stalledMsPerPeer')).join(' | ')} | ` +
          `${meanOf(all, 'stalledMsPerPeer')} | ${meanOf(all, 'stallsPerPeer')} | ` +
          `${String(round(mean(all.map((r) => r.stalledPct)), 2))} | ${paper === null ? '—' : String(paper)} |`,
      );
    }
  }
  lines.push(
    '',
    `The paper (section 4.4, 83 machines, 60 s, 0 to 5 failures/s): ${(
      ['list', 'tree', 'mesh'] as const
    )
      .map(
        (t) => `${t} ${String(PAPER_STALLED_MS[t].rate0)}-${String(PAPER_STALLED_MS[t].rate5)} ms`,
      )
      .join(
        ', ',
      )} mean stalled time per peer; stalled playback ${String(PAPER_STALLED_PCT)} % of play time.`,
    '',
  );
  lines.push('## Goals (issue 3)', '');
  for (const t of ['tree', 'mesh'] as const) {
    for (const [rate, goal] of [
      [5, GOAL_STALLED_MS_AT_RATE5],
      [0, 0],
    ] as const) {
      const rs = cell(t, null, rate);
      if (rs.length === 0) {
        lines.push(`- ${t} at ${String(rate)} failures/s ≤ ${String(goal)} ms: not run.`);
        continue;
      }
      // The goal holds for every distribution: judge by the worst one.
      const worst = Math.max(
        ...[...new Set(rs.map((r) => r.distribution))].map((d) =>
          mean(cell(t, d, rate).map((r) => r.stalledMsPerPeer)),
        ),
      );
      lines.push(
        `- ${t} at ${String(rate)} failures/s, mean stalled time per peer ≤ ${String(goal)} ms (worst distribution): ` +
          `${String(round(worst))} ms — ${worst <= goal ? 'met' : 'NOT met'}.`,
      );
    }
  }
  lines.push(
    '',
    '## Charts',
    '',
    'fig05-fig10: stalled time and stalls per topology against failure rate (a line per distribution); fig11a/b: per topology; fig12: goodput per topology.',
    '',
  );
  return lines.join('\n');
}

/** Writes `results.json`, the charts and `REPORT.md` into `outDir` (created if missing). */
export async function writeMioLab(
  outDir: string,
  records: readonly MioRunRecord[],
  context: MioReportContext,
): Promise<void> {
  await mkdir(outDir, { recursive: true });
  await writeFile(join(outDir, 'results.json'), JSON.stringify(records, null, 2) + '\n');
  for (const chart of mioCharts(records, PAPER_PEERS))
    await writeFile(join(outDir, chart.file), chart.svg);
  await writeFile(join(outDir, 'REPORT.md'), mioReport(records, context));
}
