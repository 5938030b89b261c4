import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../src/common/errors.js';
import { MAX_DESCRIPTION_BYTES, decodeStreamDescription } from '../../src/origin/server.js';
import type { StreamDescription } from '../../src/origin/store.js';

const DESCRIPTION: StreamDescription = {
  stream: 'live',
  publicKey: 'A'.repeat(43),
  chunkDurationMs: 500,
  segmentDurationMs: 2000,
  bitrateKbps: 1500,
};
const JSON_TEXT = JSON.stringify(DESCRIPTION);

function refusal(body: Uint8Array | string): ProtocolError {
  try {
    decodeStreamDescription(body);
  } catch (error) {
    if (error instanceof ProtocolError) return error;
    throw error;
  }
  throw new Error('decodeStreamDescription() accepted it');
}

describe('decodeStreamDescription() (PUT /ingest/<stream>)', () => {
  it('reads a description from UTF-8 bytes and from a string, up to MAX_DESCRIPTION_BYTES', () => {
    expect(decodeStreamDescription(new TextEncoder().encode(JSON_TEXT))).toEqual(DESCRIPTION);
    expect(decodeStreamDescription(JSON_TEXT)).toEqual(DESCRIPTION);
    const atLimit = JSON_TEXT.padEnd(MAX_DESCRIPTION_BYTES, ' ');
    expect(decodeStreamDescription(atLimit)).toEqual(DESCRIPTION);
  });

  it('refuses a body above MAX_DESCRIPTION_BYTES with message-too-large, as bytes or as a string', () => {
    const over = JSON_TEXT.padEnd(MAX_DESCRIPTION_BYTES + 1, ' ');
    expect(refusal(over).code).toBe('message-too-large');
    expect(refusal(new TextEncoder().encode(over)).code).toBe('message-too-large');
    // Under the limit in characters, over it in UTF-8 bytes.
    const wide = JSON_TEXT.padEnd(MAX_DESCRIPTION_BYTES - 10, 'é');
    expect(wide.length).toBeLessThanOrEqual(MAX_DESCRIPTION_BYTES);
    expect(refusal(wide).code).toBe('message-too-large');
  });

  it.each([
    ['empty', ''],
    ['not JSON', '{"stream":'],
    ['a JSON array', '[]'],
    ['JSON null', 'null'],
    ['missing the key', JSON.stringify({ ...DESCRIPTION, publicKey: undefined })],
    ['a negative chunk duration', JSON.stringify({ ...DESCRIPTION, chunkDurationMs: -1 })],
    ['a fractional segment duration', JSON.stringify({ ...DESCRIPTION, segmentDurationMs: 1.5 })],
    ['a bad stream id', JSON.stringify({ ...DESCRIPTION, stream: 'bad id' })],
    ['an unknown field', JSON.stringify({ ...DESCRIPTION, extra: 1 })],
    [
      'an origin URL (the origin sets it)',
      JSON.stringify({ ...DESCRIPTION, originUrl: 'http://x' }),
    ],
    ['a zero bitrate', JSON.stringify({ ...DESCRIPTION, bitrateKbps: 0 })],
  ])('refuses %s with malformed-message', (_, body) => {
    expect(refusal(body).code).toBe('malformed-message');
  });

  it('refuses bytes that are not UTF-8 with malformed-message', () => {
    const bytes = new TextEncoder().encode(JSON_TEXT);
    bytes[2] = 0xff;
    const error = refusal(bytes);
    expect(error.code).toBe('malformed-message');
    expect(error.message).toMatch(/not JSON/);
  });
});
