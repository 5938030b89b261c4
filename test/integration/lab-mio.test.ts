import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CliRunner, type CliResult } from '../helpers/cli.js';
import type { MioRunRecord } from '../../src/lab/mio.js';

const RUN_TIMEOUT_MS = 60_000;

const cli = new CliRunner();
afterEach(() => cli.cleanup());

/** Runs `swarmcast lab mio <args>` to completion. */
const lab = (args: readonly string[]): Promise<CliResult> => cli.run(['lab', 'mio', ...args]);

const outDir = (): Promise<string> => cli.tempDir('swarmcast-lab-mio-');

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
    'gives the same results.json with --jobs 2 (worker threads) as with --jobs 1',
    async () => {
      const [one, two] = [await outDir(), await outDir()];
      const tiny = [
        ...['--peers', '8', '--duration', '6', '--reps', '2', '--rates', '0,3'],
        ...['--topologies', 'list,mesh', '--distributions', 'binomial', '--seed', '7'],
      ];
      const a = await lab([...tiny, '--jobs', '1', '--out', one]);
      expect(a.code, a.stderr).toBe(0);
      const b = await lab([...tiny, '--jobs', '2', '--out', two]);
      expect(b.code, b.stderr).toBe(0);
      expect(b.stderr).toMatch(/8\/8 runs/);
      const records = await readFile(join(two, 'results.json'), 'utf8');
      expect(
        (JSON.parse(records) as MioRunRecord[]).map((r) => [r.topology, r.rate, r.rep]),
      ).toEqual([
        ['list', 0, 0],
        ['list', 0, 1],
        ['list', 3, 0],
        ['list', 3, 1],
        ['mesh', 0, 0],
        ['mesh', 0, 1],
        ['mesh', 3, 0],
        ['mesh', 3, 1],
      ]);
      expect(records).toBe(await readFile(join(one, 'results.json'), 'utf8'));
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
