import { InvalidArgumentError, type Command } from 'commander';
import { errorMessage } from '../common/errors.js';
import type { LogLevel } from '../common/logger.js';
import { DEFAULTS } from '../common/defaults.js';
import {
  ATTACK_MODES,
  attackTracker,
  attackTransport,
  rewritingTransport,
  type AttackMode,
} from '../lab/attacks.js';
import {
  chunkFingerprint,
  sentChunkObserver,
  sentChunkSighting,
  type ChunkSighting,
} from '../lab/chunk-audit.js';
import {
  isStopRequest,
  type PeerAuditReport,
  type PeerProcessReport,
  type PolluterActivity,
} from '../lab/ipc.js';
import type { PeerTransportFactory } from '../transport/types.js';
import { createNodePeer, type NodePeerDecorators } from '../peer/peer.node.js';
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
  audit?: boolean;
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
    .option(
      '--audit',
      'report a fingerprint of every chunk verified and sent to the runner (the attack lab, over IPC)',
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
  // Either rewritten (a polluter) or watched (an audited honest viewer), never both.
  const audit = options.audit === true && mode === undefined ? new AuditLog() : undefined;
  const decorate: NodePeerDecorators =
    mode !== undefined
      ? {
          transport: (factory) => attackTransport(mode, factory, onAttack),
          tracker: (factory) => attackTracker(mode, factory, onAttack),
        }
      : audit !== undefined
        ? { transport: (factory) => audit.watch(factory) }
        : {};
  const peer = createNodePeer(
    { logger, decorate },
    {
      stream: options.stream,
      trackerUrl: options.tracker,
      originUrl: options.origin,
      targetLatencyMs: options.targetLatency,
      ...admission(options.admission ?? process.env[ADMISSION_ENV]),
      rtc: options.bindAddress === undefined ? {} : { bindAddress: options.bindAddress },
    },
  );
  peer.on('chunk:verified', ({ chunk }) => {
    audit?.verified.push([chunk.seq, chunkFingerprint(chunk, chunk.bytes)]);
  });
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
      if (audit !== undefined) process.send(audit.take());
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
      if (!process.connected) return;
      if (audit !== undefined) process.send?.(audit.take());
      process.send?.(report(false));
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

/** What an audited viewer verified and sent since the last `take()` (`--audit`). */
class AuditLog {
  verified: ChunkSighting[] = [];
  sent: ChunkSighting[] = [];

  /** Wraps the transport: every chunk sent on any link is logged once its last byte is sent. */
  watch(factory: PeerTransportFactory): PeerTransportFactory {
    return rewritingTransport(factory, () => {
      const observe = sentChunkObserver((meta, bytes) => {
        this.sent.push(sentChunkSighting(meta, bytes));
      });
      return (message) => {
        observe(message);
        return [message];
      };
    });
  }

  take(): PeerAuditReport {
    const report: PeerAuditReport = { type: 'audit', verified: this.verified, sent: this.sent };
    this.verified = [];
    this.sent = [];
    return report;
  }
}

function admission(value: string | undefined): { admission?: string } {
  return value === undefined ? {} : { admission: value };
}
