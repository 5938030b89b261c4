/**
 * Real media for tests, made by real ffmpeg as fast as it can encode (no `-re`):
 * - `generateFmp4()`: the broadcaster's exact output format (same arguments) for a few seconds;
 * - `generateFragments()`: the same, already split by `Fmp4Parser` into init + fragments;
 * - `writeSourceFile()`: a plain MP4 to use as a file source;
 * - `runFfmpeg()`: any other ffmpeg command whose stdout is the media.
 * Results of `generateFmp4()` are cached per options within one test process.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import {
  SYNTHETIC_SOURCE,
  buildFfmpegArgs,
  findFfmpeg,
  type EncodingOptions,
} from '../../src/broadcaster/ffmpeg.js';
import { Fmp4Parser, type FragmentItem } from '../../src/broadcaster/fmp4.js';
import type { InitSegment } from '../../src/protocol/media.js';

const execFileAsync = promisify(execFile);

/** Longest an ffmpeg run of a fixture may take before it is killed. */
export const FIXTURE_TIMEOUT_MS = 30_000;
const MAX_OUTPUT_BYTES = 64 * 1024 * 1024;

/** Small and cheap: what the fixtures encode unless told otherwise. */
export const FIXTURE_ENCODING: EncodingOptions = {
  width: 320,
  height: 240,
  fps: 30,
  videoKbps: 500,
  audioKbps: 64,
  chunkDurationMs: 500,
  segmentDurationMs: 2000,
};

export interface Fmp4FixtureOptions extends Partial<EncodingOptions> {
  /** Media length. @default 4000 */
  readonly durationMs?: number;
  /** `'synthetic'` or a file path. @default 'synthetic' */
  readonly source?: string;
  /** ffmpeg binary; the one `findFfmpeg()` picks when absent. */
  readonly ffmpegPath?: string;
}

/** Runs ffmpeg with `args` and resolves with its stdout; rejects with its stderr on failure. */
export async function runFfmpeg(args: readonly string[], ffmpegPath?: string): Promise<Uint8Array> {
  const path = ffmpegPath ?? (await findFfmpeg()).path;
  try {
    const { stdout } = await execFileAsync(path, args, {
      encoding: 'buffer',
      maxBuffer: MAX_OUTPUT_BYTES,
      timeout: FIXTURE_TIMEOUT_MS,
      killSignal: 'SIGKILL',
    });
    return new Uint8Array(stdout.buffer, stdout.byteOffset, stdout.byteLength);
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString('utf8') ?? '';
    throw new Error(`ffmpeg ${args.join(' ')} failed: ${stderr}`, { cause: error });
  }
}

const cache = new Map<string, Promise<Uint8Array>>();

/** Fragmented MP4 exactly as the broadcaster's ffmpeg writes it. Each call gets its own copy. */
export async function generateFmp4(options: Fmp4FixtureOptions = {}): Promise<Uint8Array> {
  const { durationMs = 4000, source = SYNTHETIC_SOURCE, ffmpegPath, ...encoding } = options;
  const args = buildFfmpegArgs({
    ...FIXTURE_ENCODING,
    ...encoding,
    source,
    durationMs,
    realtime: false,
  });
  const key = JSON.stringify([ffmpegPath, args]);
  let bytes = cache.get(key);
  if (bytes === undefined) {
    bytes = runFfmpeg(args, ffmpegPath);
    cache.set(key, bytes);
    bytes.catch(() => cache.delete(key));
  }
  return (await bytes).slice();
}

/** `generateFmp4()` split into its init segment and fragments (one per chunk). */
export async function generateFragments(
  options: Fmp4FixtureOptions = {},
): Promise<{ bytes: Uint8Array; init: InitSegment; fragments: FragmentItem[] }> {
  const bytes = await generateFmp4(options);
  const parser = new Fmp4Parser();
  const items = parser.push(bytes);
  parser.end();
  const [first, ...rest] = items;
  if (first?.kind !== 'init') throw new Error('fixture has no init segment');
  const fragments = rest.filter((item): item is FragmentItem => item.kind === 'fragment');
  return { bytes, init: first.init, fragments };
}

export interface SourceFileOptions {
  /** @default 2000 */
  readonly durationMs?: number;
  /** @default 320 */
  readonly width?: number;
  /** @default 240 */
  readonly height?: number;
  /** @default 25 */
  readonly fps?: number;
  /** Include an AAC track. @default true */
  readonly audio?: boolean;
}

/** Writes a plain (non-fragmented) H.264/AAC MP4 to `path`, for file-source tests. */
export async function writeSourceFile(
  path: string,
  options: SourceFileOptions = {},
): Promise<void> {
  const { durationMs = 2000, width = 320, height = 240, fps = 25, audio = true } = options;
  const seconds = (durationMs / 1000).toString();
  const audioArgs = audio ? ['-f', 'lavfi', '-i', 'sine=frequency=660:sample_rate=44100'] : [];
  await runFfmpeg([
    '-hide_banner',
    '-nostdin',
    '-loglevel',
    'error',
    '-y',
    '-f',
    'lavfi',
    '-i',
    `testsrc=size=${width}x${height}:rate=${fps}`,
    ...audioArgs,
    '-t',
    seconds,
    '-c:v',
    'libx264',
    '-preset',
    'ultrafast',
    '-pix_fmt',
    'yuv420p',
    ...(audio ? ['-c:a', 'aac'] : []),
    path,
  ]);
}
