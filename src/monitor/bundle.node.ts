/**
 * The monitor page's browser bundle: `src/monitor/app.ts` with cytoscape and uPlot, as one ES
 * module plus one style sheet, built in memory with esbuild from the sources when they are
 * there (so it is never stale), else read from `dist/monitor/`, which running this file as a
 * script (`tsx src/monitor/bundle.node.ts`) writes.
 */
import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { SwarmcastError } from '../common/errors.js';

export interface MonitorBundle {
  readonly script: Uint8Array;
  readonly style: Uint8Array;
}

const root = new URL('../../', import.meta.url);
const entry = fileURLToPath(new URL('src/monitor/app.ts', root));
const outdir = fileURLToPath(new URL('dist/monitor/', root));
/** The bundle's file names in `dist/monitor/` (not `app.js`: tsc emits that one there). */
const BUNDLE_NAME = 'swarmcast-monitor';
const scriptFile = `${outdir}${BUNDLE_NAME}.js`;
const styleFile = `${outdir}${BUNDLE_NAME}.css`;

/** Bundles the monitor's script and style. */
export async function buildMonitorBundle(): Promise<MonitorBundle> {
  // esbuild is a build-time tool (a devDependency): loaded only when a bundle is built.
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    entryPoints: [entry],
    outdir,
    entryNames: BUNDLE_NAME,
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
  if (script === undefined || style === undefined) {
    throw new SwarmcastError('invalid-state', 'esbuild produced no monitor script or style');
  }
  return { script: script.contents, style: style.contents };
}

/** Writes the bundle to `dist/monitor/` (for installs without the sources). */
export async function writeMonitorBundle(): Promise<void> {
  const bundle = await buildMonitorBundle();
  await mkdir(outdir, { recursive: true });
  await writeFile(scriptFile, bundle.script);
  await writeFile(styleFile, bundle.style);
}

/** The bundle to serve: built from the sources when they are present, else the built files. */
export async function loadMonitorBundle(): Promise<MonitorBundle> {
  if (await exists(entry)) return buildMonitorBundle();
  try {
    return { script: await readFile(scriptFile), style: await readFile(styleFile) };
  } catch (error) {
    throw new SwarmcastError('invalid-state', `no monitor bundle in ${outdir}`, { cause: error });
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
  await writeMonitorBundle();
  process.stdout.write(`${scriptFile}\n${styleFile}\n`);
}
