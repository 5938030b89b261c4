import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../../src/common/random.js';
import { percentile } from '../../src/common/stats.js';
import { PlaybackModel } from '../../src/peer/playback.js';

describe('PlaybackModel latency percentiles', () => {
  it('report() gives the percentiles of every chunk played, whatever the order of their latencies', () => {
    const random = new SeededRandom(4);
    const options = {
      targetLatencyMs: 2000,
      startBufferMs: 1000,
      chunkDurationMs: 500,
      liveJumpAfterStallMs: 6000,
    };
    const model = new PlaybackModel(options, 0);
    // Capture times jitter by up to ±200 ms, so latencies go up and down from chunk to chunk.
    for (let seq = 0; seq < 400; seq++) {
      const captureTimeMs = seq * 500 + (random.next() - 0.5) * 400;
      model.add({ seq, durationMs: 500, captureTimeMs }, 0);
    }
    const latencies: number[] = [];
    for (let now = 0; now <= 205_000; now += 10) {
      const before = model.report(now).chunksPlayed;
      model.tick(now);
      const report = model.report(now);
      if (report.chunksPlayed > before && report.latencyMs !== null)
        latencies.push(report.latencyMs);
    }
    const report = model.report(205_000);
    expect(report.chunksPlayed).toBe(400);
    expect(latencies).toHaveLength(400);
    expect(new Set(latencies).size).toBeGreaterThan(300);
    expect(report.latencyP50Ms).toBe(percentile(latencies, 50));
    expect(report.latencyP95Ms).toBe(percentile(latencies, 95));
  });
});
