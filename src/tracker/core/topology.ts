/**
 * The virtual topology of one stream: who feeds whom. The tracker core keeps one per stream and
 * tells every node its parents (the peers it opens links to and receives from) and its children
 * (the peers it relays to). Implementations: the k-ary tree (`tree.ts`); list and mesh later.
 */

/** A node joining the topology. */
export interface TopologyNode {
  /** The peer id the tracker gave the node. */
  readonly id: string;
  /** Upload capacity the peer announced, for capacity-aware topologies. */
  readonly uploadKbps?: number;
}

/**
 * A topology rooted at the broadcaster, created with the root's id. The root lives as long as the
 * topology: the broadcaster leaving ends the stream, and the tracker then drops the whole topology
 * (every viewer is told it has no parents), so there is no way to remove the root.
 *
 * `add` and `remove` return the ids of the nodes whose parents or children may have changed (a
 * superset is allowed, a node left out is a bug): the tracker compares only their lists with what
 * it last told them, so a change costs O(affected), not O(size).
 */
export interface Topology {
  /** The broadcaster's id. */
  readonly rootId: string;
  /** Number of nodes, the root included. */
  readonly size: number;
  /**
   * Attaches a new viewer and repairs nothing else. Returns the affected ids, the new node's
   * included. Throws `invalid-argument` if the id is already present.
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
}

/** Creates the topology of a new stream, rooted at its broadcaster. */
export type TopologyFactory = (rootId: string) => Topology;
