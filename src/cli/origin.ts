import type { Command } from 'commander';
import { SystemClock } from '../common/clock.js';
import { DEFAULTS } from '../common/defaults.js';
import type { LogLevel } from '../common/logger.js';
import { loadViewerBundle } from '../browser/bundle.node.js';
import { OriginServer } from '../origin/server.js';
import { OriginStore } from '../origin/store.js';
import { parseLogLevel, stderrLogger } from './log.js';
import { parseDuration, parsePort, parseWsUrl } from './options.js';
import { untilSignal } from './signals.js';

interface OriginCommandOptions {
  host: string;
  port: number;
  ingestSecret?: string;
  window: number;
  publicUrl?: string;
  tracker?: string;
  logLevel: LogLevel;
}

export function registerOriginCommand(program: Command): void {
  program
    .command('origin')
    .description(
      'run the origin alone: live DASH (MPD, init, segments), chunks and signed digests over HTTP; a remote broadcaster publishes with the ingest secret',
    )
    .option('--host <ip>', 'address to bind', '127.0.0.1')
    .option('--port <port>', 'HTTP port (0: any free port)', parsePort, 8080)
    .option(
      '--ingest-secret <secret>',
      'shared secret of remote broadcasters (env SWARMCAST_INGEST_SECRET); without it, ingest is off',
    )
    .option(
      '--window <seconds>',
      'seconds of stream kept',
      parseDuration,
      DEFAULTS.originWindowMs / 1000,
    )
    .option('--public-url <url>', 'URL players reach this origin at, if behind a proxy or CDN')
    .option(
      '--tracker <url>',
      'tracker URL the viewer page (/watch/<stream>) joins; without it the page plays from the origin only',
      parseWsUrl,
    )
    .option('--log-level <level>', 'debug, info, warn or error', parseLogLevel, 'info')
    .action(async (options: OriginCommandOptions) => {
      const logger = stderrLogger('swarmcast:origin', options.logLevel);
      const clock = new SystemClock();
      const store = new OriginStore({ clock, logger }, { windowMs: options.window * 1000 });
      const ingestSecret = options.ingestSecret ?? process.env.SWARMCAST_INGEST_SECRET;
      const server = new OriginServer(
        { store, clock, logger },
        {
          ...(ingestSecret === undefined ? {} : { ingestSecret }),
          ...(options.publicUrl === undefined ? {} : { publicUrl: options.publicUrl }),
          viewer: { trackerUrl: options.tracker ?? null, script: await loadViewerBundle() },
        },
      );
      const url = await server.listen({ host: options.host, port: options.port });
      process.stdout.write(`origin: ${url}\n`);
      if (ingestSecret === undefined)
        logger.warn('no --ingest-secret: broadcasters cannot publish over HTTP');
      await untilSignal();
      await server.close();
    });
}
