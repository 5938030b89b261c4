/**
 * Failure injection as in MioStream's experiments (section 4.2): viewers fail at a fixed rate and
 * each failure picks its victim by position in the topology order from one of three
 * distributions. A failed viewer disconnects abruptly and a new viewer joins in its place, so the
 * swarm keeps its size.
 *
 * Failures are evenly spaced (one every 1/rate seconds), not a Poisson process: the paper induces
 * them "at a fixed rate" from its monitor, and even spacing keeps the number of failures of a run
 * exactly rate × time, so runs at one rate differ only in their victims. The randomness is all in
 * the victims' positions.
 */
import { SwarmcastError } from '../common/errors.js';
import type { Random } from '../common/random.js';

export const VICTIM_DISTRIBUTIONS = ['uniform', 'binomial', 'poisson'] as const;
export type VictimDistribution = (typeof VICTIM_DISTRIBUTIONS)[number];

/** Trials and success probability of the paper's binomial victim draw. */
export const BINOMIAL_TRIALS = 20;
export const BINOMIAL_P = 0.8;

export interface FailureScheduleOptions {
  /** Failures per second (0 gives an empty schedule). */
  ratePerS: number;
  /** Virtual time of the first possible failure. */
  startMs: number;
  /** Virtual time after which no failure happens (exclusive); `Infinity` only in `failureSequence`. */
  endMs: number;
  /** Viewers in the swarm (the broadcaster excluded): positions are drawn in 0..viewers−1. */
  viewers: number;
  distribution: VictimDistribution;
}

/** One failure: at `atMs`, the viewer at `position` in the topology order fails. */
export interface ScheduledFailure {
  readonly atMs: number;
  readonly position: number;
}

/**
 * Draws a victim position in 0..viewers−1:
 * - `uniform`: every position equally likely;
 * - `binomial`: k ~ Binomial(20, 0.8), scaled to ⌊k/20·(viewers−1)⌋ (failures concentrate near
 *   80 % of the order);
 * - `poisson`: k ~ Poisson(viewers/2), clipped to 0..viewers−1 (failures around the middle).
 */
export function drawVictimPosition(
  random: Random,
  distribution: VictimDistribution,
  viewers: number,
): number {
  if (!Number.isInteger(viewers) || viewers < 1) {
    throw new SwarmcastError('invalid-argument', `viewers must be a positive integer: ${viewers}`);
  }
  switch (distribution) {
    case 'uniform':
      return random.int(viewers);
    case 'binomial': {
      let k = 0;
      for (let i = 0; i < BINOMIAL_TRIALS; i++) if (random.next() < BINOMIAL_P) k++;
      return Math.floor((k / BINOMIAL_TRIALS) * (viewers - 1));
    }
    case 'poisson':
      return Math.min(viewers - 1, drawPoisson(random, viewers / 2));
  }
}

/**
 * Poisson draw by inversion of the CDF (one uniform draw). Computed with the log-pmf so means in
 * the thousands do not underflow.
 */
function drawPoisson(random: Random, mean: number): number {
  const u = random.next();
  let k = 0;
  let logPmf = -mean;
  let cdf = Math.exp(logPmf);
  // The tail beyond mean + 12·√mean + 20 is far below 2^-32, the resolution of `u`.
  const limit = Math.ceil(mean + 12 * Math.sqrt(mean) + 20);
  while (cdf <= u && k < limit) {
    k++;
    logPmf += Math.log(mean / k);
    cdf += Math.exp(logPmf);
  }
  return k;
}

/**
 * The failures from `startMs` on, lazily: one every 1/rate s, the first half an interval after
 * `startMs`, none at or after `endMs` (`Infinity`: no end, for a runner that injects until it is
 * told to stop). Each victim position is drawn from `random` when its failure is taken, in order,
 * so the same seed gives the same sequence. Options are checked on the first `next()`.
 */
export function* failureSequence(
  random: Random,
  options: FailureScheduleOptions,
): Generator<ScheduledFailure, void, undefined> {
  const { ratePerS, startMs, endMs, viewers, distribution } = options;
  if (!(ratePerS >= 0) || !Number.isFinite(ratePerS)) {
    throw new SwarmcastError('invalid-argument', `ratePerS must be ≥ 0: ${ratePerS}`);
  }
  if (!(endMs >= startMs)) {
    throw new SwarmcastError('invalid-argument', `endMs ${endMs} is before startMs ${startMs}`);
  }
  if (ratePerS === 0 || viewers === 0) return;
  const intervalMs = 1000 / ratePerS;
  for (let atMs = startMs + intervalMs / 2; atMs < endMs; atMs += intervalMs) {
    yield { atMs, position: drawVictimPosition(random, distribution, viewers) };
  }
}

/**
 * The failures of one run: (endMs − startMs) · rate / 1000 failures, rounded, as
 * `failureSequence` spaces and draws them. `endMs` must be finite.
 */
export function failureSchedule(
  random: Random,
  options: FailureScheduleOptions,
): ScheduledFailure[] {
  if (!Number.isFinite(options.endMs)) {
    throw new SwarmcastError(
      'invalid-argument',
      `failureSchedule needs a finite endMs, got ${options.endMs}`,
    );
  }
  return [...failureSequence(random, options)];
}
