import type { Command } from 'commander';
import type { LogLevel } from '../common/logger.js';
import { loadMonitorBundle } from '../monitor/bundle.node.js';
import { TrackerServer } from '../tracker/server.js';
import { parseLogLevel, stderrLogger } from './log.js';
import { parsePort, parseTopology } from './options.js';
import type { TopologyKind } from '../protocol/tracker.js';
import { untilSignal } from './signals.js';

interface TrackerCommandOptions {
  host: string;
  port: number;
  topology: TopologyKind;
  logLevel: LogLevel;
}

export function registerTrackerCommand(program: Command): void {
  program
    .command('tracker')
    .description(
      'run the tracker alone: the WebSocket supervisor that admits peers, arranges them in a list, tree or mesh and relays signaling',
    )
    .option('--host <ip>', 'address to bind', '127.0.0.1')
    .option('--port <port>', 'WebSocket port (0: any free port)', parsePort, 8081)
    .option(
      '--topology <kind>',
      'overlay of streams whose broadcaster does not choose: list, tree or mesh',
      parseTopology,
      'tree',
    )
    .option('--log-level <level>', 'debug, info, warn or error', parseLogLevel, 'info')
    .action(async (options: TrackerCommandOptions) => {
      const logger = stderrLogger('swarmcast:tracker', options.logLevel);
      // Alone, the monitor's kill only evicts the peer from the overlay, and it has no origin
      // figures to chart.
      const server = new TrackerServer(
        { logger },
        {
          host: options.host,
          port: options.port,
          topology: options.topology,
          monitor: { bundle: await loadMonitorBundle() },
        },
      );
      const url = await server.listen();
      process.stdout.write(`tracker: ${url}\n`);
      if (server.monitorUrl !== undefined) process.stdout.write(`monitor: ${server.monitorUrl}\n`);
      await untilSignal();
      await server.close();
    });
}
