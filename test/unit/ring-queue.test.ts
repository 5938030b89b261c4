import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../../src/common/random.js';
import { RingQueue } from '../../src/common/ring-queue.js';

describe('RingQueue', () => {
  it('keeps first-in first-out order through growth and wrap-around, as an array would', () => {
    const random = new SeededRandom(9);
    const queue = new RingQueue<number>(2);
    const reference: number[] = [];
    let next = 0;
    for (let step = 0; step < 20_000; step++) {
      const roll = random.next();
      if (roll < 0.5) {
        queue.push(next);
        reference.push(next++);
      } else if (roll < 0.95) {
        expect(queue.shift()).toBe(reference.shift());
      } else if (roll < 0.99) {
        const i = random.int(reference.length + 2);
        expect(queue.at(i)).toBe(reference[i]);
      } else {
        queue.clear();
        reference.length = 0;
      }
      expect(queue.size).toBe(reference.length);
    }
    expect(next).toBeGreaterThan(5000);
  });

  it('answers undefined when empty', () => {
    const queue = new RingQueue<string>();
    expect(queue.shift()).toBeUndefined();
    expect(queue.at(0)).toBeUndefined();
    queue.push('a');
    expect(queue.at(1)).toBeUndefined();
    expect(queue.shift()).toBe('a');
    expect(queue.size).toBe(0);
  });
});
