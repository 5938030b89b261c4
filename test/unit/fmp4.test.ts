import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { concatBytes, equalBytes } from '../../src/common/bytes.js';
import { InvalidStateError, MediaError } from '../../src/common/errors.js';
import { SeededRandom } from '../../src/common/random.js';
import {
  Fmp4Parser,
  MAX_BOX_BYTES,
  type Fmp4Item,
  type FragmentItem,
} from '../../src/broadcaster/fmp4.js';
import { generateFmp4, runFfmpeg } from '../helpers/ffmpeg-fixtures.js';

const FFMPEG_TIMEOUT_MS = 30_000;

/** Parses all of `bytes` fed in pieces of the given sizes (the rest in one piece). */
function parse(bytes: Uint8Array, pieceSizes: readonly number[] = [bytes.byteLength]): Fmp4Item[] {
  const parser = new Fmp4Parser();
  const items: Fmp4Item[] = [];
  let offset = 0;
  for (const size of pieceSizes) {
    items.push(...parser.push(bytes.subarray(offset, offset + size)));
    offset += size;
  }
  items.push(...parser.push(bytes.subarray(offset)));
  parser.end();
  return items;
}

/** Items with their bytes replaced by a digest: vitest compares big typed arrays slowly. */
function summary(items: readonly Fmp4Item[]): unknown[] {
  const digest = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');
  return items.map((item) =>
    item.kind === 'init'
      ? { ...item, init: { ...item.init, bytes: digest(item.init.bytes) } }
      : { ...item, bytes: digest(item.bytes) },
  );
}

function fragmentsOf(items: readonly Fmp4Item[]): FragmentItem[] {
  return items.filter((item): item is FragmentItem => item.kind === 'fragment');
}

function box(type: string, ...payload: Uint8Array[]): Uint8Array {
  const body = concatBytes(payload);
  const out = new Uint8Array(8 + body.byteLength);
  new DataView(out.buffer).setUint32(0, out.byteLength);
  out.set(new TextEncoder().encode(type), 4);
  out.set(body, 8);
  return out;
}

/** Top-level boxes of a stream: [type, offset, size]. */
function topLevelBoxes(bytes: Uint8Array): [string, number, number][] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const boxes: [string, number, number][] = [];
  for (let offset = 0; offset < bytes.byteLength;) {
    const size = view.getUint32(offset);
    boxes.push([new TextDecoder().decode(bytes.subarray(offset + 4, offset + 8)), offset, size]);
    offset += size;
  }
  return boxes;
}

function expectMediaError(action: () => unknown, message: RegExp): void {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(MediaError);
    expect((error as MediaError).code).toBe('malformed-media');
    expect((error as MediaError).message).toMatch(message);
    return;
  }
  expect.fail('expected a MediaError');
}

describe('Fmp4Parser on ffmpeg output (320x240, 30 fps, 0.5 s chunks, 2 s GOP, 4 s)', () => {
  let stream: Uint8Array;
  let items: Fmp4Item[];

  beforeAll(async () => {
    stream = await generateFmp4({ durationMs: 4000 });
    items = parse(stream);
  }, FFMPEG_TIMEOUT_MS);

  it('returns the init segment first, with the tracks and codec strings of the moov', () => {
    const first = items[0];
    expect(first?.kind).toBe('init');
    if (first?.kind !== 'init') return;
    const [video, audio] = first.init.tracks;
    expect(video).toMatchObject({ kind: 'video', width: 320, height: 240 });
    expect(video?.codec).toMatch(/^avc1\.4d[0-9a-f]{4}$/);
    expect(video?.timescale).toBeGreaterThan(0);
    expect(audio).toMatchObject({
      kind: 'audio',
      codec: 'mp4a.40.2',
      sampleRate: 48000,
      channels: 2,
      timescale: 48000,
    });
    expect(topLevelBoxes(first.init.bytes).map(([type]) => type)).toEqual(['ftyp', 'moov']);
  });

  it('returns one fragment per 0.5 s chunk, each a moof+mdat, a keyframe every 4th', () => {
    const fragments = fragmentsOf(items);
    expect(fragments).toHaveLength(8);
    expect(fragments.map((f) => f.startsWithKeyframe)).toEqual([
      true,
      false,
      false,
      false,
      true,
      false,
      false,
      false,
    ]);
    for (const fragment of fragments) {
      expect(topLevelBoxes(fragment.bytes).map(([type]) => type)).toEqual(['moof', 'mdat']);
    }
  });

  it('times fragments from tfdt and trun durations: contiguous, about 0.5 s each, 4 s in all', () => {
    const fragments = fragmentsOf(items);
    for (let i = 1; i < fragments.length; i++) {
      const previous = fragments[i - 1];
      expect(fragments[i]?.startTimeMs).toBeCloseTo(
        (previous?.startTimeMs ?? 0) + (previous?.durationMs ?? 0),
        6,
      );
    }
    for (const fragment of fragments) expect(fragment.durationMs).toBeGreaterThanOrEqual(490);
    for (const fragment of fragments) expect(fragment.durationMs).toBeLessThanOrEqual(540);
    const total = fragments.reduce((sum, f) => sum + f.durationMs, 0);
    expect(total).toBeGreaterThan(3950);
    expect(total).toBeLessThan(4050);
    expect(fragments[0]?.startTimeMs).toBe(0);
    const secondGop = fragments[4];
    expect(secondGop?.startTimeMs).toBeGreaterThanOrEqual(1990);
    expect(secondGop?.startTimeMs).toBeLessThanOrEqual(2040);
  });

  it('returns every input byte exactly once: the outputs concatenated equal the input', () => {
    const outputs = items.map((item) => (item.kind === 'init' ? item.init.bytes : item.bytes));
    expect(equalBytes(concatBytes(outputs), stream)).toBe(true);
  });

  it('gives the same items when fed one byte at a time', () => {
    expect(
      parse(
        stream,
        Array.from({ length: stream.byteLength }, () => 1),
      ),
    ).toEqual(items);
  });

  it('gives the same items whatever the pieces the bytes arrive in', () => {
    const expected = summary(items);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 70_000 }), { maxLength: 12 }), (sizes) => {
        expect(summary(parse(stream, sizes))).toEqual(expected);
      }),
      { numRuns: 25 },
    );
  });

  it('keeps styp/prft boxes before a moof attached to its fragment and skips a trailing mfra', () => {
    const boxes = topLevelBoxes(stream);
    const secondMoof = boxes.filter(([type]) => type === 'moof')[1];
    if (secondMoof === undefined) throw new Error('no second moof');
    const styp = box('styp', new TextEncoder().encode('msdhmsdhmsix'));
    const prft = box('prft', new Uint8Array(16));
    const mfra = box('mfra', box('mfro', new Uint8Array(8)));
    const edited = concatBytes([
      stream.subarray(0, secondMoof[1]),
      styp,
      prft,
      stream.subarray(secondMoof[1]),
      mfra,
    ]);
    const fragments = fragmentsOf(parse(edited));
    expect(fragments).toHaveLength(8);
    expect(topLevelBoxes(fragments[1]?.bytes ?? new Uint8Array()).map(([type]) => type)).toEqual([
      'styp',
      'prft',
      'moof',
      'mdat',
    ]);
    expect(fragments[1]?.startTimeMs).toBe(fragmentsOf(items)[1]?.startTimeMs);
  });

  it('reads a box with a 64-bit largesize', () => {
    const [, mdatOffset, mdatSize] = topLevelBoxes(stream).find(([type]) => type === 'mdat') ?? [];
    if (mdatOffset === undefined || mdatSize === undefined) throw new Error('no mdat');
    const header = new Uint8Array(16);
    const view = new DataView(header.buffer);
    view.setUint32(0, 1);
    header.set(new TextEncoder().encode('mdat'), 4);
    view.setBigUint64(8, BigInt(mdatSize + 8));
    const edited = concatBytes([
      stream.subarray(0, mdatOffset),
      header,
      stream.subarray(mdatOffset + 8),
    ]);
    const fragments = fragmentsOf(parse(edited, [mdatOffset + 3, 7]));
    expect(fragments).toHaveLength(8);
    expect(fragments[0]?.bytes.byteLength).toBe((fragmentsOf(items)[0]?.bytes.byteLength ?? 0) + 8);
  });

  it('rejects a stream truncated anywhere at end()', () => {
    for (const cut of [1, 7, 30, stream.byteLength - 1]) {
      const parser = new Fmp4Parser();
      parser.push(stream.subarray(0, cut));
      expectMediaError(() => {
        parser.end();
      }, /truncated|ended/);
    }
    const [, , moofSize] = topLevelBoxes(stream).find(([type]) => type === 'moof') ?? [];
    const [, moofOffset] = topLevelBoxes(stream).find(([type]) => type === 'moof') ?? [];
    const parser = new Fmp4Parser();
    parser.push(stream.subarray(0, (moofOffset ?? 0) + (moofSize ?? 0)));
    expectMediaError(() => {
      parser.end();
    }, /moof without its mdat/);
  });

  it('rejects an mdat without a moof, a moof without its mdat, and a second moov', () => {
    const boxes = topLevelBoxes(stream);
    const init = items[0]?.kind === 'init' ? items[0].init.bytes : new Uint8Array();
    const [, moofOffset = 0, moofSize = 0] = boxes.find(([type]) => type === 'moof') ?? [];
    const moof = stream.subarray(moofOffset, moofOffset + moofSize);
    const mdat = box('mdat', new Uint8Array(10));
    expectMediaError(() => parse(concatBytes([init, mdat])), /'mdat' without a 'moof'/);
    expectMediaError(() => parse(concatBytes([init, moof, moof])), /'moof' without its 'mdat'/);
    expectMediaError(() => parse(concatBytes([init, init])), /after the init segment/);
  });

  it('rejects a moof before the moov, and a moov whose children overflow it', () => {
    const boxes = topLevelBoxes(stream);
    const [, , ftypSize = 0] = boxes[0] ?? [];
    const [, moofOffset = 0] = boxes.find(([type]) => type === 'moof') ?? [];
    const ftyp = stream.subarray(0, ftypSize);
    expectMediaError(
      () => parse(concatBytes([ftyp, stream.subarray(moofOffset)])),
      /before 'moov'/,
    );
    const corrupt = stream.slice();
    // The first child of moov (mvhd) claims to be larger than moov.
    new DataView(corrupt.buffer).setUint32(ftypSize + 8, 0x00ff_ffff);
    expectMediaError(() => parse(corrupt), /does not fit its parent/);
  });

  it('refuses input after a failure and after end()', () => {
    const parser = new Fmp4Parser();
    expectMediaError(() => parser.push(box('mdat')), /starts with 'mdat'/);
    expectMediaError(() => parser.push(stream), /starts with 'mdat'/);
    const ended = new Fmp4Parser();
    ended.push(stream);
    ended.end();
    expect(() => ended.push(stream)).toThrow(InvalidStateError);
  });
});

describe('Fmp4Parser on malformed input', () => {
  const ftyp = box('ftyp', new TextEncoder().encode('isom\0\0\x02\0isomiso2avc1mp41'));

  it('rejects a stream that does not start with ftyp (mdat first)', () => {
    expectMediaError(
      () => parse(box('mdat', new Uint8Array(100))),
      /starts with 'mdat', not 'ftyp'/,
    );
  });

  it('rejects garbage bytes', () => {
    const random = new SeededRandom(7);
    for (let i = 0; i < 50; i++) {
      const garbage = random.bytes(1 + random.int(4096));
      expectMediaError(() => parse(garbage), /./);
    }
  });

  it('rejects a box size below 8, of 0 (to the end of the stream), or above 64 MiB', () => {
    const header = (size: number, type: string): Uint8Array => {
      const out = new Uint8Array(8);
      new DataView(out.buffer).setUint32(0, size);
      out.set(new TextEncoder().encode(type), 4);
      return out;
    };
    expectMediaError(() => new Fmp4Parser().push(header(4, 'ftyp')), /size 4 is too small/);
    expectMediaError(() => new Fmp4Parser().push(header(0, 'ftyp')), /unbounded size/);
    expectMediaError(
      () => new Fmp4Parser().push(concatBytes([ftyp, header(MAX_BOX_BYTES + 1, 'moov')])),
      /exceeds/,
    );
    const large = new Uint8Array(16);
    const view = new DataView(large.buffer);
    view.setUint32(0, 1);
    large.set(new TextEncoder().encode('moov'), 4);
    view.setBigUint64(8, 2n ** 40n);
    expectMediaError(() => new Fmp4Parser().push(concatBytes([ftyp, large])), /exceeds/);
    view.setBigUint64(8, 12n);
    expectMediaError(() => new Fmp4Parser().push(concatBytes([ftyp, large])), /too small/);
  });

  it('rejects a stream that ends before its init segment', () => {
    expectMediaError(() => parse(new Uint8Array()), /before its init segment/);
    expectMediaError(() => parse(ftyp), /before its init segment/);
  });

  it('rejects a moov without tracks', () => {
    expectMediaError(
      () => parse(concatBytes([ftyp, box('moov', box('mvhd', new Uint8Array(100)))])),
      /no audio or video track/,
    );
  });
});

describe('Fmp4Parser codec strings beyond H.264/AAC', () => {
  const fragmented = ['-f', 'mp4', '-movflags', 'frag_keyframe+empty_moov+default_base_moof'];
  const tinyVideo = ['-f', 'lavfi', '-i', 'testsrc2=size=128x72:rate=10', '-t', '1'];

  it(
    'reads vp09 from vpcC and opus from its sample entry',
    async () => {
      const bytes = await runFfmpeg([
        ...['-hide_banner', '-loglevel', 'error', ...tinyVideo],
        ...['-f', 'lavfi', '-i', 'sine=sample_rate=48000', '-t', '1'],
        ...['-c:v', 'libvpx-vp9', '-deadline', 'realtime', '-cpu-used', '8', '-c:a', 'libopus'],
        ...fragmented,
        'pipe:1',
      ]);
      const [first] = parse(bytes);
      expect(first?.kind === 'init' ? first.init.tracks : []).toMatchObject([
        { kind: 'video', width: 128, height: 72 },
        { kind: 'audio', codec: 'opus', sampleRate: 48000, channels: 1 },
      ]);
      const codec = first?.kind === 'init' ? first.init.tracks[0]?.codec : undefined;
      expect(codec).toMatch(/^vp09\.00\.\d\d\.08$/);
    },
    FFMPEG_TIMEOUT_MS,
  );

  it(
    'reads av01 from av1C',
    async () => {
      const bytes = await runFfmpeg([
        ...['-hide_banner', '-loglevel', 'error', ...tinyVideo],
        ...['-c:v', 'libsvtav1', '-preset', '12', ...fragmented, 'pipe:1'],
      ]);
      const [first] = parse(bytes);
      const codec = first?.kind === 'init' ? first.init.tracks[0]?.codec : undefined;
      expect(codec).toMatch(/^av01\.0\.\d\d[MH]\.08$/);
    },
    FFMPEG_TIMEOUT_MS,
  );
});
