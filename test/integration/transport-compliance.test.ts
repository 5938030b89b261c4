import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { PeerConnection } from 'node-datachannel';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/common/logger.js';
import type { SignalData } from '../../src/protocol/tracker.js';
import { RtcTransport } from '../../src/transport/rtc.node.js';
import { RTC_LINK_DEFAULTS } from '../../src/transport/rtc-transport.js';
import type { Link, TransportEvents } from '../../src/transport/types.js';
import {
  sleep,
  TestSwarm,
  transportCompliance,
  waitFor,
  type TestNetwork,
  type TestPeer,
} from '../helpers/transport-compliance.js';

const LOOPBACK = { bindAddress: '127.0.0.1', connectTimeoutMs: 2000 } as const;

function rtcNetwork(): TestNetwork {
  return {
    connectTimeoutMs: LOOPBACK.connectTimeoutMs,
    lowWaterBytes: RTC_LINK_DEFAULTS.lowWaterBytes,
    createTransport: (_id, events) => new RtcTransport({ logger: silentLogger }, LOOPBACK, events),
    close: () => Promise.resolve(),
  };
}

transportCompliance('RtcTransport', () => Promise.resolve(rtcNetwork()));

/** Events of one transport, recorded. */
function recorder(onSignal: (to: string, data: SignalData) => void) {
  const log = { opens: [] as Link[], closes: [] as Link[], messages: [] as Uint8Array[] };
  const events: TransportEvents = {
    signal: onSignal,
    open: (link) => log.opens.push(link),
    message: (_link, data) => log.messages.push(data),
    drain: () => undefined,
    close: (link) => log.closes.push(link),
  };
  return { log, events };
}

describe('RtcTransport (node-datachannel specifics)', () => {
  const cleanups: (() => void | Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('gathers only the bindAddress candidate and frees every link on close()', async () => {
    const transports = new Map<string, RtcTransport>();
    const swarm = new TestSwarm({
      ...rtcNetwork(),
      createTransport: (id, events) => {
        const transport = new RtcTransport({ logger: silentLogger }, LOOPBACK, events);
        transports.set(id, transport);
        return transport;
      },
    });
    cleanups.push(() => swarm.close());
    const [a, b] = swarm.add('a', 'b') as [TestPeer, TestPeer];
    const { ba } = await swarm.openPair(a, b);
    const candidates = [...a.signals, ...b.signals].flatMap((s) =>
      s.data.kind === 'candidate' ? [s.data.candidate] : [],
    );
    expect(candidates.length).toBeGreaterThanOrEqual(2);
    for (const candidate of candidates) {
      expect(candidate).toMatch(/^candidate:\S+ 1 UDP \d+ 127\.0\.0\.1 \d+ typ host/);
    }
    const counts = () => [...transports.values()].map((t) => t.linkCount);
    expect(counts()).toEqual([1, 1]);
    a.transport.close();
    await waitFor(() => b.closeCount(ba) === 1, 'close on the remote end');
    expect(counts()).toEqual([0, 0]);
  }, 15_000);

  it('a text message closes the link that carried it', async () => {
    const raw = new PeerConnection('raw', { iceServers: [], bindAddress: '127.0.0.1' });
    cleanups.push(() => {
      raw.close();
    });
    const { log, events } = recorder((_to, data) => {
      if (data.kind === 'description') raw.setRemoteDescription(data.sdp, data.sdpType);
      else raw.addRemoteCandidate(data.candidate, data.mid);
    });
    const transport = new RtcTransport({ logger: silentLogger }, LOOPBACK, events);
    cleanups.push(() => {
      transport.close();
    });
    raw.onLocalDescription((sdp, type) => {
      if (type === 'offer') transport.signal('raw', { kind: 'description', sdpType: type, sdp });
    });
    raw.onLocalCandidate((candidate, mid) => {
      transport.signal('raw', { kind: 'candidate', candidate, mid });
    });
    let rawChannelClosed = false;
    const channel = raw.createDataChannel('swarmcast');
    channel.onClosed(() => {
      rawChannelClosed = true;
    });
    channel.onOpen(() => {
      channel.sendMessageBinary(new Uint8Array([1, 2, 3]));
      channel.sendMessage('not binary');
      channel.sendMessageBinary(new Uint8Array([4]));
    });
    await waitFor(() => log.closes.length === 1, 'the link to close');
    await waitFor(() => rawChannelClosed, 'the remote channel to close');
    expect(log.opens).toEqual(log.closes);
    expect(log.messages).toEqual([new Uint8Array([1, 2, 3])]);
    expect(transport.linkCount).toBe(0);
  }, 15_000);

  it('rejects options out of range with an invalid-argument error', () => {
    const { events } = recorder(() => undefined);
    const make = (options: object) => () =>
      new RtcTransport({ logger: silentLogger }, { ...LOOPBACK, ...options }, events);
    expect(make({ connectTimeoutMs: 0 })).toThrow(
      expect.objectContaining({ code: 'invalid-argument' }),
    );
    expect(make({ lowWaterBytes: -1 })).toThrow(
      expect.objectContaining({ code: 'invalid-argument' }),
    );
    expect(make({ portRangeBegin: 6000, portRangeEnd: 5000 })).toThrow(
      expect.objectContaining({ code: 'invalid-argument' }),
    );
    expect(make({ portRangeBegin: 0 })).toThrow(
      expect.objectContaining({ code: 'invalid-argument' }),
    );
  });

  /** Runs links through every way of closing in a child process; resolves with how it ended. */
  async function runChild(
    mode: 'one-sided' | 'together',
  ): Promise<{ output: string; code: unknown }> {
    const dir = await mkdtemp(join(tmpdir(), 'swarmcast-rtc-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const module = pathToFileURL(
      fileURLToPath(new URL('../../src/transport/rtc.node.ts', import.meta.url)),
    );
    const script = join(dir, 'exit.mts');
    await writeFile(
      script,
      `import { RtcTransport, shutdownRtc } from ${JSON.stringify(module.href)};
const quiet = { debug() {}, info() {}, warn() {}, error() {}, child() { return quiet; } };
const options = { bindAddress: '127.0.0.1', connectTimeoutMs: 2000 };
const ends = new Map<string, RtcTransport>();
const muted = new Set<string>();
let opens = 0;
let closes = 0;
const events = (self: string) => ({
  signal: (to: string, data: never) => {
    if (!muted.has(self)) queueMicrotask(() => ends.get(to)?.signal(self, data));
  },
  open: () => { opens++; },
  message: () => {},
  drain: () => {},
  close: () => { closes++; },
});
const until = async (condition: () => boolean) => {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5));
};
for (const id of ['a', 'b', 'c']) ends.set(id, new RtcTransport({ logger: quiet }, options, events(id)));
// A link opens, then one end closes it.
const ab = ends.get('a')!.connect('b');
await until(() => opens === 2);
ab.close();
await until(() => closes === 2);
// A link to a peer that never answers times out on both ends.
muted.add('c');
ends.get('a')!.connect('c');
await until(() => closes === 4);
muted.delete('c');
// Links still open when their transports close.
ends.get('a')!.connect('c');
ends.get('b')!.connect('c');
await until(() => opens === 6);
if (process.argv[2] === 'together') {
  for (const transport of ends.values()) transport.close();
  shutdownRtc();
} else {
  ends.get('c')!.close();
  await until(() => closes === 8);
  for (const transport of ends.values()) transport.close();
}
process.stdout.write('done\\n');
`,
    );
    const child = spawn(process.execPath, ['--import', 'tsx', script, mode], {
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    cleanups.push(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    let output = '';
    child.stdout.on('data', (data: Buffer) => (output += data.toString()));
    child.stderr.on('data', (data: Buffer) => (output += data.toString()));
    // 'close', not 'exit': it fires once the child's output has been read to the end.
    const exit = new Promise<number | null>((resolve) => child.on('close', resolve));
    const code = await Promise.race([exit, sleep(15_000).then(() => 'still running')]);
    return { output, code };
  }

  it('a process exits on its own once its links closed from one end, timed out, or closed with their transport', async () => {
    expect(await runChild('one-sided')).toEqual({ output: 'done\n', code: 0 });
  }, 20_000);

  // Both ends closing at once can leave node-datachannel holding the event loop (see rtc.node.ts).
  it('a process that closes all its transports together exits once it calls shutdownRtc()', async () => {
    expect(await runChild('together')).toEqual({ output: 'done\n', code: 0 });
  }, 20_000);
});
