/**
 * A first-in first-out queue on a ring buffer that doubles when full and never shrinks. A link's
 * or a pipe's queue empties and fills again many times a second; an array emptied with
 * `length = 0` gives its storage back, and the next push allocates it again. Slots are not
 * cleared when their item leaves: a queue keeps at most its capacity of items alive until they
 * are overwritten, and numbers stay unboxed.
 */
export class RingQueue<T> {
  #items: T[];
  #head = 0;
  #size = 0;

  /** `capacity` is rounded up to a power of two. */
  constructor(capacity = 8) {
    this.#items = new Array<T>(2 ** Math.ceil(Math.log2(Math.max(2, capacity))));
  }

  get size(): number {
    return this.#size;
  }

  push(item: T): void {
    if (this.#size === this.#items.length) this.#grow();
    this.#items[(this.#head + this.#size) & (this.#items.length - 1)] = item;
    this.#size++;
  }

  /** The item `i` places from the front (0: the front), or undefined past the end. */
  at(i: number): T | undefined {
    return i < this.#size ? this.#items[(this.#head + i) & (this.#items.length - 1)] : undefined;
  }

  /** Removes and returns the front item, or undefined when empty. */
  shift(): T | undefined {
    if (this.#size === 0) return undefined;
    const item = this.#items[this.#head];
    this.#head = (this.#head + 1) & (this.#items.length - 1);
    this.#size--;
    return item;
  }

  clear(): void {
    this.#head = 0;
    this.#size = 0;
  }

  #grow(): void {
    const items = new Array<T>(this.#items.length * 2);
    for (let i = 0; i < this.#size; i++)
      items[i] = this.#items[(this.#head + i) & (this.#items.length - 1)] as T;
    this.#items = items;
    this.#head = 0;
  }
}
