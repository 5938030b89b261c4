import { SwarmcastError } from '../../common/errors.js';
import {
  childSlots,
  sameIds,
  validBitrate,
  validCount,
  validFanout,
  type CapacityOptions,
  type Topology,
  type TopologyContext,
  type TopologyFactory,
  type TopologyNode,
} from './topology.js';

/** Mesh defaults. */
export const MESH_DEFAULTS = {
  /** Cells the broadcaster feeds directly, spread over the grid (fewer on small grids). */
  seeds: 4,
  /** Most parents per node (each pushes a share of the chunks). */
  maxParents: 3,
  /** Standby links per node. */
  backupParents: 2,
  /** Most standby links per node this topology allows. */
  maxBackupParents: 2,
  /** Children of a node of unknown capacity: all 8 neighbours may take it as a parent. */
  fanout: 8,
  /** Swaps per change that move faster nodes toward the seeds, with `orderByCapacity`. */
  maxMovesPerChange: 4,
  /** Smallest side of the block around one seed: smaller grids get fewer seeds. */
  minSeedBlock: 3,
} as const;

export interface MeshTopologyOptions extends CapacityOptions {
  /**
   * Columns of the grid. Absent: the grid grows in square shells (cells 0..m²-1 always form an
   * m×m square), so it stays about ⌈√n⌉ wide and no node moves when it grows.
   */
  width?: number;
  /** Cells the broadcaster feeds (the root's children). @default MESH_DEFAULTS.seeds */
  seeds?: number;
  /** Most parents per node, 1 to 3. @default MESH_DEFAULTS.maxParents */
  maxParents?: number;
  /** Backup parents per node, 0 to 2. @default MESH_DEFAULTS.backupParents */
  backupParents?: number;
  /** Swaps per change with `orderByCapacity`. @default MESH_DEFAULTS.maxMovesPerChange */
  maxMovesPerChange?: number;
}

type CheckedMeshOptions = Required<Omit<MeshTopologyOptions, 'width'>> & {
  width: number | undefined;
  bitrateKbps: number | undefined;
};

interface Lists {
  parents: string[];
  children: string[];
  backupParents: string[];
}

/**
 * A 2D grid of viewers; the broadcaster feeds a few well-spread seed cells and chunks spread from
 * them like waves. Cell `k` holds the k-th node in fill order; each node's distance is its hop
 * count to the nearest seed over occupied cells, moving to any of the 8 neighbours (the Chebyshev
 * distance when the grid is a full rectangle). A node's parents are up to 3 neighbours exactly
 * one step closer, so the parent graph is acyclic and every node has a path from a seed; its
 * children are the neighbours that took it as a parent. Parents are chosen with free capacity
 * first, then by upload, then orthogonal before diagonal (the nearer centre).
 *
 * Repair (why "move the last cell into the hole"): as in the tree, the node in the last cell
 * takes the leaver's cell, so the occupied cells stay a compact prefix of the fill order: the
 * distances of all other nodes stay the same, orphans get the mover as a parent, and only the two
 * cells' neighbourhoods change. Re-wiring around a hole instead would leave the grid full of holes
 * that lengthen paths and break the wave. The lists are recomputed and compared after each change
 * (O(n): about 1.6 ms per change at 1,000 viewers on the 2-core dev machine), which keeps the rules in one place; only changed nodes
 * are reported.
 */
export class MeshTopology implements Topology {
  readonly rootId: string;
  readonly #o: CheckedMeshOptions;
  /** Node ids by cell, in fill order. */
  readonly #cells: string[] = [];
  readonly #cellOf = new Map<string, number>();
  /** Announced upload, -1 when unknown. */
  readonly #upload = new Map<string, number>();
  #lists = new Map<string, Lists>();
  /** Occupied cells in order of distance to the seeds, from the last `#distances()`. */
  #waveOrder: number[] = [];
  /** All 8 neighbours of each cell, occupied or not, computed once per cell. */
  readonly #around: number[][] = [];

  constructor(rootId: string, options: MeshTopologyOptions & TopologyContext = {}) {
    this.#o = checkMeshOptions(options);
    this.rootId = rootId;
    this.#lists.set(rootId, { parents: [], children: [], backupParents: [] });
  }

  get size(): number {
    return this.#cells.length + 1;
  }

  has(id: string): boolean {
    return id === this.rootId || this.#cellOf.has(id);
  }

  add(node: TopologyNode): readonly string[] {
    if (this.has(node.id)) {
      throw new SwarmcastError('invalid-argument', `node ${node.id} is already in the mesh`);
    }
    this.#cellOf.set(node.id, this.#cells.length);
    this.#cells.push(node.id);
    this.#upload.set(node.id, node.uploadKbps ?? -1);
    const distances = this.#distances();
    if (this.#o.orderByCapacity)
      this.#siftTowardSeeds(node.id, distances, this.#o.maxMovesPerChange);
    return this.#rebuild(distances);
  }

  remove(id: string): readonly string[] {
    if (id === this.rootId) {
      throw new SwarmcastError('invalid-argument', 'the root cannot be removed: end the stream');
    }
    const hole = this.#cell(id);
    const moved = this.#cells.pop();
    if (moved !== undefined && moved !== id) {
      this.#cells[hole] = moved;
      this.#cellOf.set(moved, hole);
    }
    this.#cellOf.delete(id);
    this.#upload.delete(id);
    const distances = this.#distances();
    if (this.#o.orderByCapacity && moved !== undefined && moved !== id) {
      const left = this.#siftTowardSeeds(moved, distances, this.#o.maxMovesPerChange);
      this.#siftAwayFromSeeds(moved, distances, left);
    }
    return this.#rebuild(distances);
  }

  parentsOf(id: string): readonly string[] {
    return this.#listsOf(id).parents;
  }

  childrenOf(id: string): readonly string[] {
    return this.#listsOf(id).children;
  }

  backupParentsOf(id: string): readonly string[] {
    return this.#listsOf(id).backupParents;
  }

  /** Coordinates of cell `k`. */
  #position(k: number): [number, number] {
    const width = this.#o.width;
    if (width !== undefined) return [k % width, Math.floor(k / width)];
    const shell = Math.floor(Math.sqrt(k));
    const offset = k - shell * shell;
    return offset < shell ? [shell, offset] : [offset - shell, shell];
  }

  /** Cell at coordinates, occupied or not; -1 off the grid. */
  #cellAt(x: number, y: number): number {
    if (x < 0 || y < 0) return -1;
    const width = this.#o.width;
    if (width !== undefined) return x < width ? y * width + x : -1;
    const shell = Math.max(x, y);
    return x === shell && y < shell ? shell * shell + y : shell * shell + shell + x;
  }

  /** Occupied cells around cell `k` (8-neighbourhood), orthogonal ones first. */
  #neighbours(k: number): number[] {
    let around = this.#around[k];
    if (around === undefined) {
      // The grid's geometry never changes, only how much of it is occupied: cache it.
      const [x, y] = this.#position(k);
      around = [];
      for (const [dx, dy] of NEIGHBOUR_STEPS) {
        const cell = this.#cellAt(x + dx, y + dy);
        if (cell >= 0) around.push(cell);
      }
      this.#around[k] = around;
    }
    const n = this.#cells.length;
    return around.filter((cell) => cell < n);
  }

  /**
   * The seed cells: centres of a g×h arrangement of blocks over the occupied grid (the ⌈√n⌉
   * square the shells fill, or `width` columns), so the seeds stay well spread over the cells
   * that exist. They move when the grid grows a row or a column (every few joins on a small grid,
   * rarely on a large one), which re-wires the wave once. Unoccupied seeds are left out; cell 0
   * seeds when none is occupied.
   */
  #seedCells(): number[] {
    const n = this.#cells.length;
    if (n === 0) return [];
    const width = this.#o.width;
    const columns = width ?? Math.ceil(Math.sqrt(n));
    const rows = width === undefined ? columns : Math.ceil(n / width);
    const perRow = Math.max(
      1,
      Math.min(
        Math.ceil(Math.sqrt(this.#o.seeds)),
        Math.floor(columns / MESH_DEFAULTS.minSeedBlock),
      ),
    );
    const perColumn = Math.max(
      1,
      Math.min(Math.ceil(this.#o.seeds / perRow), Math.floor(rows / MESH_DEFAULTS.minSeedBlock)),
    );
    const out: number[] = [];
    for (let i = 0; i < Math.min(this.#o.seeds, perRow * perColumn); i++) {
      const bx = i % perRow;
      const by = Math.floor(i / perRow);
      const cell = this.#cellAt(
        Math.floor(((2 * bx + 1) * columns) / (2 * perRow)),
        Math.floor(((2 * by + 1) * rows) / (2 * perColumn)),
      );
      if (cell >= 0 && cell < n && !out.includes(cell)) out.push(cell);
    }
    return out.length > 0 ? out : [0];
  }

  /**
   * Hop distance of every occupied cell to the nearest seed, breadth-first from the seeds; the
   * order of the search is kept in `#waveOrder` (swaps do not change it: they move nodes, not
   * cells).
   */
  #distances(): Int32Array {
    const distances = new Int32Array(this.#cells.length).fill(-1);
    const queue = this.#seedCells();
    this.#waveOrder = queue;
    for (const seed of queue) distances[seed] = 0;
    // The array iterator also visits the cells pushed while it runs: a FIFO queue.
    for (const cell of queue) {
      const next = (distances[cell] ?? 0) + 1;
      for (const neighbour of this.#neighbours(cell)) {
        if (distances[neighbour] !== -1) continue;
        distances[neighbour] = next;
        queue.push(neighbour);
      }
    }
    return distances;
  }

  /** Swaps `id` with its slowest closer neighbour while that one is slower; returns moves left. */
  #siftTowardSeeds(id: string, distances: Int32Array, moves: number): number {
    let left = moves;
    while (left > 0) {
      const cell = this.#cell(id);
      const d = distances[cell] ?? 0;
      const slowest = this.#extreme(this.#neighbours(cell), distances, d - 1, 'min');
      if (slowest === undefined || this.#uploadAt(slowest) >= this.#uploadOf(id)) break;
      this.#swap(cell, slowest);
      left--;
    }
    return left;
  }

  /** Swaps `id` with its fastest farther neighbour while that one is faster. */
  #siftAwayFromSeeds(id: string, distances: Int32Array, moves: number): void {
    for (let left = moves; left > 0; left--) {
      const cell = this.#cell(id);
      const d = distances[cell] ?? 0;
      const fastest = this.#extreme(this.#neighbours(cell), distances, d + 1, 'max');
      if (fastest === undefined || this.#uploadAt(fastest) <= this.#uploadOf(id)) break;
      this.#swap(cell, fastest);
    }
  }

  /** The cell among `cells` at distance `d` with the least or most upload (first on ties). */
  #extreme(
    cells: readonly number[],
    distances: Int32Array,
    d: number,
    which: 'min' | 'max',
  ): number | undefined {
    let best: number | undefined;
    for (const cell of cells) {
      if (distances[cell] !== d) continue;
      const better =
        best === undefined ||
        (which === 'min'
          ? this.#uploadAt(cell) < this.#uploadAt(best)
          : this.#uploadAt(cell) > this.#uploadAt(best));
      if (better) best = cell;
    }
    return best;
  }

  #swap(a: number, b: number): void {
    const idA = this.#idAt(a);
    const idB = this.#idAt(b);
    this.#cells[a] = idB;
    this.#cells[b] = idA;
    this.#cellOf.set(idB, a);
    this.#cellOf.set(idA, b);
  }

  /** Recomputes every list and returns the nodes whose lists changed. */
  #rebuild(distances: Int32Array): string[] {
    const n = this.#cells.length;
    const upload = new Float64Array(n);
    const slots = new Int32Array(n);
    for (let cell = 0; cell < n; cell++) {
      const kbps = this.#uploadAt(cell);
      upload[cell] = kbps;
      slots[cell] = childSlots(kbps < 0 ? undefined : kbps, this.#o.bitrateKbps, this.#o.fanout);
    }
    const load = new Int32Array(n);
    const byCell: Lists[] = [];
    for (let cell = 0; cell < n; cell++)
      byCell.push({ parents: [], children: [], backupParents: [] });
    const root: Lists = { parents: [], children: [], backupParents: [] };
    // Breadth-first order: every node's parents are settled before it is looked at.
    for (const cell of this.#waveOrder) {
      const own = byCell[cell] ?? root;
      const id = this.#idAt(cell);
      const d = distances[cell] ?? 0;
      if (d === 0) {
        own.parents.push(this.rootId);
        root.children.push(id);
        continue;
      }
      const around = this.#neighbours(cell);
      const parents = chooseParents(
        around.filter((other) => distances[other] === d - 1),
        upload,
        slots,
        load,
        this.#o.maxParents,
      );
      for (const parent of parents) {
        own.parents.push(this.#idAt(parent));
        byCell[parent]?.children.push(id);
        load[parent] = (load[parent] ?? 0) + 1;
      }
      // Backups rank strictly before the node in (distance, cell) order: never downstream of
      // it, and no cycle through backups either.
      const backups = around.filter(
        (other) =>
          !parents.includes(other) &&
          ((distances[other] ?? 0) < d || (distances[other] === d && other < cell)),
      );
      backups.sort(
        (a, b) => (distances[a] ?? 0) - (distances[b] ?? 0) || (upload[b] ?? 0) - (upload[a] ?? 0),
      );
      for (const other of backups.slice(0, this.#o.backupParents)) {
        own.backupParents.push(this.#idAt(other));
      }
    }
    const lists = new Map<string, Lists>([[this.rootId, root]]);
    byCell.forEach((own, cell) => lists.set(this.#idAt(cell), own));
    const changed: string[] = [];
    for (const [id, now] of lists) {
      const before = this.#lists.get(id);
      if (
        before === undefined ||
        !sameIds(before.parents, now.parents) ||
        !sameIds(before.children, now.children) ||
        !sameIds(before.backupParents, now.backupParents)
      ) {
        changed.push(id);
      }
    }
    this.#lists = lists;
    return changed;
  }

  #listsOf(id: string): Lists {
    const lists = this.#lists.get(id);
    if (lists === undefined) throw new SwarmcastError('invalid-argument', `unknown node ${id}`);
    return lists;
  }

  #cell(id: string): number {
    const cell = this.#cellOf.get(id);
    if (cell === undefined) throw new SwarmcastError('invalid-argument', `unknown node ${id}`);
    return cell;
  }

  #idAt(cell: number): string {
    const id = this.#cells[cell];
    if (id === undefined) throw new SwarmcastError('invalid-state', `no node in cell ${cell}`);
    return id;
  }

  #uploadOf(id: string): number {
    return this.#upload.get(id) ?? -1;
  }

  #uploadAt(cell: number): number {
    return this.#uploadOf(this.#idAt(cell));
  }
}

/**
 * Up to `maxParents` of `candidates` (all one step closer), among those with free capacity, the
 * faster first, then in neighbour order (orthogonal first). A node always gets a parent: when
 * every candidate is full, the least loaded one for its capacity.
 */
function chooseParents(
  candidates: readonly number[],
  upload: Float64Array,
  slots: Int32Array,
  load: Int32Array,
  maxParents: number,
): number[] {
  const free = candidates.filter((cell) => (load[cell] ?? 0) < (slots[cell] ?? 1));
  if (free.length === 0) {
    let least = candidates[0] ?? 0;
    for (const cell of candidates) {
      if ((load[cell] ?? 0) / (slots[cell] ?? 1) < (load[least] ?? 0) / (slots[least] ?? 1)) {
        least = cell;
      }
    }
    return [least];
  }
  free.sort((a, b) => (upload[b] ?? 0) - (upload[a] ?? 0));
  return free.slice(0, maxParents);
}

/** The 8 neighbour offsets, orthogonal ones first. */
const NEIGHBOUR_STEPS: readonly (readonly [number, number])[] = [
  [1, 0],
  [-1, 0],
  [0, 1],
  [0, -1],
  [1, 1],
  [-1, 1],
  [1, -1],
  [-1, -1],
];

/** A factory of meshes with these options; the options are checked now, not at the first stream. */
export function meshTopology(options: MeshTopologyOptions = {}): TopologyFactory {
  checkMeshOptions(options);
  return (rootId, context = {}) => new MeshTopology(rootId, { ...options, ...context });
}

function checkMeshOptions(options: MeshTopologyOptions & TopologyContext): CheckedMeshOptions {
  return {
    width: options.width === undefined ? undefined : validFanout('width', options.width),
    seeds: validFanout('seeds', options.seeds ?? MESH_DEFAULTS.seeds),
    maxParents: validCount('maxParents', options.maxParents ?? MESH_DEFAULTS.maxParents, 1, 3),
    backupParents: validCount(
      'backupParents',
      options.backupParents ?? MESH_DEFAULTS.backupParents,
      0,
      MESH_DEFAULTS.maxBackupParents,
    ),
    fanout: validFanout('fanout', options.fanout ?? MESH_DEFAULTS.fanout),
    orderByCapacity: options.orderByCapacity ?? false,
    maxMovesPerChange: validCount(
      'maxMovesPerChange',
      options.maxMovesPerChange ?? MESH_DEFAULTS.maxMovesPerChange,
      0,
      64,
    ),
    bitrateKbps: validBitrate(options.bitrateKbps),
  };
}
