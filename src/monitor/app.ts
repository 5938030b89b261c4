/**
 * The monitor page's script (browser): follows the tracker's observer stream and draws the
 * overlay with cytoscape (a breadth-first tree from the broadcaster), the per-peer QoE table,
 * origin egress and offload charts with uPlot, and the controls: kill, topology switch, failure
 * injection, attacks (polluting viewers) and lab scenarios. It exposes what it shows as
 * `window.swarmcastMonitor` for tests and curious operators.
 */
import cytoscape from 'cytoscape';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import './app.css';
import type { NodeSnapshot, StreamSnapshot } from '../tracker/core/tracker-core.js';
import type { AttackMode } from '../lab/attacks.js';
import type { VictimDistribution } from '../lab/failures.js';
import type { TopologyKind } from '../protocol/tracker.js';
import {
  MONITOR_ATTACK_PATH,
  MONITOR_EVENTS_PATH,
  MONITOR_FAILURES_PATH,
  MONITOR_LAB_PATH,
  MONITOR_TOPOLOGY_PATH,
  killPath,
  type AttackRequest,
  type AttackStatus,
  type FailureSetting,
  type LabRequest,
  type LabResult,
  type MonitorControls,
  type MonitorEvent,
  type MonitorUpdate,
  type TopologyRequest,
} from './messages.js';

/** Points kept in each chart (one per update). */
const CHART_POINTS = 300;
const CHART_HEIGHT_PX = 160;
const COLOURS = {
  playing: '#3fb950',
  stalled: '#e5534b',
  unknown: '#8b949e',
  broadcaster: '#539bf5',
  edge: '#adbac7',
  backup: '#6e7681',
  selected: '#f0c000',
} as const;

type Health = 'playing' | 'stalled' | 'unknown';

/** What the graph shows, for tests: nodes with their parents, and every edge. */
export interface MonitorGraphView {
  readonly nodes: readonly { id: string; role: string; health: Health; parents: string[] }[];
  readonly edges: readonly { source: string; target: string; backup: boolean }[];
}

/** The charts' points, oldest first, for tests. */
export interface MonitorChartsView {
  readonly timesS: readonly number[];
  readonly egressKbps: readonly number[];
  readonly offload: readonly number[];
}

declare global {
  interface Window {
    swarmcastMonitor?: {
      graph: () => MonitorGraphView;
      latest: () => MonitorUpdate | undefined;
      charts: () => MonitorChartsView;
    };
  }
}

function element(id: string): HTMLElement;
function element<T extends HTMLElement>(id: string, type: new () => T): T;
function element(id: string, type: new () => HTMLElement = HTMLElement): HTMLElement {
  const found = document.getElementById(id);
  if (!(found instanceof type)) throw new Error(`monitor page lacks #${id}`);
  return found;
}

function health(node: NodeSnapshot): Health {
  if (node.qoe === null) return 'unknown';
  return node.qoe.playing ? 'playing' : 'stalled';
}

function short(id: string): string {
  return id.slice(0, 6);
}

/** A select's value; the server checks it (the page's options are the server's values). */
function selected(id: string): string {
  return element(id, HTMLSelectElement).value;
}

function numberIn(id: string): number {
  return element(id, HTMLInputElement).valueAsNumber;
}

function describeLab(request: LabRequest): string {
  return `${request.topology}, ${request.distribution} victims at ${request.rate}/s, ${request.peers} peers, ${request.durationS} s`;
}

/** The attack line: how many polluters started, how many the tracker removed, and how fast. */
function describeAttack(attack: AttackStatus): string {
  const { polluters } = attack;
  if (polluters.length === 0) return 'no polluter';
  const modes = [...new Set(polluters.map((p) => p.mode))].join(', ');
  const removed = polluters.filter((p) => p.removedReason !== null);
  const times = removed.flatMap((p) => (p.evictionMs === null ? [] : [p.evictionMs]));
  const slowest =
    times.length === 0
      ? ''
      : `, slowest ${(Math.max(...times) / 1000).toFixed(1)} s after its first bad message`;
  const count = `${polluters.length} ${polluters.length === 1 ? 'polluter' : 'polluters'}`;
  return `${count} (${modes}): ${removed.length} evicted${slowest}`;
}

function percent(part: number, total: number): string {
  return `${((100 * part) / total).toFixed(0)} %`;
}

/** Bytes a node has received, as its last QoE sample says. */
function received(node: NodeSnapshot): number {
  return node.qoe === null ? 0 : node.qoe.bytesFromPeers + node.qoe.bytesFromOrigin;
}

class Monitor {
  readonly #cy: cytoscape.Core;
  readonly #egress: uPlot;
  readonly #offload: uPlot;
  readonly #chartData: [number[], number[], number[]] = [[], [], []];
  #latest: MonitorUpdate | undefined;
  #selected: string | undefined;
  #structure = '';
  #shownKind: TopologyKind | undefined;
  #shownLab: LabResult | null = null;

  constructor() {
    this.#cy = cytoscape({
      container: element('graph'),
      wheelSensitivity: 0.3,
      style: [
        {
          selector: 'node',
          style: {
            label: 'data(label)',
            color: '#e6e6e6',
            'font-size': 10,
            'text-valign': 'bottom',
            'text-margin-y': 4,
            width: 22,
            height: 22,
            'background-color': 'data(colour)',
          },
        },
        {
          selector: 'node:selected',
          style: { 'border-width': 3, 'border-color': COLOURS.selected },
        },
        {
          selector: 'edge',
          style: {
            width: 2,
            'curve-style': 'bezier',
            'target-arrow-shape': 'triangle',
            'line-color': COLOURS.edge,
            'target-arrow-color': COLOURS.edge,
          },
        },
        {
          selector: 'edge.backup',
          style: {
            width: 1,
            'line-style': 'dashed',
            'line-color': COLOURS.backup,
            'target-arrow-color': COLOURS.backup,
          },
        },
      ],
    });
    this.#cy.on('select', 'node', (event) => {
      this.#select((event.target as cytoscape.NodeSingular).id());
    });
    this.#cy.on('unselect', 'node', () => {
      this.#select(undefined);
    });
    element('kill-selected', HTMLButtonElement).addEventListener('click', () => {
      if (this.#selected !== undefined) void this.#kill(this.#selected);
    });
    this.#wireControls();
    const width = Math.max(280, element('charts-panel').clientWidth - 24);
    const axes: uPlot.Axis[] = [{ stroke: '#adbac7' }, { stroke: '#adbac7' }];
    this.#egress = new uPlot(
      {
        title: 'Origin egress (kbps)',
        width,
        height: CHART_HEIGHT_PX,
        axes,
        series: [{}, { label: 'egress kbps', stroke: COLOURS.broadcaster, width: 2 }],
      },
      [[], []],
      element('egress-chart'),
    );
    this.#offload = new uPlot(
      {
        title: 'Offload (share of viewer bytes not from origin or broadcaster)',
        width,
        height: CHART_HEIGHT_PX,
        axes,
        scales: { y: { range: [0, 1] } },
        series: [{}, { label: 'offload', stroke: COLOURS.playing, width: 2 }],
      },
      [[], []],
      element('offload-chart'),
    );
    window.swarmcastMonitor = {
      graph: () => this.#graphView(),
      latest: () => this.#latest,
      charts: () => {
        const [timesS, egressKbps, offload] = this.#chartData;
        return { timesS: [...timesS], egressKbps: [...egressKbps], offload: [...offload] };
      },
    };
  }

  connect(): void {
    const status = element('status');
    const source = new EventSource(MONITOR_EVENTS_PATH);
    source.addEventListener('update', (event) => {
      status.dataset.state = 'live';
      status.textContent = 'live';
      this.#apply(JSON.parse((event as MessageEvent<string>).data) as MonitorUpdate);
    });
    source.addEventListener('error', () => {
      status.dataset.state = 'reconnecting';
      status.textContent = 'tracker unreachable: reconnecting…';
    });
  }

  #apply(update: MonitorUpdate): void {
    const previous = this.#latest;
    this.#latest = update;
    const stream = update.snapshot.streams[0];
    element('topology-kind').textContent = stream === undefined ? '' : `(${stream.topology})`;
    element('summary').textContent =
      stream === undefined
        ? 'no live stream'
        : `${stream.info.stream}: ${stream.nodes.length} nodes, ${update.snapshot.connections} connections`;
    this.#drawGraph(stream);
    this.#drawTable(stream, previous);
    this.#drawCharts(update, previous);
    this.#drawControls(stream, update.controls);
    this.#drawNotes(update);
    this.#logEvents(update.events);
  }

  #drawGraph(stream: StreamSnapshot | undefined): void {
    const nodes = stream?.nodes ?? [];
    const elements: cytoscape.ElementDefinition[] = [];
    for (const node of nodes) {
      const colour = node.role === 'broadcaster' ? COLOURS.broadcaster : COLOURS[health(node)];
      const label = node.role === 'broadcaster' ? `broadcaster ${short(node.id)}` : short(node.id);
      elements.push({ group: 'nodes', data: { id: node.id, label, colour, role: node.role } });
    }
    const present = new Set(nodes.map((n) => n.id));
    for (const node of nodes) {
      for (const parent of node.parents) {
        if (present.has(parent)) {
          elements.push({
            group: 'edges',
            data: { id: `p ${parent} ${node.id}`, source: parent, target: node.id },
          });
        }
      }
      for (const parent of node.backupParents) {
        if (present.has(parent)) {
          elements.push({
            group: 'edges',
            classes: 'backup',
            data: { id: `b ${parent} ${node.id}`, source: parent, target: node.id },
          });
        }
      }
    }
    const ids = new Set(elements.map((e) => e.data.id ?? ''));
    this.#cy.batch(() => {
      this.#cy.elements().forEach((el) => {
        if (!ids.has(el.id())) el.remove();
      });
      for (const definition of elements) {
        const existing = this.#cy.getElementById(definition.data.id ?? '');
        if (existing.empty()) this.#cy.add(definition);
        else existing.data(definition.data);
      }
    });
    if (this.#selected !== undefined && !present.has(this.#selected)) this.#select(undefined);
    const structure = [...ids].sort().join('|');
    if (structure === this.#structure) return;
    this.#structure = structure;
    const roots = nodes.filter((n) => n.role === 'broadcaster').map((n) => n.id);
    // Depth by parent links only: standby links would pull nodes up (a list's backups skip one).
    this.#cy
      .elements()
      .difference('edge.backup')
      .layout({
        name: 'breadthfirst',
        directed: true,
        roots,
        spacingFactor: 1.1,
        animate: false,
      })
      .run();
  }

  #drawTable(stream: StreamSnapshot | undefined, previous: MonitorUpdate | undefined): void {
    const body = element('peers', HTMLTableElement).tBodies[0];
    if (body === undefined) return;
    const before = new Map(previous?.snapshot.streams[0]?.nodes.map((n) => [n.id, n]) ?? []);
    const elapsedS =
      previous === undefined ? 0 : (this.#latest?.timeMs ?? 0) / 1000 - previous.timeMs / 1000;
    const polluters = new Map(
      (this.#latest?.controls.attack?.polluters ?? []).flatMap((p) =>
        p.peerId === null ? [] : [[p.peerId, p.mode] as const],
      ),
    );
    const rows = (stream?.nodes ?? []).map((node) => {
      const row = document.createElement('tr');
      const attack = polluters.get(node.id);
      row.dataset.peer = node.id;
      row.dataset.role = node.role;
      if (attack !== undefined) row.dataset.polluter = attack;
      row.dataset.parents = node.parents.join(' ');
      const q = node.qoe;
      const total = received(node);
      const last = before.get(node.id)?.qoe;
      const uploadKbps =
        q === null || last === undefined || last === null || elapsedS <= 0
          ? null
          : ((q.bytesUploaded - last.bytesUploaded) * 8) / 1000 / elapsedS;
      const state = health(node);
      const viewer = node.role === 'viewer';
      const cells: [string, string?][] = [
        [node.id],
        [attack === undefined ? node.role : `polluter (${attack})`],
        [node.parents.map(short).join(' ') || '-'],
        [node.children.map(short).join(' ') || '-'],
        viewer ? [state === 'unknown' ? 'no report' : state, `state-${state}`] : ['source'],
        [q === null ? '-' : String(q.stalls)],
        [q === null ? '-' : (q.stalledMs / 1000).toFixed(1)],
        [q?.latencyMs == null ? '-' : (q.latencyMs / 1000).toFixed(2)],
        [!viewer || q === null || total === 0 ? '-' : percent(q.bytesFromPeers, total)],
        [!viewer || q === null || total === 0 ? '-' : percent(q.bytesFromOrigin, total)],
        [uploadKbps === null ? '-' : Math.max(0, uploadKbps).toFixed(0)],
      ];
      for (const [text, className] of cells) {
        const cell = row.insertCell();
        cell.textContent = text;
        if (className !== undefined) cell.className = className;
      }
      const action = row.insertCell();
      if (node.role !== 'broadcaster') {
        const button = document.createElement('button');
        button.type = 'button';
        button.className = 'kill';
        button.dataset.peer = node.id;
        button.textContent = 'kill';
        button.addEventListener('click', () => {
          void this.#kill(node.id);
        });
        action.append(button);
      }
      return row;
    });
    body.replaceChildren(...rows);
  }

  #drawCharts(update: MonitorUpdate, previous: MonitorUpdate | undefined): void {
    const stats = update.stats;
    element('charts-note').hidden = stats !== null;
    if (stats === null || previous?.stats == null) return;
    const elapsedS = (update.timeMs - previous.timeMs) / 1000;
    if (elapsedS <= 0) return;
    const originDelta = stats.originBytesSent - previous.stats.originBytesSent;
    const sourceDelta =
      originDelta + stats.broadcasterBytesUploaded - previous.stats.broadcasterBytesUploaded;
    const before = new Map(previous.snapshot.streams[0]?.nodes.map((n) => [n.id, n]) ?? []);
    let receivedDelta = 0;
    for (const node of update.snapshot.streams[0]?.nodes ?? []) {
      const last = before.get(node.id);
      if (last !== undefined) receivedDelta += Math.max(0, received(node) - received(last));
    }
    const offload =
      receivedDelta > 0 ? Math.min(1, Math.max(0, 1 - sourceDelta / receivedDelta)) : 0;
    const [times, egress, offloads] = this.#chartData;
    times.push(update.timeMs / 1000);
    egress.push((originDelta * 8) / 1000 / elapsedS);
    offloads.push(offload);
    if (times.length > CHART_POINTS) {
      times.shift();
      egress.shift();
      offloads.shift();
    }
    // Fresh arrays: uPlot keeps references to what it was given.
    this.#egress.setData([[...times], [...egress]]);
    this.#offload.setData([[...times], [...offloads]]);
  }

  #drawControls(stream: StreamSnapshot | undefined, controls: MonitorControls): void {
    element('topology-form', HTMLFormElement).inert = stream === undefined;
    if (stream !== undefined && stream.topology !== this.#shownKind) {
      this.#shownKind = stream.topology;
      element('topology-select', HTMLSelectElement).value = stream.topology;
    }
    const failures = controls.failures;
    element('failures-form', HTMLFormElement).inert = failures === null;
    const state = element('failures-state');
    const active = failures !== null && failures.rate > 0;
    state.dataset.active = String(active);
    state.textContent = active
      ? `active: ${failures.rate}/s, ${failures.distribution} victims`
      : failures === null
        ? 'not offered'
        : 'inactive';
    element('failures-count').textContent = String(failures?.injected ?? 0);
    const attack = controls.attack;
    element('attack-form', HTMLFormElement).inert = attack === null;
    element('attack-state').textContent = attack === null ? 'not offered' : describeAttack(attack);
    element('attack-started').textContent = String(attack?.polluters.length ?? 0);
    element('attack-evicted').textContent = String(
      attack?.polluters.filter((p) => p.removedReason !== null).length ?? 0,
    );
    const running = controls.lab.running;
    element('lab-run', HTMLButtonElement).disabled = running !== null;
    if (running !== null) element('lab-state').textContent = `running: ${describeLab(running)}…`;
    if (controls.lab.last !== null && controls.lab.last !== this.#shownLab) {
      this.#showLab(controls.lab.last);
    }
  }

  #wireControls(): void {
    element('topology-form', HTMLFormElement).addEventListener('submit', (event) => {
      event.preventDefault();
      const stream = this.#latest?.snapshot.streams[0]?.info.stream;
      if (stream === undefined) return;
      const request: TopologyRequest = {
        stream,
        kind: selected('topology-select') as TopologyKind,
      };
      void this.#post(MONITOR_TOPOLOGY_PATH, request, 'switch topology');
    });
    const setFailures = (rate: number): void => {
      const setting: FailureSetting = {
        rate,
        distribution: selected('failure-distribution') as VictimDistribution,
      };
      void this.#post(MONITOR_FAILURES_PATH, setting, 'failures');
    };
    element('failures-form', HTMLFormElement).addEventListener('submit', (event) => {
      event.preventDefault();
      setFailures(numberIn('failure-rate'));
    });
    element('failures-stop', HTMLButtonElement).addEventListener('click', () => {
      setFailures(0);
    });
    element('attack-form', HTMLFormElement).addEventListener('submit', (event) => {
      event.preventDefault();
      const request: AttackRequest = {
        mode: selected('attack-mode') as AttackMode,
        polluters: numberIn('attack-polluters'),
      };
      void this.#post(MONITOR_ATTACK_PATH, request, 'attack');
    });
    element('lab-form', HTMLFormElement).addEventListener('submit', (event) => {
      event.preventDefault();
      void this.#runLab({
        topology: selected('lab-topology') as TopologyKind,
        distribution: selected('lab-distribution') as VictimDistribution,
        rate: numberIn('lab-rate'),
        peers: numberIn('lab-peers'),
        durationS: numberIn('lab-duration'),
      });
    });
  }

  async #runLab(request: LabRequest): Promise<void> {
    const state = element('lab-state');
    const run = element('lab-run', HTMLButtonElement);
    run.disabled = true;
    state.textContent = `running: ${describeLab(request)}…`;
    const result = await this.#post(MONITOR_LAB_PATH, request, 'lab', (message) => {
      state.textContent = message;
    });
    run.disabled = false;
    if (result !== undefined) this.#showLab(result as LabResult);
  }

  /** Shows a lab scenario's record: the figures the MioStream report compares. */
  #showLab(result: LabResult): void {
    this.#shownLab = result;
    const r = result.record;
    element('lab-state').textContent =
      `done in ${(result.wallMs / 1000).toFixed(1)} s: ${describeLab(result.request)}, seed ${r.seed}`;
    const ms = (value: number | null): string => (value === null ? '-' : `${value} ms`);
    const rows: [string, string, string][] = [
      ['failures', 'failures injected', String(r.failures)],
      ['stalledMsPerPeer', 'stalled per peer (mean)', ms(r.stalledMsPerPeer)],
      ['stalledMsPerPeerP95', 'stalled per peer (p95)', ms(r.stalledMsPerPeerP95)],
      ['stalledPct', 'stalled share of play', `${r.stalledPct} %`],
      ['stallsPerPeer', 'stalls per peer', String(r.stallsPerPeer)],
      ['offload', 'offload', r.offload.toFixed(3)],
      ['latencyP95Ms', 'latency behind live (p95)', ms(r.latencyP95Ms)],
      ['startupMsP95', 'startup (p95)', ms(r.startupMsP95)],
      ['chunksMissing', 'chunks missing', String(r.chunksMissing)],
    ];
    const table = element('lab-record', HTMLTableElement);
    table.tBodies[0]?.replaceChildren(
      ...rows.map(([field, label, value]) => {
        const row = document.createElement('tr');
        row.dataset.field = field;
        row.insertCell().textContent = label;
        row.insertCell().textContent = value;
        return row;
      }),
    );
    table.hidden = false;
  }

  #drawNotes(update: MonitorUpdate): void {
    const list = element('notes');
    const shown = Array.from(list.children, (item) => item.textContent);
    if (shown.join('\n') === update.controls.notes.join('\n')) return;
    list.replaceChildren(
      ...update.controls.notes.map((note) => {
        const item = document.createElement('li');
        item.textContent = note;
        return item;
      }),
    );
  }

  #logEvents(events: readonly MonitorEvent[]): void {
    const list = element('events');
    for (const event of events) {
      const item = document.createElement('li');
      item.textContent = `${new Date(event.atMs).toLocaleTimeString()} ${event.kind} ${short(event.peerId)}`;
      list.prepend(item);
    }
  }

  #select(id: string | undefined): void {
    this.#selected = id;
    element('selected').textContent =
      id === undefined ? 'click a node to select it' : `selected ${id}`;
    const node = this.#latest?.snapshot.streams[0]?.nodes.find((n) => n.id === id);
    element('kill-selected', HTMLButtonElement).disabled =
      node === undefined || node.role === 'broadcaster';
  }

  async #kill(peerId: string): Promise<void> {
    await this.#post(killPath(peerId), {}, `kill ${short(peerId)}`);
  }

  /**
   * Posts a control request; resolves with the answer's JSON, or undefined after showing why it
   * failed (in the header's status unless `onError` shows it elsewhere).
   */
  async #post(
    path: string,
    body: object,
    what: string,
    onError: (message: string) => void = (message) => {
      element('status').textContent = message;
    },
  ): Promise<unknown> {
    try {
      const response = await fetch(path, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      });
      if (response.ok) return (await response.json()) as unknown;
      onError(`${what}: ${await response.text()}`);
    } catch (error) {
      onError(`${what}: ${error instanceof Error ? error.message : 'failed'}`);
    }
    return undefined;
  }

  #graphView(): MonitorGraphView {
    return {
      nodes: this.#cy.nodes().map((n) => ({
        id: n.id(),
        role: String(n.data('role')),
        health: health(this.#nodeSnapshot(n.id())),
        parents: n
          .incomers('edge')
          .filter((e) => !e.hasClass('backup'))
          .sources()
          .map((p) => p.id()),
      })),
      edges: this.#cy.edges().map((e) => ({
        source: e.source().id(),
        target: e.target().id(),
        backup: e.hasClass('backup'),
      })),
    };
  }

  #nodeSnapshot(id: string): NodeSnapshot {
    const node = this.#latest?.snapshot.streams[0]?.nodes.find((n) => n.id === id);
    if (node === undefined) throw new Error(`no node ${id} in the latest update`);
    return node;
  }
}

new Monitor().connect();
