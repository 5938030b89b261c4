import { describe, expect, it } from 'vitest';
import type { TimerHandle } from '../../src/common/clock.js';
import { SimEngine } from '../../src/sim/engine.js';

describe('SimClock', () => {
  it('setTimeoutWith() calls back with its argument, in (time, insertion) order with setTimeout()', async () => {
    const engine = new SimEngine({ seed: 1 });
    const clock = engine.clock;
    const fired: string[] = [];
    const record = (name: string): void => {
      fired.push(`${name}@${clock.now()}`);
    };
    clock.setTimeoutWith(record, 'b', 10);
    clock.setTimeout(() => {
      record('c');
    }, 10);
    clock.setTimeoutWith(record, 'a', 2.5);
    clock.clearTimeout(clock.setTimeoutWith(record, 'never', 5));
    await engine.run(20);
    expect(fired).toEqual(['a@2.5', 'b@10', 'c@10']);
  }, 5_000);

  it('fires tens of thousands of timers set and cleared at random, with timers set while firing, like a stable sort', async () => {
    const engine = new SimEngine({ seed: 9 });
    const clock = engine.clock;
    const random = engine.random('timers');
    const expected: { at: number; order: number; label: number }[] = [];
    const fired: number[] = [];
    const handles = new Map<number, TimerHandle>();
    let order = 0;
    const fire = (label: number): void => {
      fired.push(label);
      handles.delete(label);
      // Some timers set others, at fractional delays (some of 0: the same instant).
      if (label % 5 === 0 && label < 100_000)
        schedule(label + 100_000, random.int(3) === 0 ? 0 : random.next() * 50);
    };
    const schedule = (label: number, delayMs: number): void => {
      expected.push({ at: clock.now() + delayMs, order: order++, label });
      handles.set(label, clock.setTimeoutWith(fire, label, delayMs));
    };
    for (let label = 0; label < 30_000; label++) {
      schedule(label, random.int(4) === 0 ? random.int(100) : random.next() * 100);
      // Clear a random pending timer now and then.
      if (random.int(7) === 0) {
        const victim = random.int(label + 1);
        const handle = handles.get(victim);
        if (handle !== undefined) {
          clock.clearTimeout(handle);
          handles.delete(victim);
          const index = expected.findIndex((e) => e.label === victim);
          expected.splice(index, 1);
        }
      }
    }
    expect(clock.pending).toBe(handles.size);
    const stats = await engine.run(1000);
    expected.sort((x, y) => x.at - y.at || x.order - y.order);
    expect(fired).toEqual(expected.map((e) => e.label));
    expect(stats.events).toBe(fired.length);
    expect(clock.pending).toBe(0);
  }, 20_000);
});
