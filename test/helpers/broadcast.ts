import { Broadcaster } from '../../src/broadcaster/broadcaster.js';
import type { Clock } from '../../src/common/clock.js';
import { DEFAULTS } from '../../src/common/defaults.js';
import { silentLogger } from '../../src/common/logger.js';
import { generateSigningKeyPair } from '../../src/crypto/keys.js';
import { OriginStore, type OriginStream } from '../../src/origin/store.js';

/** A real broadcaster (ffmpeg, synthetic 640x360 30 fps source) feeding an origin store. */
export interface SyntheticBroadcast {
  readonly broadcaster: Broadcaster;
  readonly store: OriginStore;
  /** The store's stream; it gets the broadcaster's init and every chunk. */
  readonly stream: OriginStream;
}

/**
 * Creates a synthetic broadcaster of `stream` with fresh keys, and an origin store whose stream
 * of that name takes its init and chunks (before any `chunk` listener the caller adds). The
 * broadcaster is not started; the caller starts and stops it.
 */
export async function syntheticBroadcast(
  clock: Clock,
  stream: string,
): Promise<SyntheticBroadcast> {
  const keys = await generateSigningKeyPair();
  const broadcaster = new Broadcaster(
    { logger: silentLogger, clock },
    {
      stream,
      source: 'synthetic',
      keys,
      width: 640,
      height: 360,
      fps: 30,
      videoKbps: 600,
      chunkDurationMs: DEFAULTS.chunkDurationMs,
      segmentDurationMs: DEFAULTS.segmentDurationMs,
    },
  );
  const store = new OriginStore({ clock });
  const originStream = store.createStream({
    stream,
    publicKey: broadcaster.publicKey,
    chunkDurationMs: DEFAULTS.chunkDurationMs,
    segmentDurationMs: DEFAULTS.segmentDurationMs,
  });
  broadcaster.on('init', ({ init }) => {
    originStream.setInit(init);
  });
  broadcaster.on('chunk', ({ chunk }) => {
    originStream.addChunk(chunk);
  });
  return { broadcaster, store, stream: originStream };
}
