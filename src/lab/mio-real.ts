/**
 * The MioStream lab over real processes: each run of the grid is a `LocalSwarm` on this machine (a
 * tracker, an origin, an ffmpeg broadcaster of a synthetic stream and N viewer processes over
 * WebRTC on loopback) with the simulator's failure schedule (same seeds, same times, same
 * positions): a failure SIGKILLs the viewer process at the drawn position of the tracker's
 * topology order and starts a new viewer process in its place. The records have the simulator's
 * shape and slot accounting (`mioRecord`), so both modes' results compare line by line.
 *
 * What differs from the simulator: no upload or download caps (every link is on loopback, so the
 * lab's capacities are not applied); the 2-core machine's CPU is shared by every process; a
 * killed viewer's figures are its last report (sent every second), so up to one second of its
 * life is missing from them.
 */
import { cpus } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { DEFAULTS } from '../common/defaults.js';
import { errorMessage, SwarmcastError } from '../common/errors.js';
import type { Logger, LogLevel } from '../common/logger.js';
import { SeededRandom } from '../common/random.js';
import { deriveSeed } from '../sim/engine.js';
import { pipelineFigures } from './figures.js';
import { LocalSwarm, type LocalSwarmSummary } from './local-swarm.js';
import {
  MIO_ROOT_FANOUT,
  MIO_TREE_STRIPES,
  mioFailureSchedule,
  mioRecord,
  mioRunSpecs,
  type MioLabOptions,
  type MioProgress,
  type MioRunRecord,
  type MioRunSpec,
} from './mio.js';

/**
 * Picture of the synthetic source. The overlay carries bytes, not pixels: at the lab's bitrate a
 * small picture gives the same stream size for a third of a 1280×720 encode's CPU, which the
 * viewer processes need more.
 */
export const MIO_REAL_PICTURE = { width: 640, height: 360 } as const;

export interface MioRealComponents {
  logger: Logger;
}

export interface MioRealRunOptions {
  /** Log level of the viewer processes (they log to this process's stderr). @default 'error' */
  peerLogLevel?: LogLevel;
  /** Told about once a second while a run goes on. */
  onTick?: (tick: MioRealTick) => void;
  /** Ends the run early: the swarm is stopped and the run rejects. */
  signal?: AbortSignal;
}

/** Where a run stands, once a second. */
export interface MioRealTick {
  readonly spec: MioRunSpec;
  /** 'starting': waiting for every initial viewer to play; 'running': the run's clock goes. */
  readonly phase: 'starting' | 'running';
  /** Since the phase began. */
  readonly elapsedMs: number;
  readonly durationMs: number;
  readonly viewersAlive: number;
  readonly failures: number;
}

/** One real run: its record and what only real mode has to say about it. */
export interface MioRealRun {
  readonly record: MioRunRecord;
  readonly summary: LocalSwarmSummary;
  /** Indices (in `summary.peers`) of the viewers started in place of a killed one. */
  readonly replacements: readonly number[];
  /** Scheduled failures that killed nothing: no listed viewer had a known process. */
  readonly failuresMissed: number;
  /**
   * Failures whose drawn victim had not reported its tracker id yet (a process reports after its
   * first second), so the nearest viewer in the order that had was failed instead.
   */
  readonly failuresMoved: number;
  /** Mean over viewer processes of the share of one core each used. */
  readonly cpuPerViewerPct: number | null;
  /** From the broadcaster's start until every initial viewer played its first chunk. */
  readonly startupMs: number;
  /**
   * Share of the whole machine's CPU time that was busy while the run's clock went (every
   * process on the machine, not only the swarm's).
   */
  readonly machineCpuPct: number;
  /** The whole run: startup, `durationMs` and stopping. */
  readonly wallMs: number;
}

const TICK_MS = 1000;
/** How often the startup checks whether every initial viewer plays. */
const STARTUP_POLL_MS = 200;
/**
 * Longest startup before a run gives up: every viewer is a Node process that needs about a
 * second of CPU to start, so a swarm that is not playing by then is more than the machine runs.
 */
export const MIO_REAL_STARTUP_TIMEOUT_MS = 60_000;

/**
 * Runs one grid cell and rep over real processes. Startup: the broadcaster starts, the initial
 * viewer processes start over `joinWindowMs`, and the run waits until every one of them plays
 * (processes take far longer to start than simulated viewers to join, the more so the more of
 * them start at once). Then the run's clock starts: failures follow `mioFailureSchedule` and the
 * swarm stops `durationMs` later. Every process is stopped before this returns or rejects.
 */
export async function runMioRealOnce(
  components: MioRealComponents,
  options: MioLabOptions,
  spec: MioRunSpec,
  run: MioRealRunOptions = {},
): Promise<MioRealRun> {
  const swarm = new LocalSwarm(
    { logger: components.logger },
    {
      peers: spec.peers,
      topology: spec.topology,
      treeStripes: MIO_TREE_STRIPES,
      rootFanout: MIO_ROOT_FANOUT,
      ...MIO_REAL_PICTURE,
      videoKbps: options.bitrateKbps,
      chunkDurationMs: options.chunkDurationMs,
      targetLatencyMs: options.targetLatencyMs,
      peerLogLevel: run.peerLogLevel ?? 'error',
      peerStartIntervalMs: options.joinWindowMs / spec.peers,
    },
  );
  const broadcasterFailed = new AbortController();
  swarm.on('swarm:error', ({ error }) => {
    broadcasterFailed.abort(error);
  });
  const signal =
    run.signal === undefined
      ? broadcasterFailed.signal
      : AbortSignal.any([run.signal, broadcasterFailed.signal]);
  // A replacement's slot is its victim's; the initial viewers own the slot of their index.
  const slotOf = new Map<number, number>();
  const replacements: number[] = [];
  let failures = 0;
  let failuresMissed = 0;
  let failuresMoved = 0;
  const startedAt = performance.now();
  let phase: MioRealTick['phase'] = 'starting';
  let phaseAt = startedAt;
  const elapsedMs = (): number => performance.now() - phaseAt;
  const ticker = setInterval(() => {
    run.onTick?.({
      spec,
      phase,
      elapsedMs: elapsedMs(),
      durationMs: options.durationMs,
      viewersAlive: swarm.peers().filter((p) => p.alive).length,
      failures,
    });
  }, TICK_MS);
  let cpuBefore = machineCpu();
  let summary: LocalSwarmSummary;
  try {
    await swarm.start();
    await untilAllPlay(swarm, spec.peers, signal);
    phase = 'running';
    phaseAt = performance.now();
    cpuBefore = machineCpu();
    const random = new SeededRandom(deriveSeed(spec.seed, 'failures'));
    for (const failure of mioFailureSchedule(options, spec, random)) {
      await sleep(Math.max(0, failure.atMs - elapsedMs()), undefined, { signal });
      const failed = swarm.replaceAt(failure.position, spec.peers);
      if (failed === undefined) {
        failuresMissed++;
        continue;
      }
      failures++;
      if (failed.moved) failuresMoved++;
      const { replaced } = failed;
      if (replaced.replacement !== undefined) {
        replacements.push(replaced.replacement);
        slotOf.set(replaced.replacement, slotOf.get(replaced.killed) ?? replaced.killed);
      }
    }
    await sleep(Math.max(0, options.durationMs - elapsedMs()), undefined, { signal });
  } catch (error) {
    // The broadcaster's error or the caller's reason rather than a bare AbortError.
    throw signal.aborted ? signal.reason : error;
  } finally {
    clearInterval(ticker);
    summary = await swarm.stop();
  }
  const viewers = summary.peers.flatMap((p) =>
    p.report === undefined ? [] : [{ index: p.index, stats: p.report.stats }],
  );
  const figures = pipelineFigures(summary);
  return {
    record: mioRecord(options, spec, viewers, figures, slotOf, failures),
    summary,
    replacements,
    failuresMissed,
    failuresMoved,
    cpuPerViewerPct: figures.cpuPerPeerPct,
    startupMs: phaseAt - startedAt,
    machineCpuPct: machineCpuPct(cpuBefore, machineCpu()),
    wallMs: performance.now() - startedAt,
  };
}

/** Resolves once the first `viewers` peers have each played a chunk; rejects after the timeout. */
async function untilAllPlay(
  swarm: LocalSwarm,
  viewers: number,
  signal: AbortSignal,
): Promise<void> {
  const deadline = performance.now() + MIO_REAL_STARTUP_TIMEOUT_MS;
  for (;;) {
    const waiting = swarm
      .peers()
      .slice(0, viewers)
      .filter((p) => (p.report?.stats.playback?.startupMs ?? null) === null);
    if (waiting.length === 0) return;
    if (performance.now() > deadline) {
      const detail = waiting.map(({ index, report }) =>
        report === undefined
          ? `${String(index)}: no report`
          : `${String(index)} ${report.stats.peerId ?? '(not joined)'}: ${report.stats.playback?.state ?? 'no playback'} at seq ${String(report.stats.playback?.playheadSeq ?? null)}, ` +
            `${String(report.stats.chunksFromPeers)} chunks from peers, ${String(report.stats.chunksFromOrigin)} from the origin, ` +
            `parents [${report.parents.join(' ')}]`,
      );
      throw new SwarmcastError(
        'invalid-state',
        `${String(waiting.length)} of ${String(viewers)} viewers were not playing ${String(MIO_REAL_STARTUP_TIMEOUT_MS / 1000)} s after the start ` +
          `(${detail.join('; ')})`,
      );
    }
    await sleep(STARTUP_POLL_MS, undefined, { signal });
  }
}

/** A run of the grid that did not complete (its swarm never played, or the broadcaster failed). */
export interface MioRealRunFailure {
  readonly spec: MioRunSpec;
  readonly error: string;
}

export interface MioRealLab {
  readonly runs: readonly MioRealRun[];
  readonly failed: readonly MioRealRunFailure[];
}

/**
 * Runs the grid (`mioRunSpecs`) over real processes, one run at a time; `onProgress` is told
 * after each completed run. A run that fails is listed in `failed` and the grid goes on; an
 * abort through `run.signal` ends it (rejects).
 */
export async function runMioRealLab(
  components: MioRealComponents,
  options: MioLabOptions,
  run: MioRealRunOptions & { onProgress?: (progress: MioProgress) => void } = {},
): Promise<MioRealLab> {
  const specs = mioRunSpecs(options);
  const runs: MioRealRun[] = [];
  const failed: MioRealRunFailure[] = [];
  for (const spec of specs) {
    try {
      runs.push(await runMioRealOnce(components, options, spec, run));
    } catch (error) {
      if (run.signal?.aborted === true) throw error;
      components.logger.warn('a run failed', { cell: cellName(spec), error: errorMessage(error) });
      failed.push({ spec, error: errorMessage(error) });
      continue;
    }
    const last = runs[runs.length - 1];
    if (last !== undefined) {
      run.onProgress?.({
        done: runs.length + failed.length,
        total: specs.length,
        record: last.record,
      });
    }
  }
  return { runs, failed };
}

function cellName(
  cell: Pick<MioRunSpec, 'peers' | 'topology' | 'distribution' | 'rate' | 'rep'>,
): string {
  return `${String(cell.peers)} viewers ${cell.topology} ${cell.distribution} ${String(cell.rate)}/s rep ${String(cell.rep)}`;
}

/** REPORT.md's paragraphs on real mode: its set-up, what each run cost the machine, failed runs. */
export function mioRealNotes(options: MioLabOptions, lab: MioRealLab): string[] {
  const { runs, failed } = lab;
  const audioKbps = DEFAULTS.synthetic.audioKbps;
  const rows = runs.map((r) => {
    const x = r.record;
    const missing =
      (r.failuresMoved > 0 ? ` (${String(r.failuresMoved)} moved)` : '') +
      (r.failuresMissed > 0 ? ` (+${String(r.failuresMissed)} missed)` : '');
    return (
      `| ${cellName(x)} | ${String(r.summary.peers.length)} | ` +
      `${String(x.failures)}${missing} | ${String(x.chunksMissing)} | ${r.cpuPerViewerPct === null ? '—' : r.cpuPerViewerPct.toFixed(1)} | ` +
      `${(r.startupMs / 1000).toFixed(1)} | ${r.machineCpuPct.toFixed(0)} | ${(r.wallMs / 1000).toFixed(0)} |`
    );
  });
  return [
    `Real mode: every run is a whole swarm on this machine (${String(cpus().length)} cores): a tracker, an origin, an ffmpeg broadcaster ` +
      `(synthetic ${String(MIO_REAL_PICTURE.width)}×${String(MIO_REAL_PICTURE.height)} picture, ${String(options.bitrateKbps)} kbps video + ${String(audioKbps)} kbps audio, ` +
      `${String(options.chunkDurationMs)} ms chunks, viewers play ${String(options.targetLatencyMs)} ms behind live) and one Node process per viewer, ` +
      `linked by WebRTC data channels (node-datachannel) on 127.0.0.1. A failure is a SIGKILL of the viewer process at the drawn position and a new ` +
      `process started at once. The run's clock starts once every initial viewer plays (startup below: starting a Node process costs about ` +
      `a second of CPU), then failures and the end follow the simulator's schedule. There are no upload or download caps: the ` +
      `--upload-kbps and --download-kbps figures are not applied. A killed viewer's figures are its last report (one a second). ` +
      `A viewer's process is known by its tracker id from its first report, a second after it starts: a failure whose drawn victim is not known ` +
      `yet fails the nearest known viewer in the order instead ("moved"); "missed" failures found no known viewer. While replacements ` +
      `are still starting the order is shorter than the swarm's size: a drawn position is scaled to it (the simulator clips it, its newcomers join at once).`,
    [
      '| run | viewer processes | failures | chunks missing | CPU per viewer (% of a core) | startup (s) | machine CPU busy after startup (%) | wall (s) |',
      '|---|---|---|---|---|---|---|---|',
      ...rows,
    ].join('\n'),
    ...(failed.length === 0
      ? []
      : [
          `Runs that failed (not in the figures): ${failed.map((f) => `${cellName(f.spec)}: ${f.error}`).join('; ')}.`,
        ]),
  ];
}

interface CpuTimes {
  readonly busy: number;
  readonly total: number;
}

function machineCpu(): CpuTimes {
  let busy = 0;
  let total = 0;
  for (const { times } of cpus()) {
    const all = times.user + times.nice + times.sys + times.irq + times.idle;
    total += all;
    busy += all - times.idle;
  }
  return { busy, total };
}

function machineCpuPct(before: CpuTimes, after: CpuTimes): number {
  const total = after.total - before.total;
  return total > 0 ? (100 * (after.busy - before.busy)) / total : 0;
}
