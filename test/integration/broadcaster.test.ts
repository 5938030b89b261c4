import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Broadcaster, type BroadcasterOptions } from '../../src/broadcaster/broadcaster.js';
import { findFfmpeg } from '../../src/broadcaster/ffmpeg.js';
import { Fmp4Parser } from '../../src/broadcaster/fmp4.js';
import { SystemClock } from '../../src/common/clock.js';
import { InvalidStateError, SwarmcastError } from '../../src/common/errors.js';
import { silentLogger } from '../../src/common/logger.js';
import { verifyChunk } from '../../src/crypto/chunk-signing.js';
import {
  generateSigningKeyPair,
  importPublicKeyBase64Url,
  type SigningKeyPair,
} from '../../src/crypto/keys.js';
import type { Chunk } from '../../src/protocol/chunk.js';
import type { InitSegment } from '../../src/protocol/media.js';
import { runFfmpeg, writeSourceFile } from '../helpers/ffmpeg-fixtures.js';
import { isAlive } from '../helpers/process.js';

const TEST_TIMEOUT_MS = 30_000;
const SMALL = { width: 320, height: 180, fps: 30, videoKbps: 300, audioKbps: 48 } as const;

let keys: SigningKeyPair;
const running: Broadcaster[] = [];
const pids: number[] = [];

beforeAll(async () => {
  keys = await generateSigningKeyPair();
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((b) => b.stop()));
  for (const pid of pids.splice(0)) {
    if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  }
});

interface Recording {
  readonly broadcaster: Broadcaster;
  readonly events: string[];
  readonly chunks: Chunk[];
  readonly errors: SwarmcastError[];
  init: InitSegment | undefined;
  arrivals: number[];
}

function broadcast(options: Partial<BroadcasterOptions>): Recording {
  const broadcaster = new Broadcaster(
    { logger: silentLogger, clock: new SystemClock() },
    { stream: 'test', source: 'synthetic', keys, ...SMALL, ...options },
  );
  running.push(broadcaster);
  const recording: Recording = {
    broadcaster,
    events: [],
    chunks: [],
    errors: [],
    init: undefined,
    arrivals: [],
  };
  broadcaster.on('init', ({ init }) => {
    recording.events.push('init');
    recording.init = init;
  });
  broadcaster.on('chunk', ({ chunk }) => {
    recording.events.push('chunk');
    recording.chunks.push(chunk);
    recording.arrivals.push(Date.now());
  });
  broadcaster.on('error', ({ error }) => {
    recording.events.push('error');
    recording.errors.push(error);
  });
  broadcaster.on('end', ({ reason }) => {
    recording.events.push(`end:${reason}`);
  });
  return recording;
}

async function start(recording: Recording): Promise<void> {
  await recording.broadcaster.start();
  const pid = recording.broadcaster.pid;
  if (pid !== undefined) pids.push(pid);
}

async function until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Whether `chunk` begins with a keyframe, read back by the parser. */
function startsWithKeyframe(init: InitSegment, chunk: Chunk): boolean {
  const parser = new Fmp4Parser();
  const items = parser.push(init.bytes).concat(parser.push(chunk.bytes));
  return items[1]?.kind === 'fragment' && items[1].startsWithKeyframe;
}

/** Checks numbering, segment structure, keyframes and signatures of a run's chunks. */
async function expectWellFormed(recording: Recording, publicKey: string): Promise<void> {
  const { chunks, init } = recording;
  if (init === undefined) throw new Error('no init segment');
  const key = await importPublicKeyBase64Url(publicKey);
  for (const chunk of chunks) await verifyChunk('test', key, chunk);
  expect(chunks.map((c) => c.seq)).toEqual(chunks.map((_, i) => i));
  for (const [i, chunk] of chunks.entries()) {
    expect(chunk.segment).toBe(Math.floor(i / 4));
    expect(chunk.index).toBe(i % 4);
    expect(startsWithKeyframe(init, chunk)).toBe(chunk.index === 0);
    expect(chunk.rendition).toBe(0);
  }
}

describe('Broadcaster on the synthetic source', () => {
  it(
    'emits the init segment, then signed chunks in order, 4 per segment, each segment from a keyframe',
    async () => {
      const run = broadcast({});
      const { ffmpeg } = await run.broadcaster.start();
      const pid = run.broadcaster.pid;
      expect(pid).toBeTypeOf('number');
      expect(ffmpeg.source).toBe('system');
      await until(() => run.chunks.length >= 6, 15_000, '6 chunks');
      await run.broadcaster.stop();

      expect(run.events[0]).toBe('init');
      expect(run.events.at(-1)).toBe('end:stopped');
      expect(run.errors).toEqual([]);
      expect(run.init?.tracks.map((t) => t.kind)).toEqual(['video', 'audio']);
      expect(run.init?.tracks[0]).toMatchObject({ width: 320, height: 180 });
      await expectWellFormed(run, run.broadcaster.publicKey);

      const { chunks } = run;
      for (const [i, chunk] of chunks.entries()) {
        expect(chunk.durationMs).toBeGreaterThan(0);
        const previous = chunks[i - 1];
        if (previous === undefined || i === chunks.length - 1) continue;
        // Media and capture times advance together, chunk after chunk.
        expect(chunk.mediaTimeMs).toBeCloseTo(previous.mediaTimeMs + previous.durationMs, 6);
        expect(chunk.captureTimeMs - previous.captureTimeMs).toBeCloseTo(
          chunk.mediaTimeMs - previous.mediaTimeMs,
          2,
        );
        expect(chunk.durationMs).toBeGreaterThanOrEqual(490);
        expect(chunk.durationMs).toBeLessThanOrEqual(540);
      }
      // A chunk is captured before it is emitted, and not much before with -re and zerolatency
      // (except the last: ffmpeg flushes it early when it is stopped).
      for (const [i, chunk] of chunks.slice(0, -1).entries()) {
        const emittedAt = run.arrivals[i] ?? 0;
        expect(chunk.captureTimeMs + chunk.durationMs).toBeLessThanOrEqual(emittedAt + 5);
        expect(emittedAt - chunk.captureTimeMs).toBeLessThan(2000);
      }
      expect(run.broadcaster.stats).toEqual({
        chunks: chunks.length,
        bytes: chunks.reduce((sum, c) => sum + c.byteLength, 0),
        segments: chunks.filter((c) => c.index === 0).length,
      });
      if (pid !== undefined) expect(isAlive(pid)).toBe(false);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'works with the npm fallback ffmpeg (a 2018 build) given as ffmpegPath',
    async () => {
      const npm = (await import('@ffmpeg-installer/ffmpeg')).default.path;
      const run = broadcast({ ffmpegPath: npm });
      await start(run);
      await until(() => run.chunks.length >= 5, 15_000, '5 chunks');
      await run.broadcaster.stop();
      const info = await findFfmpeg(npm);
      expect(info.source).toBe('npm');
      expect(run.errors).toEqual([]);
      expect(run.init?.tracks.map((t) => t.codec)).toEqual([
        expect.stringMatching(/^avc1\.4d/) as unknown,
        'mp4a.40.2',
      ]);
      await expectWellFormed(run, run.broadcaster.publicKey);
    },
    TEST_TIMEOUT_MS,
  );
});

describe('Broadcaster on a file source', () => {
  it(
    'loops a file shorter than the run and re-encodes it to the requested size',
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'swarmcast-broadcaster-'));
      try {
        const file = join(dir, 'source.mp4');
        await writeSourceFile(file, { durationMs: 1000, width: 256, height: 144, fps: 25 });
        const run = broadcast({ source: file });
        await start(run);
        await until(() => run.chunks.length >= 5, 15_000, '5 chunks');
        await run.broadcaster.stop();
        expect(run.errors).toEqual([]);
        expect(run.init?.tracks[0]).toMatchObject({ kind: 'video', width: 320, height: 180 });
        await expectWellFormed(run, run.broadcaster.publicKey);
        expect(run.chunks[4]?.mediaTimeMs).toBeGreaterThan(1900);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
    TEST_TIMEOUT_MS,
  );
});

describe('Broadcaster failures', () => {
  it(
    'reports a missing input file as one ffmpeg-failed error with ffmpeg’s message, and leaves no process',
    async () => {
      const run = broadcast({ source: join(tmpdir(), 'swarmcast-no-such-file.mp4') });
      await start(run);
      const pid = run.broadcaster.pid;
      await until(() => run.events.includes('end:error'), 5000, 'the end event');
      expect(run.events).toEqual(['error', 'end:error']);
      expect(run.errors[0]?.code).toBe('ffmpeg-failed');
      expect(run.errors[0]?.message).toMatch(/exited with code \d+[\s\S]*No such file/);
      if (pid !== undefined) expect(isAlive(pid)).toBe(false);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'reports ffmpeg killed mid-stream as an ffmpeg-failed error',
    async () => {
      const run = broadcast({});
      await start(run);
      await until(() => run.chunks.length >= 1, 15_000, 'a chunk');
      const pid = run.broadcaster.pid;
      if (pid === undefined) throw new Error('no pid');
      process.kill(pid, 'SIGKILL');
      await until(() => run.events.includes('end:error'), 5000, 'the end event');
      expect(run.errors).toHaveLength(1);
      expect(run.errors[0]?.code).toBe('ffmpeg-failed');
      expect(run.errors[0]?.message).toMatch(/killed by SIGKILL/);
      expect(run.events.at(-1)).toBe('end:error');
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'reports a source that never sends anything when the startup timeout passes, and kills ffmpeg',
    async () => {
      const sockets = new Set<Socket>();
      const server: Server = createServer((socket) => sockets.add(socket));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      try {
        const address = server.address();
        if (address === null || typeof address === 'string') throw new Error('no port');
        const run = broadcast({
          source: `tcp://127.0.0.1:${address.port}`,
          startupTimeoutMs: 1500,
        });
        const startedAt = Date.now();
        await start(run);
        const pid = run.broadcaster.pid;
        await until(() => run.events.includes('end:error'), 6000, 'the end event');
        expect(Date.now() - startedAt).toBeGreaterThanOrEqual(1500);
        expect(run.errors).toHaveLength(1);
        expect(run.errors[0]?.code).toBe('ffmpeg-failed');
        expect(run.errors[0]?.message).toMatch(/no chunk within 1500 ms/);
        if (pid !== undefined) expect(isAlive(pid)).toBe(false);
      } finally {
        for (const socket of sockets) socket.destroy();
        await new Promise((resolve) => server.close(resolve));
      }
    },
    TEST_TIMEOUT_MS,
  );
});

describe('Broadcaster stall detection', () => {
  it(
    'reports a source that stops sending mid-stream when the stall timeout passes',
    async () => {
      // 3 s of NUT (ffmpeg's own container), sent at once over loopback TCP; then the
      // connection stays open, silent.
      const lavfi = ['-f', 'lavfi', '-i', 'testsrc2=size=160x90:rate=30', '-t', '3'];
      const encode = ['-c:v', 'libx264', '-preset', 'ultrafast', '-g', '30', '-f', 'nut'];
      const media = await runFfmpeg([
        '-hide_banner',
        '-loglevel',
        'error',
        ...lavfi,
        ...encode,
        '-',
      ]);
      const sockets = new Set<Socket>();
      const server = createServer((socket) => {
        sockets.add(socket);
        socket.write(media);
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      try {
        const address = server.address();
        if (address === null || typeof address === 'string') throw new Error('no port');
        const run = broadcast({ source: `tcp://127.0.0.1:${address.port}`, stallTimeoutMs: 1500 });
        await start(run);
        const pid = run.broadcaster.pid;
        await until(() => run.events.includes('end:error'), 10_000, 'the end event');
        expect(run.chunks.length).toBeGreaterThan(0);
        expect(run.errors).toHaveLength(1);
        expect(run.errors[0]?.code).toBe('ffmpeg-failed');
        expect(run.errors[0]?.message).toMatch(/wrote nothing for 1500 ms/);
        if (pid !== undefined) expect(isAlive(pid)).toBe(false);
      } finally {
        for (const socket of sockets) socket.destroy();
        await new Promise((resolve) => server.close(resolve));
      }
    },
    TEST_TIMEOUT_MS,
  );
});

describe('Broadcaster lifecycle and options', () => {
  it('rejects a bad stream id and encoding options with a TypeError saying what is wrong', () => {
    const components = { logger: silentLogger, clock: new SystemClock() };
    const base = { stream: 'test', source: 'synthetic', keys };
    expect(() => new Broadcaster(components, { ...base, stream: 'a/b' })).toThrow(TypeError);
    expect(() => new Broadcaster(components, { ...base, segmentDurationMs: 1250 })).toThrow(
      /whole number of chunkDurationMs/,
    );
    expect(
      () => new Broadcaster(components, { ...base, fps: 25, segmentDurationMs: 1500 }),
    ).toThrow(/whole number of frames/);
    expect(() => new Broadcaster(components, { ...base, width: 321 })).toThrow(/even/);
    expect(() => new Broadcaster(components, { ...base, videoKbps: 0 })).toThrow(/positive/);
    expect(() => new Broadcaster(components, { ...base, rendition: 256 })).toThrow(/rendition/);
    expect(() => new Broadcaster(components, { ...base, stallTimeoutMs: -1 })).toThrow(/stall/);
  });

  it('stop() before start() resolves, is idempotent, and start() afterwards throws', async () => {
    const run = broadcast({});
    await run.broadcaster.stop();
    await run.broadcaster.stop();
    await expect(run.broadcaster.start()).rejects.toThrow(InvalidStateError);
    expect(run.events).toEqual([]);
  });

  it(
    'start() twice throws an invalid-state error; stop() twice resolves both times',
    async () => {
      const run = broadcast({});
      await start(run);
      await expect(run.broadcaster.start()).rejects.toThrow(InvalidStateError);
      await Promise.all([run.broadcaster.stop(), run.broadcaster.stop()]);
      await run.broadcaster.stop();
      expect(run.events.filter((e) => e.startsWith('end'))).toEqual(['end:stopped']);
    },
    TEST_TIMEOUT_MS,
  );

  it('start() rejects with ffmpeg-failed when ffmpegPath does not run', async () => {
    const run = broadcast({ ffmpegPath: join(tmpdir(), 'swarmcast-no-ffmpeg') });
    await expect(run.broadcaster.start()).rejects.toMatchObject({ code: 'ffmpeg-failed' });
    await run.broadcaster.stop();
  });
});
