import Table from 'cli-table3';
import type { PeerProcessReport } from '../lab/ipc.js';

export interface QoeRow {
  readonly name: string;
  readonly report: PeerProcessReport;
}

const mb = (bytes: number): string => (bytes / 1e6).toFixed(2);
const ms = (value: number | null | undefined): string =>
  value === null || value === undefined ? '-' : Math.round(value).toString();

/** The per-peer QoE table printed at the end of a run, with a totals row. */
export function formatQoeTable(rows: readonly QoeRow[]): string {
  const table = new Table({
    head: [
      'peer',
      'startup ms',
      'stalls',
      'stalled ms',
      'latency p50',
      'latency p95',
      'played',
      'skipped',
      'from peers MB',
      'from origin MB',
      'uploaded MB',
      'goodput kbps',
      'cpu %',
    ],
    style: { head: [], border: [] },
  });
  const total = {
    stalls: 0,
    stalledMs: 0,
    played: 0,
    skipped: 0,
    fromPeers: 0,
    fromOrigin: 0,
    up: 0,
  };
  for (const { name, report } of rows) {
    const { stats } = report;
    const playback = stats.playback;
    total.stalls += playback?.stalls ?? 0;
    total.stalledMs += playback?.stalledMs ?? 0;
    total.played += playback?.chunksPlayed ?? 0;
    total.skipped += playback?.chunksSkipped ?? 0;
    total.fromPeers += stats.bytesFromPeers;
    total.fromOrigin += stats.bytesFromOrigin;
    total.up += stats.bytesUploaded;
    table.push([
      name,
      ms(playback?.startupMs),
      String(playback?.stalls ?? 0),
      ms(playback?.stalledMs),
      ms(playback?.latencyP50Ms),
      ms(playback?.latencyP95Ms),
      String(playback?.chunksPlayed ?? 0),
      String(playback?.chunksSkipped ?? 0),
      mb(stats.bytesFromPeers),
      mb(stats.bytesFromOrigin),
      mb(stats.bytesUploaded),
      Math.round(stats.goodputBps / 1000).toString(),
      report.wallMs > 0 ? ((100 * report.cpuMs) / report.wallMs).toFixed(1) : '-',
    ]);
  }
  table.push([
    'total',
    '',
    String(total.stalls),
    ms(total.stalledMs),
    '',
    '',
    String(total.played),
    String(total.skipped),
    mb(total.fromPeers),
    mb(total.fromOrigin),
    mb(total.up),
    '',
    '',
  ]);
  return table.toString();
}
