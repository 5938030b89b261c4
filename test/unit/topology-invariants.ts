/**
 * Invariant checks shared by the topology tests (list, tree, mesh) and a seeded random walk of
 * joins and leaves that checks them. Plain code, no expect(): it runs thousands of times.
 */
import { SeededRandom } from '../../src/common/random.js';
import type { Topology, TopologyNode } from '../../src/tracker/core/topology.js';

/** Each node's lists as one string, to see which changed between two steps. */
export function lists(topology: Topology, ids: Iterable<string>): Map<string, string> {
  const out = new Map<string, string>();
  for (const id of ids) {
    out.set(
      id,
      [topology.parentsOf(id), topology.childrenOf(id), topology.backupParentsOf(id)]
        .map((list) => list.join(','))
        .join('|'),
    );
  }
  return out;
}

/** Whether the graph given by `next` (over `ids`) has no cycle (Kahn's algorithm). */
export function acyclic(ids: readonly string[], next: (id: string) => readonly string[]): boolean {
  const indegree = new Map<string, number>(ids.map((id) => [id, 0]));
  for (const id of ids) {
    for (const to of next(id)) indegree.set(to, (indegree.get(to) ?? 0) + 1);
  }
  const queue = ids.filter((id) => indegree.get(id) === 0);
  let seen = 0;
  for (const id of queue) {
    seen++;
    for (const to of next(id)) {
      const left = (indegree.get(to) ?? 0) - 1;
      indegree.set(to, left);
      if (left === 0) queue.push(to);
    }
  }
  return seen === ids.length;
}

/** Nodes reachable from `from` through children (itself excluded). */
function downstream(topology: Topology, from: string): Set<string> {
  const out = new Set<string>();
  const queue = [...topology.childrenOf(from)];
  for (const id of queue) {
    if (out.has(id)) continue;
    out.add(id);
    queue.push(...topology.childrenOf(id));
  }
  return out;
}

export interface InvariantOptions {
  /** Most children `id` may have. */
  maxChildren(id: string): number;
  /** Most parents a viewer may have. */
  maxParents: number;
  /** Most backup parents a node may have. */
  maxBackupParents: number;
  /**
   * Whether parents and children may form cycles: a multi-tree's stripe trees together do (each
   * tree is checked on its own with `extra`). @default false
   */
  cycles?: boolean;
}

/**
 * The invariants every topology keeps, as a list of violations: sizes, parents and children
 * mirror each other, every viewer has a path from the root, no cycle through parents, degrees
 * within bounds, and valid backup parents (not itself, a parent, a child or downstream; no
 * cycle through parents and backups together).
 */
export function violations(
  topology: Topology,
  viewers: ReadonlySet<string>,
  options: InvariantOptions,
): string[] {
  const out: string[] = [];
  const all = [topology.rootId, ...viewers];
  if (topology.size !== all.length) out.push(`size ${topology.size} for ${viewers.size} viewers`);
  if (topology.parentsOf(topology.rootId).length !== 0) out.push('the root has a parent');
  if (topology.backupParentsOf(topology.rootId).length !== 0) out.push('the root has backups');
  for (const id of all) {
    if (!topology.has(id)) out.push(`${id} is missing`);
    const parents = topology.parentsOf(id);
    const children = topology.childrenOf(id);
    const backups = topology.backupParentsOf(id);
    if (children.length > options.maxChildren(id)) {
      out.push(`${id} has ${children.length} children, over ${options.maxChildren(id)}`);
    }
    if (id !== topology.rootId && (parents.length < 1 || parents.length > options.maxParents)) {
      out.push(`${id} has ${parents.length} parents`);
    }
    // In a multi-tree a node may feed its parent in another stripe: the lists only must not
    // repeat themselves.
    const distinct = (lists: readonly (readonly string[])[]): boolean =>
      new Set(lists.flat()).size === lists.reduce((n, list) => n + list.length, 0);
    if (
      options.cycles === true
        ? !distinct([parents, backups]) || !distinct([children])
        : !distinct([parents, children, backups])
    ) {
      out.push(`${id} lists a node twice`);
    }
    for (const child of children) {
      if (!topology.parentsOf(child).includes(id)) out.push(`${child} does not know parent ${id}`);
    }
    for (const parent of parents) {
      if (!topology.childrenOf(parent).includes(id)) out.push(`${parent} does not list ${id}`);
    }
    if (backups.length > options.maxBackupParents) out.push(`${id} has ${backups.length} backups`);
    if (backups.length > 0) {
      const below = downstream(topology, id);
      for (const backup of backups) {
        if (backup === id || !topology.has(backup) || below.has(backup)) {
          out.push(`${id} has an invalid backup parent ${backup}`);
        }
      }
    }
  }
  const reached = downstream(topology, topology.rootId);
  for (const id of viewers) if (!reached.has(id)) out.push(`${id} has no path from the root`);
  if (options.cycles === true) return out;
  if (!acyclic(all, (id) => topology.childrenOf(id))) out.push('a cycle through parents');
  if (!acyclic(all, (id) => [...topology.parentsOf(id), ...topology.backupParentsOf(id)])) {
    out.push('a cycle through parents and backups');
  }
  return out;
}

export interface WalkOptions extends InvariantOptions {
  seed: number;
  steps: number;
  /** Check the invariants every this many steps (and at the end). */
  checkEvery: number;
  /** Upload of the i-th node to join (undefined: not announced). */
  uploadKbps?: (i: number, random: SeededRandom) => number | undefined;
  /** Whether the i-th node to join relays (`TopologyNode.relay`; undefined: not given). */
  relay?: (i: number) => boolean;
  /** More checks, run with the invariants. */
  extra?: (topology: Topology, viewers: ReadonlySet<string>) => string[];
}

/**
 * Random joins and leaves, drifting between growth and shrinkage; after each step every node
 * whose lists changed must be among the reported affected ids. Returns the problems found and
 * the largest size reached.
 */
export function randomWalk(
  topology: Topology,
  options: WalkOptions,
): { problems: string[]; peak: number } {
  const random = new SeededRandom(options.seed);
  const viewers = new Set<string>();
  const problems: string[] = [];
  let next = 0;
  let peak = 0;
  const check = (step: number): void => {
    const found = [
      ...violations(topology, viewers, options),
      ...(options.extra?.(topology, viewers) ?? []),
    ];
    problems.push(...found.map((problem) => `step ${step}: ${problem}`));
  };
  for (let step = 0; step < options.steps && problems.length < 20; step++) {
    const growing = Math.floor(step / 500) % 2 === 0;
    const before = lists(topology, [topology.rootId, ...viewers]);
    let affected: readonly string[];
    if (viewers.size === 0 || random.next() < (growing ? 0.7 : 0.3)) {
      const i = next++;
      const uploadKbps = options.uploadKbps?.(i, random);
      const relay = options.relay?.(i);
      const node: TopologyNode = {
        id: `p${i}`,
        ...(uploadKbps === undefined ? {} : { uploadKbps }),
        ...(relay === undefined ? {} : { relay }),
      };
      affected = topology.add(node);
      viewers.add(node.id);
    } else {
      const all = [...viewers];
      const id = all[random.int(all.length)] ?? '';
      affected = topology.remove(id);
      viewers.delete(id);
      if (affected.includes(id)) problems.push(`step ${step}: removed ${id} reported`);
    }
    const after = lists(topology, [topology.rootId, ...viewers]);
    for (const [id, now] of after) {
      if (before.get(id) !== now && !affected.includes(id)) {
        problems.push(`step ${step}: ${id} changed but was not reported`);
      }
    }
    peak = Math.max(peak, viewers.size);
    if (step % options.checkEvery === 0) check(step);
  }
  check(options.steps);
  return { problems, peak };
}

/** A topology that deals chunks into stripes, each with its own tree. */
export interface Striped {
  readonly rootId: string;
  readonly stripes: number;
  stripeParentOf(s: number, id: string): string | undefined;
}

/** Per stripe: a tree (no cycle, every viewer reaches the root) with parents within capacity. */
export function stripeProblems(
  tree: Striped,
  viewers: ReadonlySet<string>,
  maxStripeChildren: (id: string) => number,
): string[] {
  const out: string[] = [];
  const all = [tree.rootId, ...viewers];
  for (let s = 0; s < tree.stripes; s++) {
    const children = new Map<string, string[]>(all.map((id) => [id, []]));
    for (const id of viewers) {
      const parent = tree.stripeParentOf(s, id);
      if (parent === undefined) out.push(`${id} has no parent in stripe ${s}`);
      else children.get(parent)?.push(id);
    }
    if (!acyclic(all, (id) => children.get(id) ?? [])) out.push(`a cycle in stripe ${s}`);
    const reached = new Set<string>();
    const queue = [tree.rootId];
    for (const id of queue)
      for (const child of children.get(id) ?? []) {
        if (!reached.has(child)) {
          reached.add(child);
          queue.push(child);
        }
      }
    if (reached.size !== viewers.size) out.push(`stripe ${s} reaches ${reached.size} viewers`);
    for (const [id, list] of children) {
      if (id !== tree.rootId && list.length > maxStripeChildren(id)) {
        out.push(`${id} feeds ${list.length} in stripe ${s}, over ${maxStripeChildren(id)}`);
      }
    }
  }
  // Each node feeds in its home stripe only (the root aside).
  for (const id of viewers) {
    let feeding = 0;
    for (let s = 0; s < tree.stripes; s++) {
      if ([...viewers].some((other) => tree.stripeParentOf(s, other) === id)) feeding++;
    }
    if (feeding > 1) out.push(`${id} feeds in ${feeding} stripes`);
  }
  return out;
}

/**
 * Where a viewer is slower than its parent in its home stripe (unknown upload counts as the
 * least), against the max-heap order `orderByCapacity` keeps.
 */
export function heapOrderProblems(
  tree: Striped & { homeStripeOf(id: string): number },
  viewers: ReadonlySet<string>,
  upload: ReadonlyMap<string, number | undefined>,
): string[] {
  const out: string[] = [];
  for (const id of viewers) {
    const home = tree.homeStripeOf(id);
    const parent = tree.stripeParentOf(home, id) ?? tree.rootId;
    if (parent !== tree.rootId && (upload.get(parent) ?? -1) < (upload.get(id) ?? -1)) {
      out.push(`${parent} is slower than its stripe-${String(home)} child ${id}`);
    }
  }
  return out;
}
