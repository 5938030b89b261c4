/**
 * The fuzz property, shared by `npm run fuzz` and the unit test: for every input a decoder either
 * returns or throws its typed error, within a time bound, and the heap does not grow over the run.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { errorMessage } from '../src/common/errors.js';
import type { DecoderFuzz } from './decoders.js';

export interface FuzzOptions {
  readonly runs: number;
  /** fast-check seed; a random one when absent (the report gives it, to replay a failure). */
  readonly seed?: number;
  /** An input that takes longer than this to decode fails (a blow-up). @default 500 */
  readonly maxInputMs?: number;
  /** Growth of heap and array buffers over the run (after a GC) that fails. @default 64 MiB */
  readonly maxGrowthBytes?: number;
  /** Called with 0 once the inputs are ready, then about once a second with the inputs decoded. */
  readonly onProgress?: (inputs: number) => void;
  /**
   * Called before each input is decoded with its index in the run (until a failure), for
   * `fuzzInput()` to rebuild the input a decoder hung on.
   */
  readonly onInput?: (index: number) => void;
}

export interface FuzzReport {
  readonly decoder: string;
  readonly seed: number;
  /** Inputs decoded (up to the first failure, if any). */
  readonly inputs: number;
  readonly ms: number;
  readonly failures: number;
  /** Highest `heapUsed` seen during the run. */
  readonly peakHeapBytes: number;
  /** Highest memory held by ArrayBuffers (outside the heap: the decoders' byte arrays). */
  readonly peakArrayBuffersBytes: number;
  /** Heap + ArrayBuffers after the run minus before it (each after a full GC). */
  readonly growthBytes: number;
  /** What failed and on what input (shrunk), if anything did. */
  readonly failure?: string;
}

/** Valid encodings checked before fuzzing: the mutations must start from something decodable. */
const VALID_RUNS = 100;
const DEFAULT_MAX_INPUT_MS = 500;
const DEFAULT_MAX_GROWTH_BYTES = 64 * 1024 * 1024;
/** Memory is sampled every this many inputs. */
const SAMPLE_EVERY = 256;
const PROGRESS_EVERY_MS = 1000;
/** Longest counterexample text put in a report. */
const MAX_COUNTEREXAMPLE_CHARS = 2000;

/** Something other than the decoder's typed error came out of it. */
class FuzzFailure extends Error {}

export async function fuzzDecoder(decoder: DecoderFuzz, options: FuzzOptions): Promise<FuzzReport> {
  const prepared = await decoder.prepare();
  const maxInputMs = options.maxInputMs ?? DEFAULT_MAX_INPUT_MS;
  const seed = options.seed ?? randomSeed();

  const validDetails = fc.check(
    fc.property(prepared.valid, (input) => {
      prepared.decode(input);
    }),
    { numRuns: VALID_RUNS, seed },
  );
  if (validDetails.failed) {
    return {
      decoder: decoder.name,
      seed,
      inputs: 0,
      ms: 0,
      failures: 1,
      peakHeapBytes: 0,
      peakArrayBuffersBytes: 0,
      growthBytes: 0,
      failure: `a valid encoding does not decode: ${describe(validDetails)}`,
    };
  }

  options.onProgress?.(0);
  const before = settledMemory();
  let peakHeap = before.heapUsed;
  let peakArrayBuffers = before.arrayBuffers;
  let count = 0;
  let lastProgress = performance.now();
  /** Set by the first failure: fast-check is shrinking it from then on. */
  let shrinking = false;
  /**
   * Set by a slow input. Shrinking it would take as long per attempt, so from then on nothing is
   * decoded (every shrink candidate passes) and the input is reported as it came.
   */
  let slowInput = false;
  /** Decodes `input` and returns how long it took; throws a `FuzzFailure` on an untyped error. */
  const decode = (input: unknown): number => {
    const started = performance.now();
    try {
      prepared.decode(input);
    } catch (error) {
      if (!(error instanceof decoder.error)) {
        shrinking = true;
        throw new FuzzFailure(`threw ${describeError(error)}, not a ${decoder.error.name}`, {
          cause: error,
        });
      }
    }
    return performance.now() - started;
  };
  const property = fc.property(prepared.inputs, (input) => {
    if (slowInput) return;
    if (!shrinking) options.onInput?.(count);
    const ms = decode(input);
    // Timed again, so that a pause of the machine is not taken for a blow-up.
    if (ms > maxInputMs && !shrinking && decode(input) > maxInputMs) {
      shrinking = true;
      slowInput = true;
      throw new FuzzFailure(
        `took ${Math.round(ms)} ms, then over the ${maxInputMs} ms bound again`,
      );
    }
    count++;
    if (count % SAMPLE_EVERY === 0) {
      const memory = process.memoryUsage();
      peakHeap = Math.max(peakHeap, memory.heapUsed);
      peakArrayBuffers = Math.max(peakArrayBuffers, memory.arrayBuffers);
    }
    const now = performance.now();
    if (now - lastProgress >= PROGRESS_EVERY_MS) {
      lastProgress = now;
      options.onProgress?.(count);
    }
  });
  const started = performance.now();
  const details = fc.check(property, { numRuns: options.runs, seed });
  const ms = performance.now() - started;
  const after = settledMemory();
  const growthBytes = after.heapUsed + after.arrayBuffers - (before.heapUsed + before.arrayBuffers);
  const maxGrowth = options.maxGrowthBytes ?? DEFAULT_MAX_GROWTH_BYTES;
  // An input that was not shrunk is input numRuns - 1 of the run: `--input` prints it whole.
  const whole = `npm run fuzz -- --decoder ${decoder.name} --seed ${seed} --input ${details.numRuns - 1}`;
  const failure = details.failed
    ? describe(details, details.numShrinks === 0 ? ` (whole input: ${whole})` : '')
    : growthBytes > maxGrowth
      ? `memory grew by ${mib(growthBytes)} MiB over the run (bound ${mib(maxGrowth)} MiB)`
      : undefined;
  return {
    decoder: decoder.name,
    seed,
    inputs: details.numRuns,
    ms: Math.round(ms),
    failures: failure === undefined ? 0 : 1,
    peakHeapBytes: Math.max(peakHeap, after.heapUsed),
    peakArrayBuffersBytes: Math.max(peakArrayBuffers, after.arrayBuffers),
    growthBytes,
    ...(failure === undefined ? {} : { failure }),
  };
}

/** A seed fast-check keeps as it is (a non-negative 31-bit integer), so the one printed replays. */
export function randomSeed(): number {
  return (Date.now() ^ (Math.random() * 0x8000_0000)) & 0x7fff_ffff;
}

/** V8's full GC; `--expose-gc` set at run time so that no runner needs the flag. */
const collectGarbage = ((): (() => void) => {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
})();

/** Memory after a full GC. */
function settledMemory(): NodeJS.MemoryUsage {
  collectGarbage();
  return process.memoryUsage();
}

/** Input `index` of a run with `seed`: the one a decoder hung on, for the report. */
export async function fuzzInput(
  decoder: DecoderFuzz,
  seed: number,
  index: number,
): Promise<string> {
  const { inputs } = await decoder.prepare();
  return fc.stringify(fc.sample(inputs, { seed, numRuns: index + 1 })[index]);
}

/** `text`, cut to a length that fits in a report. */
export function shorten(text: string): string {
  return text.length > MAX_COUNTEREXAMPLE_CHARS
    ? `${text.slice(0, MAX_COUNTEREXAMPLE_CHARS)}… (${text.length} chars)`
    : text;
}

/** A failed run: the error, where it was thrown, the input; `more` is appended. */
function describe(details: fc.RunDetails<[unknown]>, more = ''): string {
  if (!details.failed) return 'no failure';
  const error = details.errorInstance;
  const cause = error instanceof FuzzFailure ? error.cause : error;
  const where =
    cause instanceof Error && cause.stack !== undefined
      ? `\n${cause.stack.split('\n').slice(0, 6).join('\n')}`
      : '';
  const shown = shorten(fc.stringify(details.counterexample?.[0]));
  return [
    `${errorMessage(error)} after ${details.numRuns} inputs and ${details.numShrinks} shrinks`,
    `input: ${shown}`,
    `replay: seed ${details.seed}, path ${details.counterexamplePath ?? '-'}${more}${where}`,
  ].join('\n');
}

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : `a ${typeof error}`;
}

export function mib(bytes: number): string {
  return (bytes / (1024 * 1024)).toFixed(1);
}
