/**
 * Every default of swarmcast in one place. Units are in the names (`Ms`, `Kbps`, `Bytes`).
 */
export const DEFAULTS = {
  /** Stream id used by `npm start` and single-role commands when none is given. */
  streamId: 'live',
  /** Duration of one chunk (one moof+mdat), the unit peers exchange. */
  chunkDurationMs: 500,
  /** Duration of one DASH media segment; a whole number of chunks, keyframe-aligned. */
  segmentDurationMs: 2000,
  /** Synthetic source: picture size, frame rate and video bitrate. */
  synthetic: { width: 1280, height: 720, fps: 30, videoKbps: 1500, audioKbps: 64 },
  /** Seconds of stream the origin keeps (its sliding window / timeShiftBufferDepth). */
  originWindowMs: 60_000,
  /** Chunks a peer keeps for relaying and repair, behind its playhead. */
  peerWindowMs: 30_000,
  /** Latency behind live at which a peer starts playing (capture time to play time). */
  targetLatencyMs: 2000,
  /** Media a peer must hold ahead of its start position before it starts playing. */
  startBufferMs: 1000,
  /** A chunk still missing this close to its play time is fetched from the origin. */
  originFallbackMarginMs: 700,
  /** A stall longer than this makes the player jump back to its target latency. */
  liveJumpAfterStallMs: 6000,
  /** How often peers send a heartbeat to the tracker. */
  heartbeatIntervalMs: 1000,
  /** A peer silent this long is taken as failed and its children re-parented. */
  heartbeatTimeoutMs: 3000,
  /** Children of the broadcaster in the tree (each is one full copy of the stream it uploads). */
  rootFanout: 1,
  /** Children of every viewer in the tree (in each stripe's tree of a multi-tree). */
  treeFanout: 2,
  /**
   * Stripes of the tree: 1 is the paper's plain tree; 2 or more makes it a multi-tree in which
   * each viewer feeds one stripe (docs/TOPOLOGIES.md).
   */
  treeStripes: 1,
  /** Above this many buffered bytes a data channel stops being written until it drains. */
  linkHighWaterBytes: 1024 * 1024,
  /** Number of Node peers `npm start` runs. */
  peers: 8,
} as const;
