/**
 * The monitor page on the tracker's port, in the system Chromium, watching a real LocalSwarm
 * (ffmpeg broadcaster, origin, tracker and 6 Node peer processes over real WebRTC on loopback):
 * it shows every node with its links, and its controls work: kill removes a peer whose children
 * then re-attach, the topology switch rebuilds the overlay, failure injection replaces viewers
 * until stopped, a lab scenario shows its record, and an attack starts a polluter that the
 * tracker evicts.
 */
import { mkdir } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { runCleanups, type Cleanup } from '../helpers/cleanup.js';
import type { Page } from 'playwright-core';
import { silentLogger } from '../../src/common/logger.js';
import { LocalSwarm } from '../../src/lab/local-swarm.js';
import type { MonitorGraphView } from '../../src/monitor/app.js';
import type { StreamSnapshot } from '../../src/tracker/core/tracker-core.js';
import { launchChromium } from '../helpers/chromium.js';
import { sleep, waitFor } from '../helpers/wait.js';

const OUTPUT_DIR = new URL('../../test-output/', import.meta.url);
const PEERS = 6;

const cleanups: Cleanup[] = [];

afterEach(async () => {
  await runCleanups(cleanups);
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

/** Every viewer's parents lead to the broadcaster. */
function rooted(s: StreamSnapshot | undefined): boolean {
  const byId = new Map(s?.nodes.map((n) => [n.id, n]));
  return (s?.nodes ?? []).every((node) => {
    let at = node;
    for (let hops = 0; at.role !== 'broadcaster'; hops++) {
      const parent = byId.get(at.parents[0] ?? '');
      if (parent === undefined || hops > byId.size) return false;
      at = parent;
    }
    return true;
  });
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
    'shows all 7 nodes with their links; kill removes a peer whose children re-attach; topology switch, failure injection, a lab scenario and an attack work from the page',
    { timeout: 175_000 },
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

      // Switch the topology from the page: the tracker rebuilds the overlay as a list, every
      // viewer keeps a path from the broadcaster, and each viewer process follows its new parents.
      await waitFor(() => attached(stream(swarm), PEERS + 1), 'the replacement to attach', 10_000);
      expect(stream(swarm)?.topology).toBe('tree');
      await page.selectOption('#topology-select', 'list');
      await page.locator('#topology-form button[type="submit"]').click();
      await waitFor(() => stream(swarm)?.topology === 'list', 'the list topology', 5000, 50);
      const list = stream(swarm);
      expect(attached(list, PEERS + 1) && rooted(list)).toBe(true);
      expect(list?.nodes.every((n) => n.children.length <= 1)).toBe(true);
      await expect
        .poll(() => page.locator('#topology-kind').textContent(), { timeout: 5000 })
        .toBe('(list)');
      await pageMatchesTracker(page, swarm, 5000);
      await waitFor(
        () => {
          const nodes = stream(swarm)?.nodes.filter((n) => n.role === 'viewer') ?? [];
          return nodes.every((node) => {
            const report = swarm
              .peers()
              .find((p) => p.alive && p.report?.stats.peerId === node.id)?.report;
            return (
              report !== undefined &&
              [...report.parents].sort().join(' ') === [...node.parents].sort().join(' ')
            );
          });
        },
        'every viewer process to report its list parent',
        5000,
        100,
      );

      // Inject failures at 1/s from the page: the count rises and processes are replaced; stop
      // sets the control back to inactive and the replacements stop.
      const processes = swarm.peers().length;
      await page.fill('#failure-rate', '1');
      await page.selectOption('#failure-distribution', 'uniform');
      await page.locator('#failures-start').click();
      await expect
        .poll(() => page.locator('#failures-state').getAttribute('data-active'), { timeout: 5000 })
        .toBe('true');
      await expect
        .poll(async () => Number(await page.locator('#failures-count').textContent()), {
          timeout: 8000,
        })
        .toBeGreaterThanOrEqual(2);
      await page.locator('#failures-stop').click();
      await expect
        .poll(() => page.locator('#failures-state').textContent(), { timeout: 5000 })
        .toBe('inactive');
      const injected = Number(await page.locator('#failures-count').textContent());
      const replaced = swarm.peers().length - processes;
      expect(replaced).toBeGreaterThanOrEqual(2);
      await sleep(2000);
      expect(swarm.peers().length - processes).toBe(replaced);
      expect(Number(await page.locator('#failures-count').textContent())).toBe(injected);

      // A short simulated lab scenario from the page shows its record.
      await page.selectOption('#lab-topology', 'mesh');
      await page.fill('#lab-peers', '10');
      await page.fill('#lab-duration', '10');
      await page.locator('#lab-run').click();
      await expect
        .poll(() => page.locator('#lab-record tr[data-field="offload"] td').last().textContent(), {
          timeout: 15_000,
        })
        .toMatch(/^0\.\d{3}$/);
      expect(await page.locator('#lab-state').textContent()).toMatch(/^done in .* mesh,/);
      await page.screenshot({
        path: new URL('monitor-controls.png', OUTPUT_DIR).pathname,
        fullPage: true,
      });

      // Start an attack from the page on a tree: a corrupt polluter joins (a leaf, marked in the
      // table); killing the broadcaster's child moves it, the tree's newest node, into that place,
      // so it relays bad chunks; its new children report it and the tracker evicts it.
      await page.selectOption('#topology-select', 'tree');
      await page.locator('#topology-form button[type="submit"]').click();
      await waitFor(() => stream(swarm)?.topology === 'tree', 'the tree topology', 5000, 50);
      await page.selectOption('#attack-mode', 'corrupt');
      await page.fill('#attack-polluters', '1');
      await page.locator('#attack-start').click();
      await expect
        .poll(() => page.locator('#attack-started').textContent(), { timeout: 5000 })
        .toBe('1');
      await expect
        .poll(() => page.locator('#peers tr[data-polluter="corrupt"]').count(), { timeout: 10_000 })
        .toBe(1);
      const tree = stream(swarm);
      const root = tree?.nodes.find((n) => n.role === 'broadcaster');
      const top = tree?.nodes.find(
        (n) => n.role === 'viewer' && n.parents.includes(root?.id ?? ''),
      );
      if (top === undefined) throw new Error('no child of the broadcaster');
      await page.locator(`button.kill[data-peer="${top.id}"]`).click();
      await expect
        .poll(() => page.locator('#attack-evicted').textContent(), { timeout: 10_000 })
        .toBe('1');
      await expect
        .poll(() => page.locator('#attack-state').textContent(), { timeout: 3000 })
        .toMatch(
          /^1 polluter \(corrupt\): 1 evicted, slowest \d+\.\d s after its first bad message$/,
        );
      const [polluter] = swarm.polluters();
      expect(polluter?.removedReason).toBe('evicted');
      expect(stream(swarm)?.nodes.some((n) => n.id === polluter?.peerId)).toBe(false);
      await expect
        .poll(() => page.locator('#peers tr[data-polluter]').count(), { timeout: 5000 })
        .toBe(0);
      await page.screenshot({
        path: new URL('monitor-attack.png', OUTPUT_DIR).pathname,
        fullPage: true,
      });
      expect(pageErrors).toEqual([]);
    },
  );
});
