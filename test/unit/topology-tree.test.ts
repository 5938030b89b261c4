import { describe, expect, it } from 'vitest';
import { SwarmcastError } from '../../src/common/errors.js';
import { SeededRandom } from '../../src/common/random.js';
import type { Topology } from '../../src/tracker/core/topology.js';
import { TreeTopology, treeTopology } from '../../src/tracker/core/tree.js';

function lists(tree: Topology, ids: Iterable<string>): Map<string, string> {
  const out = new Map<string, string>();
  for (const id of ids) {
    out.set(id, `${tree.parentsOf(id).join(',')}|${tree.childrenOf(id).join(',')}`);
  }
  return out;
}

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

/** The tree's invariants, as a list of violations (plain checks: this runs thousands of times). */
function violations(
  tree: Topology,
  ids: ReadonlySet<string>,
  rootFanout: number,
  fanout: number,
): string[] {
  const out: string[] = [];
  if (tree.size !== ids.size + 1) out.push(`size ${tree.size} for ${ids.size} viewers`);
  if (tree.parentsOf(tree.rootId).length !== 0) out.push('the root has a parent');
  if (tree.childrenOf(tree.rootId).length > rootFanout) out.push('the root is over its fanout');
  let maxDepth = 0;
  for (const id of ids) {
    if (!tree.has(id)) out.push(`${id} is missing`);
    const children = tree.childrenOf(id);
    if (children.length > fanout) out.push(`${id} has ${children.length} children`);
    for (const child of children) {
      if (tree.parentsOf(child)[0] !== id) out.push(`${child} does not know its parent ${id}`);
    }
    const parent = tree.parentsOf(id)[0] ?? '';
    if (!tree.childrenOf(parent).includes(id)) out.push(`${parent} does not list ${id}`);
    maxDepth = Math.max(maxDepth, depthOf(tree, id));
  }
  // A complete tree: depth ≤ ⌈log_k n⌉ + 1 for n viewers under fanout k.
  const n = ids.size;
  const bound = n <= 1 ? n : Math.ceil(Math.log(n) / Math.log(fanout) - 1e-9) + 1;
  if (maxDepth > bound) out.push(`depth ${maxDepth} over ${bound} for ${n} viewers`);
  return out;
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

  it.each([
    { rootFanout: 1, fanout: 2, seed: 1 },
    { rootFanout: 1, fanout: 3, seed: 2 },
    { rootFanout: 3, fanout: 2, seed: 3 },
    { rootFanout: 2, fanout: 4, seed: 4 },
  ])(
    'keeps a connected, acyclic, shallow tree through 3000 random joins and leaves (rootFanout $rootFanout, fanout $fanout)',
    ({ rootFanout, fanout, seed }) => {
      const random = new SeededRandom(seed);
      const tree = new TreeTopology('root', { rootFanout, fanout });
      const ids = new Set<string>();
      const problems: string[] = [];
      let next = 0;
      let peak = 0;
      for (let step = 0; step < 3000; step++) {
        // Drift between growth and shrinkage so both small and larger trees are visited.
        const growing = Math.floor(step / 500) % 2 === 0;
        const before = lists(tree, [tree.rootId, ...ids]);
        let affected: readonly string[];
        if (ids.size === 0 || random.next() < (growing ? 0.7 : 0.3)) {
          const id = `p${next++}`;
          affected = tree.add({ id });
          ids.add(id);
        } else {
          const all = [...ids];
          const id = all[random.int(all.length)] ?? '';
          affected = tree.remove(id);
          ids.delete(id);
          if (affected.includes(id)) problems.push(`step ${step}: removed ${id} reported`);
        }
        // Every node whose lists changed is reported as affected.
        const after = lists(tree, [tree.rootId, ...ids]);
        for (const [id, now] of after) {
          if (before.get(id) !== now && !affected.includes(id)) {
            problems.push(`step ${step}: ${id} changed but was not reported`);
          }
        }
        peak = Math.max(peak, ids.size);
        if (step % 50 === 0) problems.push(...violations(tree, ids, rootFanout, fanout));
      }
      problems.push(...violations(tree, ids, rootFanout, fanout));
      expect(problems).toEqual([]);
      // The walk really visited large trees.
      expect(peak).toBeGreaterThan(150);
    },
  );
});
