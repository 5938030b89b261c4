/**
 * Launches the system Chromium (/usr/bin/chromium) through playwright-core with the flags
 * SETUP.md found necessary on these machines, a fresh profile directory, and a close() that
 * always ends the browser (by its PID if it does not close in time) and removes the profile.
 *
 *   const chromium = await launchChromium();
 *   try { const page = await chromium.newPage(); … } finally { await chromium.close(); }
 */
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium as playwright, type BrowserContext, type Page } from 'playwright-core';
import { isAlive } from './process.js';

export const CHROMIUM_PATH = '/usr/bin/chromium';

/**
 * playwright-core 1.65's own `--disable-features` list (chromiumSwitches). Chromium honours only
 * the last `--disable-features` switch, so ours replaces Playwright's (removed through
 * `ignoreDefaultArgs`) and has to restate it. `launchChromium` checks the browser's real command
 * line and fails loudly if a Playwright upgrade changed the list.
 */
export const PLAYWRIGHT_DISABLED_FEATURES = [
  'AvoidUnnecessaryBeforeUnloadCheckSync',
  'DestroyProfileOnBrowserClose',
  'HttpsUpgrades',
  'HttpsFirstBalancedModeAutoEnable',
  'LensOverlay',
  'MediaRouter',
  'PaintHolding',
  'ThirdPartyStoragePartitioning',
  'AvoidCorsURLLoaderRestartOnRedirect',
  'TcpPortRandomizationWin',
  'OptimizationHints',
  'NetworkTimeServiceQuerying',
  'AimEnabled',
  'PreconnectToSearch',
  'msForceBrowserSignIn',
  'msEdgeUpdateLaunchServicesPreferredVersion',
] as const;

/** Features swarmcast's tests turn off: mDNS host candidates would send multicast on eth0. */
export const SWARMCAST_DISABLED_FEATURES = ['WebRtcHideLocalIpsWithMdns'] as const;

/** The flags of SETUP.md, with one merged `--disable-features`. */
export const CHROMIUM_ARGS: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1',
  `--disable-features=${[...PLAYWRIGHT_DISABLED_FEATURES, ...SWARMCAST_DISABLED_FEATURES].join(',')}`,
  '--allow-loopback-in-peer-connection',
];

export interface ChromiumOptions {
  /** More command-line switches (not `--disable-features`: extend the lists above instead). */
  readonly extraArgs?: readonly string[];
  /** @default 30_000 */
  readonly launchTimeoutMs?: number;
  /** How long `close()` waits for a clean exit before it kills the browser. @default 5000 */
  readonly closeTimeoutMs?: number;
}

export interface ChromiumSession {
  readonly context: BrowserContext;
  /** PID of the browser process. */
  readonly pid: number;
  readonly userDataDir: string;
  newPage(): Promise<Page>;
  /** Grants camera and microphone to `origin`: Chromium offers loopback ICE candidates only then. */
  grantMediaPermissions(origin: string): Promise<void>;
  /** Closes the browser (killing it by PID if needed) and removes its profile. Idempotent. */
  close(): Promise<void>;
}

export async function launchChromium(options: ChromiumOptions = {}): Promise<ChromiumSession> {
  const extra = options.extraArgs ?? [];
  if (extra.some((arg) => arg.startsWith('--disable-features'))) {
    throw new TypeError('add disabled features to SWARMCAST_DISABLED_FEATURES instead');
  }
  const userDataDir = await mkdtemp(join(tmpdir(), 'swarmcast-chromium-'));
  let context: BrowserContext;
  try {
    context = await playwright.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: [...CHROMIUM_ARGS, ...extra],
      ignoreDefaultArgs: [`--disable-features=${PLAYWRIGHT_DISABLED_FEATURES.join(',')}`],
      timeout: options.launchTimeoutMs ?? 30_000,
    });
  } catch (error) {
    await rm(userDataDir, { recursive: true, force: true });
    throw error;
  }
  const pid = await findBrowserPid(userDataDir);
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= closeBrowser(context, pid, userDataDir, options.closeTimeoutMs ?? 5000);
    return closing;
  };
  try {
    if (pid === undefined) throw new Error(`no Chromium process found for ${userDataDir}`);
    await checkDisabledFeatures(pid);
  } catch (error) {
    await close();
    throw error;
  }
  return {
    context,
    pid,
    userDataDir,
    newPage: () => context.newPage(),
    grantMediaPermissions: (origin) =>
      context.grantPermissions(['camera', 'microphone'], { origin }),
    close,
  };
}

/** The browser process: the one whose command line names our profile and is no child process. */
async function findBrowserPid(userDataDir: string): Promise<number | undefined> {
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const args = await commandLine(Number(entry));
    if (
      args.includes(`--user-data-dir=${userDataDir}`) &&
      !args.some((a) => a.startsWith('--type='))
    ) {
      return Number(entry);
    }
  }
  return undefined;
}

async function commandLine(pid: number): Promise<string[]> {
  try {
    return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
  } catch {
    return []; // the process has gone, or is not ours to read
  }
}

/** Chromium keeps only the last `--disable-features`: there must be exactly ours. */
async function checkDisabledFeatures(pid: number): Promise<void> {
  const switches = (await commandLine(pid)).filter((arg) => arg.startsWith('--disable-features='));
  const expected = CHROMIUM_ARGS.find((arg) => arg.startsWith('--disable-features='));
  if (switches.length !== 1 || switches[0] !== expected) {
    throw new Error(
      `Chromium got ${switches.length} --disable-features switches (${switches.join(' ')}); ` +
        'playwright-core changed its defaults: update PLAYWRIGHT_DISABLED_FEATURES in test/helpers/chromium.ts',
    );
  }
}

async function closeBrowser(
  context: BrowserContext,
  pid: number | undefined,
  userDataDir: string,
  timeoutMs: number,
): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, timeoutMs);
  });
  await Promise.race([context.close().catch(() => undefined), timedOut]);
  clearTimeout(timer);
  if (pid !== undefined && isAlive(pid)) {
    // Playwright starts the browser as a process-group leader: end the group, renderers included.
    for (const target of [-pid, pid]) {
      try {
        process.kill(target, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  await rm(userDataDir, { recursive: true, force: true, maxRetries: 3 });
}
