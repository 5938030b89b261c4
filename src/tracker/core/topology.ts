/**
 * The virtual topology of one stream: who feeds whom. The tracker core keeps one per stream and
 * tells every node its parents (the peers it opens links to and is pushed chunks by), its
 * children (the peers it pushes to), its backup parents (standby links it opens and may pull
 * from when a parent fails) and its backup children (the inverse, derived by the tracker core).
 * Implementations: `list.ts`, `tree.ts`, `mesh.ts`; docs/TOPOLOGIES.md explains each.
 */
import { SwarmcastError } from '../../common/errors.js';
import { MAX_NEIGHBOURS } from '../../protocol/tracker.js';

export type { TopologyKind } from '../../protocol/tracker.js';

/** A node joining the topology. */
export interface TopologyNode {
  /** The peer id the tracker gave the node. */
  readonly id: string;
  /** Upload capacity the peer announced, for capacity-aware topologies. */
  readonly uploadKbps?: number;
  /**
   * False: the node is to feed no one (a peer under suspicion, see the tracker's demotion); the
   * topologies that can place it where it has no child do. @default true
   */
  readonly relay?: boolean;
}

/** What a topology learns about its stream when it is created. */
export interface TopologyContext {
  /**
   * Bitrate of the stream; with a node's `uploadKbps` it bounds the node's children (see
   * `childSlots`). Absent: capacity is unknown and every node gets the configured fanout.
   */
  readonly bitrateKbps?: number;
}

/**
 * A topology rooted at the broadcaster, created with the root's id. The root lives as long as the
 * topology: the broadcaster leaving ends the stream, and the tracker then drops the whole topology
 * (every viewer is told it has no parents), so there is no way to remove the root.
 *
 * `add` and `remove` return the ids of the nodes whose parents, children or backup parents may
 * have changed (a superset is allowed, a node left out is a bug): the tracker compares only their
 * lists with what it last told them, so a change costs O(affected), not O(size). Backup children
 * are the inverse of backup parents; the tracker core derives them and their changes.
 */
export interface Topology {
  /** The broadcaster's id. */
  readonly rootId: string;
  /** Number of nodes, the root included. */
  readonly size: number;
  /**
   * Attaches a new viewer (and may move a bounded number of others, for capacity order).
   * Returns the affected ids, the new node's included. Throws `invalid-argument` if the id is
   * already present.
   */
  add(node: TopologyNode): readonly string[];
  /**
   * Detaches a viewer and re-parents its orphans at once. Returns the affected ids that remain
   * in the topology. Throws `invalid-argument` for the root or an unknown id.
   */
  remove(id: string): readonly string[];
  has(id: string): boolean;
  /** The nodes that feed `id` (empty for the root); throws `invalid-argument` if unknown. */
  parentsOf(id: string): readonly string[];
  /** The nodes `id` feeds; throws `invalid-argument` if unknown. */
  childrenOf(id: string): readonly string[];
  /**
   * The nodes `id` keeps a standby link to: never `id` itself, its parents or children, nor a
   * node downstream of it, and parents plus backup parents never form a cycle. Throws
   * `invalid-argument` if unknown.
   */
  backupParentsOf(id: string): readonly string[];
}

/** Creates the topology of a new stream, rooted at its broadcaster. */
export type TopologyFactory = (rootId: string, context?: TopologyContext) => Topology;

/** Most stripes of a multi-tree or a mesh. */
export const MAX_STRIPES = 8;

/**
 * Swaps per change that restore capacity order (`orderByCapacity`) in the trees and the mesh: each
 * re-links a few peers; a larger imbalance is fixed over the following changes.
 */
export const MAX_MOVES_PER_CHANGE = 4;

/** Options every capacity-aware topology shares. */
export interface CapacityOptions {
  /**
   * Children of a viewer whose capacity is unknown (no `uploadKbps`, or no stream bitrate).
   * @default DEFAULTS.treeFanout
   */
  fanout?: number;
  /**
   * Place nodes with more upload nearer the broadcaster (a bounded number of swaps per change).
   * @default false
   */
  orderByCapacity?: boolean;
}

/**
 * Children a viewer may feed: ⌊uploadKbps / bitrateKbps⌋ when both are known (at least 1, at most
 * MAX_NEIGHBOURS), else `fanout`. The floor of 1 is deliberate: a viewer that uploads less than
 * one copy still relays to one child (who tops up from other holders and the origin), because a
 * relay that feeds no one would leave newcomers no place in list, tree or mesh.
 */
export function childSlots(
  uploadKbps: number | undefined,
  bitrateKbps: number | undefined,
  fanout: number,
): number {
  if (uploadKbps === undefined || bitrateKbps === undefined) return fanout;
  return Math.min(MAX_NEIGHBOURS, Math.max(1, Math.floor(uploadKbps / bitrateKbps)));
}

/** Checks a fanout-like option: an integer from 1 to MAX_NEIGHBOURS. */
export function validFanout(name: string, value: number): number {
  return validCount(name, value, 1, MAX_NEIGHBOURS);
}

/** Checks an integer option from `min` to `max`; throws `invalid-argument` naming it. */
export function validCount(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new SwarmcastError(
      'invalid-argument',
      `${name} must be an integer from ${min} to ${max}, got ${value}`,
    );
  }
  return value;
}

/** `maxMovesPerChange` checked (0 to 64), or `MAX_MOVES_PER_CHANGE` when absent. */
export function validMaxMoves(value: number | undefined): number {
  return validCount('maxMovesPerChange', value ?? MAX_MOVES_PER_CHANGE, 0, 64);
}

/** Whether two id lists are equal, order included. */
export function sameIds(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((id, i) => id === b[i]);
}

/** Checks a bitrate from the stream or an option: a positive finite number, or absent. */
export function validBitrate(value: number | undefined): number | undefined {
  if (value !== undefined && !(Number.isFinite(value) && value > 0)) {
    throw new SwarmcastError('invalid-argument', `bitrateKbps must be positive, got ${value}`);
  }
  return value;
}
