import { describe, expect, it } from 'vitest';
import { SwarmcastError } from '../../src/common/errors.js';
import { MeshTopology, meshTopology } from '../../src/tracker/core/mesh.js';
import { heapOrderProblems, randomWalk, stripeProblems } from './topology-invariants.js';

/** Chebyshev distance between the cells of two nodes. */
function cellDistance(mesh: MeshTopology, a: string, b: string): number {
  const [ax, ay] = mesh.position(mesh.cellOf(a) ?? -1);
  const [bx, by] = mesh.position(mesh.cellOf(b) ?? -1);
  return Math.max(Math.abs(ax - bx), Math.abs(ay - by));
}

/** The home stripe of a node: the one in which it feeds others or could (its cell's colour). */
function home(mesh: MeshTopology, id: string, stripes = 2): number {
  const [x, y] = mesh.position(mesh.cellOf(id) ?? -1);
  return (x + (stripes === 2 ? 1 : 2) * y) % stripes;
}

describe('MeshTopology', { timeout: 30_000 }, () => {
  it('deals the grid into two stripes like a checkerboard: one parent per stripe, feeding only the home one', () => {
    const mesh = new MeshTopology('r', { bitrateKbps: 1160 });
    for (let i = 0; i < 25; i++) mesh.add({ id: `c${i}`, uploadKbps: 2000 });
    // Cells fill 5×5 in square shells; each node's colour (x + y) mod 2 is its home stripe.
    for (let i = 0; i < 25; i++) {
      const id = `c${i}`;
      expect(mesh.parentsOf(id)).toHaveLength(2);
      const other = 1 - home(mesh, id);
      // In its home stripe it hangs in that stripe's tree (a node of its own colour or the
      // broadcaster); in the other, it is fed by a node of the other colour.
      const homeParent = mesh.stripeParentOf(home(mesh, id), id) ?? '';
      expect(homeParent === 'r' || home(mesh, homeParent) === home(mesh, id)).toBe(true);
      const leafParent = mesh.stripeParentOf(other, id) ?? '';
      expect(leafParent === 'r' || home(mesh, leafParent) === other).toBe(true);
    }
    expect(
      stripeProblems(mesh, new Set(Array.from({ length: 25 }, (_, i) => `c${i}`)), () => 3),
    ).toEqual([]);
  });

  it('feeds leaves from a neighbouring cell while one has room', () => {
    const mesh = new MeshTopology('r', { bitrateKbps: 1160 });
    const ids = Array.from({ length: 83 }, (_, i) => `n${i}`);
    for (const id of ids) mesh.add({ id, uploadKbps: 2000 });
    let adjacent = 0;
    for (const id of ids) {
      const leafParent = mesh.stripeParentOf(1 - home(mesh, id), id) ?? '';
      if (leafParent !== 'r' && cellDistance(mesh, id, leafParent) === 1) adjacent++;
    }
    // Measured: 78 of 83 with this grid; the rest go to the least full node of the colour.
    expect(adjacent).toBeGreaterThanOrEqual(75);
  });

  it('a newcomer takes the cell a leaver freed, so the grid stays compact under churn', () => {
    const mesh = new MeshTopology('r');
    for (let i = 0; i < 9; i++) mesh.add({ id: `c${i}` });
    const cell = mesh.cellOf('c4');
    mesh.remove('c4');
    expect(mesh.cellOf('c4')).toBeUndefined();
    mesh.add({ id: 'new' });
    expect(mesh.cellOf('new')).toBe(cell);
    mesh.add({ id: 'next' });
    expect(mesh.cellOf('next')).toBe(9);
    expect(mesh.size).toBe(11);
  });

  it('the broadcaster feeds `seeds` nodes in each stripe', () => {
    const mesh = new MeshTopology('r', { seeds: 3 });
    for (let i = 0; i < 20; i++) mesh.add({ id: `c${i}` });
    expect(mesh.childrenOf('r')).toHaveLength(6);
  });

  it('refuses to remove the root, an unknown node, to add a duplicate, or bad options', () => {
    const mesh = new MeshTopology('r');
    mesh.add({ id: 'a' });
    expect(() => mesh.remove('r')).toThrow(SwarmcastError);
    expect(() => mesh.remove('zz')).toThrow(/unknown node/);
    expect(() => mesh.add({ id: 'a' })).toThrow(/already/);
    expect(() => mesh.parentsOf('zz')).toThrow(SwarmcastError);
    expect(() => meshTopology({ stripes: 1 })).toThrow(/stripes/);
    expect(() => meshTopology({ stripes: 9 })).toThrow(/stripes/);
    expect(() => meshTopology({ seeds: 0 })).toThrow(/seeds/);
    expect(() => new MeshTopology('r', { bitrateKbps: -1 })).toThrow(/bitrateKbps/);
  });

  it('with orderByCapacity puts the faster nodes toward the seeds: each stripe’s interior stays a max-heap on upload through 1,500 random joins and leaves', () => {
    const upload = new Map<string, number | undefined>();
    const mesh = new MeshTopology('root', {
      bitrateKbps: 1160,
      orderByCapacity: true,
      maxMovesPerChange: 64,
    });
    const { problems, peak } = randomWalk(mesh, {
      seed: 24,
      steps: 1500,
      checkEvery: 10,
      maxChildren: () => Infinity,
      maxParents: mesh.stripes,
      maxBackupParents: 0,
      cycles: true,
      uploadKbps: (i, random) => {
        const kbps = i % 6 === 0 ? undefined : random.int(10_000);
        upload.set(`p${i}`, kbps);
        return kbps;
      },
      extra: (_, viewers) => [
        ...stripeProblems(mesh, viewers, () => Infinity),
        ...heapOrderProblems(mesh, viewers, upload),
      ],
    });
    expect(problems).toEqual([]);
    expect(peak).toBeGreaterThan(60);
  });

  it.each([
    { options: {}, bitrateKbps: undefined, seed: 21 },
    { options: { width: 7, seeds: 2 }, bitrateKbps: 1160, seed: 22 },
    { options: { stripes: 3 }, bitrateKbps: 1500, seed: 23 },
  ])(
    'keeps every invariant over 2,000 random joins and leaves ($options, bitrate $bitrateKbps)',
    ({ options, bitrateKbps, seed }) => {
      const mesh = new MeshTopology('root', {
        ...options,
        ...(bitrateKbps === undefined ? {} : { bitrateKbps }),
      });
      const stripes = mesh.stripes;
      const upload = new Map<string, number | undefined>();
      const slots = (id: string): number => {
        const kbps = upload.get(id);
        if (kbps === undefined || bitrateKbps === undefined) return 2 * stripes;
        return Math.max(2, Math.floor(kbps / (bitrateKbps / stripes)));
      };
      const { problems, peak } = randomWalk(mesh, {
        seed,
        steps: 2000,
        checkEvery: 25,
        maxChildren: () => Infinity,
        maxParents: stripes,
        maxBackupParents: 0,
        cycles: true,
        uploadKbps: (i, random) => {
          const kbps = i % 4 === 0 ? undefined : 1000 + random.int(4000);
          upload.set(`p${i}`, kbps);
          return kbps;
        },
        extra: (_, viewers) => {
          const out = stripeProblems(mesh, viewers, () => Infinity);
          // Capacity: a node feeds over its slots only while every node of that stripe's
          // colour is full (a stripe whose colour lost many nodes to churn).
          for (let s = 0; s < stripes; s++) {
            const fed = new Map<string, number>();
            for (const id of viewers) {
              const parent = mesh.stripeParentOf(s, id) ?? '';
              fed.set(parent, (fed.get(parent) ?? 0) + 1);
            }
            const feeders = [...fed].filter(([id]) => id !== 'root');
            const over = feeders.filter(([id, n]) => n > slots(id));
            const room = [...viewers].filter(
              (id) =>
                mesh.stripeParentOf(s, id) !== undefined &&
                home(mesh, id, stripes) === s &&
                (fed.get(id) ?? 0) < slots(id),
            );
            if (over.length > 0 && room.length > 0) {
              out.push(
                `stripe ${s}: ${over[0]?.[0] ?? ''} over its slots while ${room[0] ?? ''} has room`,
              );
            }
          }
          // The cells in use stay a compact prefix while no node has left since the last join.
          const cells = [...viewers].map((id) => mesh.cellOf(id) ?? -1);
          if (new Set(cells).size !== cells.length) out.push('two nodes share a cell');
          return out;
        },
      });
      expect(problems).toEqual([]);
      expect(peak).toBeGreaterThan(150);
    },
  );
});
