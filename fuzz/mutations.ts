/**
 * Arbitraries that damage valid encodings, so a fuzzed decoder sees inputs that get past its first
 * checks: bit flips, byte overwrites, truncation, extension, splices, duplicated regions and
 * tweaks of the encoding's length fields (binary), and value replacements, deletions, additions
 * and text edits (JSON).
 */
import fc from 'fast-check';
import { concatBytes } from '../src/common/bytes.js';

/**
 * Values written into u32 fields: small sizes, sizes on the decoders' limits (64 KiB frames,
 * 16 MiB chunks, 64 MiB boxes), the high words of ±Infinity and NaN (for the float64 times), and
 * the ends of the u32 range.
 */
const BOUNDARY_U32 = [
  0, 1, 2, 7, 8, 15, 16, 255, 256, 4095, 4096, 4097, 65_535, 65_536, 0x00ff_ffff, 0x0100_0000,
  0x0100_0001, 0x0400_0000, 0x0400_0001, 0x7ff0_0000, 0x7ff8_0000, 0xfff0_0000, 0x7fff_ffff,
  0x8000_0000, 0xffff_fffe, 0xffff_ffff,
];

/** A position in an input of unknown length: taken modulo the length when applied. */
const position = fc.nat({ max: 0xffff_ffff });

type FieldValue =
  | { readonly kind: 'delta'; readonly delta: number }
  | { readonly kind: 'set'; readonly value: number };

type ByteEdit =
  | { readonly kind: 'flip'; readonly at: number; readonly bit: number }
  | { readonly kind: 'set'; readonly at: number; readonly value: number }
  | { readonly kind: 'truncate'; readonly at: number }
  | { readonly kind: 'extend'; readonly bytes: Uint8Array }
  | {
      readonly kind: 'splice';
      readonly at: number;
      readonly remove: number;
      readonly bytes: Uint8Array;
    }
  | {
      readonly kind: 'duplicate';
      readonly from: number;
      readonly length: number;
      readonly to: number;
    }
  | { readonly kind: 'field'; readonly which: number; readonly value: FieldValue };

const fieldValue: fc.Arbitrary<FieldValue> = fc.oneof(
  fc.record({ kind: fc.constant('delta'), delta: fc.integer({ min: -16, max: 16 }) }),
  fc.record({ kind: fc.constant('set'), value: fc.constantFrom(...BOUNDARY_U32) }),
  fc.record({ kind: fc.constant('set'), value: fc.nat({ max: 0xffff_ffff }) }),
);

const byteEdit: fc.Arbitrary<ByteEdit> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('flip'), at: position, bit: fc.nat(7) }), weight: 4 },
  {
    arbitrary: fc.record({ kind: fc.constant('set'), at: position, value: fc.nat(255) }),
    weight: 2,
  },
  { arbitrary: fc.record({ kind: fc.constant('truncate'), at: position }), weight: 1 },
  {
    arbitrary: fc.record({ kind: fc.constant('extend'), bytes: fc.uint8Array({ maxLength: 64 }) }),
    weight: 1,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant('splice'),
      at: position,
      remove: fc.nat(64),
      bytes: fc.uint8Array({ maxLength: 32 }),
    }),
    weight: 1,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant('duplicate'),
      from: position,
      length: fc.nat(4096),
      to: position,
    }),
    weight: 1,
  },
  {
    arbitrary: fc.record({ kind: fc.constant('field'), which: fc.nat(), value: fieldValue }),
    weight: 4,
  },
);

/** Offsets of the big-endian u32 length (or otherwise checked) fields of an encoding. */
export type FieldsOf = (bytes: Uint8Array) => readonly number[];

/**
 * Valid encodings from `valid`, each damaged by 1-4 edits; `fieldsOf` names the u32 fields
 * whose tweaks matter most (lengths, sizes, sequence numbers).
 */
export function mutatedBytes(
  valid: fc.Arbitrary<Uint8Array>,
  fieldsOf: FieldsOf,
): fc.Arbitrary<Uint8Array> {
  return fc
    .tuple(valid, fc.array(byteEdit, { minLength: 1, maxLength: 4 }))
    .map(([bytes, edits]) =>
      edits.reduce((out, edit) => applyByteEdit(out, edit, fieldsOf), bytes),
    );
}

function applyByteEdit(bytes: Uint8Array, edit: ByteEdit, fieldsOf: FieldsOf): Uint8Array {
  const length = bytes.byteLength;
  switch (edit.kind) {
    case 'flip':
    case 'set': {
      if (length === 0) return bytes;
      const out = bytes.slice();
      const at = edit.at % length;
      out[at] = edit.kind === 'flip' ? (out[at] ?? 0) ^ (1 << edit.bit) : edit.value;
      return out;
    }
    case 'truncate':
      return bytes.slice(0, edit.at % (length + 1));
    case 'extend':
      return concatBytes([bytes, edit.bytes]);
    case 'splice': {
      const at = edit.at % (length + 1);
      return concatBytes([bytes.subarray(0, at), edit.bytes, bytes.subarray(at + edit.remove)]);
    }
    case 'duplicate': {
      const from = edit.from % (length + 1);
      const to = edit.to % (length + 1);
      const region = bytes.subarray(from, from + edit.length);
      return concatBytes([bytes.subarray(0, to), region, bytes.subarray(to)]);
    }
    case 'field': {
      const fields = fieldsOf(bytes).filter((offset) => offset + 4 <= length);
      const offset = fields[edit.which % Math.max(fields.length, 1)];
      if (offset === undefined) return bytes;
      const out = bytes.slice();
      const view = new DataView(out.buffer);
      const old = view.getUint32(offset);
      const value = edit.value.kind === 'set' ? edit.value.value : (old + edit.value.delta) >>> 0;
      view.setUint32(offset, value);
      return out;
    }
  }
}

/**
 * Offsets of everything that looks like an ISO BMFF box header inside `bytes`: a u32 size that
 * fits what follows and a four-character type of letters and digits. Finds nested boxes without
 * knowing which boxes are containers; a few false positives only add more tweaked fields.
 */
export function boxSizeOffsets(bytes: Uint8Array): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const offsets: number[] = [];
  for (let offset = 0; offset + 8 <= bytes.byteLength; offset++) {
    const size = view.getUint32(offset);
    if (size < 8 || offset + size > bytes.byteLength) continue;
    let typeChars = 0;
    for (let i = 4; i < 8; i++) {
      const c = bytes[offset + i] ?? 0;
      if ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)) {
        typeChars++;
      }
    }
    if (typeChars === 4) offsets.push(offset);
  }
  return offsets;
}

export type JsonValue =
  null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** JSON values on or past the protocol's limits: big numbers, long strings and arrays. */
const boundaryJson: fc.Arbitrary<JsonValue> = fc.constantFrom<JsonValue>(
  -1,
  0,
  -0.5,
  1.5,
  2 ** 31,
  2 ** 32,
  Number.MAX_SAFE_INTEGER + 2,
  1e308,
  '',
  'x'.repeat(65),
  'x'.repeat(1025),
  'x'.repeat(13 * 1024),
  Array.from({ length: 65 }, (_, i) => `p${i}`),
  null,
  true,
  {},
  [],
);

const jsonValue: fc.Arbitrary<JsonValue> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<JsonValue>,
  boundaryJson,
);

type JsonEdit =
  | { readonly kind: 'replace'; readonly at: number; readonly value: JsonValue }
  | { readonly kind: 'delete'; readonly at: number }
  | { readonly kind: 'add'; readonly at: number; readonly key: string; readonly value: JsonValue };

const jsonEdit: fc.Arbitrary<JsonEdit> = fc.oneof(
  {
    arbitrary: fc.record({ kind: fc.constant('replace'), at: fc.nat(), value: jsonValue }),
    weight: 4,
  },
  { arbitrary: fc.record({ kind: fc.constant('delete'), at: fc.nat() }), weight: 2 },
  {
    arbitrary: fc.record({
      kind: fc.constant('add'),
      at: fc.nat(),
      key: fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('type', '__proto__', 'info')),
      value: jsonValue,
    }),
    weight: 1,
  },
);

type TextEdit =
  | { readonly kind: 'replace'; readonly at: number; readonly text: string }
  | { readonly kind: 'delete'; readonly at: number; readonly length: number }
  | { readonly kind: 'truncate'; readonly at: number };

const textEdit: fc.Arbitrary<TextEdit> = fc.oneof(
  fc.record({
    kind: fc.constant('replace'),
    at: position,
    text: fc.oneof(
      fc.string({ maxLength: 4, unit: 'binary' }),
      fc.constantFrom('"', '{', ']', ',', '\\u'),
    ),
  }),
  fc.record({ kind: fc.constant('delete'), at: position, length: fc.nat(16) }),
  fc.record({ kind: fc.constant('truncate'), at: position }),
);

/**
 * JSON values from `valid` with 1-4 structural edits: a value replaced (often by one on a limit),
 * a key or element deleted, a key added.
 */
export function mutatedJsonValue(valid: fc.Arbitrary<unknown>): fc.Arbitrary<JsonValue> {
  return fc
    .tuple(valid, fc.array(jsonEdit, { minLength: 1, maxLength: 4 }))
    .map(([message, edits]) => edits.reduce(applyJsonEdit, structuredClone(message) as JsonValue));
}

/**
 * `mutatedJsonValue()` serialised; a third of them also get 1-3 text edits that break the JSON
 * itself (the rest stay JSON, to reach the schema checks).
 */
export function mutatedJson(valid: fc.Arbitrary<unknown>): fc.Arbitrary<string> {
  const textEdits = fc.oneof(
    { arbitrary: fc.constant([]), weight: 2 },
    { arbitrary: fc.array(textEdit, { minLength: 1, maxLength: 3 }), weight: 1 },
  );
  return fc
    .tuple(mutatedJsonValue(valid), textEdits)
    .map(([value, edits]) => edits.reduce(applyTextEdit, JSON.stringify(value)));
}

/** A place in a JSON tree where a value sits: a key of an object or an index of an array. */
interface Slot {
  readonly parent: JsonValue[] | Record<string, JsonValue>;
  readonly key: string | number;
}

function slotsOf(value: JsonValue, out: Slot[] = []): Slot[] {
  if (Array.isArray(value)) {
    value.forEach((item, index) => {
      out.push({ parent: value, key: index });
      slotsOf(item, out);
    });
  } else if (typeof value === 'object' && value !== null) {
    for (const [key, item] of Object.entries(value)) {
      out.push({ parent: value, key });
      slotsOf(item, out);
    }
  }
  return out;
}

function applyJsonEdit(root: JsonValue, edit: JsonEdit): JsonValue {
  const slots = slotsOf(root);
  if (edit.kind === 'add') {
    const containers = [root, ...slots.map((s) => read(s))].filter(
      (v): v is Record<string, JsonValue> =>
        typeof v === 'object' && v !== null && !Array.isArray(v),
    );
    const target = containers[edit.at % Math.max(containers.length, 1)];
    // Defined, not assigned: a key `__proto__` must become an own key, as JSON.parse makes it.
    if (target !== undefined)
      Object.defineProperty(target, edit.key, {
        value: structuredClone(edit.value),
        enumerable: true,
        configurable: true,
        writable: true,
      });
    return root;
  }
  const slot = slots[edit.at % Math.max(slots.length, 1)];
  if (slot === undefined) return edit.kind === 'replace' ? structuredClone(edit.value) : root;
  if (edit.kind === 'replace') write(slot, structuredClone(edit.value));
  else if (Array.isArray(slot.parent)) slot.parent.splice(slot.key as number, 1);
  else Reflect.deleteProperty(slot.parent, slot.key);
  return root;
}

function read(slot: Slot): JsonValue {
  return Array.isArray(slot.parent)
    ? (slot.parent[slot.key as number] ?? null)
    : (slot.parent[slot.key as string] ?? null);
}

function write(slot: Slot, value: JsonValue): void {
  if (Array.isArray(slot.parent)) slot.parent[slot.key as number] = value;
  else slot.parent[slot.key as string] = value;
}

function applyTextEdit(text: string, edit: TextEdit): string {
  const at = edit.at % (text.length + 1);
  switch (edit.kind) {
    case 'replace':
      return text.slice(0, at) + edit.text + text.slice(at + edit.text.length);
    case 'delete':
      return text.slice(0, at) + text.slice(at + edit.length);
    case 'truncate':
      return text.slice(0, at);
  }
}
