import { describe, expect, it } from 'vitest';
import { SimClock, SimEngine, deriveSeed } from '../../src/sim/engine.js';

describe('SimEngine', () => {
  it('run() fires timers in (time, insertion) order and leaves the clock at the end time', async () => {
    const engine = new SimEngine({ seed: 1 });
    const clock = engine.clock;
    const fired: string[] = [];
    for (const [name, delay] of [
      ['c', 30],
      ['a', 10],
      ['b', 10],
      ['d', 5],
    ] as const) {
      clock.setTimeout(() => fired.push(`${name}@${clock.now()}`), delay);
    }
    const cancelled = clock.setTimeout(() => fired.push('never'), 20);
    clock.clearTimeout(cancelled);
    const stats = await engine.run(100);
    expect(fired).toEqual(['d@5', 'a@10', 'b@10', 'c@30']);
    expect(clock.now()).toBe(100);
    expect(stats.events).toBe(4);
  }, 5_000);

  it('run() orders thousands of random timers like a stable sort by time', async () => {
    const engine = new SimEngine({ seed: 7 });
    const random = engine.random('timers');
    const expected: { at: number; i: number }[] = [];
    const fired: number[] = [];
    for (let i = 0; i < 5000; i++) {
      const at = random.int(200);
      expected.push({ at, i });
      engine.clock.setTimeout(() => fired.push(i), at);
    }
    await engine.run(1000);
    expected.sort((x, y) => x.at - y.at || x.i - y.i);
    expect(fired).toEqual(expected.map((e) => e.i));
  }, 5_000);

  it('run() lets promise chains settle at their instant when a component marks them', async () => {
    const engine = new SimEngine({ seed: 1 });
    const clock = engine.clock;
    const seen: number[] = [];
    clock.setTimeout(() => {
      engine.markAsync();
      void (async () => {
        for (let i = 0; i < 50; i++) await Promise.resolve();
        seen.push(clock.now());
      })();
    }, 10);
    clock.setTimeout(() => seen.push(clock.now()), 11);
    await engine.run(20);
    expect(seen).toEqual([10, 11]);
  }, 5_000);

  it('run() settles promises at each of many instants and still lets the host run its own tasks', async () => {
    const engine = new SimEngine({ seed: 1 });
    const clock = engine.clock;
    const settledAt: number[] = [];
    for (let i = 1; i <= 500; i++) {
      clock.setTimeout(() => {
        engine.markAsync();
        void (async () => {
          for (let depth = 0; depth < 10; depth++) await Promise.resolve();
          settledAt.push(clock.now());
        })();
      }, i);
    }
    let hostRanAt: number | undefined;
    setImmediate(() => {
      hostRanAt = clock.now();
    });
    const stats = await engine.run(1000);
    expect(settledAt).toEqual(Array.from({ length: 500 }, (_, i) => i + 1));
    expect(stats.drains).toBe(500);
    // The host's task ran during the run, not only after it.
    expect(hostRanAt).toBeLessThan(500);
  }, 5_000);

  it('random(label) streams depend only on the seed and the label', () => {
    const a = new SimEngine({ seed: 3 });
    const b = new SimEngine({ seed: 3 });
    expect(a.random('x').next()).toBe(b.random('x').next());
    expect(a.random('x').next()).not.toBe(a.random('y').next());
    expect(deriveSeed(3, 'x')).not.toBe(deriveSeed(4, 'x'));
  });

  it('SimClock timers set with a negative delay fire at the current time', async () => {
    const engine = new SimEngine({ seed: 1, startMs: 50 });
    const at: number[] = [];
    engine.clock.setTimeout(() => at.push(engine.clock.now()), -10);
    await engine.run(60);
    expect(at).toEqual([50]);
    expect(new SimClock().now()).toBe(0);
  }, 5_000);
});
