import { describe, expect, it } from 'vitest';
import {
  MPD_DEFAULTS,
  availabilityStartTimeMs,
  buildMpd,
  isoDuration,
  type MpdInput,
} from '../../src/origin/mpd.js';
import { FAKE_INIT, SEGMENT_MS, CHUNK_MS, ZERO_TIME_MS } from '../helpers/origin-fixtures.js';

interface XmlElement {
  readonly name: string;
  readonly attributes: Record<string, string>;
  readonly children: XmlElement[];
}

/** A tiny XML parser for the MPD (elements and attributes; no text, no comments). */
function parseXml(text: string): XmlElement {
  const body = text.replace(/^<\?xml[^>]*\?>\s*/, '');
  const root: XmlElement = { name: '#document', attributes: {}, children: [] };
  const stack: XmlElement[] = [root];
  const tag = /<(\/?)([A-Za-z][\w:.-]*)((?:\s+[\w:.-]+="[^"]*")*)\s*(\/?)>/gy;
  let position = 0;
  for (;;) {
    while (/\s/.test(body[position] ?? '')) position++;
    if (position >= body.length) break;
    tag.lastIndex = position;
    const match = tag.exec(body);
    if (match === null)
      throw new Error(`not XML at ${position}: ${body.slice(position, position + 40)}`);
    position = tag.lastIndex;
    const [, closing, name = '', attributeText = '', selfClosing] = match;
    if (closing === '/') {
      if (stack.pop()?.name !== name) throw new Error(`mismatched </${name}>`);
      continue;
    }
    const attributes: Record<string, string> = {};
    for (const [, key = '', value = ''] of attributeText.matchAll(/([\w:.-]+)="([^"]*)"/g)) {
      attributes[key] = value
        .replace(/&quot;/g, '"')
        .replace(/&lt;/g, '<')
        .replace(/&gt;/g, '>')
        .replace(/&amp;/g, '&');
    }
    const element: XmlElement = { name, attributes, children: [] };
    stack.at(-1)?.children.push(element);
    if (selfClosing !== '/') stack.push(element);
  }
  if (stack.length !== 1) throw new Error('unclosed elements');
  const [document] = root.children;
  if (document === undefined || root.children.length !== 1) throw new Error('not one root element');
  return document;
}

function child(element: XmlElement | undefined, name: string): XmlElement {
  const found = element?.children.find((c) => c.name === name);
  if (found === undefined) throw new Error(`no <${name}> in <${element?.name ?? '?'}>`);
  return found;
}

const INPUT: MpdInput = {
  description: {
    stream: 'live',
    publicKey: 'A'.repeat(43),
    chunkDurationMs: CHUNK_MS,
    segmentDurationMs: SEGMENT_MS,
  },
  init: FAKE_INIT,
  mediaZeroTimeMs: ZERO_TIME_MS,
  windowMs: 60_000,
  bandwidthBps: 812_345.6,
  nowMs: ZERO_TIME_MS + 30_000,
  timeUrl: '../../time',
};

describe('buildMpd()', () => {
  it('buildMpd() writes a dynamic isoff-live MPD with the live timing attributes', () => {
    const mpd = parseXml(buildMpd(INPUT));
    expect(mpd.name).toBe('MPD');
    expect(mpd.attributes).toEqual({
      xmlns: 'urn:mpeg:dash:schema:mpd:2011',
      profiles: 'urn:mpeg:dash:profile:isoff-live:2011',
      type: 'dynamic',
      availabilityStartTime: new Date(
        ZERO_TIME_MS + MPD_DEFAULTS.availabilityMarginMs,
      ).toISOString(),
      publishTime: new Date(ZERO_TIME_MS + 30_000).toISOString(),
      minimumUpdatePeriod: 'PT2S',
      timeShiftBufferDepth: 'PT60S',
      suggestedPresentationDelay: `PT${(MPD_DEFAULTS.presentationDelaySegments * SEGMENT_MS) / 1000}S`,
      minBufferTime: 'PT2S',
    });
  });

  it('buildMpd() describes one period with a $Number$ template and one muxed representation', () => {
    const mpd = parseXml(buildMpd(INPUT));
    const period = child(mpd, 'Period');
    expect(period.attributes).toEqual({ id: '0', start: 'PT0S' });
    const set = child(period, 'AdaptationSet');
    expect(set.attributes).toMatchObject({
      contentType: 'video',
      mimeType: 'video/mp4',
      startWithSAP: '1',
    });
    expect(child(set, 'SegmentTemplate').attributes).toEqual({
      timescale: '1000',
      duration: '2000',
      startNumber: '0',
      media: '$Number$.m4s',
      initialization: 'init.mp4',
    });
    expect(child(set, 'Representation').attributes).toEqual({
      id: '0',
      codecs: 'avc1.64001e,mp4a.40.2',
      bandwidth: '812346',
      width: '640',
      height: '360',
      audioSamplingRate: '48000',
    });
  });

  it('buildMpd() points UTCTiming (http-iso) at the time URL, after the Period', () => {
    const mpd = parseXml(buildMpd({ ...INPUT, timeUrl: 'http://127.0.0.1:1/time?a=1&b=2' }));
    expect(mpd.children.map((c) => c.name)).toEqual(['Period', 'UTCTiming']);
    expect(child(mpd, 'UTCTiming').attributes).toEqual({
      schemeIdUri: 'urn:mpeg:dash:utc:http-iso:2014',
      value: 'http://127.0.0.1:1/time?a=1&b=2',
    });
  });

  it('buildMpd() takes its tuning from the options', () => {
    const options = {
      availabilityMarginMs: 0,
      suggestedPresentationDelayMs: 3500,
      minBufferTimeMs: 1000,
      minimumUpdatePeriodMs: 10_000,
    };
    const mpd = parseXml(buildMpd(INPUT, options));
    expect(mpd.attributes).toMatchObject({
      availabilityStartTime: new Date(ZERO_TIME_MS).toISOString(),
      suggestedPresentationDelay: 'PT3.5S',
      minBufferTime: 'PT1S',
      minimumUpdatePeriod: 'PT10S',
    });
    expect(availabilityStartTimeMs(ZERO_TIME_MS, options)).toBe(ZERO_TIME_MS);
  });

  it('buildMpd() writes an audio-only stream as an audio adaptation set', () => {
    const audioOnly = { ...FAKE_INIT, tracks: FAKE_INIT.tracks.filter((t) => t.kind === 'audio') };
    const set = child(
      child(parseXml(buildMpd({ ...INPUT, init: audioOnly })), 'Period'),
      'AdaptationSet',
    );
    expect(set.attributes).toMatchObject({ contentType: 'audio', mimeType: 'audio/mp4' });
    expect(child(set, 'Representation').attributes).toEqual({
      id: '0',
      codecs: 'mp4a.40.2',
      bandwidth: '812346',
      audioSamplingRate: '48000',
    });
  });
});

describe('isoDuration()', () => {
  it('isoDuration() writes seconds with up to millisecond precision', () => {
    expect(isoDuration(0)).toBe('PT0S');
    expect(isoDuration(500)).toBe('PT0.5S');
    expect(isoDuration(60_000)).toBe('PT60S');
    expect(isoDuration(1234.4)).toBe('PT1.234S');
    expect(() => isoDuration(-1)).toThrow(TypeError);
  });
});
