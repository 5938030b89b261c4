import { SwarmcastError } from '../../common/errors.js';
import { DEFAULTS } from '../../common/defaults.js';
import { StripedTreeTopology } from './striped-tree.js';
import {
  MAX_STRIPES,
  validBitrate,
  validCount,
  validFanout,
  validMaxMoves,
  type Topology,
  type TopologyContext,
  type TopologyFactory,
  type TopologyNode,
} from './topology.js';

/** Mesh defaults. */
export const MESH_DEFAULTS = {
  /** Cells the broadcaster feeds directly in each stripe. */
  seeds: 4,
  /** Stripes: a node takes each from another parent. */
  stripes: 2,
} as const;

export interface MeshTopologyOptions {
  /**
   * Columns of the grid. Absent: the grid grows in square shells (cells 0..m²-1 always form an
   * m×m square), so it stays about ⌈√n⌉ wide.
   */
  width?: number;
  /** Nodes the broadcaster feeds in each stripe. @default MESH_DEFAULTS.seeds */
  seeds?: number;
  /** Stripes, 2 to MAX_STRIPES. @default MESH_DEFAULTS.stripes */
  stripes?: number;
  /**
   * Children of a node in the tree of its home stripe, among the nodes of that stripe; with the
   * upload unknown, a node feeds `fanout × stripes` stripe-children. @default DEFAULTS.treeFanout
   */
  fanout?: number;
  /**
   * Faster nodes toward the seeds: each stripe's interior kept a max-heap on upload (see
   * `StripedTreeTopology`). @default false
   */
  orderByCapacity?: boolean;
  /** Swaps per change with `orderByCapacity`. @default MAX_MOVES_PER_CHANGE */
  maxMovesPerChange?: number;
}

/**
 * A 2D grid of viewers over which the stream flows in stripes, like a multi-tree whose links
 * follow the grid where they can (docs/TOPOLOGIES.md, "mesh").
 *
 * Each node takes a cell (the lowest free one, so a newcomer fills the hole a leaver left and the
 * grid stays compact under churn; cells fill in square shells or rows of `width`). Its cell's
 * colour is its home stripe: colours alternate between neighbouring cells, so every node has
 * neighbours of every home around it, and each stripe's nodes are spread evenly over the grid.
 * Chunk `seq` is in stripe `seq % stripes`. A node feeds only its home stripe: there it is an
 * interior node of that stripe's tree (a heap repaired by moving the last node into a hole, as in
 * the multi-tree); in every other stripe it is a leaf, fed by a neighbouring cell of that
 * stripe's colour when one has a free slot (the wave's last step), else by the least loaded node
 * of that colour. So each node has one parent per stripe, uploads a fraction of the stream per
 * child, and a failure cuts one stripe from one subtree while the node's other parents, which
 * announce every chunk they hold, cover it during the repair.
 *
 * Why not the paper's wave to all 8 neighbours: a node would upload up to 7 copies of the stream,
 * and at 2 Mbps of upload for a 1.16 Mbps stream not even two fit; a wave of single copies from
 * a few seeds cannot widen fast enough near them (a ring of 8 cells around a seed that feeds at
 * most 3 stripe-children), and parents chosen from the grid alone made long chains
 * (docs/TOPOLOGIES.md).
 */
export class MeshTopology implements Topology {
  readonly rootId: string;
  readonly #width: number | undefined;
  readonly #stripes: number;
  readonly #tree: StripedTreeTopology;
  readonly #cellOf = new Map<string, number>();
  /** Cells left by nodes that left, ascending: the next joins take the lowest. */
  readonly #free: number[] = [];
  /** Cells ever occupied. */
  #cells = 0;

  constructor(rootId: string, options: MeshTopologyOptions & TopologyContext = {}) {
    const o = checkMeshOptions(options);
    this.rootId = rootId;
    this.#width = o.width;
    this.#stripes = o.stripes;
    this.#tree = new StripedTreeTopology(rootId, {
      stripes: o.stripes,
      rootFanout: o.seeds,
      fanout: o.fanout,
      bitrateKbps: o.bitrateKbps,
      homeOf: (id) => this.#colour(this.#cell(id)),
      near: (leaf, parent) => this.#adjacent(leaf, parent),
      orderByCapacity: o.orderByCapacity,
      maxMovesPerChange: o.maxMovesPerChange,
    });
  }

  get size(): number {
    return this.#tree.size;
  }

  has(id: string): boolean {
    return this.#tree.has(id);
  }

  add(node: TopologyNode): readonly string[] {
    if (this.has(node.id)) {
      throw new SwarmcastError('invalid-argument', `node ${node.id} is already in the mesh`);
    }
    this.#cellOf.set(node.id, this.#free.shift() ?? this.#cells++);
    return this.#tree.add(node);
  }

  remove(id: string): readonly string[] {
    if (id === this.rootId) {
      throw new SwarmcastError('invalid-argument', 'the root cannot be removed: end the stream');
    }
    const affected = this.#tree.remove(id);
    const cell = this.#cell(id);
    this.#cellOf.delete(id);
    const at = this.#free.findIndex((free) => free > cell);
    this.#free.splice(at < 0 ? this.#free.length : at, 0, cell);
    return affected;
  }

  parentsOf(id: string): readonly string[] {
    return this.#tree.parentsOf(id);
  }

  childrenOf(id: string): readonly string[] {
    return this.#tree.childrenOf(id);
  }

  backupParentsOf(id: string): readonly string[] {
    return this.#tree.backupParentsOf(id);
  }

  get stripes(): number {
    return this.#stripes;
  }

  /** The parent of `id` in stripe `s`; undefined for the root. */
  stripeParentOf(s: number, id: string): string | undefined {
    return this.#tree.stripeParentOf(s, id);
  }
  /** The stripe `id` feeds: its cell's colour. */
  homeStripeOf(id: string): number {
    return this.#tree.homeStripeOf(id);
  }

  /** The cell of node `id` (the root has none). */
  cellOf(id: string): number | undefined {
    return this.#cellOf.get(id);
  }

  /** Coordinates of cell `k`. */
  position(k: number): [number, number] {
    const width = this.#width;
    if (width !== undefined) return [k % width, Math.floor(k / width)];
    const shell = Math.floor(Math.sqrt(k));
    const offset = k - shell * shell;
    return offset < shell ? [shell, offset] : [offset - shell, shell];
  }

  /**
   * The home stripe of cell (x, y): `(x + step·y) mod stripes`, with step 1 for two stripes (a
   * checkerboard) and 2 otherwise, so the 8 cells around any cell hold every colour.
   */
  #colour(cell: number): number {
    const [x, y] = this.position(cell);
    const step = this.#stripes === 2 ? 1 : 2;
    return (x + step * y) % this.#stripes;
  }

  /** Whether two nodes' cells touch (one of each other's 8 neighbours); never the root's. */
  #adjacent(a: string, b: string): boolean {
    const cellA = this.#cellOf.get(a);
    const cellB = this.#cellOf.get(b);
    if (cellA === undefined || cellB === undefined) return false;
    const [ax, ay] = this.position(cellA);
    const [bx, by] = this.position(cellB);
    return Math.max(Math.abs(ax - bx), Math.abs(ay - by)) === 1;
  }

  #cell(id: string): number {
    const cell = this.#cellOf.get(id);
    if (cell === undefined) throw new SwarmcastError('invalid-argument', `unknown node ${id}`);
    return cell;
  }
}

/** A factory of meshes with these options; the options are checked now, not at the first stream. */
export function meshTopology(options: MeshTopologyOptions = {}): TopologyFactory {
  checkMeshOptions(options);
  return (rootId, context = {}) => new MeshTopology(rootId, { ...options, ...context });
}

function checkMeshOptions(options: MeshTopologyOptions & TopologyContext) {
  return {
    width: options.width === undefined ? undefined : validFanout('width', options.width),
    seeds: validFanout('seeds', options.seeds ?? MESH_DEFAULTS.seeds),
    stripes: validCount('stripes', options.stripes ?? MESH_DEFAULTS.stripes, 2, MAX_STRIPES),
    fanout: validFanout('fanout', options.fanout ?? DEFAULTS.treeFanout),
    bitrateKbps: validBitrate(options.bitrateKbps),
    orderByCapacity: options.orderByCapacity ?? false,
    maxMovesPerChange: validMaxMoves(options.maxMovesPerChange),
  };
}
