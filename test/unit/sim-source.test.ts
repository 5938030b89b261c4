import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../../src/common/random.js';
import type { Chunk } from '../../src/protocol/chunk.js';
import { SimEngine } from '../../src/sim/engine.js';
import { SimSource, simVerifier } from '../../src/sim/source.js';

const TAG_KEY = 1234;

/** The first `count` chunks of a simulated source. */
async function sourceChunks(count: number): Promise<Chunk[]> {
  const engine = new SimEngine({ seed: 3 });
  const source = new SimSource(
    { clock: engine.clock, random: new SeededRandom(5) },
    { bitrateKbps: 1160, chunkDurationMs: 500, segmentDurationMs: 2000, tagKey: TAG_KEY },
  );
  const chunks: Chunk[] = [];
  source.start((chunk) => chunks.push(chunk));
  await engine.run(count * 500);
  source.stop();
  return chunks;
}

describe('simVerifier', () => {
  it('accepts the same chunk every time it is verified, by any peer, at once (no promise)', async () => {
    const [chunk] = await sourceChunks(1);
    if (chunk === undefined) throw new Error('no chunk');
    const verifiers = [0, 1].map(() => simVerifier(TAG_KEY));
    for (const verifier of verifiers) {
      expect(verifier.verify(chunk)).toBeUndefined();
      expect(verifier.verify({ ...chunk })).toBeUndefined();
    }
  });

  it('accepts a chunk whose bytes are a view of its own on the same memory, and checks where they lie', async () => {
    const [chunk] = await sourceChunks(1);
    if (chunk === undefined) throw new Error('no chunk');
    const verifier = simVerifier(TAG_KEY);
    // As each peer decodes it: a DATA message's payload, a fresh view per peer.
    const message = new Uint8Array(16 + chunk.byteLength);
    message.set(chunk.bytes, 16);
    for (let peer = 0; peer < 3; peer++) {
      expect(verifier.verify({ ...chunk, bytes: message.subarray(16) })).toBeUndefined();
    }
    // Other bytes of the same memory (one byte further) are not taken for those verified.
    const shifted = new Uint8Array(message.buffer, 15, chunk.byteLength);
    expect(() => verifier.verify({ ...chunk, bytes: shifted })).toThrow(/tag mismatch/);
    expect(() =>
      verifier.verify({ ...chunk, bytes: message.subarray(16, 15 + chunk.byteLength) }),
    ).toThrow(/length mismatch/);
    expect(verifier.verify({ ...chunk, bytes: message.subarray(16) })).toBeUndefined();
  });

  it('rejects bytes that differ from the source, then metadata that differs over the same bytes', async () => {
    const [chunk, other] = await sourceChunks(2);
    if (chunk === undefined || other === undefined) throw new Error('no chunk');
    const verifier = simVerifier(TAG_KEY);
    expect(verifier.verify(chunk)).toBeUndefined();
    const damaged = chunk.bytes.slice();
    damaged[61] = (damaged[61] ?? 0) ^ 0xff;
    damaged[damaged.length - 1] = (damaged[damaged.length - 1] ?? 0) ^ 0xff;
    expect(() => verifier.verify({ ...chunk, bytes: damaged })).toThrow(/tag mismatch/);
    // The same bytes object, verified before with its own metadata, under another's metadata.
    expect(() => verifier.verify({ ...other, bytes: chunk.bytes })).toThrow();
    expect(() => verifier.verify({ ...chunk, captureTimeMs: chunk.captureTimeMs + 1 })).toThrow(
      /tag mismatch/,
    );
    expect(() => simVerifier(TAG_KEY + 1).verify(chunk)).toThrow(/tag mismatch/);
    expect(verifier.verify(chunk)).toBeUndefined();
  });
});
