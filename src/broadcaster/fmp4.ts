/**
 * An incremental parser for fragmented MP4 (ISO BMFF) as ffmpeg writes it to a pipe:
 * `ftyp` `moov` then (`moof` `mdat`)*, possibly with `styp`/`sidx`/`prft` boxes before each
 * `moof`. It reads only what swarmcast needs — the tracks of the init segment and the timing and
 * keyframe flag of each fragment — and keeps at most one init segment or one fragment in memory.
 */
import { concatBytes } from '../common/bytes.js';
import { InvalidStateError, MediaError } from '../common/errors.js';
import type { InitSegment, TrackInfo } from '../protocol/media.js';

/** Largest box, init segment or fragment the parser accepts (64 MiB). */
export const MAX_BOX_BYTES = 64 * 1024 * 1024;

/** The init segment: `ftyp` through `moov`, verbatim. */
export interface InitItem {
  readonly kind: 'init';
  readonly init: InitSegment;
}

/** One `moof`+`mdat` pair, with the boxes that preceded the `moof` (styp, sidx, prft…). */
export interface FragmentItem {
  readonly kind: 'fragment';
  readonly bytes: Uint8Array;
  /** The timing track's first sample is a sync sample (a keyframe for video). */
  readonly startsWithKeyframe: boolean;
  /** The timing track's `tfdt` base media decode time, in milliseconds. */
  readonly startTimeMs: number;
  /** Sum of the timing track's sample durations in this fragment, in milliseconds. */
  readonly durationMs: number;
}

export type Fmp4Item = InitItem | FragmentItem;

/** Sample flags (ISO/IEC 14496-12 §8.8.3.1): `sample_is_non_sync_sample`. */
const SAMPLE_IS_NON_SYNC = 0x0001_0000;
/** `sample_depends_on` = 1: the sample depends on others (not an I picture). */
const SAMPLE_DEPENDS_ON_OTHERS = 1;

/** tfhd flags. */
const TFHD_BASE_DATA_OFFSET = 0x01;
const TFHD_SAMPLE_DESCRIPTION_INDEX = 0x02;
const TFHD_DEFAULT_SAMPLE_DURATION = 0x08;
const TFHD_DEFAULT_SAMPLE_SIZE = 0x10;
const TFHD_DEFAULT_SAMPLE_FLAGS = 0x20;

/** trun flags. */
const TRUN_DATA_OFFSET = 0x001;
const TRUN_FIRST_SAMPLE_FLAGS = 0x004;
const TRUN_SAMPLE_DURATION = 0x100;
const TRUN_SAMPLE_SIZE = 0x200;
const TRUN_SAMPLE_FLAGS = 0x400;
const TRUN_SAMPLE_COMPOSITION_TIME_OFFSET = 0x800;

/** Top-level boxes that carry nothing a live fragmented stream needs after it ends. */
const IGNORED_TOP_LEVEL = new Set(['mfra']);

interface TrackDefaults {
  readonly sampleDurationTicks: number;
  readonly sampleFlags: number;
}

/** The track whose samples time the fragments, with its `trex` defaults. */
interface TimingTrack {
  readonly track: TrackInfo;
  readonly defaults: TrackDefaults;
}

interface FragmentTiming {
  readonly startsWithKeyframe: boolean;
  readonly startTicks: number;
  readonly durationTicks: number;
}

/**
 * Feed bytes with `push()` in pieces of any size; each call returns the items completed by those
 * bytes, in stream order: the init segment first, then one item per fragment. Call `end()` when
 * the stream is over: it throws if a box, the init segment or a fragment is incomplete. Any
 * malformed input throws `MediaError`, after which the parser refuses further input.
 *
 * Timing comes from the timing track: the first video track, or the first track when there is no
 * video. A top-level `mfra` (the trailer of a finished file) is skipped.
 */
export class Fmp4Parser {
  /** Header bytes of the box being read (8, or 16 with a 64-bit size). */
  readonly #header = new Uint8Array(16);
  #headerLength = 0;
  /** The box being read, header included, once its size is known. */
  #box: Uint8Array | undefined;
  #boxType = '';
  #boxFilled = 0;

  /** Boxes of the init segment or of the fragment being assembled. */
  #parts: Uint8Array[] = [];
  #partsBytes = 0;
  #initDone = false;
  #timing: TimingTrack | undefined;
  /** Timing of the `moof` waiting for its `mdat`. */
  #pendingMoof: FragmentTiming | undefined;
  /** Where the next fragment starts when its `moof` has no traf for the timing track. */
  #nextStartTicks = 0;
  #failure: MediaError | undefined;
  #ended = false;

  push(bytes: Uint8Array): Fmp4Item[] {
    if (this.#ended) throw new InvalidStateError('Fmp4Parser.push() after end()');
    if (this.#failure !== undefined) throw this.#failure;
    const items: Fmp4Item[] = [];
    try {
      let offset = 0;
      while (offset < bytes.byteLength) {
        offset = this.#box === undefined ? this.#readHeader(bytes, offset) : offset;
        if (this.#box !== undefined) offset = this.#readBody(bytes, offset, items);
      }
    } catch (error) {
      if (error instanceof MediaError) this.#failure = error;
      throw error;
    }
    return items;
  }

  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    if (this.#failure !== undefined) throw this.#failure;
    if (this.#headerLength > 0 || this.#box !== undefined) {
      const type = this.#box === undefined ? 'box header' : `'${this.#boxType}' box`;
      throw new MediaError(`stream truncated inside a ${type}`);
    }
    if (!this.#initDone) throw new MediaError('stream ended before its init segment');
    if (this.#pendingMoof !== undefined) {
      throw new MediaError('stream ended after a moof without its mdat');
    }
    if (this.#parts.length > 0) {
      throw new MediaError('stream ended with boxes but no fragment after them');
    }
  }

  /** Collects header bytes; once complete, validates the box and allocates it. */
  #readHeader(bytes: Uint8Array, offset: number): number {
    const wanted = this.#headerLength < 8 ? 8 : 16;
    const taken = Math.min(wanted - this.#headerLength, bytes.byteLength - offset);
    this.#header.set(bytes.subarray(offset, offset + taken), this.#headerLength);
    this.#headerLength += taken;
    if (this.#headerLength < 8) return offset + taken;
    const view = new DataView(this.#header.buffer);
    const size32 = view.getUint32(0);
    const type = fourcc(this.#header, 4);
    if (size32 === 1 && this.#headerLength < 16) return offset + taken;
    const headerBytes = size32 === 1 ? 16 : 8;
    const size = size32 === 1 ? Number(view.getBigUint64(8)) : size32;
    if (size32 === 0) {
      throw new MediaError(`'${printable(type)}' box of unbounded size in a stream`);
    }
    if (size < headerBytes) {
      throw new MediaError(`'${printable(type)}' box size ${size} is too small`);
    }
    if (size > MAX_BOX_BYTES) {
      throw new MediaError(`'${printable(type)}' box size ${size} exceeds ${MAX_BOX_BYTES}`);
    }
    this.#checkOrder(type, size);
    this.#box = new Uint8Array(size);
    this.#box.set(this.#header.subarray(0, headerBytes));
    this.#boxType = type;
    this.#boxFilled = headerBytes;
    this.#headerLength = 0;
    return offset + taken;
  }

  #readBody(bytes: Uint8Array, offset: number, items: Fmp4Item[]): number {
    const box = this.#box;
    if (box === undefined) return offset;
    const taken = Math.min(box.byteLength - this.#boxFilled, bytes.byteLength - offset);
    box.set(bytes.subarray(offset, offset + taken), this.#boxFilled);
    this.#boxFilled += taken;
    if (this.#boxFilled === box.byteLength) {
      this.#box = undefined;
      const item = this.#completeBox(this.#boxType, box);
      if (item !== undefined) items.push(item);
    }
    return offset + taken;
  }

  /** Rejects a box that cannot come next, from its header alone. */
  #checkOrder(type: string, size: number): void {
    if (!this.#initDone) {
      if (this.#parts.length === 0 && type !== 'ftyp') {
        throw new MediaError(`stream starts with '${printable(type)}', not 'ftyp'`);
      }
      if (type === 'moof' || type === 'mdat') throw new MediaError(`'${type}' before 'moov'`);
      if (type === 'ftyp' && this.#parts.length > 0) {
        throw new MediaError(`a second 'ftyp' before 'moov'`);
      }
    } else {
      if (type === 'ftyp' || type === 'moov') {
        throw new MediaError(`'${type}' after the init segment`);
      }
      if (type === 'mdat' && this.#pendingMoof === undefined) {
        throw new MediaError(`'mdat' without a 'moof'`);
      }
      if (type === 'moof' && this.#pendingMoof !== undefined) {
        throw new MediaError(`'moof' without its 'mdat'`);
      }
    }
    if (!IGNORED_TOP_LEVEL.has(type) && this.#partsBytes + size > MAX_BOX_BYTES) {
      throw new MediaError(`init segment or fragment larger than ${MAX_BOX_BYTES} bytes`);
    }
  }

  #completeBox(type: string, box: Uint8Array): Fmp4Item | undefined {
    if (IGNORED_TOP_LEVEL.has(type)) return undefined;
    this.#parts.push(box);
    this.#partsBytes += box.byteLength;
    if (!this.#initDone) {
      if (type !== 'moov') return undefined;
      const { tracks, defaults } = parseMoov(box);
      const track = tracks.find((t) => t.kind === 'video') ?? tracks[0];
      this.#initDone = true;
      this.#timing = track && {
        track,
        defaults: defaults.get(track.id) ?? { sampleDurationTicks: 0, sampleFlags: 0 },
      };
      return { kind: 'init', init: { bytes: this.#takeParts(), tracks } };
    }
    if (type === 'moof') {
      this.#pendingMoof = this.#parseMoof(box);
      return undefined;
    }
    const timing = this.#pendingMoof;
    if (type !== 'mdat' || timing === undefined) return undefined;
    this.#pendingMoof = undefined;
    const timescale = this.#timing?.track.timescale ?? 1;
    this.#nextStartTicks = timing.startTicks + timing.durationTicks;
    return {
      kind: 'fragment',
      bytes: this.#takeParts(),
      startsWithKeyframe: timing.startsWithKeyframe,
      startTimeMs: (timing.startTicks * 1000) / timescale,
      durationMs: (timing.durationTicks * 1000) / timescale,
    };
  }

  #takeParts(): Uint8Array {
    const bytes =
      this.#parts.length === 1 && this.#parts[0] !== undefined
        ? this.#parts[0]
        : concatBytes(this.#parts);
    this.#parts = [];
    this.#partsBytes = 0;
    return bytes;
  }

  #parseMoof(moof: Uint8Array): FragmentTiming {
    const track = this.#timing;
    for (const traf of children(moof, 8, moof.byteLength)) {
      if (traf.type !== 'traf' || track === undefined) continue;
      const timing = parseTraf(moof, traf, track);
      if (timing !== undefined) return timing;
    }
    return { startsWithKeyframe: false, startTicks: this.#nextStartTicks, durationTicks: 0 };
  }
}

interface BoxRef {
  readonly type: string;
  /** Offset of the box header in the buffer. */
  readonly start: number;
  /** Offset of the payload (after the header). */
  readonly payload: number;
  /** Offset just past the box. */
  readonly end: number;
}

/** The boxes between `start` and `end` of `bytes`; throws MediaError on a bad size. */
function* children(bytes: Uint8Array, start: number, end: number): Generator<BoxRef> {
  const view = viewOf(bytes);
  let offset = start;
  while (offset < end) {
    if (end - offset < 8) throw new MediaError('box header truncated');
    const size32 = view.getUint32(offset);
    const type = fourcc(bytes, offset + 4);
    let headerBytes = 8;
    let size = size32;
    if (size32 === 1) {
      if (end - offset < 16) throw new MediaError(`'${printable(type)}' box header truncated`);
      headerBytes = 16;
      size = Number(view.getBigUint64(offset + 8));
    } else if (size32 === 0) {
      size = end - offset;
    }
    if (size < headerBytes || offset + size > end) {
      throw new MediaError(`'${printable(type)}' box size ${size} does not fit its parent`);
    }
    yield { type, start: offset, payload: offset + headerBytes, end: offset + size };
    offset += size;
  }
}

function child(bytes: Uint8Array, parent: BoxRef, type: string, skip = 0): BoxRef | undefined {
  for (const box of children(bytes, parent.payload + skip, parent.end))
    if (box.type === type) return box;
  return undefined;
}

function requireChild(bytes: Uint8Array, parent: BoxRef, type: string, skip = 0): BoxRef {
  const box = child(bytes, parent, type, skip);
  if (box === undefined) throw new MediaError(`'${parent.type}' has no '${type}'`);
  return box;
}

/** Bounds-checked big-endian reads inside one box. */
class Reader {
  readonly #view: DataView;
  readonly #end: number;
  readonly #boxType: string;
  offset: number;

  constructor(bytes: Uint8Array, box: BoxRef) {
    this.#view = viewOf(bytes);
    this.#end = box.end;
    this.#boxType = box.type;
    this.offset = box.payload;
  }

  #need(length: number): number {
    const at = this.offset;
    if (at + length > this.#end) throw new MediaError(`'${this.#boxType}' box truncated`);
    this.offset += length;
    return at;
  }

  u8(): number {
    return this.#view.getUint8(this.#need(1));
  }
  u16(): number {
    return this.#view.getUint16(this.#need(2));
  }
  u32(): number {
    return this.#view.getUint32(this.#need(4));
  }
  u64(): number {
    return Number(this.#view.getBigUint64(this.#need(8)));
  }
  remaining(): number {
    return this.#end - this.offset;
  }
  skip(length: number): void {
    this.#need(length);
  }
  /** version (8 bits) and flags (24 bits) of a full box. */
  fullBox(): { version: number; flags: number } {
    const word = this.u32();
    return { version: word >>> 24, flags: word & 0xff_ffff };
  }
}

function parseMoov(bytes: Uint8Array): {
  tracks: TrackInfo[];
  defaults: Map<number, TrackDefaults>;
} {
  const moov = { type: 'moov', start: 0, payload: 8, end: bytes.byteLength };
  const defaults = new Map<number, TrackDefaults>();
  const mvex = child(bytes, moov, 'mvex');
  if (mvex !== undefined) {
    for (const trex of children(bytes, mvex.payload, mvex.end)) {
      if (trex.type !== 'trex') continue;
      const r = new Reader(bytes, trex);
      r.fullBox();
      const trackId = r.u32();
      r.skip(4); // default_sample_description_index
      const sampleDurationTicks = r.u32();
      r.skip(4); // default_sample_size
      defaults.set(trackId, { sampleDurationTicks, sampleFlags: r.u32() });
    }
  }
  const tracks: TrackInfo[] = [];
  for (const trak of children(bytes, moov.payload, moov.end)) {
    if (trak.type !== 'trak') continue;
    const track = parseTrak(bytes, trak);
    if (track !== undefined) tracks.push(track);
  }
  if (tracks.length === 0) throw new MediaError('moov has no audio or video track');
  return { tracks, defaults };
}

function parseTrak(bytes: Uint8Array, trak: BoxRef): TrackInfo | undefined {
  const tkhd = new Reader(bytes, requireChild(bytes, trak, 'tkhd'));
  const tkhdVersion = tkhd.fullBox().version;
  tkhd.skip(tkhdVersion === 1 ? 16 : 8); // creation and modification times
  const id = tkhd.u32();
  // reserved, duration, reserved, layer, alternate_group, volume, reserved, matrix
  tkhd.skip(4 + (tkhdVersion === 1 ? 8 : 4) + 8 + 2 + 2 + 2 + 2 + 36);
  const tkhdWidth = tkhd.u32() >>> 16;
  const tkhdHeight = tkhd.u32() >>> 16;

  const mdia = requireChild(bytes, trak, 'mdia');
  const mdhd = new Reader(bytes, requireChild(bytes, mdia, 'mdhd'));
  mdhd.skip(mdhd.fullBox().version === 1 ? 16 : 8);
  const timescale = mdhd.u32();
  if (timescale === 0) throw new MediaError(`track ${id} has timescale 0`);
  const hdlr = new Reader(bytes, requireChild(bytes, mdia, 'hdlr'));
  hdlr.fullBox();
  hdlr.skip(4); // pre_defined
  const handler = fourcc(bytes, hdlr.offset);
  if (handler !== 'vide' && handler !== 'soun') return undefined;

  const stbl = requireChild(bytes, requireChild(bytes, mdia, 'minf'), 'stbl');
  const stsd = requireChild(bytes, stbl, 'stsd');
  // The first sample entry follows version, flags and entry_count.
  const entry = children(bytes, stsd.payload + 8, stsd.end).next();
  if (entry.done === true) throw new MediaError(`track ${id} has no sample entry`);
  if (handler === 'vide') {
    const { codec, width, height } = parseVisualEntry(bytes, entry.value);
    return {
      id,
      kind: 'video',
      codec,
      timescale,
      width: width || tkhdWidth,
      height: height || tkhdHeight,
    };
  }
  return { id, kind: 'audio', timescale, ...parseAudioEntry(bytes, entry.value, timescale) };
}

/** VisualSampleEntry: 8 bytes SampleEntry, 70 bytes of fields, then child boxes. */
const VISUAL_ENTRY_FIELDS_BYTES = 8 + 70;
/** AudioSampleEntry (version 0): 8 bytes SampleEntry, 20 bytes of fields, then child boxes. */
const AUDIO_ENTRY_FIELDS_BYTES = 8 + 20;

function parseVisualEntry(
  bytes: Uint8Array,
  entry: BoxRef,
): { codec: string; width: number; height: number } {
  const r = new Reader(bytes, entry);
  r.skip(8 + 16);
  const width = r.u16();
  const height = r.u16();
  const config = (type: string): Reader =>
    new Reader(bytes, requireChild(bytes, entry, type, VISUAL_ENTRY_FIELDS_BYTES));
  switch (entry.type) {
    case 'avc1':
    case 'avc3': {
      const avcC = config('avcC');
      avcC.skip(1); // configurationVersion
      const profileLevel = [avcC.u8(), avcC.u8(), avcC.u8()].map((b) =>
        b.toString(16).padStart(2, '0'),
      );
      return { codec: `${entry.type}.${profileLevel.join('')}`, width, height };
    }
    case 'vp09': {
      const vpcC = config('vpcC');
      vpcC.fullBox();
      const profile = vpcC.u8();
      const level = vpcC.u8();
      const bitDepth = vpcC.u8() >>> 4;
      return {
        codec: `vp09.${twoDigits(profile)}.${twoDigits(level)}.${twoDigits(bitDepth)}`,
        width,
        height,
      };
    }
    case 'av01': {
      const av1C = config('av1C');
      if (av1C.remaining() === 0) {
        throw new MediaError(`empty 'av1C' (the encoder gave no sequence header): no codec string`);
      }
      av1C.skip(1); // marker and version
      const profileLevel = av1C.u8();
      const flags = av1C.u8();
      const tier = (flags & 0x80) !== 0 ? 'H' : 'M';
      const bitDepth = (flags & 0x40) === 0 ? 8 : (flags & 0x20) !== 0 ? 12 : 10;
      const codec = `av01.${profileLevel >>> 5}.${twoDigits(profileLevel & 0x1f)}${tier}.${twoDigits(bitDepth)}`;
      return { codec, width, height };
    }
    default:
      throw new MediaError(`unsupported video sample entry '${printable(entry.type)}'`);
  }
}

function parseAudioEntry(
  bytes: Uint8Array,
  entry: BoxRef,
  timescale: number,
): { codec: string; sampleRate: number; channels: number } {
  const r = new Reader(bytes, entry);
  r.skip(8 + 8);
  const channels = r.u16();
  r.skip(2 + 2 + 2); // samplesize, pre_defined, reserved
  const sampleRate = r.u32() >>> 16 || timescale;
  switch (entry.type) {
    case 'mp4a': {
      const esds = requireChild(bytes, entry, 'esds', AUDIO_ENTRY_FIELDS_BYTES);
      return { codec: mp4aCodec(bytes, esds), sampleRate, channels };
    }
    case 'Opus':
      return { codec: 'opus', sampleRate, channels };
    default:
      throw new MediaError(`unsupported audio sample entry '${printable(entry.type)}'`);
  }
}

/** `mp4a.40.<audio object type>` for AAC, `mp4a.<object type indication>` otherwise (RFC 6381). */
function mp4aCodec(bytes: Uint8Array, esds: BoxRef): string {
  const r = new Reader(bytes, esds);
  r.fullBox();
  const descriptor = (): { tag: number; end: number } => {
    const tag = r.u8();
    let size = 0;
    for (let i = 0; i < 4; i++) {
      const b = r.u8();
      size = (size << 7) | (b & 0x7f);
      if ((b & 0x80) === 0) break;
    }
    return { tag, end: r.offset + size };
  };
  const es = descriptor();
  if (es.tag !== 0x03) throw new MediaError('esds does not start with an ES_Descriptor');
  r.skip(2); // ES_ID
  const esFlags = r.u8();
  if ((esFlags & 0x80) !== 0) r.skip(2); // dependsOn_ES_ID
  if ((esFlags & 0x40) !== 0) r.skip(r.u8()); // URL
  if ((esFlags & 0x20) !== 0) r.skip(2); // OCR_ES_Id
  const config = descriptor();
  if (config.tag !== 0x04) throw new MediaError('esds has no DecoderConfigDescriptor');
  const objectType = r.u8();
  if (objectType !== 0x40) return `mp4a.${objectType.toString(16)}`;
  r.skip(12); // streamType, bufferSizeDB, maxBitrate, avgBitrate
  const specific = descriptor();
  if (specific.tag !== 0x05) throw new MediaError('AAC esds has no DecoderSpecificInfo');
  const first = r.u8();
  let audioObjectType = first >>> 3;
  if (audioObjectType === 31) audioObjectType = 32 + (((first & 0x07) << 3) | (r.u8() >>> 5));
  return `mp4a.40.${audioObjectType}`;
}

/** The timing of one traf when it belongs to the timing track, else undefined. */
function parseTraf(
  bytes: Uint8Array,
  traf: BoxRef,
  { track, defaults }: TimingTrack,
): FragmentTiming | undefined {
  const tfhd = new Reader(bytes, requireChild(bytes, traf, 'tfhd'));
  const tfhdFlags = tfhd.fullBox().flags;
  if (tfhd.u32() !== track.id) return undefined;
  if ((tfhdFlags & TFHD_BASE_DATA_OFFSET) !== 0) tfhd.skip(8);
  if ((tfhdFlags & TFHD_SAMPLE_DESCRIPTION_INDEX) !== 0) tfhd.skip(4);
  const defaultDuration =
    (tfhdFlags & TFHD_DEFAULT_SAMPLE_DURATION) !== 0 ? tfhd.u32() : defaults.sampleDurationTicks;
  if ((tfhdFlags & TFHD_DEFAULT_SAMPLE_SIZE) !== 0) tfhd.skip(4);
  const defaultFlags =
    (tfhdFlags & TFHD_DEFAULT_SAMPLE_FLAGS) !== 0 ? tfhd.u32() : defaults.sampleFlags;

  const tfdtBox = child(bytes, traf, 'tfdt');
  if (tfdtBox === undefined) throw new MediaError(`traf of track ${track.id} has no tfdt`);
  const tfdt = new Reader(bytes, tfdtBox);
  const startTicks = tfdt.fullBox().version === 1 ? tfdt.u64() : tfdt.u32();

  let firstSampleFlags: number | undefined;
  let durationTicks = 0;
  for (const box of children(bytes, traf.payload, traf.end)) {
    if (box.type !== 'trun') continue;
    const trun = new Reader(bytes, box);
    const flags = trun.fullBox().flags;
    const sampleCount = trun.u32();
    if ((flags & TRUN_DATA_OFFSET) !== 0) trun.skip(4);
    const firstFlags = (flags & TRUN_FIRST_SAMPLE_FLAGS) !== 0 ? trun.u32() : undefined;
    const perSample = [
      TRUN_SAMPLE_DURATION,
      TRUN_SAMPLE_SIZE,
      TRUN_SAMPLE_FLAGS,
      TRUN_SAMPLE_COMPOSITION_TIME_OFFSET,
    ].filter((bit) => (flags & bit) !== 0).length;
    if (perSample === 0) {
      // Every sample takes the defaults: no loop over a count the box does not back with bytes.
      durationTicks += sampleCount * defaultDuration;
      if (sampleCount > 0) firstSampleFlags ??= firstFlags ?? defaultFlags;
      continue;
    }
    if (sampleCount * perSample * 4 > trun.remaining()) {
      throw new MediaError(`trun of track ${track.id} declares more samples than it holds`);
    }
    for (let i = 0; i < sampleCount; i++) {
      durationTicks += (flags & TRUN_SAMPLE_DURATION) !== 0 ? trun.u32() : defaultDuration;
      if ((flags & TRUN_SAMPLE_SIZE) !== 0) trun.skip(4);
      const sampleFlags = (flags & TRUN_SAMPLE_FLAGS) !== 0 ? trun.u32() : defaultFlags;
      if ((flags & TRUN_SAMPLE_COMPOSITION_TIME_OFFSET) !== 0) trun.skip(4);
      firstSampleFlags ??= i === 0 ? (firstFlags ?? sampleFlags) : undefined;
    }
  }
  return {
    startsWithKeyframe: firstSampleFlags !== undefined && isSyncSample(firstSampleFlags),
    startTicks,
    durationTicks,
  };
}

function isSyncSample(flags: number): boolean {
  return (flags & SAMPLE_IS_NON_SYNC) === 0 && ((flags >>> 24) & 0x03) !== SAMPLE_DEPENDS_ON_OTHERS;
}

function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function fourcc(bytes: Uint8Array, offset: number): string {
  return String.fromCharCode(
    bytes[offset] ?? 0,
    bytes[offset + 1] ?? 0,
    bytes[offset + 2] ?? 0,
    bytes[offset + 3] ?? 0,
  );
}

/** A box type safe to put in an error message (garbage input has arbitrary bytes there). */
function printable(type: string): string {
  return type.replace(/[^\x20-\x7e]/g, '?');
}

function twoDigits(value: number): string {
  return value.toString().padStart(2, '0');
}
