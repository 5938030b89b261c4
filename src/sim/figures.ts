/** The pipeline's figures (`src/lab/figures.ts`) from a simulated run's summary. */
import { pipelineFigures, type PipelineFigures } from '../lab/figures.js';
import type { LocalSwarmSummary } from '../lab/local-swarm.js';
import type { SimSummary } from './swarm.js';

/**
 * Adapts a simulated summary to the real runner's shape and computes the same figures. There are
 * no processes in the simulator, so `cpuPerPeerPct` is null.
 */
export function simFigures(summary: SimSummary): PipelineFigures {
  const local: LocalSwarmSummary = {
    durationMs: summary.durationMs,
    peers: summary.peers.map((p) => ({
      index: p.index,
      pid: undefined,
      alive: p.failedAtMs === null,
      report: {
        type: 'report',
        final: true,
        stats: p.stats,
        parents: [],
        children: [],
        cpuMs: 0,
        wallMs: p.stats.sessionMs,
      },
    })),
    broadcaster: summary.broadcaster,
    originBytesSent: summary.originBytesSent,
    chunksPublished: summary.chunksPublished,
  };
  return { ...pipelineFigures(local), cpuPerPeerPct: null };
}
