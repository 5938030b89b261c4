/**
 * Benchmarks: `npm run bench -- <name> [options]`. Each prints its figures; `--json FILE` also
 * writes them.
 *
 *   pipeline  the whole live pipeline over real WebRTC (broadcaster, origin, tracker, N peers)
 *   sim-scale the simulator's speed: N simulated viewers for D seconds of stream
 *   crypto    SHA-256, HMAC and Ed25519 per chunk, and the CPU share of verifying every chunk
 *   integrity MioStream's HMAC at thresholds 0..1 against Ed25519 on the real pipeline: stalls,
 *             CPU and checks per chunk (the paper's figures 13-14)
 */
import { writeFile } from 'node:fs/promises';
import { Command } from 'commander';
import Table from 'cli-table3';
import { parseDuration, parsePositiveInt, parseTopology } from '../src/cli/options.js';
import { stderrLogger } from '../src/cli/log.js';
import { pipelineFigures } from '../src/lab/figures.js';
import { LocalSwarm } from '../src/lab/local-swarm.js';
import { MIO_LAB_DEFAULTS, MIO_ROOT_FANOUT, MIO_TREE_STRIPES } from '../src/lab/mio.js';
import type { TopologyKind } from '../src/protocol/tracker.js';
import { shutdownRtc } from '../src/transport/rtc.node.js';
import { cryptoBench, formatCryptoBench } from './crypto.js';
import { formatIntegrityBench, integrityBench } from './integrity.js';
import { simScale } from './sim-scale.js';

const program = new Command('bench').description('swarmcast benchmarks');

program
  .command('pipeline')
  .description('run the whole pipeline over real WebRTC on loopback and print its figures')
  .option('--peers <n>', 'viewer processes', parsePositiveInt, 8)
  .option(
    '--duration <seconds>',
    'seconds of stream after the last peer started',
    parseDuration,
    60,
  )
  .option('--json <file>', 'also write the figures as JSON to this file')
  .action(async (options: { peers: number; duration: number; json?: string }) => {
    const logger = stderrLogger('bench', 'warn');
    const swarm = new LocalSwarm({ logger }, { peers: options.peers });
    let failure: string | undefined;
    swarm.on('swarm:error', ({ error }) => {
      failure = error.message;
    });
    const urls = await swarm.start();
    process.stderr.write(
      `bench: ffmpeg ${urls.ffmpeg.path} (${urls.ffmpeg.source}); running ${options.duration} s\n`,
    );
    const until = Date.now() + options.duration * 1000;
    while (Date.now() < until && failure === undefined) {
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    const figures = pipelineFigures(await swarm.stop());
    shutdownRtc();
    const table = new Table({ head: ['figure', 'value'], style: { head: [], border: [] } });
    for (const [key, value] of Object.entries(figures)) {
      table.push([
        key,
        typeof value === 'number' && !Number.isInteger(value) ? value.toFixed(3) : String(value),
      ]);
    }
    process.stdout.write(`${table.toString()}\n`);
    if (options.json !== undefined) {
      await writeFile(options.json, JSON.stringify(figures, null, 2) + '\n');
      process.stdout.write(`wrote ${options.json}\n`);
    }
    if (failure !== undefined) {
      process.stderr.write(`bench: the broadcaster failed: ${failure}\n`);
      process.exitCode = 1;
    }
  });

interface SimScaleCliOptions {
  peers: number;
  duration: number;
  seed: number;
  topology: TopologyKind;
  bitrate: number;
  upload: number;
  json?: string;
}

program
  .command('sim-scale')
  .description(
    'simulate N viewers for D seconds of stream and print the wall time it took. The swarm is ' +
      "the MioStream lab's set-up without failures: a stream of --bitrate kbps in " +
      `${MIO_LAB_DEFAULTS.chunkDurationMs} ms chunks played ${MIO_LAB_DEFAULTS.targetLatencyMs} ms behind live, ` +
      `viewers --upload kbps up / ${MIO_LAB_DEFAULTS.viewerDownloadKbps} kbps down, ` +
      `origin and broadcaster ${MIO_LAB_DEFAULTS.serverUploadKbps} kbps up, viewers joining over ` +
      `${MIO_LAB_DEFAULTS.joinWindowMs / 1000} s; the tree is a multi-tree of ${MIO_TREE_STRIPES} stripes ` +
      `with ${MIO_ROOT_FANOUT} nodes per stripe under the broadcaster`,
  )
  .option('--peers <n>', 'simulated viewers', parsePositiveInt, 1000)
  .option('--duration <seconds>', 'seconds of stream (virtual time)', parseDuration, 300)
  .option('--seed <n>', 'seed of the run', parsePositiveInt, 1)
  .option('--topology <kind>', 'the overlay: list, tree or mesh', parseTopology, 'tree')
  .option(
    '--bitrate <kbps>',
    'mean bitrate of the stream (the paper: 1160)',
    parsePositiveInt,
    MIO_LAB_DEFAULTS.bitrateKbps,
  )
  .option(
    '--upload <kbps>',
    "viewers' upload capacity (the paper: 2000)",
    parsePositiveInt,
    MIO_LAB_DEFAULTS.viewerUploadKbps,
  )
  .option('--json <file>', 'also write the result as JSON to this file')
  .action(async (options: SimScaleCliOptions) => {
    const result = await simScale({
      peers: options.peers,
      durationS: options.duration,
      seed: options.seed,
      topology: options.topology,
      lab: { bitrateKbps: options.bitrate, viewerUploadKbps: options.upload },
    });
    const table = new Table({ head: ['figure', 'value'], style: { head: [], border: [] } });
    const { figures, ...run } = result;
    for (const [key, value] of [...Object.entries(run), ...Object.entries(figures)]) {
      table.push([
        key,
        typeof value === 'number' && !Number.isInteger(value) ? value.toFixed(3) : String(value),
      ]);
    }
    process.stdout.write(`${table.toString()}\n`);
    if (options.json !== undefined) {
      await writeFile(options.json, JSON.stringify(result, null, 2) + '\n');
      process.stdout.write(`wrote ${options.json}\n`);
    }
  });

program
  .command('crypto')
  .description('measure chunk hashing, HMAC and Ed25519 at the pipeline chunk size')
  .option('--seconds <s>', 'measuring time per primitive', parseDuration, 1.5)
  .option('--json <file>', 'also write the figures as JSON to this file')
  .action(async (options: { seconds: number; json?: string }) => {
    const result = await cryptoBench({ secondsPerPrimitive: options.seconds });
    process.stdout.write(formatCryptoBench(result));
    if (options.json !== undefined) {
      await writeFile(options.json, JSON.stringify(result, null, 2) + '\n');
      process.stdout.write(`wrote ${options.json}\n`);
    }
  });

program
  .command('integrity')
  .description(
    "run the pipeline with HMAC at thresholds 0, 0.1, 0.25, 0.5 and 1, then Ed25519, and print each run's stalls, CPU and checks per chunk",
  )
  .option('--peers <n>', 'viewer processes per run', parsePositiveInt, 4)
  .option(
    '--duration <seconds>',
    'seconds of stream per run after its last peer started',
    parseDuration,
    20,
  )
  .option('--json <file>', 'also write the runs as JSON to this file')
  .action(async (options: { peers: number; duration: number; json?: string }) => {
    const logger = stderrLogger('bench', 'warn');
    const runs = await integrityBench(
      logger,
      { peers: options.peers, durationS: options.duration },
      (run) => {
        process.stderr.write(
          `bench: ${run.scheme} ${String(run.threshold ?? '')} done (${run.durationS} s)\n`,
        );
      },
    );
    shutdownRtc();
    process.stdout.write(formatIntegrityBench(runs));
    if (options.json !== undefined) {
      await writeFile(options.json, JSON.stringify(runs, null, 2) + '\n');
      process.stdout.write(`wrote ${options.json}\n`);
    }
    const failed = runs.find((r) => r.broadcasterFailed !== null);
    if (failed !== undefined) {
      process.stderr.write(`bench: the broadcaster failed: ${String(failed.broadcasterFailed)}\n`);
      process.exitCode = 1;
    }
  });

await program.parseAsync(process.argv);
