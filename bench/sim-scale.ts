/**
 * `npm run bench -- sim-scale --peers 1000 --duration 300`: how long the simulator takes to run a
 * swarm of N viewers for D seconds of stream (the goal of issue 3: 1,000 peers × 300 s ≤ 60 s
 * wall), with the events per second it sustains, its peak memory, and the run's own figures.
 *
 * The swarm is the MioStream lab's set-up (`mioSwarmOptions`: 1160 kbps in 125 ms chunks played
 * 3 s behind live, viewers 2 Mbps up / 10 Mbps down, origin 10 Mbps up, a tree of two stripes
 * with three nodes per stripe under the broadcaster), without failures.
 */
import { MIO_LAB_DEFAULTS, mioSwarmOptions, type MioLabOptions } from '../src/lab/mio.js';
import { simFigures } from '../src/sim/figures.js';
import { SimSwarm } from '../src/sim/swarm.js';
import type { PipelineFigures } from '../src/lab/figures.js';
import type { TopologyKind } from '../src/tracker/core/topology.js';

export interface SimScaleOptions {
  peers: number;
  durationS: number;
  seed: number;
  /** The overlay. @default 'tree' */
  topology?: TopologyKind;
  /** Overrides of the lab's set-up (`MIO_LAB_DEFAULTS`: capacities, bitrate). */
  lab?: Partial<MioLabOptions>;
}

export interface SimScaleResult {
  readonly peers: number;
  readonly durationS: number;
  readonly seed: number;
  readonly topology: TopologyKind;
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
  const topology = options.topology ?? 'tree';
  let peakRss = process.memoryUsage.rss();
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
  }, RSS_SAMPLE_MS);
  try {
    const started = performance.now();
    const swarm = new SimSwarm(
      {},
      {
        ...mioSwarmOptions({ ...MIO_LAB_DEFAULTS, ...options.lab }, topology),
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
      topology,
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
