import { describe, expect, it } from 'vitest';
import { SwarmcastError } from '../../src/common/errors.js';
import { ListTopology, listTopology } from '../../src/tracker/core/list.js';
import { randomWalk } from './topology-invariants.js';

describe('ListTopology', { timeout: 20_000 }, () => {
  it('chains viewers in arrival order behind the root', () => {
    const list = new ListTopology('r');
    for (const id of ['a', 'b', 'c']) list.add({ id });
    expect(list.childrenOf('r')).toEqual(['a']);
    expect(list.parentsOf('b')).toEqual(['a']);
    expect(list.childrenOf('b')).toEqual(['c']);
    expect(list.childrenOf('c')).toEqual([]);
    expect(list.size).toBe(4);
  });

  it('gives each node backup parents among the nodes just before its parent, nearest first', () => {
    const list = new ListTopology('r', { backupParents: 3 });
    for (const id of ['a', 'b', 'c', 'd', 'e']) list.add({ id });
    expect(list.backupParentsOf('a')).toEqual([]);
    expect(list.backupParentsOf('b')).toEqual(['r']);
    expect(list.backupParentsOf('e')).toEqual(['c', 'b', 'a']);
    expect(new ListTopology('r').add({ id: 'a' })).toEqual(['r', 'a']);
  });

  it('remove() bridges the successor to the leaver’s parent at once, through its first backup', () => {
    const list = new ListTopology('r');
    for (const id of ['a', 'b', 'c', 'd', 'e']) list.add({ id });
    expect(list.backupParentsOf('c')).toEqual(['a', 'r']);
    const affected = list.remove('b');
    expect(list.parentsOf('c')).toEqual(['a']);
    expect(list.childrenOf('a')).toEqual(['c']);
    expect(new Set(affected)).toEqual(new Set(['a', 'c', 'd', 'e']));
  });

  it('orders by announced upload with orderByCapacity, unknown upload last', () => {
    const list = new ListTopology('r', { orderByCapacity: true });
    list.add({ id: 'slow', uploadKbps: 1000 });
    list.add({ id: 'unknown' });
    list.add({ id: 'fast', uploadKbps: 5000 });
    list.add({ id: 'slow2', uploadKbps: 1000 });
    expect(list.childrenOf('r')).toEqual(['fast']);
    expect(list.childrenOf('fast')).toEqual(['slow']);
    expect(list.childrenOf('slow')).toEqual(['slow2']);
    expect(list.childrenOf('slow2')).toEqual(['unknown']);
  });

  it('refuses to remove the root, an unknown node, to add a duplicate, or bad options', () => {
    const list = new ListTopology('r');
    list.add({ id: 'a' });
    expect(() => list.remove('r')).toThrow(SwarmcastError);
    expect(() => list.remove('zz')).toThrow(/unknown node/);
    expect(() => list.add({ id: 'a' })).toThrow(/already/);
    expect(() => list.backupParentsOf('zz')).toThrow(SwarmcastError);
    expect(() => listTopology({ backupParents: 4 })).toThrow(/backupParents/);
  });

  it.each([
    { backupParents: 2, orderByCapacity: false, seed: 11 },
    { backupParents: 3, orderByCapacity: false, seed: 12 },
    { backupParents: 2, orderByCapacity: true, seed: 13 },
    { backupParents: 0, orderByCapacity: true, seed: 14 },
  ])(
    'stays a valid chain with valid backups through 3000 random joins and leaves ($backupParents backups, orderByCapacity $orderByCapacity)',
    ({ backupParents, orderByCapacity, seed }) => {
      const list = listTopology({ backupParents, orderByCapacity })('root');
      const { problems, peak } = randomWalk(list, {
        seed,
        steps: 3000,
        checkEvery: 50,
        maxChildren: () => 1,
        maxParents: 1,
        maxBackupParents: backupParents,
        uploadKbps: (i, random) => (i % 5 === 0 ? undefined : 500 + random.int(5000)),
        extra: (topology, viewers) => {
          // A chain: root, then each node's only child, covers every viewer.
          const out: string[] = [];
          let id = topology.rootId;
          let count = 0;
          while (topology.childrenOf(id).length > 0) {
            id = topology.childrenOf(id)[0] ?? '';
            count++;
          }
          if (count !== viewers.size) out.push(`the chain holds ${count} of ${viewers.size}`);
          return out;
        },
      });
      expect(problems).toEqual([]);
      expect(peak).toBeGreaterThan(150);
    },
  );
});
