/**
 * One decoder's fuzz run in its own process, forked by `fuzz/index.ts`, which bounds its heap and
 * kills it when it stops making progress (a hang). Arguments: decoder name, runs, seed, and a
 * file where the index of the input being decoded is kept (u32 big-endian), for the parent to
 * name the input a hang happened on. Messages to the parent: `ChildMessage`.
 */
import { openSync, writeSync } from 'node:fs';
import { DECODERS } from './decoders.js';
import { fuzzDecoder, type FuzzReport } from './run.js';

export type ChildMessage =
  | { readonly kind: 'progress'; readonly inputs: number }
  | { readonly kind: 'report'; readonly report: FuzzReport };

const [name, runs, seed, indexFile] = process.argv.slice(2);
const decoder = DECODERS.find((d) => d.name === name);
const send = process.send?.bind(process);
if (decoder === undefined || send === undefined || indexFile === undefined) {
  throw new Error('fuzz/child.ts is forked by fuzz/index.ts with a decoder name and its options');
}
const fd = openSync(indexFile, 'w');
const index = new Uint8Array(4);
const indexView = new DataView(index.buffer);
const report = await fuzzDecoder(decoder, {
  runs: Number(runs),
  seed: Number(seed),
  onProgress: (inputs) => send({ kind: 'progress', inputs } satisfies ChildMessage),
  onInput: (i) => {
    indexView.setUint32(0, i);
    writeSync(fd, index, 0, 4, 0);
  },
});
send({ kind: 'report', report } satisfies ChildMessage, () => {
  process.disconnect();
});
