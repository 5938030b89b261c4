import type { Logger } from './logger.js';
import { errorMessage } from './errors.js';

type Listener<T> = (payload: T) => void;

/**
 * A typed event emitter with named-object payloads. Emission is safe: a listener that throws is
 * logged and cannot break the component that emits (mediasoup's `safeEmit`).
 */
export class Emitter<Events extends { [K in keyof Events]: unknown }> {
  readonly #listeners = new Map<keyof Events, Set<Listener<never>>>();
  readonly #logger: Logger | undefined;

  constructor(logger?: Logger) {
    this.#logger = logger;
  }

  on<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void {
    let set = this.#listeners.get(event);
    if (set === undefined) {
      set = new Set();
      this.#listeners.set(event, set);
    }
    set.add(listener);
    return () => set.delete(listener);
  }

  emit<K extends keyof Events>(event: K, payload: Events[K]): void {
    const set = this.#listeners.get(event);
    if (set === undefined) return;
    for (const listener of [...set]) {
      try {
        (listener as Listener<Events[K]>)(payload);
      } catch (error) {
        this.#logger?.error('event listener threw', {
          event: String(event),
          error: errorMessage(error),
        });
      }
    }
  }

  removeAllListeners(): void {
    this.#listeners.clear();
  }
}
