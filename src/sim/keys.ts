/**
 * Ed25519 in the simulator: real keys and signatures (Node's crypto), derived from the run's seed
 * and computed at once, so the handshake and the credential checks run as in real life and a
 * seeded run stays reproducible (see `src/crypto/ed25519.node.ts`). `onSettle` is told of every
 * promise handed to a core (the engine's `markAsync`).
 */
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

export function simSignatureCheck(onSettle: () => void): SignatureCheck {
  const check = settledSignatureCheck(nodeSignatureCheck());
  return (publicKey, signature, data) => {
    onSettle();
    return check(publicKey, signature, data);
  };
}
