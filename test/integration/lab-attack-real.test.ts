/**
 * `swarmcast lab attack --mode real`, short: one polluter (started first, next to the broadcaster)
 * among 10 honest viewer processes over real WebRTC on loopback, and its baseline; a corrupt one,
 * then one with fake possession maps. The honest viewers' verified and sent chunks are audited
 * against what the broadcaster published.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/common/logger.js';
import { attackReport, writeAttackJson, type AttackRecord } from '../../src/lab/attack.js';
import { REAL_ATTACK_LAB_DEFAULTS, runRealAttackLab } from '../../src/lab/attack-real.js';
import { runCleanups, type Cleanup } from '../helpers/cleanup.js';

const PEERS = 11;
const DURATION_MS = 10_000;

const cleanups: Cleanup[] = [];
afterEach(async () => {
  await runCleanups(cleanups);
});

describe('swarmcast lab attack --mode real', () => {
  it(
    'runs a corrupt polluter among 10 honest viewer processes and a baseline: no bad chunk played or relayed, and the record holds every field; a fake-have polluter is evicted within 10 s and every honest viewer plays',
    { timeout: 240_000 },
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'swarmcast-lab-real-'));
      cleanups.push(() => rm(dir, { recursive: true, force: true }));
      // A failed or timed-out test stops the run under way, and with it every process.
      const stop = new AbortController();
      const lab = runRealAttackLab(
        { logger: silentLogger, signal: stop.signal },
        {
          ...REAL_ATTACK_LAB_DEFAULTS,
          peers: PEERS,
          attacks: ['corrupt', 'fake-have'],
          durationMs: DURATION_MS,
        },
      );
      cleanups.push(async () => {
        stop.abort();
        await lab.catch(() => undefined);
      });
      const { records, placements } = await lab;

      const file = join(dir, 'real.json');
      await writeAttackJson(file, records);
      const [record, fakeHave] = JSON.parse(await readFile(file, 'utf8')) as AttackRecord[];
      if (record === undefined || fakeHave === undefined) throw new Error('no record');
      expect(record).toMatchObject({
        mode: 'real',
        attack: 'corrupt',
        peers: PEERS,
        polluters: 1,
        durationS: DURATION_MS / 1000,
        badChunksPlayed: 0,
        badChunksRelayed: 0,
        pollutersActive: 1,
      });
      // The audit covered real traffic: every honest viewer verified chunks, and relayed some.
      expect(record.chunksChecked).toBeGreaterThan((PEERS - 1) * 10);
      expect(record.chunksSentChecked).toBeGreaterThan(0);
      // The polluter relayed to honest viewers, who rejected what it sent. (Its children, sampled
      // from its once-a-second reports, may show none: it can be gone within the second.)
      expect(record.chunksRejected).toBeGreaterThan(0);
      expect(record.evictionMs).toHaveLength(1);
      expect(record.pollutersEvicted).toBe(record.evictionMs.filter((ms) => ms !== null).length);
      for (const key of [
        'evictionMsMax',
        'evictionReasons',
        'stalledMsPerPeer',
        'stalledMsPerPeerBaseline',
        'latencyMsPerPeer',
        'latencyMsPerPeerBaseline',
        'originBytesPerPeer',
        'originBytesPerPeerBaseline',
      ]) {
        expect(record, key).toHaveProperty(key);
      }
      expect(typeof record.stalledMsPerPeer).toBe('number');
      expect(typeof record.stalledMsPerPeerBaseline).toBe('number');
      expect(
        attackReport(records, { title: 'real', command: 'swarmcast lab attack', setup: '' }),
      ).toContain(`| corrupt | ${String(PEERS)} | 1 | 1 | 0 / `);

      // Its first fake map goes out before anyone holds a chunk to judge it by: the stream's
      // epoch does, and the polluter is gone long before the run ends, every honest viewer playing.
      expect(fakeHave).toMatchObject({
        attack: 'fake-have',
        badChunksPlayed: 0,
        pollutersActive: 1,
      });
      expect(fakeHave.pollutersEvicted).toBe(1);
      expect(fakeHave.evictionMsMax).toBeLessThanOrEqual(10_000);
      expect(placements[1]).toMatchObject({ honestNotPlaying: 0, honestRemoved: 0 });
    },
  );
});
