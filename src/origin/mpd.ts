/**
 * The live DASH manifest (ISO/IEC 23009-1, isoff-live profile) for one stream: one Period, one
 * AdaptationSet with a `$Number$` SegmentTemplate, one Representation carrying every track of the
 * muxed fMP4 (video and audio share the segments, as the broadcaster cuts them).
 */
import type { InitSegment } from '../protocol/media.js';
import type { StreamDescription } from './store.js';

/** Defaults of `MpdOptions` (DEFAULTS has no manifest entries yet). */
export const MPD_DEFAULTS = {
  /**
   * Added to the capture time of media time 0 to form availabilityStartTime. A segment is
   * complete on the origin once its last chunk is encoded, cut, signed and stored: measured
   * 30-50 ms after its nominal end with in-process ingest (640x360, test/e2e/dashjs.test.ts) and
   * 40-60 ms with HTTP ingest on loopback (1280x720). dash.js asks for a segment the moment the
   * MPD makes it available, so the margin also absorbs CPU contention; with -400 ms the e2e test
   * sees a 404 for every segment.
   */
  availabilityMarginMs: 500,
  /** How far behind the live edge players start, in segments (dash.js reads it). */
  presentationDelaySegments: 2,
} as const;

export interface MpdOptions {
  /**
   * Delay between capturing media and declaring it available, so that a player never asks for a
   * segment still on its way to the origin.
   * @default MPD_DEFAULTS.availabilityMarginMs
   */
  readonly availabilityMarginMs?: number;
  /**
   * suggestedPresentationDelay: how far behind the live edge players should play.
   * @default MPD_DEFAULTS.presentationDelaySegments × the segment duration
   */
  readonly suggestedPresentationDelayMs?: number;
  /**
   * minBufferTime.
   * @default the segment duration
   */
  readonly minBufferTimeMs?: number;
  /**
   * minimumUpdatePeriod: how often players reload the manifest.
   * @default the segment duration
   */
  readonly minimumUpdatePeriodMs?: number;
}

/** What the manifest is made of. */
export interface MpdInput {
  readonly description: StreamDescription;
  readonly init: InitSegment;
  /** Wall-clock time (epoch ms) at which media time 0 was captured. */
  readonly mediaZeroTimeMs: number;
  /** The origin's window: timeShiftBufferDepth. */
  readonly windowMs: number;
  /** Representation bandwidth, bits per second. */
  readonly bandwidthBps: number;
  /** publishTime, epoch ms. */
  readonly nowMs: number;
  /** Absolute URL of the origin's `/time` endpoint (UTCTiming, http-iso). */
  readonly timeUrl: string;
}

/** The MPD's availabilityStartTime, epoch ms. */
export function availabilityStartTimeMs(mediaZeroTimeMs: number, options: MpdOptions = {}): number {
  return Math.round(
    mediaZeroTimeMs + (options.availabilityMarginMs ?? MPD_DEFAULTS.availabilityMarginMs),
  );
}

/** Builds the dynamic MPD document (UTF-8 XML text). */
export function buildMpd(input: MpdInput, options: MpdOptions = {}): string {
  const { description, init } = input;
  const segmentMs = description.segmentDurationMs;
  const video = init.tracks.find((track) => track.kind === 'video');
  const audio = init.tracks.find((track) => track.kind === 'audio');
  const contentType = video === undefined ? 'audio' : 'video';
  const codecs = init.tracks.map((track) => track.codec).join(',');
  const mpd = attributes({
    xmlns: 'urn:mpeg:dash:schema:mpd:2011',
    profiles: 'urn:mpeg:dash:profile:isoff-live:2011',
    type: 'dynamic',
    availabilityStartTime: isoTime(availabilityStartTimeMs(input.mediaZeroTimeMs, options)),
    publishTime: isoTime(input.nowMs),
    minimumUpdatePeriod: isoDuration(options.minimumUpdatePeriodMs ?? segmentMs),
    timeShiftBufferDepth: isoDuration(input.windowMs),
    suggestedPresentationDelay: isoDuration(
      options.suggestedPresentationDelayMs ?? MPD_DEFAULTS.presentationDelaySegments * segmentMs,
    ),
    minBufferTime: isoDuration(options.minBufferTimeMs ?? segmentMs),
  });
  const adaptationSet = attributes({
    id: '0',
    contentType,
    mimeType: `${contentType}/mp4`,
    segmentAlignment: 'true',
    startWithSAP: '1',
  });
  const template = attributes({
    timescale: '1000',
    duration: String(segmentMs),
    startNumber: '0',
    media: '$Number$.m4s',
    initialization: 'init.mp4',
  });
  const representation = attributes({
    id: '0',
    codecs,
    bandwidth: String(Math.max(1, Math.round(input.bandwidthBps))),
    width: video?.width === undefined ? undefined : String(video.width),
    height: video?.height === undefined ? undefined : String(video.height),
    audioSamplingRate: audio?.sampleRate === undefined ? undefined : String(audio.sampleRate),
  });
  const timing = attributes({
    schemeIdUri: 'urn:mpeg:dash:utc:http-iso:2014',
    value: input.timeUrl,
  });
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<MPD${mpd}>`,
    '  <Period id="0" start="PT0S">',
    `    <AdaptationSet${adaptationSet}>`,
    `      <SegmentTemplate${template}/>`,
    `      <Representation${representation}/>`,
    '    </AdaptationSet>',
    '  </Period>',
    `  <UTCTiming${timing}/>`,
    '</MPD>',
    '',
  ].join('\n');
}

/** `xs:duration` of a number of milliseconds, e.g. `PT2S`, `PT0.5S`, `PT60S`. */
export function isoDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) throw new TypeError(`not a duration: ${ms} ms`);
  return `PT${String(Math.round(ms) / 1000)}S`;
}

function isoTime(epochMs: number): string {
  return new Date(epochMs).toISOString();
}

function attributes(values: Record<string, string | undefined>): string {
  let out = '';
  for (const [name, value] of Object.entries(values)) {
    if (value !== undefined) out += ` ${name}="${escapeXml(value)}"`;
  }
  return out;
}

function escapeXml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}
