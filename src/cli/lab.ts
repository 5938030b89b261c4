/** `swarmcast lab mio`: the MioStream experiment grid on the simulator, with its report. */
import { InvalidArgumentError, type Command } from 'commander';
import { TOPOLOGY_KINDS, type TopologyKind } from '../protocol/tracker.js';
import { VICTIM_DISTRIBUTIONS, type VictimDistribution } from '../lab/failures.js';
import {
  MIO_LAB_DEFAULTS,
  mioRunSpecs,
  runMioLab,
  writeMioLab,
  type MioLabOptions,
  type MioProgress,
} from '../lab/mio.js';
import { parseDuration, parseNonNegativeInt, parsePositiveInt } from './options.js';

interface LabMioCommandOptions {
  mode: 'sim';
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
}

/** Without a TTY, a progress line at most this often (and at the end). */
const PROGRESS_LINE_EVERY_MS = 10_000;
const BAR_WIDTH = 30;

function parseMode(value: string): 'sim' {
  if (value === 'sim') return value;
  if (value === 'real') {
    throw new InvalidArgumentError(
      'real mode (real processes over WebRTC) is not implemented yet; only "sim" is available',
    );
  }
  throw new InvalidArgumentError('expected sim');
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

/** A progress reporter on stderr: one line rewritten on a TTY, periodic lines otherwise. */
function progressReporter(
  total: number,
  startedMs: number,
): { update: (p: MioProgress) => void; end: () => void } {
  const tty = process.stderr.isTTY;
  let lastLineMs = startedMs;
  const text = (done: number): string => {
    const filled = Math.round((BAR_WIDTH * done) / total);
    const elapsedS = (performance.now() - startedMs) / 1000;
    const etaS = done > 0 ? (elapsedS / done) * (total - done) : Number.NaN;
    return (
      `[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${String(done)}/${String(total)} runs, ` +
      `${elapsedS.toFixed(0)} s elapsed${Number.isFinite(etaS) ? `, ~${etaS.toFixed(0)} s left` : ''}`
    );
  };
  return {
    update: ({ done, record }) => {
      const detail = ` (last: ${record.topology} ${record.distribution} ${String(record.rate)}/s rep ${String(record.rep)}: ${String(record.stalledMsPerPeer)} ms stalled/peer)`;
      if (tty) {
        process.stderr.write(`\r\x1b[2K${text(done)}${detail}`);
      } else if (done === total || performance.now() - lastLineMs >= PROGRESS_LINE_EVERY_MS) {
        lastLineMs = performance.now();
        process.stderr.write(`${text(done)}${detail}\n`);
      }
    },
    end: () => {
      if (tty) process.stderr.write('\n');
    },
  };
}

export function registerLabCommand(program: Command): void {
  const lab = program.command('lab').description('experiments that reproduce published results');
  lab
    .command('mio')
    .description(
      "MioStream's experiment (topologies × victim distributions × failure rates × reps) on the simulator; writes results.json, SVG charts and REPORT.md",
    )
    .option(
      '--mode <mode>',
      'sim (the deterministic simulator); real mode (processes over WebRTC) is not implemented yet',
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
      "viewers' upload capacity",
      parsePositiveInt,
      MIO_LAB_DEFAULTS.viewerUploadKbps,
    )
    .option(
      '--download-kbps <n>',
      "viewers' download capacity",
      parsePositiveInt,
      MIO_LAB_DEFAULTS.viewerDownloadKbps,
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
      const records = await runMioLab(options, progress.update);
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
      await writeMioLab(flags.out, records, { command, options, wallMs });
      process.stdout.write(
        `${String(records.length)} runs in ${(wallMs / 1000).toFixed(1)} s; wrote ${flags.out}/results.json, charts and REPORT.md\n`,
      );
    });
}
