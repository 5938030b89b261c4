/**
 * A short run of `npm run fuzz`: the same decoders, inputs and property (fuzz/), 1,000 inputs
 * each instead of 100,000; and checks that the property catches what it is meant to.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../src/common/errors.js';
import { DECODERS, type DecoderFuzz } from '../../fuzz/decoders.js';
import { fuzzDecoder } from '../../fuzz/run.js';

const RUNS = 1000;
/** The fMP4 decoder's seed stream comes from ffmpeg. */
const TIMEOUT_MS = 60_000;

/** A decoder under test's control: `decode` decides what bad input does. */
function fakeDecoder(decode: (bytes: Uint8Array) => unknown): DecoderFuzz<Uint8Array> {
  return {
    name: 'fake',
    target: 'a test double',
    error: ProtocolError,
    prepare: () =>
      Promise.resolve({
        valid: fc.uint8Array({ maxLength: 3 }),
        inputs: fc.uint8Array({ minLength: 1, maxLength: 64 }),
        decode,
      }),
  };
}

describe('decoder fuzzing', () => {
  for (const decoder of DECODERS) {
    it(
      `${decoder.name}: ${decoder.target} returns or throws ${decoder.error.name} on ${RUNS} random and damaged inputs`,
      async () => {
        const report = await fuzzDecoder(decoder, { runs: RUNS });
        expect(report.failure).toBeUndefined();
        expect(report).toMatchObject({ decoder: decoder.name, inputs: RUNS, failures: 0 });
      },
      TIMEOUT_MS,
    );
  }

  it('fuzzDecoder() reports an untyped error with its shrunk input and where it was thrown', async () => {
    const report = await fuzzDecoder(
      fakeDecoder((bytes) => {
        if (bytes.byteLength > 3) throw new RangeError('offset is outside the bounds');
        return bytes;
      }),
      { runs: RUNS },
    );
    expect(report.failures).toBe(1);
    expect(report.failure).toMatch(
      /threw RangeError: offset is outside the bounds, not a ProtocolError/,
    );
    expect(report.failure).toMatch(/input: Uint8Array\.from\(\[0,0,0,0\]\)/);
    expect(report.failure).toMatch(/fuzz-decoders\.test\.ts/);
  });

  it('fuzzDecoder() reports an input that takes longer than the time bound', async () => {
    const report = await fuzzDecoder(
      fakeDecoder((bytes) => {
        const until = performance.now() + (bytes.byteLength > 3 ? 30 : 0);
        while (performance.now() < until);
        return bytes;
      }),
      { runs: RUNS, maxInputMs: 10 },
    );
    expect(report.failures).toBe(1);
    expect(report.failure).toMatch(/took \d+ ms, then over the 10 ms bound again/);
  });

  it('fuzzDecoder() reports a decoder that keeps what it was given', async () => {
    const kept: Uint8Array[] = [];
    const report = await fuzzDecoder(
      fakeDecoder((bytes) => kept.push(new Uint8Array(4096).fill(bytes[0] ?? 0))),
      { runs: RUNS, maxGrowthBytes: 1024 * 1024 },
    );
    expect(report.failure).toMatch(/memory grew by \d+\.\d MiB over the run \(bound 1\.0 MiB\)/);
  });

  it('fuzzDecoder() reports a valid encoding that does not decode', async () => {
    const report = await fuzzDecoder(
      fakeDecoder(() => {
        throw new ProtocolError('malformed-frame', 'refuses everything');
      }),
      { runs: RUNS },
    );
    expect(report).toMatchObject({ failures: 1, inputs: 0 });
    expect(report.failure).toMatch(/^a valid encoding does not decode: refuses everything/);
  });
});
