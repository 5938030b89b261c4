import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/common/logger.js';
import { LocalSwarm } from '../../src/lab/local-swarm.js';
import { encodeFrame, FrameType } from '../../src/protocol/frames.js';
import { generateNodeSigner } from '../../src/crypto/ed25519.node.js';
import type { TrackerMessage } from '../../src/protocol/tracker.js';
import { RtcTransport } from '../../src/transport/rtc.node.js';
import { WsTrackerConnection } from '../../src/transport/tracker-ws.node.js';
import type { Link } from '../../src/transport/types.js';
import { authFor, helloFor } from '../helpers/tracker-client.js';
import { sleep, waitFor } from '../helpers/wait.js';

let swarm: LocalSwarm | undefined;
const cleanups: (() => void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) cleanup();
  await swarm?.stop();
  swarm = undefined;
});

describe('a peer facing a neighbour that breaks the protocol', () => {
  it('closes that link only; its other child keeps playing every chunk', async () => {
    swarm = new LocalSwarm(
      { logger: silentLogger },
      { peers: 2, width: 640, height: 360, videoKbps: 800 },
    );
    const urls = await swarm.start();
    const s = swarm;
    await waitFor(
      () => s.peers().every((p) => p.report?.stats.playback?.state === 'playing'),
      'every peer playing',
      20_000,
    );

    // A hand-made client joins as the third viewer: the tree puts it beside peer 1, under peer 0.
    const messages: TrackerMessage[] = [];
    const key = generateNodeSigner();
    let credential = '';
    let opened: Link | undefined;
    let closed: Link | undefined;
    const transport = new RtcTransport(
      { logger: silentLogger },
      { bindAddress: '127.0.0.1' },
      {
        signal: (to, data) => {
          tracker.send({ type: 'signal', to, data });
        },
        open: (link) => {
          opened = link;
        },
        message: () => undefined,
        drain: () => undefined,
        close: (link) => {
          closed = link;
        },
      },
    );
    const tracker = new WsTrackerConnection(
      { logger: silentLogger },
      { url: urls.trackerUrl },
      {
        open: () => {
          tracker.send(helloFor(key, 'viewer'));
        },
        message: (message) => {
          messages.push(message);
          if (message.type === 'challenge') tracker.send(authFor(key, 'viewer', message));
          if (message.type === 'welcome') tracker.send({ type: 'join', stream: 'live' });
          if (message.type === 'joined') credential = message.credential;
          if (message.type === 'signal') transport.signal(message.from, message.data);
          if (message.type === 'neighbours' && message.parents[0] !== undefined) {
            transport.connect(message.parents[0]);
          }
        },
        close: () => undefined,
      },
    );
    cleanups.push(() => {
      tracker.close();
      transport.close();
    });
    await waitFor(() => opened !== undefined, 'a link to the parent', 10_000);
    const welcome = messages.find((m) => m.type === 'welcome');
    const peerId = welcome?.type === 'welcome' ? welcome.peerId : '';
    const before = s.peers().map((p) => p.report?.stats.playback?.chunksPlayed ?? 0);

    // A valid HELLO, then a frame of an unknown type.
    opened?.send(
      encodeFrame({ type: FrameType.Hello, hello: { peerId, stream: 'live', credential } }),
    );
    opened?.send(new Uint8Array([1, 200, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
    await waitFor(() => closed !== undefined, 'the parent to close the link', 5000);
    expect(closed).toBe(opened);

    await sleep(4000);
    const after = s.peers();
    for (const [i, view] of after.entries()) {
      const playback = view.report?.stats.playback;
      expect(view.alive).toBe(true);
      expect(playback?.chunksSkipped).toBe(0);
      expect(playback?.state).toBe('playing');
      expect((playback?.chunksPlayed ?? 0) - (before[i] ?? 0)).toBeGreaterThanOrEqual(6);
    }
  }, 60_000);
});
