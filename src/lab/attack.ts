/**
 * `swarmcast lab attack` on the simulator: a swarm in which a fraction of the viewers are
 * polluters (an honest peer core behind an attack decorator, `attacks.ts`), run once per attack
 * mode, and a baseline run with the same seed and no polluter. The lab's set-up is MioStream's
 * (`MIO_LAB_DEFAULTS`: 125 ms chunks, 3 s behind live, the two-stripe tree), so stalls compare with
 * `lab mio`'s.
 *
 * What is measured does not trust the peers' verification: every chunk the source publishes is
 * kept, and every chunk an honest peer verifies (stores, plays, relays) and every chunk an honest
 * peer sends on a link is compared byte for byte with it.
 */
import { writeFile } from 'node:fs/promises';
import { equalBytes } from '../common/bytes.js';
import { SwarmcastError } from '../common/errors.js';
import { mean } from '../common/stats.js';
import { deriveSeed } from '../sim/engine.js';
import { SimSwarm } from '../sim/swarm.js';
import type { Chunk, ChunkMeta } from '../protocol/chunk.js';
import { FRAME_HEADER_BYTES, FrameType, decodeFrame } from '../protocol/frames.js';
import { TRACKER_DEFAULTS } from '../tracker/core/tracker-core.js';
import { attackTracker, attackTransport, rewritingTransport, type AttackMode } from './attacks.js';
import { MIO_LAB_DEFAULTS, MIO_ROOT_FANOUT, MIO_TREE_STRIPES } from './mio.js';

export interface AttackLabOptions {
  /** Viewers in the swarm, polluters included. @default 50 */
  peers: number;
  /** Share of the viewers that pollute (rounded, at least 1). @default 0.1 */
  polluterFraction: number;
  attacks: readonly AttackMode[];
  /** Virtual length of each run. @default 60000 */
  durationMs: number;
  /** Seed of every run (the baseline's too). @default 1 */
  seed: number;
}

export const ATTACK_LAB_DEFAULTS: Omit<AttackLabOptions, 'attacks'> = {
  peers: 50,
  polluterFraction: 0.1,
  durationMs: 60_000,
  seed: 1,
};

/** One attack mode's run against the baseline. "Honest" = every viewer that is not a polluter. */
export interface AttackRecord {
  readonly attack: AttackMode;
  readonly peers: number;
  readonly polluters: number;
  readonly seed: number;
  readonly durationS: number;
  /** Chunks honest peers verified (stored, and so played and relayed) that differ from the source's. */
  readonly badChunksPlayed: number;
  /** Chunks honest peers sent on a link that differ from the source's. */
  readonly badChunksRelayed: number;
  /** Chunks honest peers verified, all told (what the two counts above were checked over). */
  readonly chunksChecked: number;
  /** Chunks honest peers sent, all told. */
  readonly chunksSentChecked: number;
  /** Chunks honest peers rejected (failed verification). */
  readonly chunksRejected: number;
  /** Polluters that sent something harmful (a bad chunk or frame, a flood). */
  readonly pollutersActive: number;
  /** Polluters the tracker removed: evicted on reports, or cut for abuse (rate, protocol errors). */
  readonly pollutersEvicted: number;
  /** Why each removed polluter's tracker connection was closed, and how often. */
  readonly evictionReasons: Readonly<Record<string, number>>;
  /** Longest time from a polluter's first harmful message to its removal (null: none removed). */
  readonly evictionMsMax: number | null;
  /** Per polluter: its first harmful message to its removal (null: not removed). */
  readonly evictionMs: readonly (number | null)[];
  /** Mean stalled time of the honest viewers after startup. */
  readonly stalledMsPerPeer: number;
  /** The same viewers' mean stalled time in the baseline run. */
  readonly stalledMsPerPeerBaseline: number;
  /** Mean bytes honest viewers fetched from the origin, with and without the attack. */
  readonly originBytesPerPeer: number;
  readonly originBytesPerPeerBaseline: number;
}

/** The viewers of a run that pollute: `round(fraction × peers)` (at least 1), drawn from the seed. */
export function polluterIndices(options: Omit<AttackLabOptions, 'attacks'>): number[] {
  const { peers, polluterFraction } = options;
  if (!(polluterFraction > 0 && polluterFraction < 1)) {
    throw new SwarmcastError('invalid-argument', 'the polluter fraction must be in (0, 1)');
  }
  const count = Math.max(1, Math.round(polluterFraction * peers));
  // A seeded shuffle: the same viewers pollute in every mode.
  let x = deriveSeed(options.seed, 'polluters') >>> 0 || 1;
  const order = Array.from({ length: peers }, (_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const j = (x >>> 0) % (i + 1);
    [order[i], order[j]] = [order[j] ?? 0, order[i] ?? 0];
  }
  return order.slice(0, count).sort((a, b) => a - b);
}

/**
 * Compares chunks with what the source published: `verified` for a chunk a peer accepted, and
 * `sent` for every message a peer sends (CHUNK and DATA frames, per link).
 */
export class ChunkAuditor {
  readonly #published = new Map<number, Chunk>();
  badVerified = 0;
  verified = 0;
  badSent = 0;
  sent = 0;

  publish(chunk: Chunk): void {
    this.#published.set(chunk.seq, chunk);
  }

  /** Whether `meta`'s identity and digest are the published chunk's. */
  #sameMeta(meta: ChunkMeta): boolean {
    const ref = this.#published.get(meta.seq);
    return (
      ref?.byteLength === meta.byteLength &&
      ref.captureTimeMs === meta.captureTimeMs &&
      equalBytes(ref.digest, meta.digest) &&
      equalBytes(ref.signature, meta.signature)
    );
  }

  /** A chunk a peer verified: counted bad unless it is the published one, byte for byte. */
  verify(chunk: Chunk): void {
    this.verified++;
    const ref = this.#published.get(chunk.seq);
    if (!this.#sameMeta(chunk) || ref === undefined || !equalBytes(ref.bytes, chunk.bytes)) {
      this.badVerified++;
    }
  }

  /** An observer of one link's outgoing messages: each chunk sent is checked once it ends. */
  linkObserver(): (message: Uint8Array) => void {
    let current: { meta: ChunkMeta; bad: boolean; received: number } | undefined;
    return (message) => {
      if (message.byteLength < FRAME_HEADER_BYTES) return;
      const type = message[1];
      if (type === FrameType.Chunk) {
        const frame = decodeFrame(message);
        if (frame.type !== FrameType.Chunk) return;
        current = { meta: frame.meta, bad: !this.#sameMeta(frame.meta), received: 0 };
        return;
      }
      if (type !== FrameType.Data || current === undefined) return;
      const frame = decodeFrame(message);
      if (frame.type !== FrameType.Data) return;
      const ref = this.#published.get(current.meta.seq);
      const end = frame.offset + frame.bytes.byteLength;
      if (
        ref === undefined ||
        frame.seq !== current.meta.seq ||
        !equalBytes(ref.bytes.subarray(frame.offset, end), frame.bytes)
      ) {
        current.bad = true;
      }
      current.received += frame.bytes.byteLength;
      if (current.received >= current.meta.byteLength) {
        this.sent++;
        if (current.bad) this.badSent++;
        current = undefined;
      }
    };
  }
}

/** What one run measured. */
interface RunResult {
  readonly stalledMs: ReadonlyMap<number, number>;
  readonly originBytes: ReadonlyMap<number, number>;
  readonly rejected: number;
  readonly auditor: ChunkAuditor;
  /** Per polluter: first harmful message, removal time and reason. */
  readonly polluters: ReadonlyMap<
    number,
    { firstAttackMs: number | null; removedMs: number | null; reason: string | null }
  >;
}

/** One simulated run: `attack` applied to `polluters` (none: the baseline). */
export async function runAttackOnce(
  options: Omit<AttackLabOptions, 'attacks'>,
  attack: AttackMode | null,
  polluters: readonly number[],
): Promise<RunResult> {
  const bad = new Set(attack === null ? [] : polluters);
  const auditor = new ChunkAuditor();
  const polluterState = new Map<
    number,
    { firstAttackMs: number | null; removedMs: number | null; reason: string | null }
  >();
  const lab = MIO_LAB_DEFAULTS;
  const swarm: SimSwarm = new SimSwarm(
    {},
    {
      seed: options.seed,
      peers: options.peers,
      durationMs: options.durationMs,
      bitrateKbps: lab.bitrateKbps,
      viewerUploadKbps: lab.viewerUploadKbps,
      viewerDownloadKbps: lab.viewerDownloadKbps,
      serverUploadKbps: lab.serverUploadKbps,
      joinWindowMs: lab.joinWindowMs,
      chunkDurationMs: lab.chunkDurationMs,
      tracker: { topology: 'tree', treeStripes: MIO_TREE_STRIPES, rootFanout: MIO_ROOT_FANOUT },
      peer: { targetLatencyMs: lab.targetLatencyMs },
      onPublish: (chunk) => {
        auditor.publish(chunk);
      },
      viewerTransport: (index, factory) => {
        if (attack !== null && bad.has(index)) {
          return attackTransport(attack, factory, () => {
            const state = polluterState.get(index);
            if (state !== undefined) state.firstAttackMs ??= swarm.nowMs;
          });
        }
        // The viewer exists once its transport is made (at its start): watch what it verifies.
        swarm.engine.clock.setTimeout(() => {
          swarm.viewer(index).on('chunk:verified', ({ chunk }) => {
            auditor.verify(chunk);
          });
        }, 0);
        return rewritingTransport(factory, () => {
          const observe = auditor.linkObserver();
          return (message) => {
            observe(message);
            return [message];
          };
        });
      },
      viewerTracker: (index, factory) => {
        if (attack === null || !bad.has(index)) return factory;
        const state = { firstAttackMs: null, removedMs: null, reason: null } as {
          firstAttackMs: number | null;
          removedMs: number | null;
          reason: string | null;
        };
        polluterState.set(index, state);
        const onAttack = (): void => {
          state.firstAttackMs ??= swarm.nowMs;
        };
        const flooding = attackTracker(attack, factory, onAttack);
        return (events) =>
          flooding({
            ...events,
            close: (reason) => {
              state.removedMs ??= swarm.nowMs;
              state.reason ??= reason;
              events.close(reason);
            },
          });
      },
    },
  );
  const summary = await swarm.run();
  const stalledMs = new Map<number, number>();
  const originBytes = new Map<number, number>();
  let rejected = 0;
  for (const peer of summary.peers) {
    if (bad.has(peer.index)) continue;
    stalledMs.set(peer.index, peer.stats.playback?.stalledMs ?? 0);
    originBytes.set(peer.index, peer.stats.bytesFromOrigin);
    rejected += peer.stats.rejectedChunks;
  }
  return { stalledMs, originBytes, rejected, auditor, polluters: polluterState };
}

/** Progress of a lab run, after each run. */
export interface AttackProgress {
  readonly done: number;
  readonly total: number;
  readonly label: string;
}

/**
 * The baseline (no polluter), then one run per attack mode with the same seed and the same
 * polluting viewers; one record per mode.
 */
export async function runAttackLab(
  options: AttackLabOptions,
  onProgress?: (progress: AttackProgress) => void,
): Promise<AttackRecord[]> {
  const polluters = polluterIndices(options);
  const total = options.attacks.length + 1;
  const baseline = await runAttackOnce(options, null, polluters);
  onProgress?.({ done: 1, total, label: 'baseline' });
  const honestMean = (values: ReadonlyMap<number, number>): number =>
    round(mean([...values.entries()].filter(([i]) => !polluters.includes(i)).map(([, v]) => v)));
  const records: AttackRecord[] = [];
  for (const attack of options.attacks) {
    const run = await runAttackOnce(options, attack, polluters);
    const states = polluters.map(
      (i) => run.polluters.get(i) ?? { firstAttackMs: null, removedMs: null, reason: null },
    );
    const evictionMs = states.map((s) =>
      s.removedMs === null ? null : round(s.removedMs - (s.firstAttackMs ?? s.removedMs)),
    );
    const removed = evictionMs.filter((ms): ms is number => ms !== null);
    const reasons: Record<string, number> = {};
    for (const s of states) if (s.reason !== null) reasons[s.reason] = (reasons[s.reason] ?? 0) + 1;
    records.push({
      attack,
      peers: options.peers,
      polluters: polluters.length,
      seed: options.seed,
      durationS: options.durationMs / 1000,
      badChunksPlayed: run.auditor.badVerified,
      badChunksRelayed: run.auditor.badSent,
      chunksChecked: run.auditor.verified,
      chunksSentChecked: run.auditor.sent,
      chunksRejected: run.rejected,
      pollutersActive: states.filter((s) => s.firstAttackMs !== null).length,
      pollutersEvicted: removed.length,
      evictionReasons: reasons,
      evictionMsMax: removed.length === 0 ? null : Math.max(...removed),
      evictionMs,
      stalledMsPerPeer: honestMean(run.stalledMs),
      stalledMsPerPeerBaseline: honestMean(baseline.stalledMs),
      originBytesPerPeer: honestMean(run.originBytes),
      originBytesPerPeerBaseline: honestMean(baseline.originBytes),
    });
    onProgress?.({ done: records.length + 1, total, label: attack });
  }
  return records;
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}

/** Every polluter evicted within this long of its first bad chunk (issue 4). */
export const EVICTION_GOAL_MS = 10_000;

/** The goals, judged on one record. */
export function attackVerdict(record: AttackRecord): {
  clean: boolean;
  evictedInTime: boolean;
  stallsWithin10Pct: boolean;
} {
  const { stalledMsPerPeer: s, stalledMsPerPeerBaseline: b } = record;
  return {
    clean: record.badChunksPlayed === 0 && record.badChunksRelayed === 0,
    evictedInTime:
      record.pollutersEvicted === record.polluters &&
      record.evictionMsMax !== null &&
      record.evictionMsMax <= EVICTION_GOAL_MS,
    stallsWithin10Pct: s <= b * 1.1,
  };
}

/** REPORT.md: the command, the set-up and a table of the records. */
export function attackReport(records: readonly AttackRecord[], command: string): string {
  const yes = (ok: boolean): string => (ok ? 'yes' : '**no**');
  const lines = [
    '# Polluters in the simulator (`swarmcast lab attack`)',
    '',
    '```',
    command,
    '```',
    '',
    `Set-up: MioStream's lab (\`MIO_LAB_DEFAULTS\`: ${MIO_LAB_DEFAULTS.bitrateKbps} kbps, ${MIO_LAB_DEFAULTS.chunkDurationMs} ms chunks, ` +
      `${MIO_LAB_DEFAULTS.targetLatencyMs} ms behind live, ${MIO_LAB_DEFAULTS.viewerUploadKbps} kbps up per viewer, tree of ${MIO_TREE_STRIPES} stripes, ` +
      `root fanout ${MIO_ROOT_FANOUT}); eviction after ${TRACKER_DEFAULTS.evictionReports} distinct reporters. ` +
      "Each attack run and the baseline share the seed and the polluting viewers; stalls are the honest viewers' mean.",
    '',
    '| attack | peers | polluters | active | bad played | bad relayed | rejected | evicted | eviction ms max | stalled ms/peer | baseline | 0 bad | evicted ≤ 10 s | stalls ≤ +10 % |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of records) {
    const v = attackVerdict(r);
    lines.push(
      `| ${r.attack} | ${String(r.peers)} | ${String(r.polluters)} | ${String(r.pollutersActive)} | ` +
        `${String(r.badChunksPlayed)} / ${String(r.chunksChecked)} | ${String(r.badChunksRelayed)} / ${String(r.chunksSentChecked)} | ` +
        `${String(r.chunksRejected)} | ${String(r.pollutersEvicted)} | ${r.evictionMsMax === null ? '—' : String(r.evictionMsMax)} | ` +
        `${String(r.stalledMsPerPeer)} | ${String(r.stalledMsPerPeerBaseline)} | ${yes(v.clean)} | ${yes(v.evictedInTime)} | ${yes(v.stallsWithin10Pct)} |`,
    );
  }
  lines.push(
    '',
    '"active": polluters that sent something harmful; "bad played" / "bad relayed": chunks honest viewers verified / sent that differ from what the source published, ' +
      'out of all they verified / sent (compared byte for byte, not trusting the verifier); "rejected": chunks honest viewers refused; ' +
      '"evicted": polluters whose tracker connection the tracker closed (evicted on reports, or cut for abuse), "eviction ms max": the longest from a polluter\'s first harmful message to that. ' +
      "The last three columns judge the issue's goals: no bad chunk, every polluter evicted within 10 s, honest stalls at most 10 % above the baseline.",
    '',
  );
  return lines.join('\n');
}

/** Writes the records as JSON to `file`. */
export async function writeAttackJson(
  file: string,
  records: readonly AttackRecord[],
): Promise<void> {
  await writeFile(file, JSON.stringify(records, null, 2) + '\n');
}
