import { DEFAULTS } from '../../common/defaults.js';
import { SwarmcastError } from '../../common/errors.js';
import { StripedTreeTopology } from './striped-tree.js';
import {
  MAX_MOVES_PER_CHANGE,
  MAX_STRIPES,
  validBitrate,
  validCount,
  validFanout,
  validMaxMoves,
  type CapacityOptions,
  type Topology,
  type TopologyFactory,
  type TopologyNode,
} from './topology.js';

/** Most stripes of a multi-tree (a child's parents; the peer protocol allows up to 255). */

/** Tree defaults. */
export const TREE_DEFAULTS = {
  /** Standby links per node, to nodes at its parent's depth in other branches. */
  backupParents: 2,
  /** Most standby links per node this topology allows. */
  maxBackupParents: 2,
  /** Swaps per change that restore max-heap order, with `orderByCapacity`. */
  maxMovesPerChange: MAX_MOVES_PER_CHANGE,
} as const;

export interface TreeTopologyOptions extends CapacityOptions {
  /**
   * Stripes: 1 is a plain k-ary tree (`TreeTopology`); 2 or more is a multi-tree, a tree per
   * stripe (`StripedTreeTopology`, which keeps no backup links: `backupParents` does not apply).
   * @default DEFAULTS.treeStripes
   */
  stripes?: number;
  /**
   * Children of the root (each is one full copy of the stream the broadcaster uploads).
   * @default DEFAULTS.rootFanout
   */
  rootFanout?: number;
  /** Backup parents per node, 0 to 2. @default TREE_DEFAULTS.backupParents */
  backupParents?: number;
  /**
   * Swaps per change with `orderByCapacity`: each re-links about 6 peers; a larger imbalance
   * is fixed over the following changes.
   * @default TREE_DEFAULTS.maxMovesPerChange
   */
  maxMovesPerChange?: number;
}

/**
 * A k-ary tree filled by arrival: each new viewer attaches to the shallowest node with a free
 * slot, the earliest in breadth-first order first (which is arrival order until a repair moves a
 * node). With `orderByCapacity` the tree is also kept as a max-heap on announced upload (unknown
 * upload counts as the least): after each change the moved nodes swap with their parent while it
 * has less upload, or with their fastest child while it has more, at most `maxMovesPerChange`
 * swaps per change; each swap re-links two nodes and their neighbours. The root never moves.
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
 *
 * Backups (why "half a level away from the parent"): a node's backup parents are at its parent's
 * depth, at offsets ⌊L/3⌉ and ⌊2L/3⌉ (one backup: ⌊L/2⌉) along that level of L nodes, so they sit
 * in the branches farthest from the parent's and share the fewest ancestors with it: a failure
 * that cuts the parent's branch rarely cuts the backup's. Being strictly shallower than the node,
 * a backup is never downstream of it and backups cannot form a cycle. Nodes under the root's
 * only child (one node at depth 1) have no other node at their parent's depth, so no backup.
 */
export class TreeTopology implements Topology {
  readonly rootId: string;
  readonly #rootFanout: number;
  readonly #fanout: number;
  readonly #backups: number;
  readonly #orderByCapacity: boolean;
  readonly #maxMoves: number;
  /** Node ids in breadth-first order; index 0 is the root. */
  readonly #order: string[];
  readonly #index = new Map<string, number>();
  /** Announced upload, -1 when unknown. */
  readonly #upload = new Map<string, number>();

  constructor(rootId: string, options: TreeTopologyOptions = {}) {
    const checked = checkTreeOptions(options);
    this.#rootFanout = checked.rootFanout;
    this.#fanout = checked.fanout;
    this.#backups = checked.backupParents;
    this.#orderByCapacity = checked.orderByCapacity;
    this.#maxMoves = checked.maxMovesPerChange;
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
    this.#upload.set(node.id, node.uploadKbps ?? -1);
    const touched = [index];
    if (this.#orderByCapacity) this.#siftUp(index, this.#maxMoves, touched);
    return this.#affected(touched);
  }

  remove(id: string): readonly string[] {
    const index = this.#indexOf(id);
    if (index === 0) {
      throw new SwarmcastError('invalid-argument', 'the root cannot be removed: end the stream');
    }
    const lastIndex = this.#order.length - 1;
    const touched = [index, lastIndex];
    if (index !== lastIndex) this.#place(this.#idAt(lastIndex), index);
    this.#order.pop();
    this.#index.delete(id);
    this.#upload.delete(id);
    if (this.#orderByCapacity && index !== lastIndex) {
      // The mover either climbs (it is faster than its new parent) or sinks, never both.
      const left = this.#siftUp(index, this.#maxMoves, touched);
      if (left === this.#maxMoves) this.#siftDown(index, left, touched);
    }
    return this.#affected(touched);
  }

  parentsOf(id: string): readonly string[] {
    const index = this.#indexOf(id);
    return index === 0 ? [] : [this.#idAt(this.#parentIndex(index))];
  }

  childrenOf(id: string): readonly string[] {
    return this.#childIndices(this.#indexOf(id)).map((child) => this.#idAt(child));
  }

  backupParentsOf(id: string): readonly string[] {
    const index = this.#indexOf(id);
    if (index === 0) return [];
    return this.#backupIndices(this.#parentIndex(index)).map((backup) => this.#idAt(backup));
  }

  /** The nodes at the depth of `parent` that its children keep standby links to. */
  #backupIndices(parent: number): number[] {
    const [start, width] = this.#level(parent);
    const out: number[] = [];
    for (let j = 1; j <= this.#backups; j++) {
      const offset = Math.round((j * width) / (this.#backups + 1)) % width;
      const backup = start + ((parent - start + offset) % width);
      if (backup !== parent && !out.includes(backup)) out.push(backup);
    }
    return out;
  }

  /** Indices whose children keep a standby link to `index` (the inverse of `#backupIndices`). */
  #backupDependents(index: number): number[] {
    const [start, width] = this.#level(index);
    const out: number[] = [];
    for (let j = 1; j <= this.#backups; j++) {
      const offset = Math.round((j * width) / (this.#backups + 1)) % width;
      const parent = start + ((((index - start - offset) % width) + width) % width);
      if (parent !== index) out.push(...this.#childIndices(parent));
    }
    return out;
  }

  /** First index and width of the level that holds `index` (the root's level is [0, 1]). */
  #level(index: number): [number, number] {
    if (index === 0) return [0, 1];
    let start = 1;
    let width = this.#rootFanout;
    while (index >= start + width) {
      start += width;
      width *= this.#fanout;
    }
    return [start, width];
  }

  /** Ids whose lists may have changed because the ids at `touched` indices changed. */
  #affected(touched: readonly number[]): string[] {
    const out = new Set<string>();
    const add = (index: number): void => {
      const id = this.#order[index];
      if (id !== undefined) out.add(id);
    };
    for (const index of touched) {
      add(index);
      if (index > 0) add(this.#parentIndex(index));
      for (const child of this.#childIndices(index)) add(child);
      for (const dependent of this.#backupDependents(index)) add(dependent);
    }
    return [...out];
  }

  /** Swaps the node at `index` with its parent while the parent has less upload. */
  #siftUp(index: number, moves: number, touched: number[]): number {
    let current = index;
    let left = moves;
    while (left > 0 && current > 0) {
      const parent = this.#parentIndex(current);
      if (parent === 0 || this.#uploadAt(parent) >= this.#uploadAt(current)) break;
      this.#swap(current, parent, touched);
      current = parent;
      left--;
    }
    return left;
  }

  /** Swaps the node at `index` with its fastest child while that child has more upload. */
  #siftDown(index: number, moves: number, touched: number[]): void {
    let current = index;
    for (let left = moves; left > 0 && current > 0; left--) {
      let fastest = -1;
      for (const child of this.#childIndices(current)) {
        if (fastest < 0 || this.#uploadAt(child) > this.#uploadAt(fastest)) fastest = child;
      }
      if (fastest < 0 || this.#uploadAt(fastest) <= this.#uploadAt(current)) return;
      this.#swap(current, fastest, touched);
      current = fastest;
    }
  }

  #swap(a: number, b: number, touched: number[]): void {
    const idA = this.#idAt(a);
    this.#place(this.#idAt(b), a);
    this.#place(idA, b);
    touched.push(a, b);
  }

  #place(id: string, index: number): void {
    this.#order[index] = id;
    this.#index.set(id, index);
  }

  #uploadAt(index: number): number {
    return this.#upload.get(this.#idAt(index)) ?? -1;
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

/**
 * A factory of trees with these options (a multi-tree when `stripes` > 1, sized by the stream's
 * bitrate); the options are checked now, not at the first stream.
 */
export function treeTopology(options: TreeTopologyOptions = {}): TopologyFactory {
  const checked = checkTreeOptions(options);
  return (rootId, context = {}) =>
    checked.stripes > 1
      ? new StripedTreeTopology(rootId, {
          stripes: checked.stripes,
          rootFanout: checked.rootFanout,
          fanout: checked.fanout,
          bitrateKbps: validBitrate(context.bitrateKbps),
          orderByCapacity: checked.orderByCapacity,
          maxMovesPerChange: checked.maxMovesPerChange,
        })
      : new TreeTopology(rootId, checked);
}

function checkTreeOptions(options: TreeTopologyOptions): Required<TreeTopologyOptions> {
  return {
    stripes: validCount('stripes', options.stripes ?? DEFAULTS.treeStripes, 1, MAX_STRIPES),
    rootFanout: validFanout('rootFanout', options.rootFanout ?? DEFAULTS.rootFanout),
    fanout: validFanout('fanout', options.fanout ?? DEFAULTS.treeFanout),
    backupParents: validCount(
      'backupParents',
      options.backupParents ?? TREE_DEFAULTS.backupParents,
      0,
      TREE_DEFAULTS.maxBackupParents,
    ),
    orderByCapacity: options.orderByCapacity ?? false,
    maxMovesPerChange: validMaxMoves(options.maxMovesPerChange),
  };
}
