/**
 * The browser bundle of `swarmcast/browser` (`src/browser/viewer.ts` and everything it imports,
 * zod included) as one ES module, built with esbuild. `npm run build:browser` writes it to
 * `dist/browser/swarmcast-viewer.js`; the origin serves it at `/swarmcast-viewer.js`, built in
 * memory at startup from the sources when they are there (so it is never stale), else read from
 * `dist/`.
 *
 * Run as a script (`npm run build:browser`, i.e. `tsx src/browser/bundle.node.ts`) it writes the
 * bundle and prints its size.
 */
import { access, readFile } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { SwarmcastError } from '../common/errors.js';

/** File name of the bundle, in `dist/browser/` and on the origin. */
export const VIEWER_BUNDLE_FILE = 'swarmcast-viewer.js';

const root = new URL('../../', import.meta.url);
const entry = fileURLToPath(new URL('src/browser/viewer.ts', root));
const outfile = fileURLToPath(new URL(`dist/browser/${VIEWER_BUNDLE_FILE}`, root));

/** Bundles the viewer; writes `dist/browser/swarmcast-viewer.js` when `write`, else returns the bytes. */
export async function buildViewerBundle(options: { write: boolean }): Promise<Uint8Array> {
  // esbuild is a build-time tool (a devDependency): loaded only when a bundle is built.
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    sourcemap: false,
    legalComments: 'none',
    logLevel: 'silent',
    write: options.write,
  });
  if (options.write) return readFile(outfile);
  const file = result.outputFiles?.[0];
  if (file === undefined) throw new SwarmcastError('invalid-state', 'esbuild produced no output');
  return file.contents;
}

/** The bundle to serve: built from the sources when they are present, else the built file. */
export async function loadViewerBundle(): Promise<Uint8Array> {
  if (await exists(entry)) return buildViewerBundle({ write: false });
  try {
    return await readFile(outfile);
  } catch (error) {
    throw new SwarmcastError(
      'invalid-state',
      `no viewer bundle at ${outfile}: run npm run build:browser`,
      { cause: error },
    );
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const bytes = await buildViewerBundle({ write: true });
  process.stdout.write(`${outfile}: ${bytes.byteLength} bytes\n`);
}
