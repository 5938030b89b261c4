/**
 * Ed25519 in the simulator: real keys and signatures (Node's crypto), derived from the run's seed
 * and computed at once, so the handshake and the credential checks run as in real life and a
 * seeded run stays reproducible (see `src/crypto/ed25519.node.ts`). `onSettle` is told of every
 * promise handed to a core (the engine's `markAsync`).
 */
import { toBase64Url } from '../common/bytes.js';
import type { Random } from '../common/random.js';
import {
  nodeSignatureCheck,
  seededNodeSigner,
  settledSignatureCheck,
} from '../crypto/ed25519.node.js';
import type { SignatureCheck, SyncSigner } from '../crypto/keys.js';

/** A key pair drawn from `random`. */
export function simSigner(random: Random, onSettle: () => void): SyncSigner {
  const signer = seededNodeSigner(random.bytes(32));
  return {
    publicKey: signer.publicKey,
    signSync: (data) => signer.signSync(data),
    sign: (data) => {
      onSettle();
      return signer.sign(data);
    },
  };
}

/** Distinct checks a `simSignatureCheck` remembers (it forgets them all when full). */
const CHECKS_KEPT = 4096;

/**
 * Checks signatures for every peer of a run. Every neighbour of a peer checks the same
 * credential, so each distinct (key, signature, message) is verified once and its outcome
 * remembered: the outcome is the same, for a fraction of the time.
 */
export function simSignatureCheck(onSettle: () => void): SignatureCheck {
  const check = nodeSignatureCheck();
  const outcomes = new Map<string, boolean>();
  return settledSignatureCheck((publicKey, signature, data) => {
    onSettle();
    const key = `${publicKey}.${toBase64Url(signature)}.${toBase64Url(data)}`;
    let valid = outcomes.get(key);
    if (valid === undefined) {
      valid = check(publicKey, signature, data);
      if (outcomes.size >= CHECKS_KEPT) outcomes.clear();
      outcomes.set(key, valid);
    }
    return valid;
  });
}
