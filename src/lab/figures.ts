/** The pipeline's headline figures, from a local swarm's summary. */
import { mean, percentile, sum } from '../common/stats.js';
import type { LocalSwarmSummary } from './local-swarm.js';

export interface PipelineFigures {
  readonly peers: number;
  readonly durationS: number;
  /** 1 − bytes sent to viewers by origin and broadcaster / bytes viewers received. */
  readonly offload: number;
  /** The most offload can be: each chunk enters the swarm once (1 − 1/peers). */
  readonly offloadCeiling: number;
  /** Median over peers of each peer's median capture-to-play latency. */
  readonly latencyP50Ms: number | null;
  /** Highest over peers of each peer's 95th-percentile latency. */
  readonly latencyP95Ms: number | null;
  /** Stalls after startup, all peers. */
  readonly stalls: number;
  readonly stalledMs: number;
  readonly startupMsP95: number | null;
  readonly chunksPlayed: number;
  /** Chunks players skipped because they never arrived in time. */
  readonly chunksMissing: number;
  /** Mean over peers of the CPU share of one core each peer process used. */
  readonly cpuPerPeerPct: number | null;
  readonly bytesFromPeers: number;
  readonly bytesFromOrigin: number;
  readonly originBytesSent: number;
  readonly broadcasterBytesSent: number;
}

const orNull = (n: number): number | null => (Number.isFinite(n) ? n : null);

export function pipelineFigures(summary: LocalSwarmSummary): PipelineFigures {
  const reports = summary.peers.flatMap((p) => (p.report === undefined ? [] : [p.report]));
  const playback = reports.flatMap((r) => (r.stats.playback === null ? [] : [r.stats.playback]));
  const received = sum(reports.map((r) => r.stats.bytesFromPeers + r.stats.bytesFromOrigin));
  const broadcasterBytesSent = summary.broadcaster?.bytesUploaded ?? 0;
  const sentByServers = broadcasterBytesSent + summary.originBytesSent;
  const peers = summary.peers.length;
  return {
    peers,
    durationS: Math.round(summary.durationMs / 100) / 10,
    offload: received > 0 ? 1 - sentByServers / received : 0,
    offloadCeiling: peers > 0 ? 1 - 1 / peers : 0,
    latencyP50Ms: orNull(
      percentile(
        playback.flatMap((p) => (p.latencyP50Ms === null ? [] : [p.latencyP50Ms])),
        50,
      ),
    ),
    latencyP95Ms: orNull(
      Math.max(...playback.flatMap((p) => (p.latencyP95Ms === null ? [] : [p.latencyP95Ms]))),
    ),
    stalls: sum(playback.map((p) => p.stalls)),
    stalledMs: Math.round(sum(playback.map((p) => p.stalledMs))),
    startupMsP95: orNull(
      percentile(
        playback.flatMap((p) => (p.startupMs === null ? [] : [p.startupMs])),
        95,
      ),
    ),
    chunksPlayed: sum(playback.map((p) => p.chunksPlayed)),
    chunksMissing: sum(playback.map((p) => p.chunksSkipped)),
    cpuPerPeerPct: orNull(mean(reports.map((r) => (100 * r.cpuMs) / Math.max(1, r.wallMs)))),
    bytesFromPeers: sum(reports.map((r) => r.stats.bytesFromPeers)),
    bytesFromOrigin: sum(reports.map((r) => r.stats.bytesFromOrigin)),
    originBytesSent: summary.originBytesSent,
    broadcasterBytesSent,
  };
}
