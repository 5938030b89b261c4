/**
 * `npm run bench -- sim-scale --peers 1000 --duration 300`: how long the simulator takes to run a
 * swarm of N viewers for D seconds of stream (the goal of issue 3: 1,000 peers × 300 s ≤ 60 s
 * wall), with the events per second it sustains, its peak memory, and the run's own figures.
 */
import { simFigures } from '../src/sim/figures.js';
import { SimSwarm, type SimSwarmOptions } from '../src/sim/swarm.js';
import type { PipelineFigures } from '../src/lab/figures.js';

export interface SimScaleOptions {
  peers: number;
  durationS: number;
  seed: number;
  /** Overrides of the swarm's defaults (capacities, bitrate). */
  swarm?: Partial<SimSwarmOptions>;
}

export interface SimScaleResult {
  readonly peers: number;
  readonly durationS: number;
  readonly seed: number;
  readonly wallMs: number;
  readonly events: number;
  readonly eventsPerSecond: number;
  readonly drains: number;
  /** Peak resident set size of this process during the run. */
  readonly peakRssMb: number;
  readonly figures: PipelineFigures;
}

/** Samples the resident set size this often during the run. */
const RSS_SAMPLE_MS = 200;

export async function simScale(options: SimScaleOptions): Promise<SimScaleResult> {
  let peakRss = process.memoryUsage.rss();
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
  }, RSS_SAMPLE_MS);
  try {
    const started = performance.now();
    const swarm = new SimSwarm(
      {},
      {
        ...options.swarm,
        seed: options.seed,
        peers: options.peers,
        durationMs: options.durationS * 1000,
      },
    );
    const summary = await swarm.run();
    const wallMs = performance.now() - started;
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
    return {
      peers: options.peers,
      durationS: options.durationS,
      seed: options.seed,
      wallMs: Math.round(wallMs),
      events: summary.events,
      eventsPerSecond: Math.round(summary.events / (wallMs / 1000)),
      drains: summary.drains,
      peakRssMb: Math.round(peakRss / (1024 * 1024)),
      figures: simFigures(summary),
    };
  } finally {
    clearInterval(sampler);
  }
}
