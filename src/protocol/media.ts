/** What the broadcaster learns from ffmpeg's init segment and the origin needs for the MPD. */
export interface TrackInfo {
  readonly id: number;
  readonly kind: 'video' | 'audio';
  /** RFC 6381 codec string, e.g. `avc1.64001f` or `mp4a.40.2`. */
  readonly codec: string;
  /** Ticks per second of the track's media time. */
  readonly timescale: number;
  readonly width?: number;
  readonly height?: number;
  readonly sampleRate?: number;
  readonly channels?: number;
}

/** The fMP4 initialisation segment (ftyp+moov) and what it says about the tracks. */
export interface InitSegment {
  readonly bytes: Uint8Array;
  readonly tracks: readonly TrackInfo[];
}
