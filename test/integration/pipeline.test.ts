import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/common/logger.js';
import { sum } from '../../src/common/stats.js';
import { LocalSwarm, type PeerProcessView } from '../../src/lab/local-swarm.js';
import { sleep, waitFor } from '../helpers/wait.js';

/** A small picture keeps ffmpeg cheap on a 2-core machine; the pipeline is the same. */
const SMALL = { width: 640, height: 360, videoKbps: 800 } as const;

let swarm: LocalSwarm | undefined;

afterEach(async () => {
  await swarm?.stop();
  swarm = undefined;
});

function reportOf(view: PeerProcessView) {
  if (view.report === undefined) throw new Error(`peer ${view.index} never reported`);
  return view.report;
}

describe('the live pipeline over real WebRTC', () => {
  it('delivers every chunk to 4 peers, verified, with byte counters that match', async () => {
    swarm = new LocalSwarm({ logger: silentLogger }, { ...SMALL, peers: 4 });
    await swarm.start();
    await waitFor(
      () => swarm?.peers().every((p) => p.report?.stats.playback?.state === 'playing') ?? false,
      'every peer playing',
      20_000,
    );
    await sleep(20_000);

    const playing = swarm.peers().map(reportOf);
    for (const report of playing) {
      const playback = report.stats.playback;
      expect(playback).not.toBeNull();
      if (playback === null) continue;
      // Every chunk from its start position on was played: none skipped, none rejected.
      expect(playback.chunksSkipped).toBe(0);
      expect(report.stats.rejectedChunks).toBe(0);
      // 20 s of 0.5 s chunks after playing started.
      expect(playback.chunksPlayed).toBeGreaterThanOrEqual(38);
      expect(playback.stalls).toBe(0);
      expect(playback.latencyP95Ms).toBeLessThan(4000);
      // What was played came through verification (from peers or the origin).
      expect(report.stats.chunksFromPeers + report.stats.chunksFromOrigin).toBeGreaterThanOrEqual(
        playback.chunksPlayed,
      );
    }
    // Most chunks came from peers, not the origin.
    expect(sum(playing.map((r) => r.stats.chunksFromPeers))).toBeGreaterThan(
      10 * sum(playing.map((r) => r.stats.chunksFromOrigin)),
    );

    // Stop the source, then every byte sent on a link was received. Each process reports its
    // counters once a second, and requests and answers for the chunks that no longer come go on,
    // so two reports may straddle a frame in flight: the totals must meet at some report, and
    // would stay apart for good if a frame were lost.
    await swarm.stopBroadcaster();
    const s = swarm;
    const totals = () => {
      const quiet = s.peers().map(reportOf);
      const root = s.broadcasterStats();
      return {
        uploaded: sum(quiet.map((r) => r.stats.bytesUploaded)) + (root?.bytesUploaded ?? 0),
        // The broadcaster's node receives too: its child's HELLO and HAVE.
        received: sum(quiet.map((r) => r.stats.bytesFromPeers)) + (root?.bytesFromPeers ?? 0),
      };
    };
    await waitFor(
      () => {
        const { uploaded, received } = totals();
        return uploaded === received;
      },
      'every byte sent on a link to be received',
      10_000,
      100,
    );
    expect(totals().uploaded).toBeGreaterThan(4 * 20 * 50_000);
  }, 90_000);

  it('re-parents the children of a killed peer, which keep playing every chunk', async () => {
    swarm = new LocalSwarm({ logger: silentLogger }, { ...SMALL, peers: 4 });
    await swarm.start();
    const s = swarm;
    await waitFor(
      () => s.peers().every((p) => p.report?.stats.playback?.state === 'playing'),
      'every peer playing',
      20_000,
    );
    await sleep(3000);
    // The tree by arrival: broadcaster → one peer → its two children → ... Kill a peer with children.
    const stream = s.snapshot()?.streams[0];
    expect(stream).toBeDefined();
    const victim = stream?.nodes.find((n) => n.role === 'viewer' && n.children.length > 0);
    expect(victim).toBeDefined();
    const orphans = victim?.children ?? [];
    const victimView = s.peers().find((p) => p.report?.stats.peerId === victim?.id);
    expect(victimView).toBeDefined();
    const playedBefore = new Map(
      s
        .peers()
        .flatMap((p) =>
          p.report === undefined
            ? []
            : [[p.report.stats.peerId, p.report.stats.playback?.chunksPlayed ?? 0] as const],
        ),
    );
    s.killPeer(victimView?.index ?? -1);

    await sleep(8000);
    const after = s.snapshot()?.streams[0];
    for (const orphan of orphans) {
      const node = after?.nodes.find((n) => n.id === orphan);
      expect(node).toBeDefined();
      expect(node?.parents).not.toContain(victim?.id);
      expect(node?.parents.length).toBe(1);
      const view = s.peers().find((p) => p.report?.stats.peerId === orphan);
      const playback = view?.report?.stats.playback;
      expect(playback?.chunksSkipped).toBe(0);
      expect(playback?.state).toBe('playing');
      // 8 s of 0.5 s chunks went by: they kept playing.
      expect(
        (playback?.chunksPlayed ?? 0) - (playedBefore.get(orphan) ?? 0),
      ).toBeGreaterThanOrEqual(14);
    }
    expect(after?.nodes.some((n) => n.id === victim?.id)).toBe(false);
  }, 90_000);
});
