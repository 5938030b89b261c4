/**
 * The browser bundle of `swarmcast/browser` (`src/browser/viewer.ts` and everything it imports,
 * zod included). The origin serves it at `/swarmcast-viewer.js`. Run as a script (part of
 * `npm run build:browser`) it writes `dist/browser/swarmcast-viewer.js`.
 */
import { pathToFileURL } from 'node:url';
import { loadBundle, writeBundle, type BundleSpec } from '../common/browser-bundle.node.js';

const VIEWER_BUNDLE: BundleSpec = {
  entry: 'src/browser/viewer.ts',
  outdir: 'dist/browser',
  name: 'swarmcast-viewer',
};

/** The viewer's script, as the origin serves it. */
export async function loadViewerBundle(): Promise<Uint8Array> {
  return (await loadBundle(VIEWER_BUNDLE, { style: false })).script;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.stdout.write(`${(await writeBundle(VIEWER_BUNDLE)).join('\n')}\n`);
}
