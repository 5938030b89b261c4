import { SwarmcastError } from '../../common/errors.js';
import { validCount, type Topology, type TopologyFactory, type TopologyNode } from './topology.js';

/** List defaults. */
export const LIST_DEFAULTS = {
  /** Standby links per node, to the nodes just before its parent (the paper keeps up to 3). */
  backupParents: 2,
  /** Most standby links per node this topology allows. */
  maxBackupParents: 3,
} as const;

export interface ListTopologyOptions {
  /**
   * Backup parents of each node: the nodes just before its parent, nearest first, 0 to 3.
   * @default LIST_DEFAULTS.backupParents
   */
  backupParents?: number;
  /**
   * Keep the chain in descending order of announced upload (unknown upload last, arrival order
   * among equals), as the paper suggests against slow links stalling everyone behind them.
   * @default false
   */
  orderByCapacity?: boolean;
}

interface ListEntry {
  readonly id: string;
  /** Sort key with `orderByCapacity`: announced upload, -1 when unknown (last). */
  readonly uploadKbps: number;
}

/**
 * Viewers chained behind the broadcaster: root → v1 → v2 → … Each node is fed by the node before
 * it and keeps standby links to the 2-3 nodes before its parent.
 *
 * Repair (why "bridge at once"): when a node leaves, its successor is attached to the leaver's
 * parent. It is the only re-link that keeps a chain a chain, it touches one link, and it is exactly
 * the link the successor's first backup parent already had open: the successor pulls from that
 * standby link the moment its parent fails, and the tracker's repair turns the same link into
 * its parent link. Every node's capacity need is one child, whatever the order.
 *
 * The list's depth is its size, so a failure near the head delays everyone behind it; the paper
 * measured exactly that. It is the baseline, not a recommendation.
 */
export class ListTopology implements Topology {
  readonly rootId: string;
  readonly #backups: number;
  readonly #orderByCapacity: boolean;
  /** The chain; index 0 is the root. */
  readonly #order: ListEntry[];

  constructor(rootId: string, options: ListTopologyOptions = {}) {
    const checked = checkListOptions(options);
    this.#backups = checked.backupParents;
    this.#orderByCapacity = checked.orderByCapacity;
    this.rootId = rootId;
    this.#order = [{ id: rootId, uploadKbps: Infinity }];
  }

  get size(): number {
    return this.#order.length;
  }

  has(id: string): boolean {
    return this.#order.some((entry) => entry.id === id);
  }

  add(node: TopologyNode): readonly string[] {
    if (this.has(node.id)) {
      throw new SwarmcastError('invalid-argument', `node ${node.id} is already in the list`);
    }
    const entry = { id: node.id, uploadKbps: node.uploadKbps ?? -1 };
    let index = this.#order.length;
    if (this.#orderByCapacity) {
      // After every node with as much upload or more: equals stay in arrival order.
      index = this.#order.findIndex((other) => other.uploadKbps < entry.uploadKbps);
      if (index < 0) index = this.#order.length;
    }
    this.#order.splice(index, 0, entry);
    // The predecessor (new child), the node itself, and the nodes behind whose parent or
    // backup window now includes it.
    return this.#idsBetween(index - 1, index + 1 + this.#backups);
  }

  remove(id: string): readonly string[] {
    const index = this.#indexOf(id);
    if (index === 0) {
      throw new SwarmcastError('invalid-argument', 'the root cannot be removed: end the stream');
    }
    this.#order.splice(index, 1);
    // The predecessor (new child), the successor (bridged to it), and the nodes behind whose
    // backup window included the leaver.
    return this.#idsBetween(index - 1, index + this.#backups);
  }

  parentsOf(id: string): readonly string[] {
    return this.#idsBetween(this.#indexOf(id) - 1, this.#indexOf(id) - 1);
  }

  childrenOf(id: string): readonly string[] {
    return this.#idsBetween(this.#indexOf(id) + 1, this.#indexOf(id) + 1);
  }

  backupParentsOf(id: string): readonly string[] {
    const index = this.#indexOf(id);
    const out: string[] = [];
    for (let k = index - 2; k >= Math.max(0, index - 1 - this.#backups); k--) {
      out.push(this.#idAt(k));
    }
    return out;
  }

  /** Ids at indices `from` to `to` inclusive, clipped to the list. */
  #idsBetween(from: number, to: number): string[] {
    const out: string[] = [];
    for (let k = Math.max(0, from); k <= Math.min(to, this.#order.length - 1); k++) {
      out.push(this.#idAt(k));
    }
    return out;
  }

  #indexOf(id: string): number {
    const index = this.#order.findIndex((entry) => entry.id === id);
    if (index < 0) throw new SwarmcastError('invalid-argument', `unknown node ${id}`);
    return index;
  }

  #idAt(index: number): string {
    const entry = this.#order[index];
    if (entry === undefined) throw new SwarmcastError('invalid-state', `no node at index ${index}`);
    return entry.id;
  }
}

/** A factory of lists with these options; the options are checked now, not at the first stream. */
export function listTopology(options: ListTopologyOptions = {}): TopologyFactory {
  const checked = checkListOptions(options);
  return (rootId) => new ListTopology(rootId, checked);
}

function checkListOptions(options: ListTopologyOptions): Required<ListTopologyOptions> {
  const backupParents = validCount(
    'backupParents',
    options.backupParents ?? LIST_DEFAULTS.backupParents,
    0,
    LIST_DEFAULTS.maxBackupParents,
  );
  return { backupParents, orderByCapacity: options.orderByCapacity ?? false };
}
