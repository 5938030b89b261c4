import { describe, expect, it } from 'vitest';
import { SwarmcastError } from '../../src/common/errors.js';
import { childSlots } from '../../src/tracker/core/topology.js';
import { MESH_DEFAULTS, MeshTopology, meshTopology } from '../../src/tracker/core/mesh.js';
import type { Topology } from '../../src/tracker/core/topology.js';
import { randomWalk } from './topology-invariants.js';

describe('MeshTopology', { timeout: 30_000 }, () => {
  it('feeds a 3×3 grid from its centre, with neighbours one step closer as parents', () => {
    // Shell order: cells 0..8 fill a 3×3 square; (x, y) = 0:(0,0) 1:(1,0) 2:(0,1) 3:(1,1)
    // 4:(2,0) 5:(2,1) 6:(0,2) 7:(1,2) 8:(2,2). The occupied 3×3 grid has one seed, its centre.
    const mesh = new MeshTopology('r');
    for (let i = 0; i < 9; i++) mesh.add({ id: `c${i}` });
    expect(mesh.childrenOf('r')).toEqual(['c3']);
    expect(mesh.parentsOf('c3')).toEqual(['r']);
    for (const id of ['c0', 'c1', 'c2', 'c4', 'c5', 'c6', 'c7', 'c8']) {
      expect(mesh.parentsOf(id)).toEqual(['c3']);
    }
    // Backups: not parents, closer or as close and earlier in the fill order, orthogonal first.
    expect(mesh.backupParentsOf('c0')).toEqual([]);
    expect(mesh.backupParentsOf('c1')).toEqual(['c0']);
    expect(mesh.backupParentsOf('c5')).toEqual(['c4', 'c1']);
    expect(mesh.backupParentsOf('c8')).toEqual(['c7', 'c5']);
    expect(mesh.backupParentsOf('c3')).toEqual([]);
  });

  it('seeds several well-spread cells on a larger grid', () => {
    const mesh = new MeshTopology('r', { seeds: 4 });
    for (let i = 0; i < 64; i++) mesh.add({ id: `n${i}` });
    expect(mesh.childrenOf('r')).toHaveLength(4);
    // Seeds at (2,2), (6,2), (2,6), (6,6): every cell of the 8×8 grid is 2 steps from one.
    const depth = new Map<string, number>([['r', 0]]);
    const queue = ['r'];
    for (const id of queue) {
      for (const child of mesh.childrenOf(id)) {
        if (!depth.has(child)) {
          depth.set(child, (depth.get(id) ?? 0) + 1);
          queue.push(child);
        }
      }
    }
    expect(Math.max(...depth.values())).toBe(3);
  });

  it('remove() moves the last node into the hole, keeping the grid compact', () => {
    const mesh = new MeshTopology('r');
    for (let i = 0; i < 9; i++) mesh.add({ id: `c${i}` });
    const affected = mesh.remove('c8');
    // c8 (the seed) was the last cell: the grid is 8 cells, seeded at cell 0 (2×2 blocks too small).
    expect(mesh.has('c8')).toBe(false);
    expect(mesh.size).toBe(9);
    expect(affected).not.toContain('c8');
    const second = mesh.remove('c2');
    // c7, the last, takes cell 2.
    expect(second).toContain('c7');
    expect(mesh.size).toBe(8);
    expect(mesh.parentsOf('c7').length).toBeGreaterThan(0);
  });

  it('moves faster nodes toward the seeds with orderByCapacity', () => {
    const mesh = new MeshTopology('r', { orderByCapacity: true });
    for (let i = 0; i < 9; i++) mesh.add({ id: `c${i}`, uploadKbps: 1000 + i });
    mesh.add({ id: 'fast', uploadKbps: 50_000 });
    expect(mesh.childrenOf('r')).toEqual(['fast']);
  });

  it('goes over a node’s capacity at the stream bitrate only as the sole parent of the extra children', () => {
    // 1500 kbps of upload feeds one child of a 1000 kbps stream.
    const mesh = new MeshTopology('r', { bitrateKbps: 1000 });
    for (let i = 0; i < 25; i++) mesh.add({ id: `c${i}`, uploadKbps: 1500 });
    const pushes = (topology: MeshTopology): number => {
      let total = 0;
      for (let i = 0; i < 25; i++) total += topology.childrenOf(`c${i}`).length;
      return total;
    };
    for (let i = 0; i < 25; i++) {
      const children = mesh.childrenOf(`c${i}`);
      const sole = children.filter((child) => mesh.parentsOf(child).length === 1);
      expect(children.length - 1).toBeLessThanOrEqual(sole.length);
    }
    // Nodes take only parents with a free slot: fewer pushes than with unknown capacity.
    const unknown = new MeshTopology('r');
    for (let i = 0; i < 25; i++) unknown.add({ id: `c${i}`, uploadKbps: 1500 });
    expect(pushes(mesh)).toBeLessThan(pushes(unknown));
  });

  it('refuses to remove the root, an unknown node, to add a duplicate, or bad options', () => {
    const mesh = new MeshTopology('r');
    mesh.add({ id: 'a' });
    expect(() => mesh.remove('r')).toThrow(SwarmcastError);
    expect(() => mesh.remove('zz')).toThrow(/unknown node/);
    expect(() => mesh.add({ id: 'a' })).toThrow(/already/);
    expect(() => mesh.parentsOf('zz')).toThrow(SwarmcastError);
    expect(() => meshTopology({ maxParents: 4 })).toThrow(/maxParents/);
    expect(() => meshTopology({ backupParents: 3 })).toThrow(/backupParents/);
    expect(() => meshTopology({ seeds: 0 })).toThrow(/seeds/);
    expect(() => new MeshTopology('r', { bitrateKbps: -1 })).toThrow(/bitrateKbps/);
  });

  it.each([
    { options: {}, bitrateKbps: undefined, seed: 21 },
    { options: { width: 7, seeds: 2 }, bitrateKbps: undefined, seed: 22 },
    { options: { orderByCapacity: true }, bitrateKbps: 1000, seed: 23 },
    { options: { maxParents: 1, backupParents: 1, seeds: 9 }, bitrateKbps: 1000, seed: 24 },
  ])(
    'keeps every node fed by closer neighbours, with valid backups, through 2000 random joins and leaves ($options, bitrate $bitrateKbps)',
    ({ options, bitrateKbps, seed }) => {
      const mesh = meshTopology(options)('root', bitrateKbps === undefined ? {} : { bitrateKbps });
      const upload = new Map<string, number | undefined>();
      const slots = (id: string): number =>
        id === 'root' ? 64 : childSlots(upload.get(id), bitrateKbps, MESH_DEFAULTS.fanout);
      const { problems, peak } = randomWalk(mesh, {
        seed,
        steps: 2000,
        checkEvery: 25,
        maxChildren: (id) => (id === 'root' ? 64 : 8),
        maxParents: options.maxParents ?? MESH_DEFAULTS.maxParents,
        maxBackupParents: options.backupParents ?? MESH_DEFAULTS.backupParents,
        uploadKbps: (i, random) => {
          const kbps = i % 4 === 0 ? undefined : 500 + random.int(4000);
          upload.set(`p${i}`, kbps);
          return kbps;
        },
        extra: (topology: Topology, viewers) => {
          // Capacity: a node over its slots only as the sole parent of its extra children.
          const out: string[] = [];
          for (const id of viewers) {
            const children = topology.childrenOf(id);
            const sole = children.filter((child) => topology.parentsOf(child).length === 1);
            if (children.length - slots(id) > sole.length) {
              out.push(`${id} has ${children.length} children for ${slots(id)} slots`);
            }
          }
          return out;
        },
      });
      expect(problems).toEqual([]);
      expect(peak).toBeGreaterThan(150);
    },
  );
});
