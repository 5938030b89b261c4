/**
 * Finding ffmpeg and building its command line. The arguments work with the system's ffmpeg
 * (Debian 5.1) and with the 2018 static build inside `@ffmpeg-installer/ffmpeg` (the fallback).
 */
import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { SwarmcastError, errorMessage } from '../common/errors.js';
import { DEFAULTS } from '../common/defaults.js';

const execFileAsync = promisify(execFile);

/** The ffmpeg a broadcaster runs. */
export interface FfmpegInfo {
  /** Absolute path of the binary. */
  readonly path: string;
  /** `npm` for the `@ffmpeg-installer/ffmpeg` binary (a 2018 build), `system` for any other. */
  readonly source: 'system' | 'npm';
  /** What `ffmpeg -version` says after "ffmpeg version", e.g. `5.1.9-0+deb12u1`. */
  readonly version: string;
}

/** How long `ffmpeg -version` may take before the binary is taken as broken. */
const VERSION_TIMEOUT_MS = 10_000;

/**
 * Finds ffmpeg: `path` when given, else `ffmpeg` on the PATH, else the npm package's binary.
 * Throws `SwarmcastError('ffmpeg-failed')` when none runs.
 */
export async function findFfmpeg(path?: string): Promise<FfmpegInfo> {
  const npmPath = await npmFfmpegPath();
  if (path !== undefined) return probe(path, path === npmPath ? 'npm' : 'system');
  const systemPath = await findOnPath('ffmpeg');
  const failures: string[] = [];
  if (systemPath !== undefined) {
    try {
      return await probe(systemPath, 'system');
    } catch (error) {
      failures.push(errorMessage(error));
    }
  } else {
    failures.push('no ffmpeg on the PATH');
  }
  if (npmPath === undefined)
    failures.push('@ffmpeg-installer/ffmpeg has no binary for this platform');
  else return probe(npmPath, 'npm');
  throw new SwarmcastError('ffmpeg-failed', `no usable ffmpeg: ${failures.join('; ')}`);
}

async function probe(path: string, source: FfmpegInfo['source']): Promise<FfmpegInfo> {
  try {
    const { stdout } = await execFileAsync(path, ['-hide_banner', '-version'], {
      timeout: VERSION_TIMEOUT_MS,
    });
    const firstLine = stdout.split('\n', 1)[0] ?? '';
    const version = /^ffmpeg version (\S+)/.exec(firstLine)?.[1];
    if (version === undefined) throw new Error(`unexpected -version output: ${firstLine}`);
    return { path, source, version };
  } catch (error) {
    throw new SwarmcastError('ffmpeg-failed', `${path} does not run: ${errorMessage(error)}`, {
      cause: error,
    });
  }
}

async function findOnPath(name: string): Promise<string | undefined> {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/** The npm package throws when it has no binary for the platform; that means "none". */
async function npmFfmpegPath(): Promise<string | undefined> {
  try {
    const installer = await import('@ffmpeg-installer/ffmpeg');
    return installer.default.path;
  } catch {
    return undefined;
  }
}

/** What ffmpeg encodes to. */
export interface EncodingOptions {
  /** Output picture width in pixels (even). @default DEFAULTS.synthetic.width */
  readonly width: number;
  /** Output picture height in pixels (even). @default DEFAULTS.synthetic.height */
  readonly height: number;
  /** Output frame rate, frames per second. @default DEFAULTS.synthetic.fps */
  readonly fps: number;
  /** H.264 bitrate in kbit/s (also the max rate; the VBV buffer holds one second). @default DEFAULTS.synthetic.videoKbps */
  readonly videoKbps: number;
  /** AAC bitrate in kbit/s. @default DEFAULTS.synthetic.audioKbps */
  readonly audioKbps: number;
  /** Duration of one fragment (moof+mdat) = one chunk. @default DEFAULTS.chunkDurationMs */
  readonly chunkDurationMs: number;
  /** GOP and segment duration: a whole number of chunks and of frames. @default DEFAULTS.segmentDurationMs */
  readonly segmentDurationMs: number;
}

export interface FfmpegArgsOptions extends Partial<EncodingOptions> {
  /**
   * `'synthetic'` (a test pattern and a tone), a file path (looped forever), or any other ffmpeg
   * input URL (`srt://…`, `rtmp://…`, `http://…`), read as it comes.
   */
  readonly source: string;
  /**
   * Read synthetic and file sources at their native rate (`-re`), as a live source does. Turn
   * off to encode as fast as possible (test fixtures). @default true
   */
  readonly realtime?: boolean;
  /** Stop after this much output media (`-t`); unlimited when absent. */
  readonly durationMs?: number;
}

export const SYNTHETIC_SOURCE = 'synthetic';

/** A source written `scheme:…` is an ffmpeg URL, anything else a file path. */
const URL_PATTERN = /^[A-Za-z][A-Za-z0-9+.-]+:/;

/** Fills in defaults and checks the encoding options; throws TypeError saying what is wrong. */
export function resolveEncodingOptions(options: Partial<EncodingOptions>): EncodingOptions {
  const resolved: EncodingOptions = {
    width: options.width ?? DEFAULTS.synthetic.width,
    height: options.height ?? DEFAULTS.synthetic.height,
    fps: options.fps ?? DEFAULTS.synthetic.fps,
    videoKbps: options.videoKbps ?? DEFAULTS.synthetic.videoKbps,
    audioKbps: options.audioKbps ?? DEFAULTS.synthetic.audioKbps,
    chunkDurationMs: options.chunkDurationMs ?? DEFAULTS.chunkDurationMs,
    segmentDurationMs: options.segmentDurationMs ?? DEFAULTS.segmentDurationMs,
  };
  for (const [name, value] of Object.entries(resolved)) {
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new TypeError(`${name} must be a positive integer, got ${String(value)}`);
    }
  }
  const { width, height, fps, chunkDurationMs, segmentDurationMs } = resolved;
  if (width % 2 !== 0 || height % 2 !== 0) {
    throw new TypeError(`width and height must be even (4:2:0 video), got ${width}x${height}`);
  }
  if (segmentDurationMs % chunkDurationMs !== 0) {
    throw new TypeError(
      `segmentDurationMs (${segmentDurationMs}) must be a whole number of chunkDurationMs (${chunkDurationMs})`,
    );
  }
  if ((segmentDurationMs * fps) % 1000 !== 0) {
    throw new TypeError(
      `segmentDurationMs (${segmentDurationMs}) must be a whole number of frames at ${fps} fps`,
    );
  }
  return resolved;
}

/**
 * The ffmpeg arguments for a live source: H.264 (x264 veryfast, zerolatency, main profile, one
 * GOP per segment, no scene-cut keyframes) plus AAC, as fragmented MP4 on stdout with one
 * moof+mdat per chunk. File and URL sources are re-encoded the same way, letterboxed to the size.
 */
export function buildFfmpegArgs(options: FfmpegArgsOptions): string[] {
  const encoding = resolveEncodingOptions(options);
  const { width, height, fps, videoKbps, audioKbps, chunkDurationMs, segmentDurationMs } = encoding;
  if (
    options.durationMs !== undefined &&
    (!Number.isFinite(options.durationMs) || options.durationMs <= 0)
  ) {
    throw new TypeError(`durationMs must be a positive number, got ${String(options.durationMs)}`);
  }
  const realtime = options.realtime ?? true;
  const re = realtime ? ['-re'] : [];
  const gopFrames = (segmentDurationMs * fps) / 1000;
  const args = ['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'warning'];

  if (options.source === SYNTHETIC_SOURCE) {
    args.push(
      ...re,
      '-f',
      'lavfi',
      '-i',
      `testsrc2=size=${width}x${height}:rate=${fps}`,
      ...re,
      '-f',
      'lavfi',
      '-i',
      'sine=frequency=440:sample_rate=48000',
      '-map',
      '0:v:0',
      '-map',
      '1:a:0',
    );
  } else {
    const isUrl = URL_PATTERN.test(options.source);
    if (!isUrl) args.push('-stream_loop', '-1', ...re);
    args.push(
      '-i',
      options.source,
      '-map',
      '0:v:0',
      '-map',
      '0:a:0?',
      '-vf',
      [
        `scale=${width}:${height}:force_original_aspect_ratio=decrease`,
        `pad=${width}:${height}:(ow-iw)/2:(oh-ih)/2`,
        'setsar=1',
        `fps=${fps}`,
      ].join(','),
    );
  }
  if (options.durationMs !== undefined) args.push('-t', (options.durationMs / 1000).toString());
  args.push(
    '-c:v',
    'libx264',
    '-preset',
    'veryfast',
    '-tune',
    'zerolatency',
    '-profile:v',
    'main',
    '-pix_fmt',
    'yuv420p',
    '-b:v',
    `${videoKbps}k`,
    '-maxrate',
    `${videoKbps}k`,
    '-bufsize',
    `${videoKbps}k`,
    '-g',
    gopFrames.toString(),
    '-keyint_min',
    gopFrames.toString(),
    '-sc_threshold',
    '0',
    '-c:a',
    'aac',
    '-b:a',
    `${audioKbps}k`,
    '-ac',
    '2',
    '-ar',
    '48000',
    '-f',
    'mp4',
    '-movflags',
    'frag_keyframe+empty_moov+default_base_moof+skip_trailer',
    '-frag_duration',
    (chunkDurationMs * 1000).toString(),
    'pipe:1',
  );
  return args;
}
