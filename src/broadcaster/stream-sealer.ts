/** Picks how the broadcaster authenticates its chunks, from the stream's integrity scheme. */
import type { Clock } from '../common/clock.js';
import { SwarmcastError } from '../common/errors.js';
import { hmacSealer, importStreamKey } from '../crypto/chunk-integrity.js';
import { ed25519Sealer, type ChunkSealer } from '../crypto/chunk-signing.js';
import type { PeerEvents } from '../peer/core.js';
import type { StreamInfo } from '../protocol/tracker.js';

/** Default of `streamSealer`'s `timeoutMs`: the tracker's `joined` must come within this. */
export const STREAM_KEY_TIMEOUT_MS = 10_000;

/** The broadcaster's node in the overlay, as far as the sealer needs it. */
export interface JoiningPeer {
  on(event: 'peer:joined', listener: (payload: PeerEvents['peer:joined']) => void): () => void;
}

/**
 * The sealer for `info`'s stream: an Ed25519 signature with `privateKey` at once; for an
 * `hmac-sha256` stream, HMAC with the key the tracker sends `root` (the broadcaster's node) in
 * `joined`. Call it before `root.start()`. Rejects if no key arrives within `timeoutMs` (the
 * tracker refused the broadcaster, or is unreachable).
 */
export async function streamSealer(
  root: JoiningPeer,
  info: StreamInfo,
  privateKey: CryptoKey,
  clock: Clock,
  timeoutMs = STREAM_KEY_TIMEOUT_MS,
): Promise<ChunkSealer> {
  if (info.integrity?.scheme !== 'hmac-sha256') return ed25519Sealer(privateKey);
  const streamKey = await new Promise<string>((resolve, reject) => {
    const timer = clock.setTimeout(() => {
      off();
      reject(
        new SwarmcastError(
          'invalid-state',
          `no stream key from the tracker within ${timeoutMs} ms: was the broadcaster admitted?`,
        ),
      );
    }, timeoutMs);
    const off = root.on('peer:joined', (joined) => {
      if (joined.streamKey === undefined) return;
      clock.clearTimeout(timer);
      off();
      resolve(joined.streamKey);
    });
  });
  return hmacSealer(await importStreamKey(streamKey));
}
