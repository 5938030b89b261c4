/**
 * The HTML of the viewer page, `/watch/<stream>`: the video, a small panel (peers connected,
 * share of bytes from peers and from the origin, latency behind live, stalls) and a message when
 * the stream is not live, the tracker is unreachable, or the browser lacks WebRTC or MSE. The page
 * loads the viewer bundle from `<origin>/swarmcast-viewer.js` and exposes the viewer as
 * `window.swarmcastViewer` (tests and curious users read its `stats()`).
 */
import { STREAM_ID_PATTERN } from '../protocol/chunk.js';

/** Path of the viewer bundle on the origin. */
export const VIEWER_SCRIPT_PATH = '/swarmcast-viewer.js';

export interface WatchPageOptions {
  stream: string;
  /** The tracker's `ws://` URL; null: the page plays from the origin alone. */
  trackerUrl: string | null;
}

/** The viewer page for `stream`. */
export function watchPageHtml(options: WatchPageOptions): string {
  if (!STREAM_ID_PATTERN.test(options.stream)) throw new TypeError('invalid stream id');
  // JSON in a script element: `<` escaped so no value can close the element.
  const config = JSON.stringify({ stream: options.stream, trackerUrl: options.trackerUrl }).replace(
    /</g,
    '\\u003c',
  );
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>${options.stream} · swarmcast</title>
<style>
  body { margin: 0; font: 14px/1.4 system-ui, sans-serif; background: #111; color: #eee; }
  main { max-width: 960px; margin: 0 auto; padding: 16px; }
  h1 { font-size: 18px; font-weight: 600; margin: 0 0 12px; }
  video { width: 100%; aspect-ratio: 16 / 9; background: #000; display: block; }
  #message { margin: 12px 0 0; padding: 8px 12px; border-radius: 4px; background: #5a4500; }
  #message[hidden] { display: none; }
  dl { display: grid; grid-template-columns: repeat(4, 1fr); gap: 8px; margin: 12px 0 0; }
  dl div { background: #222; padding: 8px 12px; border-radius: 4px; }
  dt { color: #aaa; font-size: 12px; }
  dd { margin: 0; font-size: 20px; font-variant-numeric: tabular-nums; }
  #mode { color: #aaa; margin-top: 8px; font-size: 12px; }
</style>
</head>
<body>
<main>
<h1>${options.stream}</h1>
<video id="video" muted playsinline></video>
<p id="message" role="status" hidden></p>
<dl>
  <div><dt>Peers connected</dt><dd id="peers">–</dd></div>
  <div><dt>From peers / origin</dt><dd id="share">–</dd></div>
  <div><dt>Behind live</dt><dd id="latency">–</dd></div>
  <div><dt>Stalls</dt><dd id="stalls">–</dd></div>
</dl>
<p id="mode"></p>
</main>
<script type="module">
  import { createViewer } from '..${VIEWER_SCRIPT_PATH}';
  const config = ${config};
  const originUrl = new URL('..', location.href).href;
  const viewer = createViewer({
    video: document.getElementById('video'),
    originUrl,
    stream: config.stream,
    ...(config.trackerUrl === null ? {} : { trackerUrl: config.trackerUrl }),
  });
  window.swarmcastViewer = viewer;
  const $ = (id) => document.getElementById(id);
  const percent = (x) => (x === null ? '–' : Math.round(x * 100) + ' %');
  function render() {
    const s = viewer.stats();
    const messages = [];
    if (!s.live && s.mode !== 'unsupported') messages.push('Stream ' + config.stream + ' is not live yet: waiting for it to start.');
    if (s.notice !== null) messages.push(s.notice);
    if (s.player.error !== null) messages.push('Player error: ' + s.player.error);
    $('message').hidden = messages.length === 0;
    $('message').textContent = messages.join(' ');
    $('peers').textContent = s.mode === 'peer-to-peer' ? String(s.peersConnected) : '–';
    $('share').textContent = s.peerShare === null ? '–' : percent(s.peerShare) + ' / ' + percent(1 - s.peerShare);
    $('latency').textContent = s.player.latencyMs === null ? '–' : (s.player.latencyMs / 1000).toFixed(1) + ' s';
    $('stalls').textContent = s.player.stalls + (s.player.stalledMs > 0 ? ' (' + (s.player.stalledMs / 1000).toFixed(1) + ' s)' : '');
    $('mode').textContent = s.mode + (s.peerId === null ? '' : ' · peer ' + s.peerId) + ' · ' + s.player.state;
  }
  render();
  setInterval(render, 500);
  addEventListener('pagehide', () => viewer.stop());
</script>
</body>
</html>
`;
}
