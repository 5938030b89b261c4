/** swarmcast's Node API: every role, runnable in one process or alone. */
export * from './broadcaster/index.js';
export * from './origin/index.js';
export * from './tracker/index.js';
export {
  PEER_DEFAULTS,
  PeerCore,
  type PeerComponents,
  type PeerEvents,
  type PeerOptions,
  type PeerStats,
} from './peer/core.js';
export { createNodePeer, type NodePeerOptions } from './peer/peer.node.js';
export {
  LOCAL_SWARM_DEFAULTS,
  LocalSwarm,
  type LocalSwarmOptions,
  type LocalSwarmSummary,
} from './lab/local-swarm.js';
export { pipelineFigures, type PipelineFigures } from './lab/figures.js';
export { generateSigningKeyPair, type SigningKeyPair } from './crypto/keys.js';
export { DEFAULTS } from './common/defaults.js';
export { SwarmcastError, type ErrorCode } from './common/errors.js';
