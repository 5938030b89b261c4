/** Stable machine-readable codes for every failure swarmcast reports. */
export type ErrorCode =
  | 'invalid-argument'
  | 'invalid-state'
  | 'malformed-message'
  | 'message-too-large'
  | 'unknown-message-type'
  | 'unsupported-version'
  | 'out-of-order'
  | 'unknown-peer'
  | 'unknown-stream'
  | 'rate-limited'
  | 'malformed-frame'
  | 'malformed-media'
  | 'verification-failed'
  | 'origin-unavailable'
  | 'ffmpeg-failed'
  | 'unauthorized';

/** Base class: every error swarmcast throws on purpose carries a stable `code`. */
export class SwarmcastError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A message or frame from the wire that the codec cannot accept. */
export class ProtocolError extends SwarmcastError {}

/** Media (fMP4) that the parser cannot accept. */
export class MediaError extends SwarmcastError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('malformed-media', message, options);
  }
}

/** A chunk whose digest or signature does not match. */
export class VerificationError extends SwarmcastError {
  constructor(message: string) {
    super('verification-failed', message);
  }
}

/** A call made after `close()` or before `start()`. */
export class InvalidStateError extends SwarmcastError {
  constructor(message: string) {
    super('invalid-state', message);
  }
}

/** Text of any thrown value, for logs and error replies. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
