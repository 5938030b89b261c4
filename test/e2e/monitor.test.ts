/**
 * The monitor page on the tracker's port, in the system Chromium, watching a real LocalSwarm
 * (ffmpeg broadcaster, origin, tracker and 6 Node peer processes over real WebRTC on loopback):
 * it shows every node with its links, and its kill button removes a peer whose children then
 * re-attach.
 */
import { mkdir } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { silentLogger } from '../../src/common/logger.js';
import { LocalSwarm } from '../../src/lab/local-swarm.js';
import type { MonitorGraphView } from '../../src/monitor/app.js';
import type { StreamSnapshot } from '../../src/tracker/core/tracker-core.js';
import { launchChromium } from '../helpers/chromium.js';
import { waitFor } from '../helpers/wait.js';

const OUTPUT_DIR = new URL('../../test-output/', import.meta.url);
const PEERS = 6;

const cleanups: (() => Promise<unknown> | undefined)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) {
    try {
      await cleanup();
    } catch {
      // Keep cleaning up: one failure must not leave the rest running.
    }
  }
});

function stream(swarm: LocalSwarm): StreamSnapshot | undefined {
  return swarm.snapshot()?.streams[0];
}

/** Every viewer has a parent that is in the stream. */
function attached(s: StreamSnapshot | undefined, nodes: number): boolean {
  if (s?.nodes.length !== nodes) return false;
  const ids = new Set(s.nodes.map((n) => n.id));
  return s.nodes.every(
    (n) => n.role === 'broadcaster' || (n.parents.length > 0 && n.parents.every((p) => ids.has(p))),
  );
}

/** Each node's parents as `id -> sorted parents`, from the tracker or from the page. */
function parentMap(
  nodes: readonly { id: string; parents: readonly string[] }[],
): Map<string, string> {
  return new Map(nodes.map((n) => [n.id, [...n.parents].sort().join(' ')]));
}

function graphOf(page: Page): Promise<MonitorGraphView | undefined> {
  return page.evaluate(() => window.swarmcastMonitor?.graph());
}

/** Waits until the page's graph shows exactly the tracker's nodes and parent links. */
async function pageMatchesTracker(page: Page, swarm: LocalSwarm, timeoutMs: number): Promise<void> {
  await waitFor(
    async () => {
      const s = stream(swarm);
      const graph = await graphOf(page);
      if (s === undefined || graph === undefined) return false;
      const expected = parentMap(s.nodes);
      const shown = parentMap(graph.nodes);
      return (
        shown.size === expected.size &&
        [...expected].every(([id, parents]) => shown.get(id) === parents)
      );
    },
    'the monitor graph to match the tracker snapshot',
    timeoutMs,
    100,
  );
}

describe('monitor', () => {
  it(
    'shows all 7 nodes with their links, and its kill button removes a peer whose children re-attach',
    { timeout: 120_000 },
    async () => {
      const swarm = new LocalSwarm(
        { logger: silentLogger },
        { peers: PEERS, width: 640, height: 360, videoKbps: 800, peerLogLevel: 'error' },
      );
      cleanups.push(() => swarm.stop());
      const urls = await swarm.start();
      expect(urls.monitorUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/monitor$/);
      await waitFor(() => attached(stream(swarm), PEERS + 1), '6 attached viewers', 30_000, 100);

      const chromium = await launchChromium();
      cleanups.push(() => chromium.close());
      const page = await chromium.newPage();
      const pageErrors: string[] = [];
      page.on('pageerror', (error) => pageErrors.push(error.message));
      await page.goto(urls.monitorUrl);

      // All 7 nodes, each viewer linked to its parent, within 5 s of the page loading.
      await pageMatchesTracker(page, swarm, 5000);
      const graph = await graphOf(page);
      expect(graph?.nodes).toHaveLength(PEERS + 1);
      expect(graph?.nodes.filter((n) => n.role === 'broadcaster')).toHaveLength(1);
      expect(graph?.edges.filter((e) => !e.backup).length).toBeGreaterThanOrEqual(PEERS);
      await expect
        .poll(() => page.locator('#peers tbody tr').count(), { timeout: 5000 })
        .toBe(PEERS + 1);

      // Wait for QoE reports so that the page colours nodes by health and draws the charts.
      await waitFor(
        async () =>
          (await graphOf(page))?.nodes.filter((n) => n.health === 'playing').length === PEERS,
        'every viewer to report playing',
        20_000,
        200,
      );
      // Origin charts: a few points, and most of what viewers got came from other viewers.
      await waitFor(
        async () =>
          ((await page.evaluate(() => window.swarmcastMonitor?.charts()))?.offload.length ?? 0) >=
          3,
        'three chart points',
        10_000,
        200,
      );
      const charts = await page.evaluate(() => window.swarmcastMonitor?.charts());
      expect(charts?.egressKbps.every((kbps) => kbps >= 0)).toBe(true);
      expect(Math.max(...(charts?.offload ?? []))).toBeGreaterThan(0.5);
      await mkdir(OUTPUT_DIR, { recursive: true });
      await page.screenshot({ path: new URL('monitor.png', OUTPUT_DIR).pathname, fullPage: true });

      // Kill a viewer that has children, from the page.
      const before = stream(swarm);
      const victim = before?.nodes.find((n) => n.role === 'viewer' && n.children.length > 0);
      if (victim === undefined || before === undefined) throw new Error('no viewer with children');
      const orphans = victim.children;
      await page.locator(`button.kill[data-peer="${victim.id}"]`).click();

      // The tracker drops it and re-parents its children (the runner starts a replacement).
      await waitFor(
        () => {
          const s = stream(swarm);
          if (s === undefined || s.nodes.some((n) => n.id === victim.id)) return false;
          return orphans.every((id) => {
            const parents = s.nodes.find((n) => n.id === id)?.parents ?? [];
            return parents.length > 0 && !parents.includes(victim.id);
          });
        },
        'the children of the killed peer to re-attach',
        10_000,
        100,
      );
      // The runner SIGKILLed that process and started a replacement.
      await waitFor(
        () => swarm.peers().filter((p) => !p.alive).length === 1,
        'the killed process to exit',
        5000,
        50,
      );
      expect(swarm.peers()).toHaveLength(PEERS + 1);

      // The page agrees: the peer is gone and its children show their new parents.
      await pageMatchesTracker(page, swarm, 5000);
      for (const id of orphans) {
        const parents = await page
          .locator(`#peers tr[data-peer="${id}"]`)
          .getAttribute('data-parents');
        expect(parents).not.toBe('');
        expect(parents?.split(' ')).not.toContain(victim.id);
      }
      expect(await page.locator(`#peers tr[data-peer="${victim.id}"]`).count()).toBe(0);
      expect(await page.locator('#events').textContent()).toContain(
        `killed ${victim.id.slice(0, 6)}`,
      );
      await page.screenshot({
        path: new URL('monitor-after-kill.png', OUTPUT_DIR).pathname,
        fullPage: true,
      });
      expect(pageErrors).toEqual([]);
    },
  );
});
