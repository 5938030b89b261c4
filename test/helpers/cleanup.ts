/** What a test registers to undo: stop a server, a swarm, a browser… */
export type Cleanup = () => unknown;

/**
 * Runs and empties `cleanups`, the last registered first; a failing one does not stop the rest,
 * so one failure never leaves servers, browsers or processes running.
 */
export async function runCleanups(cleanups: Cleanup[]): Promise<void> {
  for (const cleanup of cleanups.splice(0).reverse()) {
    try {
      await cleanup();
    } catch {
      // Keep cleaning up.
    }
  }
}
