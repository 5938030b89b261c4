import type { Command } from 'commander';
import { DEFAULTS } from '../common/defaults.js';
import { errorMessage } from '../common/errors.js';
import type { LogLevel } from '../common/logger.js';
import { pipelineFigures, type PipelineFigures } from '../lab/figures.js';
import { LocalSwarm, LOCAL_SWARM_DEFAULTS, type LocalSwarmResult } from '../lab/local-swarm.js';
import { parseLogLevel, stderrLogger } from './log.js';
import {
  admissionFromFlags,
  admissionOptions,
  integrityOrUsageError,
  integrityOptions,
  parseDuration,
  parsePort,
  parsePositiveInt,
  parseStreamId,
  parseTopology,
  type AdmissionFlags,
  type IntegrityFlags,
} from './options.js';
import type { StreamIntegrity, TopologyKind } from '../protocol/tracker.js';
import { formatQoeTable } from './qoe-table.js';
import { untilSignal } from './signals.js';
import { shutdownRtc } from '../transport/rtc.node.js';

interface StartOptions extends AdmissionFlags, IntegrityFlags {
  viewerToken?: string;
  peers: number;
  duration?: number;
  port: number;
  trackerPort?: number;
  host: string;
  stream: string;
  source: string;
  logLevel: LogLevel;
  peerLogLevel: LogLevel;
  topology: TopologyKind;
}

export function registerStartCommand(program: Command): void {
  const command = program
    .command('start')
    .description(
      'run a whole local live stream: broadcaster, origin, tracker and N viewer processes over WebRTC on loopback; prints a QoE table at the end',
    )
    .option('--peers <n>', 'viewer processes', parsePositiveInt, DEFAULTS.peers)
    .option(
      '--duration <seconds>',
      'stop after this many seconds (default: run until Ctrl-C)',
      parseDuration,
    )
    .option('--port <port>', 'origin HTTP port (0: any free port)', parsePort, 0)
    .option(
      '--tracker-port <port>',
      'tracker port (default: --port + 1, or any free port)',
      parsePort,
    )
    .option('--host <ip>', 'address to bind and to use for WebRTC', LOCAL_SWARM_DEFAULTS.host)
    .option('--stream <id>', 'stream id', parseStreamId, DEFAULTS.streamId)
    .option(
      '--source <source>',
      "'synthetic', a media file (looped) or an ffmpeg input URL",
      'synthetic',
    )
    .option(
      '--log-level <level>',
      'log level of the servers and broadcaster',
      parseLogLevel,
      'info',
    )
    .option('--peer-log-level <level>', 'log level of the viewer processes', parseLogLevel, 'warn')
    .option('--topology <kind>', 'overlay: list, tree or mesh', parseTopology, 'tree')
    .option(
      '--viewer-token <jwt>',
      'with --jwt-public-key: the token the viewer processes present',
    );
  admissionOptions(integrityOptions(command)).action(
    async (options: StartOptions, self: Command) => {
      process.exitCode = await runStart(options, integrityOrUsageError(options, self));
    },
  );
}

/** Runs the swarm until the duration ends or a signal arrives; resolves to the exit code. */
async function runStart(
  options: StartOptions,
  integrity: StreamIntegrity | undefined,
): Promise<number> {
  const logger = stderrLogger('swarmcast', options.logLevel);
  const swarm = new LocalSwarm(
    { logger },
    {
      peers: options.peers,
      host: options.host,
      originPort: options.port,
      trackerPort: options.trackerPort ?? (options.port === 0 ? 0 : options.port + 1),
      stream: options.stream,
      source: options.source,
      peerLogLevel: options.peerLogLevel,
      topology: options.topology,
      admission: await admissionFromFlags(options),
      ...(integrity === undefined ? {} : { integrity }),
      ...(options.viewerToken === undefined ? {} : { viewerAdmission: options.viewerToken }),
    },
  );
  let failure: string | undefined;
  const failed = new Promise<void>((resolve) => {
    swarm.on('swarm:error', ({ error }) => {
      failure = error.message;
      resolve();
    });
  });
  const ended = new Promise<void>((resolve) => {
    if (options.duration !== undefined) setTimeout(resolve, options.duration * 1000).unref();
  });
  const done = Promise.race([untilSignal(), failed, ended]);
  const progress = startProgress(swarm);
  try {
    const urls = await swarm.start((up) => {
      process.stdout.write(
        `mpd: ${up.mpdUrl}\ntracker: ${up.trackerUrl}\nviewer: ${up.viewerUrl}\nmonitor: ${up.monitorUrl}\n`,
      );
    });
    logger.info('broadcasting', {
      ffmpeg: urls.ffmpeg.path,
      source: urls.ffmpeg.source,
      version: urls.ffmpeg.version,
    });
    await done;
  } catch (error) {
    failure = errorMessage(error);
  }
  progress.stop();
  const summary = await swarm.stop();
  // The broadcaster's node used WebRTC in this process: free node-datachannel so it can exit.
  shutdownRtc();
  printSummary(summary);
  if (failure !== undefined) {
    process.stderr.write(`swarmcast: ${failure}\n`);
    return 1;
  }
  return 0;
}

function printSummary(summary: LocalSwarmResult): void {
  const rows = summary.peers.flatMap((p) =>
    p.report === undefined
      ? []
      : [{ name: `${p.index} ${p.report.stats.peerId ?? ''}`.trim(), report: p.report }],
  );
  const f = pipelineFigures(summary);
  process.stdout.write(`\n${formatQoeTable(rows)}\n${headline(f)}\n`);
  if (summary.polluters.length > 0) process.stdout.write(pollutersSummary(summary));
}

/** The polluters started from the monitor: apart from the honest viewers' table and figures. */
function pollutersSummary(summary: LocalSwarmResult): string {
  const rows = summary.polluters.flatMap((p) =>
    p.report === undefined
      ? []
      : [{ name: `polluter ${p.index} (${p.mode}) ${p.peerId ?? ''}`.trim(), report: p.report }],
  );
  const lines = summary.polluters.map((p) => {
    const fate =
      p.removedReason === null
        ? 'not removed by the tracker'
        : `removed by the tracker (${p.removedReason})${p.evictionMs === null ? '' : ` ${(p.evictionMs / 1000).toFixed(1)} s after its first`}`;
    return `polluter ${p.index} (${p.mode}): ${p.harmful} harmful messages, ${fate}`;
  });
  return `\npolluters (not in the figures above):\n${formatQoeTable(rows)}\n${lines.join('\n')}\n`;
}

function headline(f: PipelineFigures): string {
  const sec = (ms: number | null): string => (ms === null ? '-' : `${(ms / 1000).toFixed(2)} s`);
  return [
    `peers ${f.peers}  duration ${f.durationS} s  offload ${f.offload.toFixed(3)} (ceiling ${f.offloadCeiling.toFixed(3)})`,
    `latency p50 ${sec(f.latencyP50Ms)}  p95 ${sec(f.latencyP95Ms)}  startup p95 ${sec(f.startupMsP95)}`,
    `stalls ${f.stalls} (${f.stalledMs} ms)  chunks played ${f.chunksPlayed}  missing ${f.chunksMissing}  cpu/peer ${f.cpuPerPeerPct?.toFixed(1) ?? '-'} %`,
  ].join('\n');
}

/** A progress line on stderr: rewritten in place on a terminal, every 5 s otherwise. */
function startProgress(swarm: LocalSwarm): { stop: () => void } {
  const tty = process.stderr.isTTY;
  const startedAt = Date.now();
  let ticks = 0;
  const timer = setInterval(() => {
    ticks++;
    if (!tty && ticks % 5 !== 0) return;
    const peers = swarm.peers();
    const reports = peers.flatMap((p) => (p.alive && p.report !== undefined ? [p.report] : []));
    const playing = reports.filter((r) => r.stats.playback?.state === 'playing').length;
    const stalls = reports.reduce((n, r) => n + (r.stats.playback?.stalls ?? 0), 0);
    const received = reports.reduce(
      (n, r) => n + r.stats.bytesFromPeers + r.stats.bytesFromOrigin,
      0,
    );
    const sent = (swarm.broadcasterStats()?.bytesUploaded ?? 0) + swarm.originBytesSent();
    const offload = received > 0 ? (1 - sent / received).toFixed(2) : '-';
    const latencies = reports.flatMap((r) =>
      r.stats.playback?.latencyMs == null ? [] : [r.stats.playback.latencyMs],
    );
    const latency =
      latencies.length === 0 ? '-' : `${(Math.max(...latencies) / 1000).toFixed(1)} s`;
    const line = `t=${Math.round((Date.now() - startedAt) / 1000)}s peers ${reports.length}/${peers.length} playing ${playing} stalls ${stalls} max latency ${latency} offload ${offload}`;
    process.stderr.write(tty ? `\r\x1b[K${line}` : `${line}\n`);
  }, 1000);
  return {
    stop: () => {
      clearInterval(timer);
      if (tty) process.stderr.write('\n');
    },
  };
}
