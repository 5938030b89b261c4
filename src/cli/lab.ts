/**
 * `swarmcast lab mio`: the MioStream experiment grid on the simulator or over real processes,
 * with its report.
 */
import { availableParallelism } from 'node:os';
import { InvalidArgumentError, type Command } from 'commander';
import { errorMessage } from '../common/errors.js';
import type { LogLevel } from '../common/logger.js';
import { TOPOLOGY_KINDS, type TopologyKind } from '../protocol/tracker.js';
import { VICTIM_DISTRIBUTIONS, type VictimDistribution } from '../lab/failures.js';
import {
  MIO_LAB_DEFAULTS,
  mioRunSpecs,
  runMioLab,
  writeMioLab,
  type MioLabOptions,
  type MioProgress,
  type MioRunRecord,
} from '../lab/mio.js';
import { mioRealNotes, runMioRealLab, type MioRealTick } from '../lab/mio-real.js';
import { shutdownRtc } from '../transport/rtc.node.js';
import { registerLabAttackCommand } from './lab-attack.js';
import { parseLogLevel, stderrLogger } from './log.js';
import { parseDuration, parseNonNegativeInt, parsePositiveInt } from './options.js';
import { untilSignal } from './signals.js';

type LabMode = 'sim' | 'real';

interface LabMioCommandOptions {
  mode: LabMode;
  peers: number[];
  duration: number;
  reps: number;
  out: string;
  topologies: TopologyKind[];
  distributions: VictimDistribution[];
  rates: number[];
  seed: number;
  bitrateKbps: number;
  uploadKbps: number;
  downloadKbps: number;
  peerLogLevel: LogLevel;
  jobs: number;
}

/** Without a TTY, a progress line at most this often (and at the end). */
const PROGRESS_LINE_EVERY_MS = 10_000;
const BAR_WIDTH = 30;

function parseMode(value: string): LabMode {
  if (value === 'sim' || value === 'real') return value;
  throw new InvalidArgumentError('expected sim or real');
}

function listParser<T extends string>(allowed: readonly T[]): (value: string) => T[] {
  return (value) =>
    value.split(',').map((item) => {
      const found = allowed.find((a) => a === item.trim());
      if (found === undefined) throw new InvalidArgumentError(`expected ${allowed.join(',')}`);
      return found;
    });
}

function parsePeerCounts(value: string): number[] {
  return value.split(',').map((item) => parsePositiveInt(item.trim()));
}

function parseRates(value: string): number[] {
  return value.split(',').map((item) => {
    const n = Number(item.trim());
    if (item.trim() === '' || !Number.isFinite(n) || n < 0) {
      throw new InvalidArgumentError('expected failures per second ≥ 0, comma-separated');
    }
    return n;
  });
}

/**
 * A progress reporter on stderr: one line rewritten on a TTY, periodic lines otherwise. `tick`
 * shows where a long (real) run stands.
 */
function progressReporter(
  total: number,
  startedMs: number,
): { update: (p: MioProgress) => void; tick: (t: MioRealTick) => void; end: () => void } {
  const tty = process.stderr.isTTY;
  let lastLineMs = startedMs;
  let runsDone = 0;
  const text = (done: number): string => {
    const filled = Math.round((BAR_WIDTH * done) / total);
    const elapsedS = (performance.now() - startedMs) / 1000;
    const etaS = done > 0 ? (elapsedS / done) * (total - done) : Number.NaN;
    return (
      `[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${String(done)}/${String(total)} runs, ` +
      `${elapsedS.toFixed(0)} s elapsed${Number.isFinite(etaS) ? `, ~${etaS.toFixed(0)} s left` : ''}`
    );
  };
  const write = (line: string, force: boolean): void => {
    if (tty) {
      process.stderr.write(`\r\x1b[2K${line}`);
    } else if (force || performance.now() - lastLineMs >= PROGRESS_LINE_EVERY_MS) {
      lastLineMs = performance.now();
      process.stderr.write(`${line}\n`);
    }
  };
  return {
    update: ({ done, record }) => {
      runsDone = done;
      const detail = ` (last: ${record.topology} ${record.distribution} ${String(record.rate)}/s rep ${String(record.rep)}: ${String(record.stalledMsPerPeer)} ms stalled/peer)`;
      write(`${text(done)}${detail}`, done === total);
    },
    tick: ({ spec, phase, elapsedMs, durationMs, viewersAlive, failures }) => {
      const at =
        phase === 'starting'
          ? `starting for ${(elapsedMs / 1000).toFixed(0)} s`
          : `${(elapsedMs / 1000).toFixed(0)}/${String(durationMs / 1000)} s`;
      write(
        `${text(runsDone)} (now: ${spec.topology} ${spec.distribution} ${String(spec.rate)}/s rep ${String(spec.rep)}: ` +
          `${at}, ${String(viewersAlive)} viewers, ${String(failures)} failures)`,
        false,
      );
    },
    end: () => {
      if (tty) process.stderr.write('\n');
    },
  };
}

export function registerLabCommand(program: Command): void {
  const lab = program.command('lab').description('experiments that reproduce published results');
  registerLabAttackCommand(lab);
  lab
    .command('mio')
    .description(
      "MioStream's experiment (topologies × victim distributions × failure rates × reps) on the simulator or over real processes; writes results.json, SVG charts and REPORT.md",
    )
    .option(
      '--mode <mode>',
      'sim (the deterministic simulator) or real (a tracker, an origin, ffmpeg and one process per viewer over WebRTC on loopback; ' +
        'a failure SIGKILLs a viewer process and starts a new one; no upload/download caps, --bitrate-kbps is the video bitrate). ' +
        'A real run lasts its startup (until every viewer process plays, 10-30 s) plus --duration, and a 2-core machine runs about ' +
        '50 viewers without stalls (fewer with failures: each starts a process), so narrow the default grid, e.g. --peers 16 --reps 1 ' +
        '--topologies tree,mesh --distributions uniform --rates 0,1,2; the built CLI (npm run build; node dist/cli/index.js) starts ' +
        'its viewer processes for a third of the CPU tsx needs',
      parseMode,
      'sim',
    )
    .option(
      '--peers <list>',
      'viewers in the swarm; several comma-separated sizes add a scalability axis',
      parsePeerCounts,
      [...MIO_LAB_DEFAULTS.peerCounts],
    )
    .option(
      '--duration <s>',
      'seconds of stream per run',
      parseDuration,
      MIO_LAB_DEFAULTS.durationMs / 1000,
    )
    .option('--reps <n>', 'repetitions of each grid cell', parsePositiveInt, MIO_LAB_DEFAULTS.reps)
    .option('--out <dir>', 'directory to write the results into', 'lab-mio')
    .option(
      '--topologies <list>',
      `comma-separated, of ${TOPOLOGY_KINDS.join(',')}`,
      listParser(TOPOLOGY_KINDS),
      [...MIO_LAB_DEFAULTS.topologies],
    )
    .option(
      '--distributions <list>',
      `victim distributions, of ${VICTIM_DISTRIBUTIONS.join(',')}`,
      listParser(VICTIM_DISTRIBUTIONS),
      [...MIO_LAB_DEFAULTS.distributions],
    )
    .option('--rates <list>', 'failures per second, comma-separated', parseRates, [
      ...MIO_LAB_DEFAULTS.ratesPerS,
    ])
    .option('--seed <n>', 'base seed of every run', parseNonNegativeInt, MIO_LAB_DEFAULTS.seed)
    .option('--bitrate-kbps <n>', 'stream bitrate', parsePositiveInt, MIO_LAB_DEFAULTS.bitrateKbps)
    .option(
      '--upload-kbps <n>',
      "viewers' upload capacity (sim mode only)",
      parsePositiveInt,
      MIO_LAB_DEFAULTS.viewerUploadKbps,
    )
    .option(
      '--download-kbps <n>',
      "viewers' download capacity (sim mode only)",
      parsePositiveInt,
      MIO_LAB_DEFAULTS.viewerDownloadKbps,
    )
    .option(
      '--jobs <n>',
      'sim mode: runs simulated side by side, in worker threads (the results are the same for any number)',
      parsePositiveInt,
      availableParallelism(),
    )
    .option(
      '--peer-log-level <level>',
      'real mode: log level of the viewer processes (to stderr)',
      parseLogLevel,
      'error',
    )
    .action(async (flags: LabMioCommandOptions) => {
      const options: MioLabOptions = {
        ...MIO_LAB_DEFAULTS,
        topologies: flags.topologies,
        distributions: flags.distributions,
        ratesPerS: flags.rates,
        reps: flags.reps,
        peerCounts: flags.peers,
        durationMs: Math.round(flags.duration * 1000),
        seed: flags.seed,
        bitrateKbps: flags.bitrateKbps,
        viewerUploadKbps: flags.uploadKbps,
        viewerDownloadKbps: flags.downloadKbps,
      };
      const startedMs = performance.now();
      const progress = progressReporter(mioRunSpecs(options).length, startedMs);
      let records: MioRunRecord[];
      let notes: string[] | undefined;
      let failure: string | undefined;
      if (flags.mode === 'sim') {
        try {
          records = await runMioLab(options, progress.update, flags.jobs);
        } catch (error) {
          progress.end();
          process.stderr.write(`swarmcast lab mio: ${errorMessage(error)}\n`);
          process.exitCode = 1;
          return;
        }
      } else {
        // Ctrl-C or SIGTERM stops the run in progress, with every process it started.
        const interrupted = new AbortController();
        void untilSignal().then((signal) => {
          interrupted.abort(new Error(`interrupted by ${signal}`));
        });
        try {
          const lab = await runMioRealLab(
            { logger: stderrLogger('swarmcast:lab', 'warn') },
            options,
            {
              peerLogLevel: flags.peerLogLevel,
              onProgress: progress.update,
              onTick: progress.tick,
              signal: interrupted.signal,
            },
          );
          records = lab.runs.map((run) => run.record);
          notes = mioRealNotes(options, lab);
          if (lab.failed.length > 0) {
            failure = `${String(lab.failed.length)} run(s) failed; see REPORT.md`;
          }
        } catch (error) {
          progress.end();
          process.stderr.write(`swarmcast lab mio: ${errorMessage(error)}\n`);
          process.exitCode = 1;
          return;
        } finally {
          // The broadcaster's overlay node used WebRTC in this process.
          shutdownRtc();
        }
      }
      progress.end();
      const wallMs = performance.now() - startedMs;
      const command = [
        'swarmcast lab mio',
        `--mode ${flags.mode}`,
        `--peers ${flags.peers.join(',')}`,
        `--duration ${String(flags.duration)}`,
        `--reps ${String(flags.reps)}`,
        `--topologies ${flags.topologies.join(',')}`,
        `--distributions ${flags.distributions.join(',')}`,
        `--rates ${flags.rates.join(',')}`,
        `--seed ${String(flags.seed)}`,
        `--bitrate-kbps ${String(flags.bitrateKbps)}`,
        `--upload-kbps ${String(flags.uploadKbps)}`,
        `--download-kbps ${String(flags.downloadKbps)}`,
        `--out ${flags.out}`,
      ].join(' ');
      await writeMioLab(flags.out, records, {
        command,
        options,
        wallMs,
        mode: flags.mode,
        ...(notes === undefined ? {} : { notes }),
      });
      process.stdout.write(
        `${String(records.length)} runs in ${(wallMs / 1000).toFixed(1)} s; wrote ${flags.out}/results.json, charts and REPORT.md\n`,
      );
      if (failure !== undefined) {
        process.stderr.write(`swarmcast lab mio: ${failure}\n`);
        process.exitCode = 1;
      }
    });
}
