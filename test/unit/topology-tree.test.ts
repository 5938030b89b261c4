import { describe, expect, it } from 'vitest';
import { SwarmcastError } from '../../src/common/errors.js';
import type { Topology } from '../../src/tracker/core/topology.js';
import { TREE_DEFAULTS, TreeTopology, treeTopology } from '../../src/tracker/core/tree.js';
import { randomWalk } from './topology-invariants.js';

/** Depth of `id`, walking up parents; throws on a missing parent or a cycle. */
function depthOf(tree: Topology, id: string): number {
  let depth = 0;
  let current = id;
  while (current !== tree.rootId) {
    const parents = tree.parentsOf(current);
    if (parents.length !== 1) throw new Error(`${current} has ${parents.length} parents`);
    current = parents[0] ?? '';
    depth++;
    if (depth > tree.size) throw new Error(`cycle through ${id}`);
  }
  return depth;
}

/** A complete tree: depth ≤ ⌈log_k n⌉ + 1 for n viewers under fanout k. */
function tooDeep(tree: Topology, viewers: ReadonlySet<string>, fanout: number): string[] {
  let maxDepth = 0;
  for (const id of viewers) maxDepth = Math.max(maxDepth, depthOf(tree, id));
  const n = viewers.size;
  const bound = n <= 1 ? n : Math.ceil(Math.log(n) / Math.log(fanout) - 1e-9) + 1;
  return maxDepth > bound ? [`depth ${maxDepth} over ${bound} for ${n} viewers`] : [];
}

describe('TreeTopology', { timeout: 10_000 }, () => {
  it('fills a binary tree under a single root child in arrival order', () => {
    const tree = new TreeTopology('root');
    for (const id of ['a', 'b', 'c', 'd', 'e', 'f', 'g']) tree.add({ id });
    expect(tree.childrenOf('root')).toEqual(['a']);
    expect(tree.childrenOf('a')).toEqual(['b', 'c']);
    expect(tree.childrenOf('b')).toEqual(['d', 'e']);
    expect(tree.childrenOf('c')).toEqual(['f', 'g']);
    expect(tree.parentsOf('g')).toEqual(['c']);
    expect(tree.parentsOf('root')).toEqual([]);
    expect(tree.size).toBe(8);
  });

  it('honours rootFanout and fanout', () => {
    const tree = new TreeTopology('r', { rootFanout: 2, fanout: 3 });
    for (let i = 1; i <= 9; i++) tree.add({ id: `n${i}` });
    expect(tree.childrenOf('r')).toEqual(['n1', 'n2']);
    expect(tree.childrenOf('n1')).toEqual(['n3', 'n4', 'n5']);
    expect(tree.childrenOf('n2')).toEqual(['n6', 'n7', 'n8']);
    expect(tree.childrenOf('n3')).toEqual(['n9']);
  });

  it('add() reports the new node and its parent as affected', () => {
    const tree = new TreeTopology('root');
    expect(tree.add({ id: 'a' })).toEqual(['a', 'root']);
    expect(tree.add({ id: 'b', uploadKbps: 5000 })).toEqual(['b', 'a']);
  });

  it('remove() moves the last leaf into the hole so that orphans get one new parent', () => {
    const tree = new TreeTopology('root');
    for (const id of ['a', 'b', 'c', 'd', 'e', 'f']) tree.add({ id });
    // root → a → (b → d, e), (c → f); b leaves: f takes its place.
    const affected = tree.remove('b');
    expect(new Set(affected)).toEqual(new Set(['a', 'd', 'e', 'f', 'c']));
    expect(tree.has('b')).toBe(false);
    expect(tree.childrenOf('a')).toEqual(['f', 'c']);
    expect(tree.childrenOf('f')).toEqual(['d', 'e']);
    expect(tree.parentsOf('d')).toEqual(['f']);
    expect(tree.childrenOf('c')).toEqual([]);
  });

  it('remove() of the last leaf only affects its parent', () => {
    const tree = new TreeTopology('root');
    for (const id of ['a', 'b', 'c']) tree.add({ id });
    expect(tree.remove('c')).toEqual(['a']);
    expect(tree.childrenOf('a')).toEqual(['b']);
  });

  it('remove() of a parent whose child is the last leaf promotes that child', () => {
    const tree = new TreeTopology('root');
    for (const id of ['a', 'b', 'c', 'd']) tree.add({ id });
    // root → a → (b → d), c; b leaves: d takes its place.
    expect(new Set(tree.remove('b'))).toEqual(new Set(['a', 'd']));
    expect(tree.childrenOf('a')).toEqual(['d', 'c']);
    expect(tree.childrenOf('d')).toEqual([]);
  });

  it('refuses to remove the root, an unknown node, or to add a duplicate', () => {
    const tree = new TreeTopology('root');
    tree.add({ id: 'a' });
    expect(() => tree.remove('root')).toThrow(SwarmcastError);
    expect(() => tree.remove('zz')).toThrow(/unknown node/);
    expect(() => tree.add({ id: 'a' })).toThrow(/already/);
    expect(() => tree.parentsOf('zz')).toThrow(SwarmcastError);
  });

  it('rejects fanouts that are not integers from 1 to MAX_NEIGHBOURS', () => {
    expect(() => new TreeTopology('r', { fanout: 0 })).toThrow(/fanout/);
    expect(() => new TreeTopology('r', { rootFanout: 1.5 })).toThrow(/rootFanout/);
    expect(() => treeTopology({ fanout: 65 })).toThrow(/fanout/);
    expect(treeTopology({ fanout: 3 })('r').rootId).toBe('r');
  });

  it('gives each node backup parents at its parent’s depth, in the farthest branches', () => {
    const tree = new TreeTopology('r');
    for (let i = 1; i <= 15; i++) tree.add({ id: `n${i}` });
    // r → n1 → (n2, n3) → (n4..n7) → (n8..n15), in breadth-first order.
    expect(tree.backupParentsOf('n1')).toEqual([]);
    expect(tree.backupParentsOf('n2')).toEqual([]);
    expect(tree.backupParentsOf('n4')).toEqual(['n3']);
    // Level n4..n7 (4 wide): n8's parent is n4, backups a third and two thirds along: n5, n7.
    expect(tree.backupParentsOf('n8')).toEqual(['n5', 'n7']);
    expect(tree.backupParentsOf('n14')).toEqual(['n4', 'n6']);
    const one = new TreeTopology('r', { backupParents: 1 });
    for (let i = 1; i <= 15; i++) one.add({ id: `n${i}` });
    expect(one.backupParentsOf('n8')).toEqual(['n6']);
  });

  it('keeps a max-heap on upload with orderByCapacity, moving the newcomer up', () => {
    const tree = new TreeTopology('r', { orderByCapacity: true });
    tree.add({ id: 'a', uploadKbps: 1000 });
    tree.add({ id: 'b', uploadKbps: 2000 });
    tree.add({ id: 'c' });
    expect(tree.childrenOf('r')).toEqual(['b']);
    expect(tree.childrenOf('b')).toEqual(['a', 'c']);
    // The root never moves; a leaver's replacement sinks below a faster child.
    tree.add({ id: 'd', uploadKbps: 1500 });
    expect(tree.childrenOf('a')).toEqual([]);
    expect(tree.childrenOf('d')).toEqual(['a']);
    tree.remove('b');
    expect(tree.childrenOf('r')).toEqual(['d']);
  });

  it.each([
    { rootFanout: 1, fanout: 2, backupParents: 2, orderByCapacity: false, seed: 1 },
    { rootFanout: 1, fanout: 3, backupParents: 1, orderByCapacity: false, seed: 2 },
    { rootFanout: 3, fanout: 2, backupParents: 2, orderByCapacity: true, seed: 3 },
    { rootFanout: 2, fanout: 4, backupParents: 0, orderByCapacity: true, seed: 4 },
  ])(
    'keeps a connected, acyclic, shallow tree with valid backups through 3000 random joins and leaves (rootFanout $rootFanout, fanout $fanout, backups $backupParents, orderByCapacity $orderByCapacity)',
    ({ rootFanout, fanout, backupParents, orderByCapacity, seed }) => {
      const tree = treeTopology({ rootFanout, fanout, backupParents, orderByCapacity })('root');
      const { problems, peak } = randomWalk(tree, {
        seed,
        steps: 3000,
        checkEvery: 50,
        maxChildren: (id) => (id === 'root' ? rootFanout : fanout),
        maxParents: 1,
        maxBackupParents: backupParents,
        uploadKbps: (i, random) => (i % 3 === 0 ? undefined : 500 + random.int(5000)),
        extra: (topology, viewers) => tooDeep(topology, viewers, fanout),
      });
      expect(problems).toEqual([]);
      // The walk really visited large trees.
      expect(peak).toBeGreaterThan(150);
    },
  );

  it('restores heap order within maxMovesPerChange swaps when enough are allowed', () => {
    const upload = new Map<string, number>();
    const tree = treeTopology({ orderByCapacity: true, maxMovesPerChange: 64 })('root');
    const { problems } = randomWalk(tree, {
      seed: 5,
      steps: 2000,
      checkEvery: 10,
      maxChildren: (id) => (id === 'root' ? 1 : 2),
      maxParents: 1,
      maxBackupParents: TREE_DEFAULTS.backupParents,
      uploadKbps: (i, random) => {
        const kbps = random.int(10_000);
        upload.set(`p${i}`, kbps);
        return kbps;
      },
      extra: (topology, viewers) => {
        const out: string[] = [];
        for (const id of viewers) {
          const parent = topology.parentsOf(id)[0] ?? '';
          if (parent !== 'root' && (upload.get(parent) ?? 0) < (upload.get(id) ?? 0)) {
            out.push(`${parent} is slower than its child ${id}`);
          }
        }
        return out;
      },
    });
    expect(problems).toEqual([]);
  });
});
