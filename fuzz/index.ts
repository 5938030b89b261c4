/**
 * `npm run fuzz [-- --runs N] [--decoder NAME]... [--seed N] [--json FILE]`: property-based
 * fuzzing of every decoder of untrusted input (`decoders.ts`). Each decoder runs in its own
 * process (`child.ts`) with a bounded heap; one that makes no progress for a while is killed and
 * reported as a hang, with the input it hung on. Prints, per decoder, the inputs, the time, the
 * failures and the peak memory; exits 1 if anything failed.
 *
 * `--input I` (with one `--decoder` and the `--seed` of a run) prints input I of that run whole.
 */
import { fork } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Table from 'cli-table3';
import { Command, InvalidArgumentError } from 'commander';
import { parseNonNegativeInt, parsePositiveInt } from '../src/cli/options.js';
import type { ChildMessage } from './child.js';
import { DECODERS, type DecoderFuzz } from './decoders.js';
import { fuzzInput, mib, randomSeed, shorten, type FuzzReport } from './run.js';

/** Inputs per decoder by default (issue 4: at least 100,000). */
const DEFAULT_RUNS = 100_000;
/** A child still preparing its inputs (ffmpeg makes the fMP4 seed) after this long is hung. */
const PREPARE_TIMEOUT_MS = 60_000;
/**
 * A child that reports no progress for this long (it does about once a second) is hung. Longer
 * than an input may take to be reported slow by the child itself (twice over its time bound).
 */
const NO_PROGRESS_MS = 60_000;
/** Heap limit of each child: a decoder leaking beyond it crashes the child, a failure. */
const CHILD_HEAP_MB = 1024;
const WATCHDOG_MS = 500;
/** Lines of a crashed child's stderr kept for the report. */
const STDERR_TAIL_LINES = 20;

const CHILD = fileURLToPath(new URL('./child.ts', import.meta.url));

interface FuzzCliOptions {
  runs: number;
  decoder: string[];
  seed?: number;
  input?: number;
  json?: string;
}

/** How a child ended: with its report, or without one (hung, or died) after some inputs. */
type ChildEnd =
  | { readonly report: FuzzReport }
  | { readonly report?: undefined; readonly inputs: number; readonly why: string };

function collectDecoder(name: string, previous: string[]): string[] {
  if (!DECODERS.some((d) => d.name === name)) {
    throw new InvalidArgumentError(`one of ${DECODERS.map((d) => d.name).join(', ')}`);
  }
  return [...previous, name];
}

/** Forks one decoder's run and watches it until it ends, is hung, or dies. */
function watchChild(args: readonly string[]): Promise<ChildEnd> {
  const [name] = args;
  return new Promise((resolve) => {
    const child = fork(CHILD, args, {
      execArgv: [...process.execArgv, `--max-old-space-size=${CHILD_HEAP_MB}`],
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    });
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (text: string) => {
      stderr = (stderr + text).split('\n').slice(-STDERR_TAIL_LINES).join('\n');
    });
    let report: FuzzReport | undefined;
    let inputs: number | undefined;
    let lastMessage = Date.now();
    let hung: string | undefined;
    child.on('message', (message: ChildMessage) => {
      lastMessage = Date.now();
      if (message.kind === 'report') report = message.report;
      else {
        inputs = message.inputs;
        if (process.stderr.isTTY) process.stderr.write(`\rfuzz: ${name}: ${inputs} inputs`);
      }
    });
    const watchdog = setInterval(() => {
      const limit = inputs === undefined ? PREPARE_TIMEOUT_MS : NO_PROGRESS_MS;
      if (Date.now() - lastMessage <= limit) return;
      hung =
        inputs === undefined
          ? `no inputs ready after ${limit / 1000} s`
          : `hang: no progress for ${limit / 1000} s`;
      child.kill('SIGKILL');
    }, WATCHDOG_MS);
    child.on('exit', (code, signal) => {
      clearInterval(watchdog);
      if (report !== undefined) {
        resolve({ report });
        return;
      }
      const how = signal === null ? `exit code ${code}` : `signal ${signal}`;
      resolve({ inputs: inputs ?? 0, why: hung ?? `the run died (${how}):\n${stderr.trim()}` });
    });
  });
}

/** Runs one decoder in a child; a child that hung or died gets a report naming its last input. */
async function runDecoder(decoder: DecoderFuzz, runs: number, seed: number): Promise<FuzzReport> {
  const started = Date.now();
  const dir = await mkdtemp(join(tmpdir(), 'swarmcast-fuzz-'));
  try {
    const indexFile = join(dir, 'input-index');
    const end = await watchChild([decoder.name, String(runs), String(seed), indexFile]);
    if (end.report !== undefined) return end.report;
    const ms = Date.now() - started;
    const index = await readFile(indexFile).then(
      (bytes) =>
        bytes.byteLength === 4
          ? new DataView(bytes.buffer, bytes.byteOffset).getUint32(0)
          : undefined,
      () => undefined,
    );
    const input =
      index === undefined
        ? 'unknown'
        : `#${index}: ${shorten(await fuzzInput(decoder, seed, index))}\n` +
          `(whole: --decoder ${decoder.name} --seed ${seed} --input ${index})`;
    return {
      decoder: decoder.name,
      seed,
      inputs: end.inputs,
      ms,
      failures: 1,
      peakHeapBytes: 0,
      peakArrayBuffersBytes: 0,
      growthBytes: 0,
      failure: `${end.why}\ninput ${input}`,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function printReports(reports: readonly FuzzReport[]): void {
  const table = new Table({
    head: [
      'decoder',
      'inputs',
      'time s',
      'inputs/s',
      'failures',
      'peak heap MiB',
      'peak buffers MiB',
      'growth MiB',
    ],
    style: { head: [], border: [] },
  });
  for (const r of reports) {
    table.push([
      r.decoder,
      r.inputs,
      (r.ms / 1000).toFixed(1),
      r.ms === 0 ? '-' : Math.round((r.inputs * 1000) / r.ms),
      r.failures,
      mib(r.peakHeapBytes),
      mib(r.peakArrayBuffersBytes),
      mib(r.growthBytes),
    ]);
  }
  process.stdout.write(`${table.toString()}\n`);
  for (const r of reports) {
    if (r.failure !== undefined) process.stdout.write(`\n${r.decoder} FAILED: ${r.failure}\n`);
  }
}

const program = new Command('fuzz')
  .description('fuzz every decoder of untrusted input with random and damaged valid encodings')
  .option('--runs <n>', 'inputs per decoder', parsePositiveInt, DEFAULT_RUNS)
  .option(
    '--decoder <name>',
    `only this decoder, repeatable (${DECODERS.map((d) => d.name).join(', ')})`,
    collectDecoder,
    [],
  )
  .option('--seed <n>', 'fast-check seed (default: a random one, printed)', parseNonNegativeInt)
  .option(
    '--input <i>',
    'print input i of the run with --seed of one --decoder',
    parseNonNegativeInt,
  )
  .option('--json <file>', 'also write the reports as JSON to this file')
  .action(async (options: FuzzCliOptions) => {
    const seed = options.seed ?? randomSeed();
    const decoders =
      options.decoder.length === 0
        ? DECODERS
        : DECODERS.filter((d) => options.decoder.includes(d.name));
    if (options.input !== undefined) {
      const [decoder] = decoders;
      if (decoders.length !== 1 || decoder === undefined || options.seed === undefined) {
        process.stderr.write('fuzz: --input needs one --decoder and the --seed of the run\n');
        process.exitCode = 2;
        return;
      }
      process.stdout.write(`${await fuzzInput(decoder, seed, options.input)}\n`);
      return;
    }
    process.stderr.write(`fuzz: ${options.runs} inputs per decoder, seed ${seed}\n`);
    const reports: FuzzReport[] = [];
    for (const decoder of decoders) {
      const report = await runDecoder(decoder, options.runs, seed);
      const seconds = (report.ms / 1000).toFixed(1);
      process.stderr.write(
        `${process.stderr.isTTY ? '\r\x1b[K' : ''}fuzz: ${decoder.name}: ` +
          `${report.inputs} inputs in ${seconds} s, ${report.failures} failures\n`,
      );
      reports.push(report);
    }
    printReports(reports);
    if (options.json !== undefined) {
      const out = reports.map((r) => ({
        ...r,
        target: DECODERS.find((d) => d.name === r.decoder)?.target,
      }));
      await writeFile(options.json, JSON.stringify(out, null, 2) + '\n');
      process.stdout.write(`wrote ${options.json}\n`);
    }
    if (reports.some((r) => r.failures > 0)) process.exitCode = 1;
  });

await program.parseAsync(process.argv);
