/**
 * The monitor page's browser bundle: `src/monitor/app.ts` with cytoscape and uPlot, one script
 * and one style sheet. Run as a script (part of `npm run build:browser`) it writes them to
 * `dist/monitor/` (named `swarmcast-monitor.*`: tsc emits `app.js` there).
 */
import { pathToFileURL } from 'node:url';
import { loadBundle, writeBundle, type BundleSpec } from '../common/browser-bundle.node.js';
import { SwarmcastError } from '../common/errors.js';

export interface MonitorBundle {
  readonly script: Uint8Array;
  readonly style: Uint8Array;
}

const MONITOR_BUNDLE: BundleSpec = {
  entry: 'src/monitor/app.ts',
  outdir: 'dist/monitor',
  name: 'swarmcast-monitor',
};

/** The monitor's script and style, as the tracker serves them. */
export async function loadMonitorBundle(): Promise<MonitorBundle> {
  const { script, style } = await loadBundle(MONITOR_BUNDLE, { style: true });
  if (style === undefined)
    throw new SwarmcastError('invalid-state', 'the monitor bundle has no style');
  return { script, style };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.stdout.write(`${(await writeBundle(MONITOR_BUNDLE)).join('\n')}\n`);
}
