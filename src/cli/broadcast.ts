import { readFile, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { streamSealer } from '../broadcaster/stream-sealer.js';
import { Broadcaster } from '../broadcaster/broadcaster.js';
import { SystemClock } from '../common/clock.js';
import { DEFAULTS } from '../common/defaults.js';
import { errorMessage } from '../common/errors.js';
import type { LogLevel } from '../common/logger.js';
import {
  exportSigningKeyPair,
  generateSigningKeyPair,
  importSigningKeyPair,
  keyPairSigner,
  publicKeyToBase64Url,
  type SigningKeyPair,
} from '../crypto/keys.js';
import { OriginIngestClient } from '../origin/ingest-client.js';
import { createNodePeer } from '../peer/peer.node.js';
import { parseLogLevel, stderrLogger } from './log.js';
import {
  integrityOrUsageError,
  integrityOptions,
  parseHttpUrl,
  parsePositiveInt,
  parseStreamId,
  parseTopology,
  parseWsUrl,
  type IntegrityFlags,
} from './options.js';
import type { StreamInfo, StreamIntegrity, TopologyKind } from '../protocol/tracker.js';
import { untilSignal } from './signals.js';
import { shutdownRtc } from '../transport/rtc.node.js';

interface BroadcastCommandOptions extends IntegrityFlags {
  tracker: string;
  origin: string;
  ingestSecret?: string;
  stream: string;
  source: string;
  bindAddress?: string;
  width: number;
  height: number;
  fps: number;
  videoKbps: number;
  topology?: TopologyKind;
  logLevel: LogLevel;
  keyFile?: string;
}

export function registerBroadcastCommand(program: Command): void {
  const command = program
    .command('broadcast')
    .description(
      'run the broadcaster alone: encode a source with ffmpeg, sign its chunks, publish them to a remote origin and push them into the overlay',
    )
    .requiredOption('--tracker <url>', 'tracker WebSocket URL (ws://host:port)', parseWsUrl)
    .requiredOption('--origin <url>', 'origin base URL (http://host:port)', parseHttpUrl)
    .option('--ingest-secret <secret>', "the origin's ingest secret (env SWARMCAST_INGEST_SECRET)")
    .option('--stream <id>', 'stream id', parseStreamId, DEFAULTS.streamId)
    .option(
      '--source <source>',
      "'synthetic', a media file (looped) or an ffmpeg input URL",
      'synthetic',
    )
    .option('--bind-address <ip>', 'local address for WebRTC (127.0.0.1 keeps it on loopback)')
    .option('--width <px>', 'picture width', parsePositiveInt, DEFAULTS.synthetic.width)
    .option('--height <px>', 'picture height', parsePositiveInt, DEFAULTS.synthetic.height)
    .option('--fps <n>', 'frames per second', parsePositiveInt, DEFAULTS.synthetic.fps)
    .option('--video-kbps <n>', 'video bitrate', parsePositiveInt, DEFAULTS.synthetic.videoKbps)
    .option(
      '--topology <kind>',
      "overlay: list, tree or mesh (default: the tracker's)",
      parseTopology,
    )
    .option('--log-level <level>', 'debug, info, warn or error', parseLogLevel, 'info')
    .option(
      '--key-file <path>',
      "the broadcaster's Ed25519 key (JWK), made there on first use; the tracker must register its public key",
    );
  integrityOptions(command).action(async (options: BroadcastCommandOptions, self: Command) => {
    process.exitCode = await runBroadcast(options, integrityOrUsageError(options, self));
  });
}

async function runBroadcast(
  options: BroadcastCommandOptions,
  integrity: StreamIntegrity | undefined,
): Promise<number> {
  const logger = stderrLogger('swarmcast:broadcast', options.logLevel);
  const secret = options.ingestSecret ?? process.env.SWARMCAST_INGEST_SECRET;
  if (secret === undefined) {
    logger.error(
      'the origin needs its ingest secret: pass --ingest-secret or set SWARMCAST_INGEST_SECRET',
    );
    return 2;
  }
  const clock = new SystemClock();
  const keys = await loadKeys(options.keyFile);
  // The tracker admits only registered broadcasters: `tracker --broadcaster-key <this key>`.
  process.stdout.write(`broadcaster key: ${publicKeyToBase64Url(keys)}\n`);
  const info: StreamInfo = {
    stream: options.stream,
    publicKey: publicKeyToBase64Url(keys),
    chunkDurationMs: DEFAULTS.chunkDurationMs,
    segmentDurationMs: DEFAULTS.segmentDurationMs,
    originUrl: options.origin,
    bitrateKbps: options.videoKbps + DEFAULTS.synthetic.audioKbps,
    ...(integrity === undefined ? {} : { integrity }),
    // ffmpeg starts after this: every chunk is captured later.
    epochMs: clock.now(),
  };
  const ingest = new OriginIngestClient({ clock, logger }, { originUrl: options.origin, secret });
  ingest.publishStream({
    stream: info.stream,
    publicKey: info.publicKey,
    chunkDurationMs: info.chunkDurationMs,
    segmentDurationMs: info.segmentDurationMs,
    ...(integrity === undefined ? {} : { integrity }),
  });
  const root = createNodePeer(
    { logger: logger.child('root'), identity: keyPairSigner(keys) },
    {
      stream: options.stream,
      role: 'broadcaster',
      info,
      ...(options.topology === undefined ? {} : { topology: options.topology }),
      trackerUrl: options.tracker,
      rtc: options.bindAddress === undefined ? {} : { bindAddress: options.bindAddress },
    },
  );
  // An HMAC stream's key comes from the tracker in the root's `joined`: ffmpeg starts after.
  const seal = streamSealer(root, info, keys.privateKey, clock);
  root.start();
  let broadcaster: Broadcaster;
  try {
    broadcaster = new Broadcaster(
      { clock, logger: logger.child('ffmpeg') },
      {
        stream: options.stream,
        source: options.source,
        keys,
        seal: await seal,
        width: options.width,
        height: options.height,
        fps: options.fps,
        videoKbps: options.videoKbps,
      },
    );
  } catch (error) {
    ingest.close();
    root.stop();
    shutdownRtc();
    logger.error(errorMessage(error));
    return 1;
  }
  let failure: string | undefined;
  const failed = new Promise<void>((resolve) => {
    broadcaster.on('error', ({ error }) => {
      failure = error.message;
      resolve();
    });
    ingest.on('error', ({ error }) => {
      failure = `origin: ${error.message}`;
      resolve();
    });
  });
  broadcaster.on('init', ({ init }) => {
    ingest.publishInit(init);
  });
  broadcaster.on('chunk', ({ chunk }) => {
    ingest.publishChunk(chunk);
    root.publish(chunk);
  });
  try {
    const { ffmpeg } = await broadcaster.start();
    logger.info('broadcasting', {
      ffmpeg: ffmpeg.path,
      source: ffmpeg.source,
      version: ffmpeg.version,
    });
    process.stdout.write(`mpd: ${options.origin}/live/${options.stream}/manifest.mpd\n`);
    await Promise.race([untilSignal(), failed]);
  } catch (error) {
    failure = errorMessage(error);
  }
  await broadcaster.stop();
  await ingest.flush();
  ingest.close();
  root.stop();
  shutdownRtc();
  if (failure !== undefined) {
    logger.error(failure);
    return 1;
  }
  return 0;
}

/** The key in `path` (made and written there, readable by the owner only, if absent). */
async function loadKeys(path: string | undefined): Promise<SigningKeyPair> {
  if (path === undefined) return generateSigningKeyPair();
  let text: string | undefined;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  if (text !== undefined) return importSigningKeyPair(JSON.parse(text) as JsonWebKey);
  const keys = await generateSigningKeyPair();
  await writeFile(path, JSON.stringify(await exportSigningKeyPair(keys)) + '\n', {
    mode: 0o600,
    flag: 'wx',
  });
  return keys;
}
