import { DEFAULTS } from '../../common/defaults.js';
import { SwarmcastError } from '../../common/errors.js';
import { MAX_NEIGHBOURS } from '../../protocol/tracker.js';
import type { Topology, TopologyFactory, TopologyNode } from './topology.js';

export interface TreeTopologyOptions {
  /**
   * Children of the root (each is one full copy of the stream the broadcaster uploads).
   * @default DEFAULTS.rootFanout
   */
  rootFanout?: number;
  /** Children of every viewer. @default DEFAULTS.treeFanout */
  fanout?: number;
}

/**
 * A k-ary tree filled by arrival: each new viewer attaches to the shallowest node with a free
 * slot, the earliest in breadth-first order first (which is arrival order until a repair moves a
 * node). Upload capacity is not used.
 *
 * The tree is kept complete, stored as an array in breadth-first order like a binary heap: index
 * 0 is the root, and the children of index `p` sit at consecutive indices computed from the
 * fanouts. A new node takes the next index, whose parent is exactly the shallowest node with a
 * free slot.
 *
 * Repair (why "move the last leaf into the hole"): when a node leaves, the node at the last
 * index (always a leaf, the most recently placed at the deepest level) takes its index, so the
 * orphans get one new parent each, their own subtrees stay intact, and the moved leaf brings no
 * subtree along. The tree stays complete, so its depth is always the minimum, ⌈log_k n⌉ + O(1),
 * whatever the churn; cycles cannot arise and no node exceeds its fanout, because the shape is
 * fixed by the indices. The alternative, attaching each orphan to the shallowest free slot,
 * touches fewer nodes per repair but grafts whole subtrees at the bottom of the tree, so depth
 * grows with churn. The cost here is one re-link for the moved leaf and its former parent.
 */
export class TreeTopology implements Topology {
  readonly rootId: string;
  readonly #rootFanout: number;
  readonly #fanout: number;
  /** Node ids in breadth-first order; index 0 is the root. */
  readonly #order: string[];
  readonly #index = new Map<string, number>();

  constructor(rootId: string, options: TreeTopologyOptions = {}) {
    const checked = checkTreeOptions(options);
    this.#rootFanout = checked.rootFanout;
    this.#fanout = checked.fanout;
    this.rootId = rootId;
    this.#order = [rootId];
    this.#index.set(rootId, 0);
  }

  get size(): number {
    return this.#order.length;
  }

  has(id: string): boolean {
    return this.#index.has(id);
  }

  add(node: TopologyNode): readonly string[] {
    if (this.#index.has(node.id)) {
      throw new SwarmcastError('invalid-argument', `node ${node.id} is already in the tree`);
    }
    const index = this.#order.length;
    this.#order.push(node.id);
    this.#index.set(node.id, index);
    return [node.id, this.#idAt(this.#parentIndex(index))];
  }

  remove(id: string): readonly string[] {
    const index = this.#indexOf(id);
    if (index === 0) {
      throw new SwarmcastError('invalid-argument', 'the root cannot be removed: end the stream');
    }
    const lastIndex = this.#order.length - 1;
    const affected = new Set<string>([this.#idAt(this.#parentIndex(index))]);
    if (index !== lastIndex) {
      const moved = this.#idAt(lastIndex);
      for (const child of this.#childIndices(index)) affected.add(this.#idAt(child));
      affected.add(moved);
      affected.add(this.#idAt(this.#parentIndex(lastIndex)));
      this.#order[index] = moved;
      this.#index.set(moved, index);
    }
    this.#order.pop();
    this.#index.delete(id);
    affected.delete(id);
    return [...affected];
  }

  parentsOf(id: string): readonly string[] {
    const index = this.#indexOf(id);
    return index === 0 ? [] : [this.#idAt(this.#parentIndex(index))];
  }

  childrenOf(id: string): readonly string[] {
    return this.#childIndices(this.#indexOf(id)).map((child) => this.#idAt(child));
  }

  /** Indices of the children of `index` that are occupied. */
  #childIndices(index: number): number[] {
    const first = index === 0 ? 1 : this.#rootFanout + 1 + (index - 1) * this.#fanout;
    const count = index === 0 ? this.#rootFanout : this.#fanout;
    const end = Math.min(first + count, this.#order.length);
    const out: number[] = [];
    for (let child = first; child < end; child++) out.push(child);
    return out;
  }

  /** Index of the parent of a non-root index. */
  #parentIndex(index: number): number {
    if (index <= this.#rootFanout) return 0;
    return 1 + Math.floor((index - this.#rootFanout - 1) / this.#fanout);
  }

  #indexOf(id: string): number {
    const index = this.#index.get(id);
    if (index === undefined) throw new SwarmcastError('invalid-argument', `unknown node ${id}`);
    return index;
  }

  #idAt(index: number): string {
    const id = this.#order[index];
    if (id === undefined) throw new SwarmcastError('invalid-state', `no node at index ${index}`);
    return id;
  }
}

/** A factory of trees with these options; the options are checked now, not at the first stream. */
export function treeTopology(options: TreeTopologyOptions = {}): TopologyFactory {
  const checked = checkTreeOptions(options);
  return (rootId) => new TreeTopology(rootId, checked);
}

function checkTreeOptions(options: TreeTopologyOptions): Required<TreeTopologyOptions> {
  return {
    rootFanout: validFanout('rootFanout', options.rootFanout ?? DEFAULTS.rootFanout),
    fanout: validFanout('fanout', options.fanout ?? DEFAULTS.treeFanout),
  };
}

function validFanout(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1 || value > MAX_NEIGHBOURS) {
    throw new SwarmcastError(
      'invalid-argument',
      `${name} must be an integer from 1 to ${MAX_NEIGHBOURS}, got ${value}`,
    );
  }
  return value;
}
