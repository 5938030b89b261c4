import { describe, expect, it } from 'vitest';
import { SimEngine } from '../../src/sim/engine.js';
import { SimNetwork } from '../../src/sim/network.js';

describe('SimNetwork queues', () => {
  it('thousands of messages in flight on one pipe come out in order, each once its bytes are in', async () => {
    const engine = new SimEngine({ seed: 1 });
    const net = new SimNetwork({ clock: engine.clock, random: engine.random('network') });
    net.addNode('a', { uploadKbps: 80_000, downloadKbps: 8_000, latencyMs: 10 });
    net.addNode('b', { uploadKbps: 80_000, downloadKbps: 8_000, latencyMs: 10 });
    const pipe = net.pipe('a', 'b');
    const delivered: { index: number; at: number }[] = [];
    const received = {
      received: (index: number): void => {
        delivered.push({ index, at: engine.clock.now() });
      },
    };
    // 5000 messages of 1000 bytes: 0.1 ms each up, 20 ms across, 1 ms each down.
    for (let index = 0; index < 5000; index++) net.transfer(pipe, 1000, received, index);
    await engine.run(10_000);
    expect(delivered.map((d) => d.index)).toEqual([...Array(5000).keys()]);
    for (const { index, at } of delivered) expect(at).toBeCloseTo(0.1 + 20 + (index + 1), 6);
    expect(net.node('b').counters()).toMatchObject({
      bytesReceived: 5_000_000,
      messagesReceived: 5000,
    });
  }, 10_000);
});
