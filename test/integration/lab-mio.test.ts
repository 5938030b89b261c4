import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { MioRunRecord } from '../../src/lab/mio.js';

const CLI = join(import.meta.dirname, '../../src/cli/index.ts');
const RUN_TIMEOUT_MS = 60_000;

const children = new Set<ChildProcess>();
const dirs: string[] = [];

afterEach(async () => {
  for (const child of children) {
    if (child.exitCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
  }
  children.clear();
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

/** Runs `swarmcast lab mio <args>` to completion; resolves with its exit code and output. */
async function lab(
  args: readonly string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'lab', 'mio', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  return { code, stdout, stderr };
}

async function outDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'swarmcast-lab-mio-'));
  dirs.push(dir);
  return dir;
}

const SMALL = [
  '--peers',
  '12',
  '--duration',
  '10',
  '--reps',
  '1',
  '--rates',
  '0,2',
  '--topologies',
  'tree,mesh',
  '--distributions',
  'uniform,poisson',
  '--seed',
  '42',
];

describe('swarmcast lab mio', () => {
  it(
    'writes results.json with a record per run holding the figures, SVG charts and REPORT.md, and the same seed gives the identical results.json',
    async () => {
      const [first, second] = [await outDir(), await outDir()];
      const a = await lab([...SMALL, '--out', first]);
      expect(a.code, a.stderr).toBe(0);
      expect(a.stderr).toMatch(/8\/8 runs/);

      const records = JSON.parse(
        await readFile(join(first, 'results.json'), 'utf8'),
      ) as MioRunRecord[];
      expect(records).toHaveLength(2 * 2 * 2);
      for (const record of records) {
        for (const key of [
          'topology',
          'distribution',
          'rate',
          'peers',
          'durationS',
          'rep',
          'seed',
          'stalledMsPerPeer',
          'stallsPerPeer',
          'goodputBpsPerPeer',
          'latencyP95Ms',
          'offload',
          'chunksMissing',
        ]) {
          expect(record).toHaveProperty(key);
        }
        expect(record.peers).toBe(12);
        expect(record.durationS).toBe(10);
        expect(record.failures).toBe(record.rate * 5);
        expect(record.goodputBpsPerPeer).toBeGreaterThan(0);
        expect(record.stalledMsPerPeer).toBeGreaterThanOrEqual(0);
      }
      expect(new Set(records.map((r) => r.seed)).size).toBe(records.length);

      const files = await readdir(first);
      const svgs = files.filter((f) => f.endsWith('.svg'));
      // Figures 5-8 (two per topology run), 11a, 11b and 12.
      expect(svgs).toHaveLength(7);
      for (const svg of svgs) {
        const markup = await readFile(join(first, svg), 'utf8');
        expect(markup).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
        expect(markup).toMatch(/<path d="M/);
        expect(markup).toContain('failures per second');
      }
      const report = await readFile(join(first, 'REPORT.md'), 'utf8');
      expect(report).toContain(`swarmcast lab mio --mode sim --peers 12 --duration 10 --reps 1`);
      expect(report).toMatch(/\| tree \| 0 \|/);
      expect(report).toMatch(/\| mesh \| 2 \|/);
      expect(report).toContain('2807');
      expect(report).toMatch(/tree at 0 failures\/s.*(met|NOT met)/);

      const b = await lab([...SMALL, '--out', second]);
      expect(b.code, b.stderr).toBe(0);
      expect(await readFile(join(second, 'results.json'), 'utf8')).toBe(
        await readFile(join(first, 'results.json'), 'utf8'),
      );
    },
    2 * RUN_TIMEOUT_MS,
  );

  it(
    'refuses an unknown --mode',
    async () => {
      const result = await lab(['--mode', 'foo', '--out', await outDir()]);
      expect(result.code).not.toBe(0);
      expect(result.stderr).toMatch(/mode/);
    },
    RUN_TIMEOUT_MS,
  );
});
