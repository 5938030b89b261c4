import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/common/logger.js';
import { SimEngine } from '../../src/sim/engine.js';
import { MemoryTransport } from '../../src/sim/memory-transport.js';
import { SimNetwork } from '../../src/sim/network.js';
import type { Link, TransportEvents } from '../../src/transport/types.js';

function network(engine: SimEngine): SimNetwork {
  return new SimNetwork({ clock: engine.clock, random: engine.random('network') });
}

describe('SimNetwork', () => {
  it('send() takes size/upload to leave, the latency to cross and size/download to enter', async () => {
    const engine = new SimEngine({ seed: 1 });
    const net = network(engine);
    net.addNode('a', { uploadKbps: 800, downloadKbps: 1600, latencyMs: 10 });
    net.addNode('b', { uploadKbps: 800, downloadKbps: 1600, latencyMs: 5 });
    const pipe = net.pipe('a', 'b');
    const arrivals: number[] = [];
    // 10,000 bytes: 100 ms at 800 kbps up, 15 ms across, 50 ms at 1600 kbps down.
    const left1 = net.send(pipe, 10_000, () => arrivals.push(engine.clock.now()));
    const left2 = net.send(pipe, 10_000, () => arrivals.push(engine.clock.now()));
    expect([left1, left2]).toEqual([100, 200]);
    await engine.run(1000);
    expect(arrivals).toEqual([165, 265]);
    expect(net.node('a').counters().bytesSent).toBe(20_000);
    expect(net.node('b').counters().bytesReceived).toBe(20_000);
  }, 5_000);

  it('a node uploads to several receivers through one queue, never above its capacity', async () => {
    const engine = new SimEngine({ seed: 1 });
    const net = network(engine);
    net.addNode('s', { uploadKbps: 1000, downloadKbps: Infinity, latencyMs: 1 });
    for (const id of ['x', 'y'])
      net.addNode(id, { uploadKbps: 1, downloadKbps: Infinity, latencyMs: 1 });
    const done: string[] = [];
    for (let i = 0; i < 10; i++) {
      for (const id of ['x', 'y']) {
        net.send(net.pipe('s', id), 25_000, () => done.push(`${id}@${engine.clock.now()}`));
      }
    }
    await engine.run(10_000);
    // 20 × 25 kB at 125 kB/s: the last byte leaves at 4 s.
    expect(done.at(-1)).toBe('y@4002');
    expect(net.node('s').counters().peakSentBytesPerSecond).toBeCloseTo(125_000, 3);
  }, 5_000);

  it('a retransmission delays a message by one round trip and holds back the ones behind it', async () => {
    const engine = new SimEngine({ seed: 2 });
    const net = network(engine);
    net.addNode('a', {
      uploadKbps: Infinity,
      downloadKbps: Infinity,
      latencyMs: 10,
      lossRate: 0.5,
    });
    net.addNode('b', { uploadKbps: Infinity, downloadKbps: Infinity, latencyMs: 10 });
    const pipe = net.pipe('a', 'b');
    const order: number[] = [];
    const times: number[] = [];
    for (let i = 0; i < 50; i++) {
      net.send(pipe, 100, () => {
        order.push(i);
        times.push(engine.clock.now());
      });
    }
    await engine.run(1000);
    expect(order).toEqual([...Array(50).keys()]);
    expect(net.node('a').counters().retransmissions).toBeGreaterThan(10);
    expect(new Set(times)).toEqual(new Set(times.filter((t) => t === 20 || t === 60)));
  }, 5_000);
});

describe('MemoryTransport on the virtual clock', () => {
  it('a link opens after the signaling and connectRtts round trips, and a failed node is seen after one round trip', async () => {
    const engine = new SimEngine({ seed: 1 });
    const net = network(engine);
    const clock = engine.clock;
    const log: string[] = [];
    const transports = new Map<string, MemoryTransport>();
    for (const id of ['a', 'b']) {
      net.addNode(id, { uploadKbps: 1000, downloadKbps: 1000, latencyMs: 10 });
      const events: TransportEvents = {
        // Signaling relayed with 20 ms of delay, like a tracker next door.
        signal: (to, data) => clock.setTimeout(() => transports.get(to)?.signal(id, data), 20),
        open: (link: Link) => log.push(`${id} open ${link.remoteId}@${clock.now()}`),
        message: () => undefined,
        drain: () => undefined,
        close: (link: Link) => log.push(`${id} close ${link.remoteId}@${clock.now()}`),
      };
      transports.set(
        id,
        new MemoryTransport(
          { network: net, logger: silentLogger },
          { nodeId: id, connectRtts: 2 },
          events,
        ),
      );
    }
    transports.get('a')?.connect('b');
    await engine.run(200);
    // Offer 20 ms, answer 20 ms, then 2 round trips of 40 ms.
    expect(log).toEqual(['a open b@120', 'b open a@120']);
    transports.get('b')?.fail();
    await engine.run(1000);
    expect(log.slice(2)).toEqual(['a close b@240']);
  }, 5_000);
});
