import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../../src/common/random.js';
import {
  drawVictimPosition,
  failureSchedule,
  type VictimDistribution,
} from '../../src/lab/failures.js';

const DRAWS = 20_000;
const VIEWERS = 83;

/** Share of `DRAWS` victim positions that fall in each of `VIEWERS` positions. */
function histogram(distribution: VictimDistribution, seed: number): number[] {
  const random = new SeededRandom(seed);
  const counts = new Array<number>(VIEWERS).fill(0);
  for (let i = 0; i < DRAWS; i++) {
    const p = drawVictimPosition(random, distribution, VIEWERS);
    counts[p] = (counts[p] ?? 0) + 1;
  }
  return counts.map((c) => c / DRAWS);
}

function meanPosition(shares: readonly number[]): number {
  return shares.reduce((acc, share, position) => acc + share * position, 0);
}

describe('failureSchedule()', () => {
  it('gives the same schedule for the same seed and another one for another seed', () => {
    const options = {
      ratePerS: 3,
      startMs: 5000,
      endMs: 60_000,
      viewers: VIEWERS,
      distribution: 'uniform',
    } as const;
    const first = failureSchedule(new SeededRandom(7), options);
    const second = failureSchedule(new SeededRandom(7), options);
    const other = failureSchedule(new SeededRandom(8), options);
    expect(second).toEqual(first);
    expect(other.map((f) => f.position)).not.toEqual(first.map((f) => f.position));
  });

  it('honours the rate: rate × window failures, evenly spaced inside the window', () => {
    for (const ratePerS of [0, 0.5, 1, 2, 3, 4, 5]) {
      const schedule = failureSchedule(new SeededRandom(1), {
        ratePerS,
        startMs: 5000,
        endMs: 60_000,
        viewers: VIEWERS,
        distribution: 'binomial',
      });
      expect(Math.abs(schedule.length - ratePerS * 55)).toBeLessThanOrEqual(1);
      for (const [i, failure] of schedule.entries()) {
        expect(failure.atMs).toBeGreaterThanOrEqual(5000);
        expect(failure.atMs).toBeLessThan(60_000);
        expect(failure.position).toBeGreaterThanOrEqual(0);
        expect(failure.position).toBeLessThan(VIEWERS);
        const previous = schedule[i - 1];
        if (previous !== undefined)
          expect(failure.atMs - previous.atMs).toBeCloseTo(1000 / ratePerS);
      }
    }
  });

  it('rejects a negative rate and a window that ends before it starts', () => {
    const base = { startMs: 0, endMs: 1000, viewers: 5, distribution: 'uniform' } as const;
    expect(() => failureSchedule(new SeededRandom(1), { ...base, ratePerS: -1 })).toThrow(
      /ratePerS/,
    );
    expect(() =>
      failureSchedule(new SeededRandom(1), { ...base, ratePerS: 1, startMs: 2000 }),
    ).toThrow(/before/);
  });
});

describe('drawVictimPosition()', () => {
  it('uniform puts victims evenly over every position', () => {
    const shares = histogram('uniform', 1);
    const expected = 1 / VIEWERS;
    for (const share of shares) expect(Math.abs(share - expected)).toBeLessThan(expected * 0.35);
    expect(meanPosition(shares)).toBeCloseTo((VIEWERS - 1) / 2, 0);
  });

  it('binomial(20, 0.8) concentrates victims near 80 % of the order, on the 21 scaled positions', () => {
    const shares = histogram('binomial', 2);
    const reachable = new Set(
      Array.from({ length: 21 }, (_, k) => Math.floor((k / 20) * (VIEWERS - 1))),
    );
    for (const [position, share] of shares.entries()) {
      if (!reachable.has(position)) expect(share).toBe(0);
    }
    expect(meanPosition(shares) / (VIEWERS - 1)).toBeCloseTo(0.8, 1);
    // The most likely k is 16 of 20: position ⌊0.8·82⌋ = 65.
    expect(shares.indexOf(Math.max(...shares))).toBe(65);
    const early = shares.slice(0, Math.floor(VIEWERS / 2)).reduce((a, b) => a + b, 0);
    expect(early).toBeLessThan(0.01);
  });

  it('poisson(N/2) puts victims around the middle of the order with a spread of about √(N/2)', () => {
    const shares = histogram('poisson', 3);
    const expectedMean = VIEWERS / 2;
    const m = meanPosition(shares);
    expect(Math.abs(m - expectedMean)).toBeLessThan(0.5);
    const variance = shares.reduce((acc, s, p) => acc + s * (p - m) ** 2, 0);
    expect(Math.abs(variance - expectedMean) / expectedMean).toBeLessThan(0.1);
    const nearMiddle = shares
      .slice(Math.floor(expectedMean - 15), Math.ceil(expectedMean + 15))
      .reduce((a, b) => a + b, 0);
    expect(nearMiddle).toBeGreaterThan(0.97);
  });

  it('clips to the swarm: every draw is a valid position, even for one viewer', () => {
    const random = new SeededRandom(4);
    for (const distribution of ['uniform', 'binomial', 'poisson'] as const) {
      for (let i = 0; i < 100; i++) expect(drawVictimPosition(random, distribution, 1)).toBe(0);
      for (let i = 0; i < 1000; i++) {
        const p = drawVictimPosition(random, distribution, 3);
        expect(p).toBeGreaterThanOrEqual(0);
        expect(p).toBeLessThan(3);
      }
    }
    expect(() => drawVictimPosition(random, 'uniform', 0)).toThrow(/viewers/);
  });
});
