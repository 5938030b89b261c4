/**
 * Stock dash.js in the system Chromium plays the origin's live stream, fed by a real broadcaster
 * (ffmpeg, synthetic source): the muxed H.264+AAC representation plays, time advances, and no
 * media segment is asked for before it is on the origin.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { concatBytes } from '../../src/common/bytes.js';
import { SystemClock } from '../../src/common/clock.js';
import { DEFAULTS } from '../../src/common/defaults.js';
import { availabilityStartTimeMs } from '../../src/origin/mpd.js';
import { OriginServer } from '../../src/origin/server.js';
import { syntheticBroadcast } from '../helpers/broadcast.js';
import { launchChromium } from '../helpers/chromium.js';
import { startHttpServer } from '../helpers/http.js';
import { waitFor } from '../helpers/wait.js';

const execFileAsync = promisify(execFile);
const DASH_JS = new URL(
  '../../node_modules/dashjs/dist/modern/umd/dash.all.min.js',
  import.meta.url,
);
const STREAM = 'live';
const SEGMENT_MS = DEFAULTS.segmentDurationMs;
const PLAY_SECONDS = 10;

const PAGE = `<!doctype html>
<html><body>
<video id="video" muted playsinline></video>
<script src="/dash.all.min.js"></script>
<script>
  const state = { errors: [] };
  window.state = state;
  const video = document.getElementById('video');
  video.addEventListener('error', () => state.errors.push('video: ' + (video.error && video.error.message)));
  const player = dashjs.MediaPlayer().create();
  player.updateSettings({ debug: { logLevel: dashjs.Debug.LOG_LEVEL_NONE } });
  player.on(dashjs.MediaPlayer.events.ERROR, (e) => state.errors.push(JSON.stringify(e.error || e)));
  player.on(dashjs.MediaPlayer.events.PLAYBACK_ERROR, (e) => state.errors.push('playback: ' + JSON.stringify(e.error || e)));
  player.initialize(video, new URLSearchParams(location.search).get('mpd'), true);
  window.player = player;
</script>
</body></html>`;

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A test-only server for the page and dash.js, on another port than the origin (so CORS is real). */
async function startPageServer(): Promise<string> {
  const dashJs = await readFile(DASH_JS);
  const { url, close } = await startHttpServer((req, res) => {
    if (req.url === '/dash.all.min.js')
      res.writeHead(200, { 'Content-Type': 'text/javascript' }).end(dashJs);
    else if (req.url?.startsWith('/?') === true)
      res.writeHead(200, { 'Content-Type': 'text/html' }).end(PAGE);
    else res.writeHead(404).end();
  });
  cleanups.push(close);
  return url;
}

describe('origin + dash.js', () => {
  it(
    'stock dash.js in Chromium plays the live MPD of a real broadcast with no error and no 404',
    { timeout: 120_000 },
    async () => {
      const clock = new SystemClock();
      const { broadcaster, store, stream } = await syntheticBroadcast(clock, STREAM);
      // When each segment became servable, to compare with when the MPD says it is available.
      const completedAt = new Map<number, number>();
      broadcaster.on('chunk', () => {
        const edge = stream.liveEdge?.lastCompleteSegment;
        if (edge !== null && edge !== undefined && !completedAt.has(edge))
          completedAt.set(edge, clock.now());
      });
      const broadcastErrors: string[] = [];
      broadcaster.on('error', ({ error }) => broadcastErrors.push(error.message));
      cleanups.push(() => broadcaster.stop());

      const origin = new OriginServer({ store, clock });
      cleanups.push(() => origin.close());
      const originUrl = await origin.listen();
      const pageUrl = await startPageServer();
      await broadcaster.start();
      await waitFor(() => completedAt.size > 0, 'the first complete segment', 30_000, 200);

      const chromium = await launchChromium();
      cleanups.push(() => chromium.close());
      const page = await chromium.newPage();
      const failures: string[] = [];
      let segmentBytesSeen = 0;
      page.on('response', (response) => {
        if (!response.url().startsWith(originUrl)) return;
        if (response.status() >= 400) failures.push(`${response.status()} ${response.url()}`);
        else if (response.url().endsWith('.m4s'))
          segmentBytesSeen += Number(response.headers()['content-length']);
      });
      page.on('requestfailed', (request) => failures.push(`failed ${request.url()}`));
      const mpdUrl = `${originUrl}/live/${STREAM}/manifest.mpd`;
      await page.goto(`${pageUrl}/?mpd=${encodeURIComponent(mpdUrl)}`);

      const playback = (): Promise<{ currentTime: number; errors: string[]; latency: number }> =>
        page.evaluate(() => {
          const w = window as unknown as {
            state: { errors: string[] };
            player: { getCurrentLiveLatency(): number };
          };
          const video = document.querySelector('video');
          return {
            currentTime: video?.currentTime ?? 0,
            errors: w.state.errors,
            latency: w.player.getCurrentLiveLatency(),
          };
        });
      let startTime: number | undefined;
      await waitFor(
        async () => {
          const state = await playback();
          if (state.errors.length > 0 || broadcastErrors.length > 0) return true;
          if (state.currentTime > 0) startTime ??= state.currentTime;
          return startTime !== undefined && state.currentTime - startTime >= PLAY_SECONDS;
        },
        `${PLAY_SECONDS} s of playback`,
        60_000,
        200,
      );
      const state = await playback();
      expect(broadcastErrors).toEqual([]);
      expect(state.errors).toEqual([]);
      expect(state.currentTime - (startTime ?? 0)).toBeGreaterThanOrEqual(PLAY_SECONDS);
      // Players never asked for anything the origin did not have.
      expect(failures).toEqual([]);
      expect(origin.stats.segmentBytes).toBe(segmentBytesSeen);

      // Every segment was on the origin before the MPD made it available.
      const zero = stream.mediaZeroTimeMs ?? Number.NaN;
      const slackMs = [...completedAt].map(
        ([n, at]) => availabilityStartTimeMs(zero) + (n + 1) * SEGMENT_MS - at,
      );
      expect(Math.min(...slackMs)).toBeGreaterThan(0);
      console.info(
        `dash.js: live latency ${state.latency.toFixed(2)} s; segment slack before availability ` +
          `min ${Math.min(...slackMs)} ms, max ${Math.max(...slackMs)} ms over ${slackMs.length} segments`,
      );

      // ffprobe reads one media segment (init + segment) as H.264 + AAC.
      const init = stream.getInit();
      const segment = stream.getSegment(stream.liveEdge?.lastCompleteSegment ?? 0);
      expect(init).toBeDefined();
      expect(segment).toBeDefined();
      const dir = await mkdtemp(join(tmpdir(), 'swarmcast-origin-'));
      cleanups.push(() => rm(dir, { recursive: true, force: true }));
      const file = join(dir, 'segment.mp4');
      await writeFile(
        file,
        concatBytes([init?.bytes ?? new Uint8Array(), segment ?? new Uint8Array()]),
      );
      const { stdout } = await execFileAsync(
        'ffprobe',
        ['-v', 'error', '-show_entries', 'stream=codec_name,codec_type', '-of', 'json', file],
        { timeout: 15_000 },
      );
      const streams = (
        JSON.parse(stdout) as { streams: { codec_name: string; codec_type: string }[] }
      ).streams;
      expect(streams.map((s) => `${s.codec_type}:${s.codec_name}`).sort()).toEqual([
        'audio:aac',
        'video:h264',
      ]);
    },
  );
});
