import { InvalidArgumentError, type Command } from 'commander';
import { errorMessage } from '../common/errors.js';
import type { LogLevel } from '../common/logger.js';
import { DEFAULTS } from '../common/defaults.js';
import { ATTACK_MODES, attackTracker, attackTransport, type AttackMode } from '../lab/attacks.js';
import { isStopRequest, type PeerProcessReport, type PolluterActivity } from '../lab/ipc.js';
import { createNodePeer } from '../peer/peer.node.js';
import { parseLogLevel, stderrLogger } from './log.js';
import { ADMISSION_ENV, parseDuration, parsePositiveInt, parseStreamId } from './options.js';
import { formatQoeTable } from './qoe-table.js';

interface PeerCommandOptions {
  tracker: string;
  origin: string;
  stream: string;
  bindAddress?: string;
  duration?: number;
  targetLatency: number;
  logLevel: LogLevel;
  name?: string;
  admission?: string;
  attack?: AttackMode;
}

const REPORT_INTERVAL_MS = 1000;

function parseAttackMode(value: string): AttackMode {
  const mode = ATTACK_MODES.find((m) => m === value);
  if (mode === undefined) {
    throw new InvalidArgumentError(`expected one of ${ATTACK_MODES.join(', ')}`);
  }
  return mode;
}

export function registerPeerCommand(program: Command): void {
  program
    .command('peer')
    .description('run one viewer: join through the tracker, receive, verify, relay and play')
    .requiredOption('--tracker <url>', 'tracker WebSocket URL (ws://host:port)')
    .requiredOption('--origin <url>', 'origin base URL (http://host:port)')
    .option('--stream <id>', 'stream to watch', parseStreamId, DEFAULTS.streamId)
    .option('--bind-address <ip>', 'local address for WebRTC (127.0.0.1 keeps it on loopback)')
    .option('--duration <seconds>', 'leave after this many seconds', parseDuration)
    .option(
      '--target-latency <ms>',
      'latency behind live to play at',
      parsePositiveInt,
      DEFAULTS.targetLatencyMs,
    )
    .option('--log-level <level>', 'debug, info, warn or error', parseLogLevel, 'info')
    .option('--name <label>', 'label for this peer in log lines')
    .option(
      '--admission <secret-or-token>',
      `the join secret or JWT the tracker asks for (env ${ADMISSION_ENV})`,
    )
    .option(
      '--attack <mode>',
      `run as a polluter, for tests and the lab: ${ATTACK_MODES.join(', ')} (docs/SECURITY.md)`,
      parseAttackMode,
    )
    .action((options: PeerCommandOptions) => {
      runPeer(options);
    });
}

function runPeer(options: PeerCommandOptions): void {
  const namespace =
    options.name === undefined ? 'swarmcast:peer' : `swarmcast:peer:${options.name}`;
  const logger = stderrLogger(namespace, options.logLevel);
  const startedAt = Date.now();
  const cpuAtStart = process.cpuUsage();
  const mode = options.attack;
  let activity: PolluterActivity | undefined;
  const onAttack = (attack: AttackMode): void => {
    activity = {
      mode: attack,
      harmful: (activity?.harmful ?? 0) + 1,
      firstHarmfulAtMs: activity?.firstHarmfulAtMs ?? Date.now(),
    };
  };
  if (mode !== undefined) {
    activity = { mode, harmful: 0, firstHarmfulAtMs: null };
    logger.warn('running as a polluter: what this peer sends is rewritten', { attack: mode });
  }
  const peer = createNodePeer(
    {
      logger,
      ...(mode === undefined
        ? {}
        : {
            decorate: {
              transport: (factory) => attackTransport(mode, factory, onAttack),
              tracker: (factory) => attackTracker(mode, factory, onAttack),
            },
          }),
    },
    {
      stream: options.stream,
      trackerUrl: options.tracker,
      originUrl: options.origin,
      targetLatencyMs: options.targetLatency,
      ...admission(options.admission ?? process.env[ADMISSION_ENV]),
      rtc: options.bindAddress === undefined ? {} : { bindAddress: options.bindAddress },
    },
  );
  const report = (final: boolean): PeerProcessReport => {
    const cpu = process.cpuUsage(cpuAtStart);
    return {
      type: 'report',
      final,
      stats: peer.stats(),
      parents: peer.parents,
      children: peer.children,
      cpuMs: (cpu.user + cpu.system) / 1000,
      wallMs: Date.now() - startedAt,
      ...(activity === undefined ? {} : { attack: activity }),
    };
  };
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    peer.stop();
    const final = report(true);
    if (process.send !== undefined && process.connected) {
      process.send(final, () => process.exit(0));
    } else {
      process.stdout.write(
        formatQoeTable([{ name: final.stats.peerId ?? 'peer', report: final }]) + '\n',
      );
      process.exit(0);
    }
  };
  try {
    peer.start();
  } catch (error) {
    logger.error('could not start', { error: errorMessage(error) });
    process.exit(1);
  }
  if (process.send !== undefined) {
    const timer = setInterval(() => {
      if (process.connected) process.send?.(report(false));
    }, REPORT_INTERVAL_MS);
    timer.unref();
    process.on('message', (message) => {
      if (isStopRequest(message)) stop();
    });
    // The runner is gone: leave rather than linger as an orphan.
    process.on('disconnect', stop);
  }
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  if (options.duration !== undefined) setTimeout(stop, options.duration * 1000);
}

function admission(value: string | undefined): { admission?: string } {
  return value === undefined ? {} : { admission: value };
}
