import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../../src/common/random.js';
import type { Chunk } from '../../src/protocol/chunk.js';
import { SimEngine } from '../../src/sim/engine.js';
import { SimSource, simVerifier } from '../../src/sim/source.js';

const TAG_KEY = 1234;

/** Counts the promises verifiers hand out (the engine's `markAsync` in a swarm). */
function settleCounter(): { count: number; onSettle: () => void } {
  const counter = {
    count: 0,
    onSettle: (): void => {
      counter.count++;
    },
  };
  return counter;
}

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
  it('accepts the same chunk every time it is verified, by any peer', async () => {
    const [chunk] = await sourceChunks(1);
    if (chunk === undefined) throw new Error('no chunk');
    const settled = settleCounter();
    const verifiers = [0, 1].map(() => simVerifier(TAG_KEY, settled.onSettle));
    for (const verifier of verifiers) {
      await verifier.verify(chunk);
      await verifier.verify({ ...chunk });
    }
    expect(settled.count).toBe(4);
  });

  it('accepts a chunk whose bytes are a view of its own on the same memory, and checks where they lie', async () => {
    const [chunk] = await sourceChunks(1);
    if (chunk === undefined) throw new Error('no chunk');
    const verifier = simVerifier(TAG_KEY, () => undefined);
    // As each peer decodes it: a DATA message's payload, a fresh view per peer.
    const message = new Uint8Array(16 + chunk.byteLength);
    message.set(chunk.bytes, 16);
    for (let peer = 0; peer < 3; peer++) {
      await verifier.verify({ ...chunk, bytes: message.subarray(16) });
    }
    // Other bytes of the same memory (one byte further) are not taken for those verified.
    const shifted = new Uint8Array(message.buffer, 15, chunk.byteLength);
    await expect(verifier.verify({ ...chunk, bytes: shifted })).rejects.toThrow(/tag mismatch/);
    await expect(
      verifier.verify({ ...chunk, bytes: message.subarray(16, 15 + chunk.byteLength) }),
    ).rejects.toThrow(/length mismatch/);
    await verifier.verify({ ...chunk, bytes: message.subarray(16) });
  });

  it('rejects bytes that differ from the source, then metadata that differs over the same bytes', async () => {
    const [chunk, other] = await sourceChunks(2);
    if (chunk === undefined || other === undefined) throw new Error('no chunk');
    const settled = settleCounter();
    const verifier = simVerifier(TAG_KEY, settled.onSettle);
    await verifier.verify(chunk);
    const damaged = chunk.bytes.slice();
    damaged[61] = (damaged[61] ?? 0) ^ 0xff;
    damaged[damaged.length - 1] = (damaged[damaged.length - 1] ?? 0) ^ 0xff;
    await expect(verifier.verify({ ...chunk, bytes: damaged })).rejects.toThrow(/tag mismatch/);
    // The same bytes object, verified before with its own metadata, under another's metadata.
    await expect(verifier.verify({ ...other, bytes: chunk.bytes })).rejects.toThrow();
    await expect(
      verifier.verify({ ...chunk, captureTimeMs: chunk.captureTimeMs + 1 }),
    ).rejects.toThrow(/tag mismatch/);
    await expect(simVerifier(TAG_KEY + 1, settled.onSettle).verify(chunk)).rejects.toThrow(
      /tag mismatch/,
    );
    await verifier.verify(chunk);
    expect(settled.count).toBe(6);
  });
});
