export {
  Broadcaster,
  DEFAULT_STALL_TIMEOUT_MS,
  DEFAULT_STARTUP_TIMEOUT_MS,
  KILL_GRACE_MS,
  STDERR_TAIL_LINES,
  type BroadcasterComponents,
  type BroadcasterEndReason,
  type BroadcasterEvents,
  type BroadcasterOptions,
  type BroadcasterStats,
} from './broadcaster.js';
export {
  SYNTHETIC_SOURCE,
  buildFfmpegArgs,
  findFfmpeg,
  resolveEncodingOptions,
  type EncodingOptions,
  type FfmpegArgsOptions,
  type FfmpegInfo,
} from './ffmpeg.js';
export {
  Fmp4Parser,
  MAX_BOX_BYTES,
  type Fmp4Item,
  type FragmentItem,
  type InitItem,
} from './fmp4.js';
