import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../src/common/errors.js';
import { decodeFrame, encodeFrame, FrameType } from '../../src/protocol/frames.js';
import { sharedFrameDecoder } from '../../src/sim/memory-transport.js';

describe('sharedFrameDecoder', () => {
  it('decodes a message once: every peer it reaches gets the same frame, equal to decodeFrame', () => {
    const decode = sharedFrameDecoder();
    const message = encodeFrame({ type: FrameType.Request, requestId: 7, seq: 42 });
    const first = decode(message);
    expect(first).toEqual(decodeFrame(message));
    expect(decode(message)).toBe(first);
    // Another message with the same bytes is decoded on its own.
    const copy = message.slice();
    expect(decode(copy)).not.toBe(first);
    expect(decode(copy)).toEqual(first);
  });

  it('throws for a malformed message each time it is decoded', () => {
    const decode = sharedFrameDecoder();
    const message = encodeFrame({ type: FrameType.Request, requestId: 7, seq: 42 });
    message[0] = 0xee;
    expect(() => decode(message)).toThrow(ProtocolError);
    expect(() => decode(message)).toThrow(ProtocolError);
  });
});
