import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../../src/common/random.js';
import { percentile, percentileOfSorted } from '../../src/common/stats.js';

describe('stats', () => {
  it('percentile() takes the nearest rank, whatever the order of the values', () => {
    expect(percentile([5, 1, 4, 2, 3], 50)).toBe(3);
    expect(percentile([5, 1, 4, 2, 3], 95)).toBe(5);
    expect(percentile([5, 1, 4, 2, 3], 0)).toBe(1);
    expect(percentile([], 50)).toBeNaN();
  });

  it('percentileOfSorted() of a sorted list equals percentile() of the same values in any order', () => {
    const random = new SeededRandom(3);
    for (let n = 0; n < 200; n++) {
      const values = Array.from({ length: n }, () => Math.round(random.next() * 100));
      const sorted = [...values].sort((a, b) => a - b);
      for (const p of [0, 1, 50, 95, 99, 100]) {
        expect(percentileOfSorted(sorted, p)).toBe(percentile(values, p));
      }
    }
  });
});
