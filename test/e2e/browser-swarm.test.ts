/**
 * Browser viewers in a real swarm: the viewer page served by the origin, in the system Chromium,
 * with real WebRTC between browsers and Node peers (node-datachannel), a real broadcaster (ffmpeg)
 * and the real tracker. Must run inside the loopback-only network namespace (`npm test` sets it
 * up): Chromium's WebRTC would otherwise gather the machine's other interfaces.
 */
import { mkdir } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { runCleanups, type Cleanup } from '../helpers/cleanup.js';
import type { Page } from 'playwright-core';
import { loadViewerBundle } from '../../src/browser/bundle.node.js';
import type { ViewerStats } from '../../src/browser/viewer.js';
import { SystemClock } from '../../src/common/clock.js';
import { DEFAULTS } from '../../src/common/defaults.js';
import { silentLogger } from '../../src/common/logger.js';
import { OriginServer } from '../../src/origin/server.js';
import type { PeerCore } from '../../src/peer/core.js';
import { createNodePeer } from '../../src/peer/peer.node.js';
import type { StreamInfo } from '../../src/protocol/tracker.js';
import { TrackerServer } from '../../src/tracker/server.js';
import { syntheticBroadcast } from '../helpers/broadcast.js';
import { launchChromium, type ChromiumSession } from '../helpers/chromium.js';
import { sleep, waitFor } from '../helpers/wait.js';

const STREAM = 'live';
const OUTPUT_DIR = new URL('../../test-output/', import.meta.url);
const SWARM_MS = 30_000;

const cleanups: Cleanup[] = [];

afterEach(async () => {
  pageErrors.length = 0;
  await runCleanups(cleanups);
});

function requireLoopbackNamespace(): void {
  if (process.env.SWARMCAST_NETNS !== 'lo-only') {
    throw new Error(
      'browser WebRTC tests must run in the loopback-only network namespace (Chromium would ' +
        'gather non-loopback candidates): run them with `npm test -- test/e2e/browser-swarm.test.ts`',
    );
  }
}

interface Stream {
  originUrl: string;
  origin: OriginServer;
  info: StreamInfo;
  chunks: () => number;
}

/**
 * A broadcaster publishing to an origin that serves the viewer page for `trackerUrl`, and (when
 * `publishToTracker`) the broadcaster's node in the overlay.
 */
async function startStream(trackerUrl: string, publishToTracker: boolean): Promise<Stream> {
  const clock = new SystemClock();
  const { broadcaster, store } = await syntheticBroadcast(clock, STREAM);
  cleanups.push(() => broadcaster.stop());
  const origin = new OriginServer(
    { store, clock },
    { viewer: { trackerUrl, script: await loadViewerBundle() } },
  );
  cleanups.push(() => origin.close());
  const originUrl = await origin.listen();
  const info: StreamInfo = {
    stream: STREAM,
    publicKey: broadcaster.publicKey,
    chunkDurationMs: DEFAULTS.chunkDurationMs,
    segmentDurationMs: DEFAULTS.segmentDurationMs,
    originUrl,
  };
  let root: PeerCore | undefined;
  if (publishToTracker) {
    root = createNodePeer(
      { logger: silentLogger },
      { stream: STREAM, role: 'broadcaster', info, trackerUrl, rtc: { bindAddress: '127.0.0.1' } },
    );
    const started = root;
    cleanups.push(() => {
      started.stop();
    });
    root.start();
  }
  let chunks = 0;
  broadcaster.on('chunk', ({ chunk }) => {
    chunks++;
    root?.publish(chunk);
  });
  await broadcaster.start();
  await waitFor(() => chunks >= 4, 'the first chunks', 30_000, 100);
  return { originUrl, origin, info, chunks: () => chunks };
}

async function startTracker(): Promise<TrackerServer> {
  // The broadcaster's key is made after the tracker starts: any authenticated peer may broadcast.
  const tracker = new TrackerServer({ logger: silentLogger }, { broadcasters: 'any' });
  cleanups.push(() => tracker.close());
  await tracker.listen();
  return tracker;
}

async function openChromium(originUrl: string): Promise<ChromiumSession> {
  const chromium = await launchChromium();
  cleanups.push(() => chromium.close());
  await chromium.grantMediaPermissions(originUrl);
  return chromium;
}

/** Errors the pages reported (uncaught exceptions, console errors), for failure messages. */
const pageErrors: string[] = [];

async function openViewer(chromium: ChromiumSession, originUrl: string): Promise<Page> {
  const page = await chromium.newPage();
  page.on('pageerror', (error) => pageErrors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') pageErrors.push(message.text());
  });
  await page.goto(`${originUrl}/watch/${STREAM}`);
  return page;
}

/** Waits for `condition` on a page's stats; the failure names the last stats and page errors. */
async function waitForViewer(
  page: Page,
  condition: (stats: ViewerStats) => boolean,
  what: string,
  timeoutMs: number,
): Promise<void> {
  try {
    await waitFor(async () => condition(await viewerStats(page)), what, timeoutMs, 100);
  } catch (error) {
    const stats = await viewerStats(page).catch((e: unknown) => String(e));
    throw new Error(
      `${String(error)}; last stats ${JSON.stringify(stats)}; page errors ${JSON.stringify(pageErrors)}`,
    );
  }
}

function viewerStats(page: Page): Promise<ViewerStats> {
  return page.evaluate(() => {
    const w = window as unknown as { swarmcastViewer: { stats(): ViewerStats } };
    return w.swarmcastViewer.stats();
  });
}

async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(OUTPUT_DIR, { recursive: true });
  const path = new URL(name, OUTPUT_DIR).pathname;
  await page.screenshot({ path });
  return path;
}

function nodeViewer(trackerUrl: string, originUrl: string): PeerCore {
  const peer = createNodePeer(
    { logger: silentLogger },
    { stream: STREAM, trackerUrl, originUrl, rtc: { bindAddress: '127.0.0.1' } },
  );
  cleanups.push(() => {
    peer.stop();
  });
  peer.start();
  return peer;
}

describe('browser viewers', () => {
  it(
    'three browser viewers and three Node peers share one stream: each plays 20 s of 30 without a stall over 1 s, browsers relay to and receive from browsers and Node peers, and the origin sends far less than the viewers receive',
    { timeout: 150_000 },
    async () => {
      requireLoopbackNamespace();
      const tracker = await startTracker();
      const trackerUrl = tracker.url ?? '';
      const { originUrl, origin } = await startStream(trackerUrl, true);
      const chromium = await openChromium(originUrl);

      // Joined one at a time, in the order that shapes the tree (root fan-out 1, fan-out 2):
      // root → N1 → (B1, B2); B1 → (N2, N3); B2 → B3. So browsers get chunks from a Node peer
      // and from a browser, and a browser relays to Node peers.
      const nodes: PeerCore[] = [];
      const pages: Page[] = [];
      const joinNode = async (): Promise<void> => {
        const peer = nodeViewer(trackerUrl, originUrl);
        nodes.push(peer);
        await waitFor(() => peer.parents.length > 0, 'a Node peer to get a parent', 15_000, 50);
      };
      const joinBrowser = async (): Promise<void> => {
        const page = await openViewer(chromium, originUrl);
        pages.push(page);
        await waitForViewer(
          page,
          (s) => s.peersConnected > 0,
          'a browser viewer to link to its parent',
          15_000,
        );
      };
      await joinNode();
      await joinBrowser();
      await joinBrowser();
      await joinNode();
      await joinNode();
      await joinBrowser();

      for (const page of pages) {
        await waitForViewer(page, (s) => s.player.startupMs !== null, 'playback to start', 15_000);
      }
      const startTimes = await Promise.all(
        pages.map(async (page) => (await viewerStats(page)).player.currentTimeS),
      );
      await sleep(SWARM_MS);
      const stats = await Promise.all(pages.map((page) => viewerStats(page)));
      const shotPage = pages.at(-1);
      if (shotPage === undefined) throw new Error('no browser viewer');
      const shot = await screenshot(shotPage, 'browser-swarm-viewer.png');

      const browserIds = new Set(stats.map((s) => s.peerId));
      const nodeIds = new Set(nodes.map((n) => n.peerId));
      const fromSet = (s: ViewerStats, ids: Set<string | null>): number =>
        Object.entries(s.chunksBySource)
          .filter(([from]) => ids.has(from))
          .reduce((n, [, count]) => n + count, 0);
      for (const [i, s] of stats.entries()) {
        console.info(
          `browser ${i} (${s.peerId ?? '-'}): played ${(s.player.currentTimeS - (startTimes[i] ?? 0)).toFixed(1)} s, ` +
            `from peers ${((s.peerShare ?? 0) * 100).toFixed(1)} %, latency ${((s.player.latencyMs ?? Number.NaN) / 1000).toFixed(2)} s, ` +
            `stalls ${s.player.stalls} (${s.player.stalledMs} ms), sources ${JSON.stringify(s.chunksBySource)}`,
        );
      }
      const received =
        stats.reduce((n, s) => n + s.bytesFromPeers + s.bytesFromOrigin, 0) +
        nodes.reduce((n, p) => n + p.stats().bytesFromPeers + p.stats().bytesFromOrigin, 0);
      const originMedia =
        origin.stats.chunkBytes + origin.stats.segmentBytes + origin.stats.initBytes;
      console.info(
        `origin sent ${originMedia} media bytes; viewers received ${received} bytes; screenshot ${shot}`,
      );

      for (const [i, s] of stats.entries()) {
        expect(s.mode, `browser ${i}`).toBe('peer-to-peer');
        expect(s.player.error, `browser ${i}`).toBeNull();
        expect(s.player.currentTimeS - (startTimes[i] ?? 0), `browser ${i}`).toBeGreaterThanOrEqual(
          20,
        );
        expect(s.player.longestStallMs, `browser ${i}`).toBeLessThanOrEqual(1000);
      }
      expect(stats.some((s) => fromSet(s, browserIds) > 0)).toBe(true);
      expect(stats.some((s) => fromSet(s, nodeIds) > 0)).toBe(true);
      expect(originMedia).toBeLessThan(received / 5);
    },
  );

  it(
    'the viewer page with the tracker down plays from the origin and says so',
    { timeout: 90_000 },
    async () => {
      requireLoopbackNamespace();
      const tracker = await startTracker();
      const trackerUrl = tracker.url ?? '';
      await tracker.close();
      const { originUrl } = await startStream(trackerUrl, false);
      const chromium = await openChromium(originUrl);
      const page = await openViewer(chromium, originUrl);

      await waitForViewer(page, (s) => s.player.currentTimeS > 0, 'playback to start', 30_000);
      const start = (await viewerStats(page)).player.currentTimeS;
      await waitForViewer(
        page,
        (s) => s.player.currentTimeS - start >= 5,
        '5 s of playback from the origin',
        20_000,
      );
      const stats = await viewerStats(page);
      const message = await page.locator('#message').textContent();
      await screenshot(page, 'browser-tracker-down.png');
      expect(stats.mode).toBe('origin-only');
      expect(stats.notice).toMatch(/tracker/i);
      expect(message).toMatch(/tracker .*origin only/i);
      expect(stats.chunksBySource.origin).toBeGreaterThan(0);
      expect(stats.player.error).toBeNull();
    },
  );
});
