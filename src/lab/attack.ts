/**
 * `swarmcast lab attack` on the simulator: a swarm in which a fraction of the viewers are
 * polluters (an honest peer core behind an attack decorator, `attacks.ts`), run once per attack
 * mode, and a baseline run with the same seed and no polluter. The lab's set-up is MioStream's
 * (`MIO_LAB_DEFAULTS`: 125 ms chunks, 3 s behind live, the two-stripe tree), so stalls compare with
 * `lab mio`'s.
 *
 * What is measured does not trust the peers' verification (`ChunkAuditor`): every chunk the
 * source publishes is kept, and every chunk an honest peer verifies (stores, plays, relays) and
 * every chunk an honest peer sends on a link is compared with it. The record, the verdict and the
 * report are shared with real mode (`attack-real.ts`).
 */
import { writeFile } from 'node:fs/promises';
import { SwarmcastError } from '../common/errors.js';
import { mean } from '../common/stats.js';
import { deriveSeed } from '../sim/engine.js';
import { SimSwarm } from '../sim/swarm.js';
import { TRACKER_DEFAULTS } from '../tracker/core/tracker-core.js';
import { attackTracker, attackTransport, rewritingTransport, type AttackMode } from './attacks.js';
import { ChunkAuditor } from './chunk-audit.js';
import { MIO_LAB_DEFAULTS, MIO_ROOT_FANOUT, MIO_TREE_STRIPES, mioSwarmOptions } from './mio.js';

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
  /** Where it ran: the simulator, or viewer processes over real WebRTC. */
  readonly mode: 'sim' | 'real';
  readonly attack: AttackMode;
  readonly peers: number;
  readonly polluters: number;
  /** The runs' seed (sim); 0 in real mode, which is not seeded. */
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
  /**
   * Polluters that sent something harmful (a bad chunk or frame, a flood) to an honest peer or the
   * tracker.
   */
  readonly pollutersActive: number;
  /**
   * Polluters whose harmful messages all went to other polluters (sim mode; real mode counts every
   * harmful message as `pollutersActive`): they harmed no honest peer, and no honest peer could
   * witness them, so they are not judged.
   */
  readonly pollutersActiveOnPollutersOnly: number;
  /** Polluters the tracker removed: evicted on reports, or cut for abuse (rate, protocol errors). */
  readonly pollutersEvicted: number;
  /**
   * Active polluters not removed by the end. A polluter that never sent anything harmful does the
   * honest peers no harm and gives them nothing to detect: it is not counted here.
   */
  readonly pollutersActiveNotEvicted: number;
  /** Why each removed polluter's tracker connection was closed, and how often. */
  readonly evictionReasons: Readonly<Record<string, number>>;
  /** Longest time from a polluter's first harmful message to its removal (null: none removed). */
  readonly evictionMsMax: number | null;
  /** Per polluter: its first harmful message to an honest peer to its removal (null: not removed). */
  readonly evictionMs: readonly (number | null)[];
  /** Mean stalled time of the honest viewers after startup. */
  readonly stalledMsPerPeer: number;
  /** The same viewers' mean stalled time in the baseline run. */
  readonly stalledMsPerPeerBaseline: number;
  /** Mean of the honest viewers' median capture-to-play latency (null: none played). */
  readonly latencyMsPerPeer: number | null;
  readonly latencyMsPerPeerBaseline: number | null;
  /** Mean bytes honest viewers fetched from the origin, with and without the attack. */
  readonly originBytesPerPeer: number;
  readonly originBytesPerPeerBaseline: number;
}

/** How many of `peers` viewers pollute: `round(fraction × peers)`, at least 1. */
export function polluterCount(peers: number, polluterFraction: number): number {
  if (!(polluterFraction > 0 && polluterFraction < 1)) {
    throw new SwarmcastError('invalid-argument', 'the polluter fraction must be in (0, 1)');
  }
  return Math.max(1, Math.round(polluterFraction * peers));
}

/** The viewers of a run that pollute (`polluterCount` of them), drawn from the seed. */
export function polluterIndices(options: Omit<AttackLabOptions, 'attacks'>): number[] {
  const { peers } = options;
  const count = polluterCount(peers, options.polluterFraction);
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
 * What became of one polluter in a run: its first harmful message to an honest peer (or the
 * tracker), whether it sent any to another polluter, its removal and why.
 */
export interface PolluterOutcome {
  firstAttackMs: number | null;
  attackedPolluters: boolean;
  removedMs: number | null;
  reason: string | null;
}

/**
 * What one run measured. Per-viewer figures are keyed by the viewer's position (its index in the
 * simulator, its join order in real mode), polluters' positions included in a baseline.
 */
export interface RunResult {
  readonly stalledMs: ReadonlyMap<number, number>;
  /** Median capture-to-play latency; viewers that played nothing are left out. */
  readonly latencyMs: ReadonlyMap<number, number>;
  readonly originBytes: ReadonlyMap<number, number>;
  readonly rejected: number;
  readonly auditor: ChunkAuditor;
  /** One per polluter, in the order of the polluters' positions (none in a baseline). */
  readonly polluters: readonly PolluterOutcome[];
}

/** One simulated run: `attack` applied to `polluters` (none: the baseline). */
export async function runAttackOnce(
  options: Omit<AttackLabOptions, 'attacks'>,
  attack: AttackMode | null,
  polluters: readonly number[],
): Promise<RunResult> {
  const bad = new Set(attack === null ? [] : polluters);
  const auditor = new ChunkAuditor();
  const polluterState = new Map<number, PolluterOutcome>();
  /** The polluters' peer ids, from their `welcome`. */
  const polluterIds = new Set<string>();
  const lab = MIO_LAB_DEFAULTS;
  const swarm: SimSwarm = new SimSwarm(
    {},
    {
      seed: options.seed,
      peers: options.peers,
      durationMs: options.durationMs,
      ...mioSwarmOptions(lab, 'tree'),
      onPublish: (chunk) => {
        auditor.publish(chunk);
      },
      viewerTransport: (index, factory) => {
        if (attack !== null && bad.has(index)) {
          return attackTransport(attack, factory, (_, to) => {
            const state = polluterState.get(index);
            if (state === undefined) return;
            if (to !== undefined && polluterIds.has(to)) state.attackedPolluters = true;
            else state.firstAttackMs ??= swarm.nowMs;
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
        const state: PolluterOutcome = {
          firstAttackMs: null,
          attackedPolluters: false,
          removedMs: null,
          reason: null,
        };
        polluterState.set(index, state);
        const onAttack = (): void => {
          state.firstAttackMs ??= swarm.nowMs;
        };
        const flooding = attackTracker(attack, factory, onAttack);
        return (events) =>
          flooding({
            ...events,
            message: (message) => {
              if (message.type === 'welcome') polluterIds.add(message.peerId);
              events.message(message);
            },
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
  const latencyMs = new Map<number, number>();
  const originBytes = new Map<number, number>();
  let rejected = 0;
  for (const peer of summary.peers) {
    if (bad.has(peer.index)) continue;
    stalledMs.set(peer.index, peer.stats.playback?.stalledMs ?? 0);
    const latency = peer.stats.playback?.latencyP50Ms;
    if (latency != null) latencyMs.set(peer.index, latency);
    originBytes.set(peer.index, peer.stats.bytesFromOrigin);
    rejected += peer.stats.rejectedChunks;
  }
  return {
    stalledMs,
    latencyMs,
    originBytes,
    rejected,
    auditor,
    polluters: [...bad].map(
      (i) =>
        polluterState.get(i) ?? {
          firstAttackMs: null,
          attackedPolluters: false,
          removedMs: null,
          reason: null,
        },
    ),
  };
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
  const records: AttackRecord[] = [];
  for (const attack of options.attacks) {
    const run = await runAttackOnce(options, attack, polluters);
    records.push(attackRecord({ mode: 'sim', options, attack, polluters, run, baseline }));
    onProgress?.({ done: records.length + 1, total, label: attack });
  }
  return records;
}

/** One mode's record from its run and the baseline it is compared with (sim and real mode). */
export function attackRecord(input: {
  mode: AttackRecord['mode'];
  options: Pick<AttackLabOptions, 'peers' | 'seed' | 'durationMs'>;
  attack: AttackMode;
  /** The polluters' positions: left out of the baseline's means. */
  polluters: readonly number[];
  run: RunResult;
  baseline: RunResult;
}): AttackRecord {
  const { options, polluters, run, baseline } = input;
  const honestMean = (values: ReadonlyMap<number, number>): number | null => {
    const honest = [...values.entries()].filter(([i]) => !polluters.includes(i));
    return honest.length === 0 ? null : round(mean(honest.map(([, v]) => v)));
  };
  const evictionMs = run.polluters.map((s) =>
    s.removedMs === null ? null : round(s.removedMs - (s.firstAttackMs ?? s.removedMs)),
  );
  const removed = evictionMs.filter((ms): ms is number => ms !== null);
  const reasons: Record<string, number> = {};
  for (const s of run.polluters) {
    if (s.reason !== null) reasons[s.reason] = (reasons[s.reason] ?? 0) + 1;
  }
  return {
    mode: input.mode,
    attack: input.attack,
    peers: options.peers,
    polluters: polluters.length,
    seed: options.seed,
    durationS: options.durationMs / 1000,
    badChunksPlayed: run.auditor.badVerified,
    badChunksRelayed: run.auditor.badSent,
    chunksChecked: run.auditor.verified,
    chunksSentChecked: run.auditor.sent,
    chunksRejected: run.rejected,
    pollutersActive: run.polluters.filter((s) => s.firstAttackMs !== null).length,
    pollutersActiveOnPollutersOnly: run.polluters.filter(
      (s) => s.firstAttackMs === null && s.attackedPolluters,
    ).length,
    pollutersEvicted: removed.length,
    pollutersActiveNotEvicted: run.polluters.filter(
      (s) => s.firstAttackMs !== null && s.removedMs === null,
    ).length,
    evictionReasons: reasons,
    evictionMsMax: removed.length === 0 ? null : Math.max(...removed),
    evictionMs,
    stalledMsPerPeer: honestMean(run.stalledMs) ?? 0,
    stalledMsPerPeerBaseline: honestMean(baseline.stalledMs) ?? 0,
    latencyMsPerPeer: honestMean(run.latencyMs),
    latencyMsPerPeerBaseline: honestMean(baseline.latencyMs),
    originBytesPerPeer: honestMean(run.originBytes) ?? 0,
    originBytesPerPeerBaseline: honestMean(baseline.originBytes) ?? 0,
  };
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
      record.pollutersActiveNotEvicted === 0 &&
      record.evictionMsMax !== null &&
      record.evictionMsMax <= EVICTION_GOAL_MS,
    // Viewers that never play never stall: stalls judge nothing then.
    stallsWithin10Pct: record.latencyMsPerPeer !== null && s <= b * 1.1,
  };
}

/** The sim lab's set-up, for its report. */
export function simAttackSetup(): string {
  const lab = MIO_LAB_DEFAULTS;
  return (
    `Set-up: MioStream's lab (\`MIO_LAB_DEFAULTS\`: ${String(lab.bitrateKbps)} kbps, ${String(lab.chunkDurationMs)} ms chunks, ` +
    `${String(lab.targetLatencyMs)} ms behind live, ${String(lab.viewerUploadKbps)} kbps up per viewer, tree of ${String(MIO_TREE_STRIPES)} stripes, ` +
    `root fanout ${String(MIO_ROOT_FANOUT)}); eviction after ${String(TRACKER_DEFAULTS.evictionReports)} distinct reporters. ` +
    "Each attack run and the baseline share the seed and the polluting viewers; stalls are the honest viewers' mean."
  );
}

/** REPORT.md: a title, the command, the set-up and a table of the records. */
export function attackReport(
  records: readonly AttackRecord[],
  text: { title: string; command: string; setup: string },
): string {
  const yes = (ok: boolean): string => (ok ? 'yes' : '**no**');
  const ms = (value: number | null): string => (value === null ? '—' : String(value));
  const active = (r: AttackRecord): string =>
    r.pollutersActiveOnPollutersOnly === 0
      ? String(r.pollutersActive)
      : `${String(r.pollutersActive)} (+${String(r.pollutersActiveOnPollutersOnly)} on polluters only)`;
  const lines = [
    `# ${text.title}`,
    '',
    '```',
    text.command,
    '```',
    '',
    text.setup,
    '',
    '| attack | peers | polluters | active | bad played | bad relayed | rejected | evicted | eviction ms max | stalled ms/peer | baseline | latency ms | baseline | 0 bad | evicted ≤ 10 s | stalls ≤ +10 % |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of records) {
    const v = attackVerdict(r);
    lines.push(
      `| ${r.attack} | ${String(r.peers)} | ${String(r.polluters)} | ${active(r)} | ` +
        `${String(r.badChunksPlayed)} / ${String(r.chunksChecked)} | ${String(r.badChunksRelayed)} / ${String(r.chunksSentChecked)} | ` +
        `${String(r.chunksRejected)} | ${String(r.pollutersEvicted)} | ${ms(r.evictionMsMax)} | ` +
        `${String(r.stalledMsPerPeer)} | ${String(r.stalledMsPerPeerBaseline)} | ${ms(r.latencyMsPerPeer)} | ${ms(r.latencyMsPerPeerBaseline)} | ` +
        `${yes(v.clean)} | ${yes(v.evictedInTime)} | ${yes(v.stallsWithin10Pct)} |`,
    );
  }
  lines.push(
    '',
    '"active": polluters that sent something harmful to an honest peer or the tracker ("on polluters only": polluters that sent harmful messages to other polluters alone, which harm no honest peer and which no honest peer can witness: not judged); "bad played" / "bad relayed": chunks honest viewers verified / sent that differ from what the source published, ' +
      'out of all they verified / sent (compared by a SHA-256 of metadata and bytes with the source\'s chunk, not trusting the verifier); "rejected": chunks honest viewers refused; ' +
      '"evicted": polluters whose tracker connection the tracker closed (evicted on reports, or cut for abuse), "eviction ms max": the longest from a polluter\'s first harmful message to that; ' +
      '"latency ms": the mean of the honest viewers\' median capture-to-play latency. ' +
      "The last three columns judge the issue's goals: no bad chunk, every polluter that did something harmful evicted within 10 s of its first harmful message to an honest peer (one that never did gives nothing to detect and harms no one), honest stalls at most 10 % above the baseline.",
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
