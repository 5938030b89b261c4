import { describe, expect, it } from 'vitest';
import type { Topology } from '../../src/tracker/core/topology.js';
import { StripedTreeTopology } from '../../src/tracker/core/striped-tree.js';
import { treeTopology } from '../../src/tracker/core/tree.js';
import { heapOrderProblems, randomWalk, stripeProblems } from './topology-invariants.js';

function striped(stripes: number, bitrateKbps?: number): StripedTreeTopology {
  return new StripedTreeTopology('root', { stripes, rootFanout: 1, fanout: 2, bitrateKbps });
}

describe('StripedTreeTopology', { timeout: 30_000 }, () => {
  it('deals viewers into stripes: each has one parent per stripe and feeds only its home stripe', () => {
    const tree = striped(2);
    for (const id of ['a', 'b', 'c', 'd', 'e', 'f']) tree.add({ id });
    // Homes alternate: a, c, e in stripe 0; b, d, f in stripe 1.
    expect(tree.stripeParentOf(0, 'a')).toBe('root');
    expect(tree.stripeParentOf(1, 'b')).toBe('root');
    expect(tree.stripeParentOf(0, 'c')).toBe('a');
    expect(tree.stripeParentOf(1, 'd')).toBe('b');
    // A leaf hangs on the shallowest interior node with room that does not feed it elsewhere.
    expect(tree.parentsOf('a')).toEqual(['root', 'b']);
    expect(tree.parentsOf('b')).toEqual(['a', 'root']);
    for (const id of ['a', 'b', 'c', 'd', 'e', 'f']) expect(tree.parentsOf(id)).toHaveLength(2);
    expect(tree.childrenOf('root')).toEqual(['a', 'b']);
    expect(tree.backupParentsOf('c')).toEqual([]);
  });

  it('a lone viewer takes both stripes from the root, listed once', () => {
    const tree = striped(2);
    tree.add({ id: 'a' });
    expect(tree.parentsOf('a')).toEqual(['root']);
    tree.add({ id: 'b' });
    expect(tree.parentsOf('a')).toEqual(['root', 'b']);
    expect(tree.parentsOf('b')).toEqual(['a', 'root']);
  });

  it('bounds stripe-children by upload: ⌊upload / (bitrate / stripes)⌋', () => {
    const tree = striped(2, 1000);
    tree.add({ id: 'slow', uploadKbps: 1000 }); // 2 stripe-children
    for (let i = 0; i < 4; i++) tree.add({ id: `n${i}`, uploadKbps: 10_000 });
    let fed = 0;
    for (const id of ['n0', 'n1', 'n2', 'n3']) if (tree.stripeParentOf(0, id) === 'slow') fed++;
    expect(fed).toBeLessThanOrEqual(2);
  });

  it('the factory makes a plain tree by default and a multi-tree with stripes: 2', () => {
    const multi = treeTopology({ stripes: 2 })('root', { bitrateKbps: 1000 });
    const plain = treeTopology()('root');
    for (const t of [multi, plain] as Topology[]) for (const id of ['a', 'b', 'c']) t.add({ id });
    expect(multi.parentsOf('c')).toHaveLength(2);
    expect(plain.parentsOf('c')).toHaveLength(1);
    expect(() => treeTopology({ stripes: 0 })).toThrow(/stripes/);
  });

  it('add({ relay: false }) hangs a node as a leaf in every stripe: it feeds no one, newcomers included, and leaves cleanly', () => {
    const tree = striped(2);
    for (const id of ['a', 'b', 'c', 'd']) tree.add({ id });
    tree.add({ id: 's', relay: false });
    expect(tree.parentsOf('s')).toHaveLength(2);
    for (const id of ['e', 'f', 'g', 'h', 'i', 'j']) tree.add({ id });
    // Without the flag it would be the least full node of its stripe: the first to take leaves.
    expect(tree.childrenOf('s')).toEqual([]);
    tree.remove('a');
    tree.remove('b');
    expect(tree.childrenOf('s')).toEqual([]);
    expect(tree.size).toBe(1 + 9);
    expect(tree.remove('s')).not.toContain('s');
    expect(tree.has('s')).toBe(false);
    expect(() => tree.remove('s')).toThrow(/unknown node/);
    expect(tree.size).toBe(1 + 8);
  });

  it('keeps every invariant over 3,000 random joins and leaves when a quarter of the nodes do not relay, and those feed no one', () => {
    const tree = striped(2, 1160);
    const { problems, peak } = randomWalk(tree, {
      seed: 35,
      steps: 3000,
      checkEvery: 50,
      maxChildren: (id) => (Number(id.slice(1)) % 4 === 0 ? 0 : Infinity),
      maxParents: 2,
      maxBackupParents: 0,
      cycles: true,
      uploadKbps: () => 2000,
      relay: (i) => i % 4 !== 0,
      extra: (t, viewers) => {
        const out = stripeProblems(tree, viewers, () => Infinity);
        if (t.size !== viewers.size + 1) out.push('size');
        return out;
      },
    });
    expect(problems).toEqual([]);
    expect(peak).toBeGreaterThan(100);
  });

  it('with orderByCapacity a faster newcomer climbs its stripe above a slower parent, never above the root', () => {
    const ordered = new StripedTreeTopology('root', {
      stripes: 2,
      rootFanout: 1,
      fanout: 2,
      bitrateKbps: undefined,
      orderByCapacity: true,
    });
    const plain = striped(2, undefined);
    for (const tree of [ordered, plain]) {
      tree.add({ id: 'a', uploadKbps: 1000 });
      tree.add({ id: 'b', uploadKbps: 1000 });
      tree.add({ id: 'c', uploadKbps: 3000 });
    }
    // `a` and `c` are at home in stripe 0: `c` joined under `a`, and swapped with it.
    expect(plain.stripeParentOf(0, 'c')).toBe('a');
    expect(ordered.stripeParentOf(0, 'c')).toBe('root');
    expect(ordered.stripeParentOf(0, 'a')).toBe('c');
    // Leaves follow the rule as before: `b` (at home in stripe 1) hangs in stripe 0 on one of them.
    expect(['a', 'c']).toContain(ordered.stripeParentOf(0, 'b'));
  });

  it.each([
    { stripes: 2, near: false, seed: 41 },
    { stripes: 3, near: true, seed: 42 },
  ])(
    'with orderByCapacity and enough moves, every stripe’s interior stays a max-heap on upload through 2,000 random joins and leaves ($stripes stripes, seed $seed)',
    ({ stripes, near, seed }) => {
      const upload = new Map<string, number | undefined>();
      const tree = new StripedTreeTopology('root', {
        stripes,
        rootFanout: 2,
        fanout: 2,
        bitrateKbps: 1160,
        orderByCapacity: true,
        maxMovesPerChange: 64,
        // A nearness preference, as the mesh gives, must not break the order.
        ...(near ? { near: (leaf: string, parent: string) => leaf.length === parent.length } : {}),
      });
      const { problems, peak } = randomWalk(tree, {
        seed,
        steps: 2000,
        checkEvery: 10,
        maxChildren: () => Infinity,
        maxParents: stripes,
        maxBackupParents: 0,
        cycles: true,
        uploadKbps: (i, random) => {
          const kbps = i % 7 === 0 ? undefined : random.int(10_000);
          upload.set(`p${i}`, kbps);
          return kbps;
        },
        extra: (_, viewers) => [
          ...stripeProblems(tree, viewers, () => Infinity),
          ...heapOrderProblems(tree, viewers, upload),
        ],
      });
      expect(problems).toEqual([]);
      expect(peak).toBeGreaterThan(100);
    },
  );

  it.each([
    { stripes: 2, bitrateKbps: undefined, seed: 31 },
    { stripes: 2, bitrateKbps: 1160, seed: 32 },
    { stripes: 3, bitrateKbps: 1500, seed: 33 },
    { stripes: 4, bitrateKbps: undefined, seed: 34 },
  ])(
    'keeps every invariant over 3,000 random joins and leaves ($stripes stripes, bitrate $bitrateKbps, seed $seed)',
    ({ stripes, bitrateKbps, seed }) => {
      const tree = striped(stripes, bitrateKbps);
      const upload = new Map<string, number | undefined>();
      const slots = (id: string): number => {
        const kbps = upload.get(id);
        if (kbps === undefined || bitrateKbps === undefined) return 2 * stripes;
        return Math.max(2, Math.floor(kbps / (bitrateKbps / stripes)));
      };
      const { problems, peak } = randomWalk(tree, {
        seed,
        steps: 3000,
        checkEvery: 50,
        maxChildren: () => Infinity,
        maxParents: stripes,
        maxBackupParents: 0,
        cycles: true,
        uploadKbps: (i, random) => {
          // Mostly enough upload for the stream; a few nodes with little or none announced.
          const kbps = i % 5 === 0 ? undefined : 1000 + random.int(4000);
          upload.set(`p${i}`, kbps);
          return kbps;
        },
        extra: (t, viewers) => {
          const out = stripeProblems(tree, viewers, slots);
          if (t.size !== viewers.size + 1) out.push('size');
          return out;
        },
      });
      expect(problems).toEqual([]);
      expect(peak).toBeGreaterThan(100);
    },
  );
});
