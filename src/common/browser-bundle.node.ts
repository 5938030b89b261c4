/**
 * Browser bundles of the pages swarmcast serves (the viewer, the monitor): one ES module and, if
 * the entry imports CSS, one style sheet, built with esbuild. Servers build them in memory at
 * startup from the sources when these are present (so a bundle is never stale), else read the
 * files `npm run build:browser` wrote under `dist/`.
 */
import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { SwarmcastError } from './errors.js';

export interface BundleSpec {
  /** The entry module, relative to the package root. */
  readonly entry: string;
  /** Where `writeBundle` puts the files, relative to the package root. */
  readonly outdir: string;
  /** File name of the bundle without extension (`<name>.js`, `<name>.css`). */
  readonly name: string;
}

export interface BrowserBundle {
  readonly script: Uint8Array;
  /** Present when the entry imports CSS. */
  readonly style?: Uint8Array;
}

const root = new URL('../../', import.meta.url);
const fromRoot = (path: string): string => fileURLToPath(new URL(path, root));

/** The paths of a bundle's script and style sheet under `dist/`. */
export function bundleFiles(spec: BundleSpec): { script: string; style: string } {
  const base = fromRoot(`${spec.outdir}/${spec.name}`);
  return { script: `${base}.js`, style: `${base}.css` };
}

/** Bundles `spec.entry` in memory. */
export async function buildBundle(spec: BundleSpec): Promise<BrowserBundle> {
  // esbuild is a build-time tool (a devDependency): loaded only when a bundle is built.
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    entryPoints: [fromRoot(spec.entry)],
    outdir: fromRoot(spec.outdir),
    entryNames: spec.name,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    legalComments: 'none',
    logLevel: 'silent',
    write: false,
  });
  const script = result.outputFiles.find((f) => f.path.endsWith('.js'));
  const style = result.outputFiles.find((f) => f.path.endsWith('.css'));
  if (script === undefined) {
    throw new SwarmcastError('invalid-state', `esbuild produced no script for ${spec.entry}`);
  }
  return style === undefined
    ? { script: script.contents }
    : { script: script.contents, style: style.contents };
}

/** Builds and writes the bundle under `dist/` (for installs without the sources); returns the paths. */
export async function writeBundle(spec: BundleSpec): Promise<string[]> {
  const bundle = await buildBundle(spec);
  const files = bundleFiles(spec);
  await mkdir(fromRoot(spec.outdir), { recursive: true });
  await writeFile(files.script, bundle.script);
  if (bundle.style === undefined) return [files.script];
  await writeFile(files.style, bundle.style);
  return [files.script, files.style];
}

/** The bundle to serve: built from the sources when they are present, else the built files. */
export async function loadBundle(
  spec: BundleSpec,
  options: { style: boolean },
): Promise<BrowserBundle> {
  if (await exists(fromRoot(spec.entry))) return buildBundle(spec);
  const files = bundleFiles(spec);
  try {
    const script = await readFile(files.script);
    return options.style ? { script, style: await readFile(files.style) } : { script };
  } catch (error) {
    throw new SwarmcastError(
      'invalid-state',
      `no ${spec.name} bundle in ${spec.outdir}: run npm run build:browser`,
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
