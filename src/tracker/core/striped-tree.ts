import { SwarmcastError } from '../../common/errors.js';
import { childSlots, MAX_MOVES_PER_CHANGE, type Topology, type TopologyNode } from './topology.js';

export interface StripedTreeOptions {
  /** Stripes, each its own tree (2 or more). */
  stripes: number;
  /** Children of the root in each stripe's tree. */
  rootFanout: number;
  /** Children of a node in the tree of its home stripe, among the nodes of that stripe. */
  fanout: number;
  /** Stream bitrate; with a node's upload it bounds the stripe-children it feeds. */
  bitrateKbps: number | undefined;
  /**
   * The home stripe of a joining node, fixed for its life. Absent: the stripe with the fewest
   * home nodes, and a leave that unbalances the stripes moves one node across.
   */
  homeOf?: (id: string) => number;
  /** Interior nodes near a leaf, preferred as its parent while one has a free slot. */
  near?: (leaf: string, parent: string) => boolean;
  /**
   * Keeps each stripe's interior a max-heap on announced upload (unknown counts as the least), so
   * the nodes nearest the root of each stripe are the fastest, within `maxMovesPerChange` swaps
   * per change. @default false
   */
  orderByCapacity?: boolean;
  /** Swaps per change with `orderByCapacity`. @default MAX_MOVES_PER_CHANGE */
  maxMovesPerChange?: number;
}

/** One stripe's tree. */
interface Stripe {
  /** The root, then the nodes whose home is this stripe, in heap order. */
  readonly interior: string[];
  readonly index: Map<string, number>;
  /** Parent of each node that is a leaf in this stripe (every node whose home is another). */
  readonly leafParent: Map<string, string>;
  readonly leaves: Map<string, Set<string>>;
}

/**
 * A multi-tree in the manner of SplitStream: the chunks are dealt into `stripes` stripes (chunk
 * `seq` is in stripe `seq % stripes`) and each stripe flows down a tree of its own. Every node
 * has a home stripe, and only in that stripe's tree does it feed others: it is an interior node
 * there and a leaf in every other tree. So a node receives every stripe (one parent per stripe,
 * `parentsOf` in stripe order) and uploads only its home stripe, at 1/stripes of the bitrate per
 * child.
 *
 * Why: a binary tree asks every interior node for two full copies of the stream, and viewers with
 * less upload than that (PRIVA-STREAM's 2 Mbps for a 1.16 Mbps stream) fall behind whatever the
 * repair does; a chain fits them but puts the last viewer N hops from live. With stripes the load
 * is spread over every node, the trees stay log-deep, and a failure cuts one stripe from one
 * subtree while the node's other parents, in other trees, still hold every chunk it misses (they
 * announce the chunks they do not push), so a child pulls those at once while the tracker repairs.
 *
 * Each stripe's interior is kept as a complete heap (`fanout`-ary under `rootFanout` root
 * children), repaired like `TreeTopology` by moving the last interior node into a hole, so its
 * depth stays minimal under churn. Leaves hang on the least full interior node (children over
 * slots; slots: ⌊upload / (bitrate / stripes)⌋ stripe-children, or `fanout × stripes` when the
 * upload is unknown, which is the load of a plain tree node), never on a node that already feeds
 * them in another stripe. Homes are kept balanced (their counts differ by at most one): a newcomer takes
 * the stripe with the fewest, and a leave that unbalances them moves one node across.
 *
 * With `orderByCapacity`, after a node enters a stripe's heap (a join, or the move into a
 * leaver's hole) it swaps with its parent while the parent (never the root) has less upload, or
 * else with its fastest heap child while that child has more, as `TreeTopology` does. A swap
 * keeps each node's leaves; either may then shed leaves beyond its slots at its new place.
 */
export class StripedTreeTopology implements Topology {
  readonly rootId: string;
  readonly #o: StripedTreeOptions;
  readonly #stripes: Stripe[] = [];
  readonly #home = new Map<string, number>();
  /** Nodes added with `relay: false`: a leaf in every stripe, interior in none. */
  readonly #leafOnly = new Set<string>();
  readonly #upload = new Map<string, number | undefined>();

  constructor(rootId: string, options: StripedTreeOptions) {
    this.rootId = rootId;
    this.#o = options;
    for (let s = 0; s < options.stripes; s++) {
      this.#stripes.push({
        interior: [rootId],
        index: new Map([[rootId, 0]]),
        leafParent: new Map(),
        leaves: new Map(),
      });
    }
  }

  get size(): number {
    return this.#home.size + this.#leafOnly.size + 1;
  }

  has(id: string): boolean {
    return id === this.rootId || this.#home.has(id) || this.#leafOnly.has(id);
  }

  add(node: TopologyNode): readonly string[] {
    if (this.has(node.id)) {
      throw new SwarmcastError('invalid-argument', `node ${node.id} is already in the tree`);
    }
    const touched = new Set<string>([node.id]);
    this.#upload.set(node.id, node.uploadKbps);
    if (node.relay === false) {
      this.#leafOnly.add(node.id);
      for (let s = 0; s < this.#stripes.length; s++) this.#placeLeaf(s, node.id, touched);
      return this.#affected(touched);
    }
    const home = this.#o.homeOf?.(node.id) ?? this.#smallestStripe();
    this.#home.set(node.id, home);
    this.#appendInterior(home, node.id, touched);
    for (let s = 0; s < this.#stripes.length; s++) {
      if (s !== home) this.#placeLeaf(s, node.id, touched);
    }
    return this.#affected(touched);
  }

  remove(id: string): readonly string[] {
    if (id === this.rootId) {
      throw new SwarmcastError('invalid-argument', 'the root cannot be removed: end the stream');
    }
    const home = this.#home.get(id);
    if (home === undefined && !this.#leafOnly.delete(id)) {
      throw new SwarmcastError('invalid-argument', `unknown node ${id}`);
    }
    const touched = new Set<string>();
    for (let s = 0; s < this.#stripes.length; s++) {
      if (s === home) this.#removeInterior(s, id, touched);
      else this.#removeLeaf(s, id, touched);
    }
    this.#home.delete(id);
    this.#upload.delete(id);
    if (this.#o.homeOf === undefined) this.#rebalance(touched);
    touched.delete(id);
    return this.#affected(touched);
  }

  parentsOf(id: string): readonly string[] {
    this.#check(id);
    const out: string[] = [];
    for (let s = 0; s < this.#stripes.length; s++) {
      const parent = this.#parentIn(s, id);
      // A node may feed another in two stripes only while a stripe has no interior node yet
      // (both hang on the root): the child then lists it once and takes both stripes from it.
      if (parent !== undefined && !out.includes(parent)) out.push(parent);
    }
    return out;
  }

  childrenOf(id: string): readonly string[] {
    this.#check(id);
    const out: string[] = [];
    for (let s = 0; s < this.#stripes.length; s++) {
      for (const child of this.#childrenIn(s, id)) if (!out.includes(child)) out.push(child);
    }
    return out;
  }

  /**
   * None: a node's parents sit in different trees, and each holds every chunk (the stripes it
   * does not push it announces), so each is the others' standby; extra standby links would add
   * nothing they do not already give.
   */
  backupParentsOf(id: string): readonly string[] {
    this.#check(id);
    return [];
  }

  /** The parent of `id` in stripe `s`'s tree; undefined for the root. */
  stripeParentOf(s: number, id: string): string | undefined {
    this.#check(id);
    return this.#parentIn(s, id);
  }

  get stripes(): number {
    return this.#stripes.length;
  }

  /** The stripe `id` feeds: its home, where it is an interior node. */
  homeStripeOf(id: string): number {
    const home = this.#home.get(id);
    if (home === undefined) throw new SwarmcastError('invalid-argument', `unknown node ${id}`);
    return home;
  }

  #parentIn(s: number, id: string): string | undefined {
    const stripe = this.#stripe(s);
    const index = stripe.index.get(id);
    if (index === undefined) return stripe.leafParent.get(id);
    return index === 0 ? undefined : stripe.interior[this.#parentIndex(index)];
  }

  #childrenIn(s: number, id: string): string[] {
    const stripe = this.#stripe(s);
    const index = stripe.index.get(id);
    if (index === undefined) return [];
    const out = this.#heapChildren(stripe, index).map((child) => stripe.interior[child] ?? '');
    out.push(...(stripe.leaves.get(id) ?? []));
    return out;
  }

  /** The stripe with the fewest home nodes (the lowest on ties). */
  #smallestStripe(): number {
    let best = 0;
    for (let s = 1; s < this.#stripes.length; s++) {
      if (this.#stripe(s).interior.length < this.#stripe(best).interior.length) best = s;
    }
    return best;
  }

  /** Puts `id` at the end of stripe `s`'s heap; its new parent sheds a leaf if now over. */
  #appendInterior(s: number, id: string, touched: Set<string>): void {
    const stripe = this.#stripe(s);
    const index = stripe.interior.length;
    stripe.interior.push(id);
    stripe.index.set(id, index);
    touched.add(id);
    touched.add(stripe.interior[this.#parentIndex(index)] ?? this.rootId);
    this.#fit(s, this.#parentIndex(index), touched);
    // The stripe's first interior node takes over the leaves the root held meanwhile.
    const held = index === 1 ? stripe.leaves.get(this.rootId) : undefined;
    if (held !== undefined && held.size > 0) {
      stripe.leaves.delete(this.rootId);
      touched.add(this.rootId);
      for (const leaf of held) {
        stripe.leafParent.delete(leaf);
        this.#placeLeaf(s, leaf, touched);
      }
    }
    this.#order(s, index, touched);
    this.#relieve(s, touched);
  }

  /**
   * With `orderByCapacity`: moves the interior node at `index` of stripe `s` up while its parent
   * (never the root) has less upload, or, if it did not climb, down while its fastest heap child
   * has more, at most `maxMovesPerChange` swaps.
   */
  #order(s: number, index: number, touched: Set<string>): void {
    if (this.#o.orderByCapacity !== true) return;
    const stripe = this.#stripe(s);
    const upload = (i: number): number => this.#upload.get(stripe.interior[i] ?? '') ?? -1;
    let current = index;
    let left = this.#o.maxMovesPerChange ?? MAX_MOVES_PER_CHANGE;
    while (left > 0 && current > 0) {
      const parent = this.#parentIndex(current);
      if (parent === 0 || upload(parent) >= upload(current)) break;
      this.#swap(s, current, parent, touched);
      current = parent;
      left--;
    }
    if (current !== index) return;
    for (; left > 0 && current > 0; left--) {
      let fastest = -1;
      for (const child of this.#heapChildren(stripe, current)) {
        if (fastest < 0 || upload(child) > upload(fastest)) fastest = child;
      }
      if (fastest < 0 || upload(fastest) <= upload(current)) return;
      this.#swap(s, current, fastest, touched);
      current = fastest;
    }
  }

  /** Swaps the interior nodes at `a` and `b` of stripe `s`; each keeps its leaves. */
  #swap(s: number, a: number, b: number, touched: Set<string>): void {
    const stripe = this.#stripe(s);
    this.#touchAround(stripe, a, touched);
    this.#touchAround(stripe, b, touched);
    const idA = stripe.interior[a] ?? '';
    const idB = stripe.interior[b] ?? '';
    stripe.interior[a] = idB;
    stripe.index.set(idB, a);
    stripe.interior[b] = idA;
    stripe.index.set(idA, b);
    this.#touchAround(stripe, a, touched);
    this.#touchAround(stripe, b, touched);
    this.#fit(s, a, touched);
    this.#fit(s, b, touched);
  }

  /**
   * Moves leaves off interior nodes of stripe `s` that feed more than their slots while another
   * has room: over-full nodes are left when a stripe had too few home nodes for its leaves (with
   * `homeOf`, homes follow the caller, not the balance), and room comes with each new one.
   */
  #relieve(s: number, touched: Set<string>): void {
    const stripe = this.#stripe(s);
    for (let index = 1; index < stripe.interior.length; index++) {
      const id = stripe.interior[index] ?? '';
      const leaves = stripe.leaves.get(id);
      while (
        leaves !== undefined &&
        leaves.size > 0 &&
        this.#used(stripe, index) > this.#slots(id)
      ) {
        const room = stripe.interior.some(
          (other, i) => i > 0 && other !== id && this.#used(stripe, i) < this.#slots(other),
        );
        if (!room) return;
        const leaf = [...leaves][leaves.size - 1] ?? '';
        leaves.delete(leaf);
        stripe.leafParent.delete(leaf);
        touched.add(id);
        this.#placeLeaf(s, leaf, touched, id);
      }
    }
  }

  /** Fills the hole `id` leaves in stripe `s`'s heap with the last interior node. */
  #removeInterior(s: number, id: string, touched: Set<string>): void {
    const stripe = this.#stripe(s);
    const index = this.#indexIn(stripe, id);
    const lastIndex = stripe.interior.length - 1;
    const last = stripe.interior[lastIndex] ?? '';
    this.#touchAround(stripe, index, touched);
    this.#touchAround(stripe, lastIndex, touched);
    stripe.interior.pop();
    stripe.index.delete(id);
    if (last !== id) {
      stripe.interior[index] = last;
      stripe.index.set(last, index);
    }
    const orphans = [...(stripe.leaves.get(id) ?? [])];
    stripe.leaves.delete(id);
    for (const orphan of orphans) {
      stripe.leafParent.delete(orphan);
      this.#placeLeaf(s, orphan, touched);
    }
    // The mover now has the heap children of its new place: shed leaves if over.
    if (last !== id) {
      this.#fit(s, index, touched);
      this.#order(s, index, touched);
    }
  }

  #removeLeaf(s: number, id: string, touched: Set<string>): void {
    const stripe = this.#stripe(s);
    const parent = stripe.leafParent.get(id);
    if (parent === undefined) return;
    stripe.leafParent.delete(id);
    stripe.leaves.get(parent)?.delete(id);
    touched.add(parent);
  }

  /**
   * Hangs `id` as a leaf of stripe `s` on the least full interior node (children over slots)
   * that does not feed it in another stripe, the shallowest on ties; never on `exclude` while
   * another node is there.
   */
  #placeLeaf(s: number, id: string, touched: Set<string>, exclude?: string): void {
    const stripe = this.#stripe(s);
    const elsewhere = new Set<string>();
    for (let other = 0; other < this.#stripes.length; other++) {
      const parent = other === s ? undefined : this.#parentIn(other, id);
      if (parent !== undefined) elsewhere.add(parent);
    }
    // The root feeds leaves only while the stripe has no interior node: its slots are its heap
    // children, each a whole subtree.
    const candidates = stripe.interior.length > 1 ? stripe.interior.slice(1) : [this.rootId];
    const allowed = candidates.filter((c) => c !== exclude && !elsewhere.has(c));
    const pool = allowed.length > 0 ? allowed : candidates.filter((c) => c !== exclude);
    const fill = (candidate: string): number =>
      this.#used(stripe, this.#indexIn(stripe, candidate)) / this.#slots(candidate);
    // The least full, the shallowest on ties: leaves spread evenly, so no node sends a chunk to
    // many children one after the other while others send to few. Near ones with a free slot
    // first, when nearness is given.
    const near = this.#o.near;
    const open = near === undefined ? [] : pool.filter((c) => near(id, c) && fill(c) < 1);
    let parent: string | undefined;
    let least = Infinity;
    for (const candidate of open.length > 0 ? open : pool.length > 0 ? pool : candidates) {
      const f = fill(candidate);
      if (f < least) {
        least = f;
        parent = candidate;
      }
    }
    const chosen = parent ?? this.rootId;
    stripe.leafParent.set(id, chosen);
    let set = stripe.leaves.get(chosen);
    if (set === undefined) {
      set = new Set();
      stripe.leaves.set(chosen, set);
    }
    set.add(id);
    touched.add(id);
    touched.add(chosen);
  }

  /** Moves leaves off the interior node at `index` of stripe `s` until it is within its slots. */
  #fit(s: number, index: number, touched: Set<string>): void {
    const stripe = this.#stripe(s);
    const id = stripe.interior[index];
    const leaves = id === undefined || index === 0 ? undefined : stripe.leaves.get(id);
    if (id === undefined || leaves === undefined) return;
    const excess = Math.min(leaves.size, this.#used(stripe, index) - this.#slots(id));
    if (excess <= 0) return;
    const moved = [...leaves].slice(-excess);
    for (const leaf of moved) {
      leaves.delete(leaf);
      stripe.leafParent.delete(leaf);
    }
    touched.add(id);
    for (const leaf of moved) this.#placeLeaf(s, leaf, touched, id);
  }

  /** Moves one node from the stripe with the most home nodes to the one with the fewest. */
  #rebalance(touched: Set<string>): void {
    let big = 0;
    for (let s = 1; s < this.#stripes.length; s++) {
      if (this.#stripe(s).interior.length > this.#stripe(big).interior.length) big = s;
    }
    const small = this.#smallestStripe();
    if (this.#stripe(big).interior.length - this.#stripe(small).interior.length <= 1) return;
    const stripe = this.#stripe(big);
    const mover = stripe.interior[stripe.interior.length - 1] ?? '';
    this.#removeInterior(big, mover, touched);
    this.#placeLeaf(big, mover, touched);
    this.#removeLeaf(small, mover, touched);
    this.#home.set(mover, small);
    this.#appendInterior(small, mover, touched);
  }

  /** Children of the interior node at `index`: heap children plus leaves. */
  #used(stripe: Stripe, index: number): number {
    const id = stripe.interior[index] ?? '';
    return this.#heapChildren(stripe, index).length + (stripe.leaves.get(id)?.size ?? 0);
  }

  /** Stripe-children a node can feed. */
  #slots(id: string): number {
    const { bitrateKbps, stripes, fanout } = this.#o;
    const stripeKbps = bitrateKbps === undefined ? undefined : bitrateKbps / stripes;
    return Math.max(fanout, childSlots(this.#upload.get(id), stripeKbps, fanout * stripes));
  }

  #touchAround(stripe: Stripe, index: number, touched: Set<string>): void {
    const add = (i: number): void => {
      const id = stripe.interior[i];
      if (id !== undefined) touched.add(id);
    };
    add(index);
    if (index > 0) add(this.#parentIndex(index));
    for (const child of this.#heapChildren(stripe, index)) add(child);
  }

  /** The touched ids still present: every node whose lists may have changed was touched. */
  #affected(touched: ReadonlySet<string>): string[] {
    return [...touched].filter((id) => this.has(id));
  }

  #heapChildren(stripe: Stripe, index: number): number[] {
    const { rootFanout, fanout } = this.#o;
    const first = index === 0 ? 1 : rootFanout + 1 + (index - 1) * fanout;
    const count = index === 0 ? rootFanout : fanout;
    const end = Math.min(first + count, stripe.interior.length);
    const out: number[] = [];
    for (let child = first; child < end; child++) out.push(child);
    return out;
  }

  #parentIndex(index: number): number {
    const { rootFanout, fanout } = this.#o;
    if (index <= rootFanout) return 0;
    return 1 + Math.floor((index - rootFanout - 1) / fanout);
  }

  #indexIn(stripe: Stripe, id: string): number {
    const index = stripe.index.get(id);
    if (index === undefined) throw new SwarmcastError('invalid-state', `${id} is not interior`);
    return index;
  }

  #stripe(s: number): Stripe {
    const stripe = this.#stripes[s];
    if (stripe === undefined) throw new SwarmcastError('invalid-state', `no stripe ${s}`);
    return stripe;
  }

  #check(id: string): void {
    if (!this.has(id)) throw new SwarmcastError('invalid-argument', `unknown node ${id}`);
  }
}
