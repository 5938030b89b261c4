/**
 * Benchmarks: `npm run bench -- <name> [options]`. Each prints its figures; `--json FILE` also
 * writes them.
 *
 *   pipeline  the whole live pipeline over real WebRTC (broadcaster, origin, tracker, N peers)
 */
import { writeFile } from 'node:fs/promises';
import { Command } from 'commander';
import Table from 'cli-table3';
import { parseDuration, parsePositiveInt } from '../src/cli/options.js';
import { stderrLogger } from '../src/cli/log.js';
import { pipelineFigures } from '../src/lab/figures.js';
import { LocalSwarm } from '../src/lab/local-swarm.js';

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

await program.parseAsync(process.argv);
