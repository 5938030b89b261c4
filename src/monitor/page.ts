/**
 * The HTML of the monitor page, `/monitor` on the tracker's port: the topology graph, the
 * per-peer QoE table, origin charts, controls and an event log. Its script
 * (`src/monitor/app.ts`) fills them from the observer stream.
 */
import { MONITOR_SCRIPT_PATH, MONITOR_STYLE_PATH } from './messages.js';

/** The monitor page. */
export function monitorPageHtml(): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>swarmcast monitor</title>
<link rel="stylesheet" href="${MONITOR_STYLE_PATH}">
<script type="module" src="${MONITOR_SCRIPT_PATH}"></script>
</head>
<body>
<header>
  <h1>swarmcast monitor</h1>
  <span id="status" data-state="connecting">connecting…</span>
  <span id="summary"></span>
</header>
<main>
  <section id="graph-panel">
    <h2>Topology <span id="topology-kind"></span></h2>
    <div id="graph" aria-label="topology graph"></div>
    <p class="legend">
      <span class="dot playing"></span>playing
      <span class="dot stalled"></span>stalled
      <span class="dot unknown"></span>no report
      <span class="dot broadcaster"></span>broadcaster
      <span class="line solid"></span>parent → child
      <span class="line dashed"></span>backup link
    </p>
    <div id="selection">
      <span id="selected">click a node to select it</span>
      <button id="kill-selected" type="button" disabled>kill selected</button>
    </div>
  </section>
  <section id="charts-panel">
    <h2>Origin</h2>
    <div id="egress-chart"></div>
    <div id="offload-chart"></div>
    <p id="charts-note" hidden>No origin figures: this tracker runs without a runner feeding them.</p>
  </section>
  <section id="table-panel">
    <h2>Peers</h2>
    <table id="peers">
      <thead><tr>
        <th>peer</th><th>role</th><th>parents</th><th>children</th><th>state</th>
        <th>stalls</th><th>stalled s</th><th>latency s</th><th>from peers</th>
        <th>from origin</th><th>upload kbps</th><th></th>
      </tr></thead>
      <tbody></tbody>
    </table>
  </section>
  <section id="controls-panel">
    <h2>Controls</h2>
    <ul id="notes"></ul>
    <h2>Events</h2>
    <ol id="events" reversed></ol>
  </section>
</main>
</body>
</html>
`;
}
