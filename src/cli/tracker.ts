import type { Command } from 'commander';
import type { LogLevel } from '../common/logger.js';
import { loadMonitorBundle } from '../monitor/bundle.node.js';
import { TrackerServer } from '../tracker/server.js';
import { parseLogLevel, stderrLogger } from './log.js';
import {
  admissionFromFlags,
  admissionOptions,
  parseBroadcasterKey,
  parsePort,
  parseTopology,
  type AdmissionFlags,
} from './options.js';
import type { RegisteredBroadcaster } from '../tracker/core/tracker-core.js';
import type { TopologyKind } from '../protocol/tracker.js';
import { untilSignal } from './signals.js';

interface TrackerCommandOptions extends AdmissionFlags {
  host: string;
  port: number;
  topology: TopologyKind;
  logLevel: LogLevel;
  broadcasterKey: RegisteredBroadcaster[];
  anyBroadcaster?: boolean;
}

export function registerTrackerCommand(program: Command): void {
  const command = program
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
    .option(
      '--broadcaster-key <[stream=]key>',
      'an Ed25519 public key (base64url) allowed to broadcast that stream, or any stream (repeatable; `broadcast` prints its key)',
      parseBroadcasterKey,
      [],
    )
    .option('--any-broadcaster', 'let any authenticated peer broadcast (closed networks only)');
  admissionOptions(command).action(async (options: TrackerCommandOptions) => {
    const logger = stderrLogger('swarmcast:tracker', options.logLevel);
    if (options.broadcasterKey.length === 0 && options.anyBroadcaster !== true) {
      logger.warn('no broadcaster key registered: no stream can start (see --broadcaster-key)');
    }
    // Alone, the monitor's kill only evicts the peer from the overlay, and it has no origin
    // figures to chart.
    const server = new TrackerServer(
      { logger },
      {
        host: options.host,
        port: options.port,
        topology: options.topology,
        monitor: { bundle: await loadMonitorBundle() },
        broadcasters: options.anyBroadcaster === true ? 'any' : options.broadcasterKey,
        admission: await admissionFromFlags(options),
      },
    );
    const url = await server.listen();
    process.stdout.write(`tracker: ${url}\n`);
    if (server.monitorUrl !== undefined) process.stdout.write(`monitor: ${server.monitorUrl}\n`);
    await untilSignal();
    await server.close();
  });
}
