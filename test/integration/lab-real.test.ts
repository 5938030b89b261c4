/**
 * The MioStream lab in real mode: 12 viewer processes over WebRTC on loopback, one failure per
 * second (SIGKILL + a new process) for 30 s, and no chunk lost by any viewer.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/common/logger.js';
import { SeededRandom } from '../../src/common/random.js';
import { runMioRealOnce, type MioRealRun } from '../../src/lab/mio-real.js';
import {
  MIO_LAB_DEFAULTS,
  mioFailureSchedule,
  mioRunSpecs,
  type MioLabOptions,
} from '../../src/lab/mio.js';
import { deriveSeed } from '../../src/sim/engine.js';
import { isAlive } from '../helpers/process.js';

const PEERS = 12;
const RATE_PER_S = 1;
const FAILURE_WINDOW_MS = 30_000;
/**
 * Long enough after its process started for a replacement to be playing: it starts at the newest
 * chunk it gets, `targetLatencyMs` after that chunk's capture, so a couple of seconds beyond that.
 */
const REPLACEMENT_PLAYING_AFTER_MS = MIO_LAB_DEFAULTS.targetLatencyMs + 2500;
/**
 * Replacements that must have lived that long. Fewer than the failures: the victims are drawn
 * uniformly, so some replacements are killed young, and on a busy 2-core machine a Node process
 * takes seconds to start.
 */
const MIN_SETTLED_REPLACEMENTS = 5;

const OPTIONS: MioLabOptions = {
  ...MIO_LAB_DEFAULTS,
  topologies: ['tree'],
  distributions: ['uniform'],
  ratesPerS: [RATE_PER_S],
  reps: 1,
  peerCounts: [PEERS],
  durationMs: MIO_LAB_DEFAULTS.failuresFromMs + FAILURE_WINDOW_MS,
};

// Startup (at most MIO_REAL_STARTUP_TIMEOUT_MS), the run, and stopping every process.
const TEST_TIMEOUT_MS = 180_000;

const stop = new AbortController();
let running: Promise<MioRealRun> | undefined;

afterAll(async () => {
  // A run still going (the test timed out) stops its swarm, every process included, when aborted.
  stop.abort(new Error('the test is over'));
  await running?.catch(() => undefined);
});

/** One line per viewer that skipped chunks: the evidence when the assertion fails. */
function lostChunks(run: MioRealRun): string {
  const replacements = new Set(run.replacements);
  return run.summary.peers
    .filter((p) => (p.report?.stats.playback?.chunksSkipped ?? 0) > 0)
    .map((p) => {
      const stats = p.report?.stats;
      const playback = stats?.playback;
      return (
        `viewer ${String(p.index)}${replacements.has(p.index) ? ' (replacement)' : ''} ${stats?.peerId ?? '?'}: ` +
        `${String(playback?.chunksSkipped)} skipped, ${String(playback?.chunksPlayed)} played, ` +
        `${String(playback?.stalls)} stalls (${String(playback?.stalledMs)} ms), playhead at ${String(playback?.playheadSeq)}, ` +
        `${String(stats?.chunksFromPeers)} chunks from peers, ${String(stats?.chunksFromOrigin)} from the origin, ` +
        `alive ${String(p.report?.wallMs)} ms`
      );
    })
    .join('\n');
}

describe('swarmcast lab mio --mode real', () => {
  it(
    `runMioRealOnce() with ${String(PEERS)} viewer processes and 1 failure/s for 30 s: failures happen, replacements play, no viewer misses a chunk`,
    async () => {
      const spec = mioRunSpecs(OPTIONS)[0];
      if (spec === undefined) throw new Error('no run in the grid');
      running = runMioRealOnce({ logger: silentLogger }, OPTIONS, spec, {
        peerLogLevel: 'warn',
        signal: stop.signal,
      });
      const run = await running;
      const { record, summary } = run;

      // The failures really happened: rate × time of them, each a killed process and a new one.
      const scheduled = mioFailureSchedule(
        OPTIONS,
        spec,
        new SeededRandom(deriveSeed(spec.seed, 'failures')),
      ).length;
      expect(scheduled).toBe((RATE_PER_S * FAILURE_WINDOW_MS) / 1000);
      expect(record.failures + run.failuresMissed).toBe(scheduled);
      expect(record.failures).toBeGreaterThanOrEqual(0.9 * scheduled);
      expect(run.replacements).toHaveLength(record.failures);
      expect(summary.peers).toHaveLength(PEERS + record.failures);
      // Every process is gone once the run returned.
      for (const peer of summary.peers) {
        expect(peer.alive).toBe(false);
        if (peer.pid !== undefined) expect(isAlive(peer.pid)).toBe(false);
      }

      // Replacements joined and played: each that lived a few seconds played chunks.
      const settled = run.replacements.flatMap((index) => {
        const report = summary.peers[index]?.report;
        return report !== undefined && report.wallMs >= REPLACEMENT_PLAYING_AFTER_MS
          ? [report]
          : [];
      });
      const lifetimes = run.replacements
        .map((index) => `${String(index)}: ${String(summary.peers[index]?.report?.wallMs)} ms`)
        .join(', ');
      expect(settled.length, `replacements' lifetimes: ${lifetimes}`).toBeGreaterThanOrEqual(
        MIN_SETTLED_REPLACEMENTS,
      );
      for (const report of settled) {
        expect(report.stats.peerId).not.toBeNull();
        expect(report.stats.playback?.startupMs ?? null).not.toBeNull();
        expect(report.stats.playback?.chunksPlayed ?? 0).toBeGreaterThan(0);
      }

      // Every chunk was played or fetched in time by every viewer, replacements included.
      expect(record.chunksMissing, lostChunks(run)).toBe(0);
      for (const peer of summary.peers) expect(peer.report?.stats.rejectedChunks ?? 0).toBe(0);
    },
    TEST_TIMEOUT_MS,
  );
});
