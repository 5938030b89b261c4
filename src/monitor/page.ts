/**
 * The HTML of the monitor page, `/monitor` on the tracker's port: the topology graph, the
 * per-peer QoE table, origin charts, controls and an event log. Its script
 * (`src/monitor/app.ts`) fills them from the observer stream.
 */
import { ATTACK_MODES } from '../lab/attacks.js';
import { VICTIM_DISTRIBUTIONS } from '../lab/failures.js';
import { TOPOLOGY_KINDS } from '../protocol/tracker.js';
import {
  MAX_ATTACK_POLLUTERS,
  MAX_FAILURE_RATE,
  MAX_LAB_DURATION_S,
  MAX_LAB_PEERS,
  MIN_LAB_DURATION_S,
} from './controls.node.js';
import { MONITOR_SCRIPT_PATH, MONITOR_STYLE_PATH } from './messages.js';

/** Defaults of the lab form: a scenario that takes a few seconds to simulate. */
const LAB_FORM_DEFAULTS = { peers: 30, durationS: 30, rate: 1 } as const;

function options(values: readonly string[]): string {
  return values.map((value) => `<option value="${value}">${value}</option>`).join('');
}

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
    <form id="topology-form" class="control">
      <span class="control-name">Topology</span>
      <label>switch the stream to <select id="topology-select">${options(TOPOLOGY_KINDS)}</select></label>
      <button type="submit">switch</button>
    </form>
    <form id="failures-form" class="control">
      <span class="control-name">Failures</span>
      <label>rate /s <input id="failure-rate" type="number" min="0" max="${MAX_FAILURE_RATE}" step="0.5" value="1" required></label>
      <label>victims <select id="failure-distribution">${options(VICTIM_DISTRIBUTIONS)}</select></label>
      <button type="submit" id="failures-start">inject</button>
      <button type="button" id="failures-stop">stop</button>
      <span id="failures-state" data-active="false">inactive</span>
      <span>injected <output id="failures-count">0</output></span>
    </form>
    <form id="attack-form" class="control">
      <span class="control-name">Attack</span>
      <label>mode <select id="attack-mode">${options(ATTACK_MODES)}</select></label>
      <label>polluters <input id="attack-polluters" type="number" min="1" max="${MAX_ATTACK_POLLUTERS}" step="1" value="1" required></label>
      <button type="submit" id="attack-start">start</button>
      <span id="attack-state">no polluter</span>
      <span>started <output id="attack-started">0</output></span>
      <span>evicted <output id="attack-evicted">0</output></span>
    </form>
    <form id="lab-form" class="control">
      <span class="control-name">Lab scenario (simulated)</span>
      <label>topology <select id="lab-topology">${options(TOPOLOGY_KINDS)}</select></label>
      <label>victims <select id="lab-distribution">${options(VICTIM_DISTRIBUTIONS)}</select></label>
      <label>rate /s <input id="lab-rate" type="number" min="0" max="${MAX_FAILURE_RATE}" step="0.5" value="${LAB_FORM_DEFAULTS.rate}" required></label>
      <label>peers <input id="lab-peers" type="number" min="1" max="${MAX_LAB_PEERS}" step="1" value="${LAB_FORM_DEFAULTS.peers}" required></label>
      <label>duration s <input id="lab-duration" type="number" min="${MIN_LAB_DURATION_S}" max="${MAX_LAB_DURATION_S}" step="1" value="${LAB_FORM_DEFAULTS.durationS}" required></label>
      <button type="submit" id="lab-run">run</button>
      <span id="lab-state"></span>
    </form>
    <table id="lab-record" hidden><tbody></tbody></table>
    <ul id="notes"></ul>
    <h2>Events</h2>
    <ol id="events" reversed></ol>
  </section>
</main>
</body>
</html>
`;
}
