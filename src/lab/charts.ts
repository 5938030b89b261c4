/**
 * SVG charts of the MioStream lab, equivalent to the paper's figures 5-12: stalled time and stall
 * count per peer against failure rate for each topology (one line per victim distribution),
 * the same per topology under one distribution (figure 11, "scalability"), goodput per topology
 * (figure 12), and stalled time against swarm size when the results hold several sizes. Scales
 * and paths come from d3; the markup around them is written here.
 */
import { scaleLinear, type ScaleLinear } from 'd3-scale';
import { line } from 'd3-shape';
import { mean } from '../common/stats.js';
import type { MioRunRecord } from './mio.js';

export interface ChartSeries {
  readonly name: string;
  /** Points as [x, y], drawn in the order given. */
  readonly points: readonly (readonly [number, number])[];
}

export interface LineChartOptions {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: readonly ChartSeries[];
  /** @default 640 */
  readonly widthPx?: number;
  /** @default 400 */
  readonly heightPx?: number;
}

/** A chart to write: its file name (with `.svg`) and its markup. */
export interface ChartFile {
  readonly file: string;
  readonly svg: string;
}

const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];
const MARGIN = { top: 40, right: 150, bottom: 50, left: 80 };
const TICKS = 6;

/** A line chart with axes, tick labels, axis labels, a title and a legend, as SVG markup. */
export function lineChart(options: LineChartOptions): string {
  const width = options.widthPx ?? 640;
  const height = options.heightPx ?? 400;
  const points = options.series.flatMap((s) => s.points);
  const xs = points.map(([x]) => x);
  const ys = points.map(([, y]) => y);
  const x = scaleLinear()
    .domain(xs.length > 0 ? [Math.min(...xs), Math.max(...xs)] : [0, 1])
    .range([MARGIN.left, width - MARGIN.right]);
  const y = scaleLinear()
    .domain([0, Math.max(1, ...ys)])
    .nice()
    .range([height - MARGIN.bottom, MARGIN.top]);
  const path = line<readonly [number, number]>()
    .x(([px]) => x(px))
    .y(([, py]) => y(py));
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="14">${escapeXml(options.title)}</text>`,
    ...axes(x, y, width, height, options),
  ];
  options.series.forEach((series, i) => {
    const colour = COLOURS[i % COLOURS.length] ?? 'black';
    parts.push(
      `<path d="${path(series.points) ?? ''}" fill="none" stroke="${colour}" stroke-width="2"/>`,
    );
    for (const [px, py] of series.points) {
      parts.push(
        `<circle cx="${fmt(x(px))}" cy="${fmt(y(py))}" r="3" fill="${colour}"><title>${escapeXml(`${series.name}: ${String(px)}, ${fmt(py)}`)}</title></circle>`,
      );
    }
    const ly = MARGIN.top + 10 + i * 20;
    const lx = width - MARGIN.right + 15;
    parts.push(
      `<line x1="${lx}" y1="${ly}" x2="${lx + 20}" y2="${ly}" stroke="${colour}" stroke-width="2"/>`,
      `<text x="${lx + 26}" y="${ly + 4}">${escapeXml(series.name)}</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

function axes(
  x: ScaleLinear<number, number>,
  y: ScaleLinear<number, number>,
  width: number,
  height: number,
  options: LineChartOptions,
): string[] {
  const bottom = height - MARGIN.bottom;
  const out = [
    `<line x1="${MARGIN.left}" y1="${bottom}" x2="${width - MARGIN.right}" y2="${bottom}" stroke="black"/>`,
    `<line x1="${MARGIN.left}" y1="${MARGIN.top}" x2="${MARGIN.left}" y2="${bottom}" stroke="black"/>`,
  ];
  for (const t of x.ticks(TICKS)) {
    out.push(
      `<line x1="${fmt(x(t))}" y1="${bottom}" x2="${fmt(x(t))}" y2="${bottom + 5}" stroke="black"/>`,
      `<text x="${fmt(x(t))}" y="${bottom + 18}" text-anchor="middle">${String(t)}</text>`,
    );
  }
  for (const t of y.ticks(TICKS)) {
    out.push(
      `<line x1="${MARGIN.left - 5}" y1="${fmt(y(t))}" x2="${width - MARGIN.right}" y2="${fmt(y(t))}" stroke="#ddd"/>`,
      `<text x="${MARGIN.left - 8}" y="${fmt(y(t) + 4)}" text-anchor="end">${String(t)}</text>`,
    );
  }
  out.push(
    `<text x="${(MARGIN.left + width - MARGIN.right) / 2}" y="${height - 12}" text-anchor="middle">${escapeXml(options.xLabel)}</text>`,
    `<text transform="translate(18 ${(MARGIN.top + bottom) / 2}) rotate(-90)" text-anchor="middle">${escapeXml(options.yLabel)}</text>`,
  );
  return out;
}

function fmt(n: number): string {
  return (Math.round(n * 10) / 10).toString();
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"]/g, (c) => `&#${String(c.charCodeAt(0))};`);
}

type Metric = 'stalledMsPerPeer' | 'stallsPerPeer' | 'goodputBpsPerPeer';

const METRIC_LABEL: Record<Metric, string> = {
  stalledMsPerPeer: 'mean stalled time per peer (ms)',
  stallsPerPeer: 'mean stalls per peer',
  goodputBpsPerPeer: 'goodput per peer (bytes/s)',
};

/** Mean over reps of `metric` against `by`, one point per distinct `by` value, sorted. */
function meanSeries(
  name: string,
  records: readonly MioRunRecord[],
  by: 'rate' | 'peers',
  metric: Metric,
): ChartSeries {
  const keys = [...new Set(records.map((r) => r[by]))].sort((a, b) => a - b);
  return {
    name,
    points: keys.map((k) => [k, mean(records.filter((r) => r[by] === k).map((r) => r[metric]))]),
  };
}

/**
 * The records of one swarm size: `preferredPeers` (the paper's) when the records hold it, else the
 * largest size run.
 */
export function recordsAtSize(
  records: readonly MioRunRecord[],
  preferredPeers: number,
): { readonly size: number; readonly records: MioRunRecord[] } {
  const sizes = unique(records.map((r) => r.peers));
  const size = sizes.includes(preferredPeers) ? preferredPeers : Math.max(...sizes);
  return { size, records: records.filter((r) => r.peers === size) };
}

function unique<T>(values: readonly T[]): T[] {
  return [...new Set(values)];
}

/**
 * The lab's charts from its records: figures 5-10 (per topology: stalled time and stall count
 * against rate, a line per distribution), 11a/b and 12 (per topology under the uniform
 * distribution, or the first one run), and a stalled-time-against-peers chart when the records
 * hold more than one swarm size. Figures 5-12 use the records of one size (see `recordsAtSize`).
 */
export function mioCharts(
  allRecords: readonly MioRunRecord[],
  preferredPeers: number,
): ChartFile[] {
  const charts: ChartFile[] = [];
  const { records } = recordsAtSize(allRecords, preferredPeers);
  const topologies = unique(records.map((r) => r.topology));
  const distributions = unique(records.map((r) => r.distribution));
  const rateChart = (title: string, metric: Metric, series: ChartSeries[]): string =>
    lineChart({ title, xLabel: 'failures per second', yLabel: METRIC_LABEL[metric], series });
  let figure = 5;
  for (const topology of topologies) {
    const ofTopology = records.filter((r) => r.topology === topology);
    for (const metric of ['stalledMsPerPeer', 'stallsPerPeer'] as const) {
      const series = distributions.map((d) =>
        meanSeries(
          d,
          ofTopology.filter((r) => r.distribution === d),
          'rate',
          metric,
        ),
      );
      const name = metric === 'stalledMsPerPeer' ? 'stalled-time' : 'stalls';
      charts.push({
        file: `fig${String(figure).padStart(2, '0')}-${topology}-${name}.svg`,
        svg: rateChart(`${topology}: ${METRIC_LABEL[metric]} under failures`, metric, series),
      });
      figure++;
    }
  }
  const reference = distributions.includes('uniform') ? 'uniform' : distributions[0];
  const ofReference = records.filter((r) => r.distribution === reference);
  const byTopology = (metric: Metric): ChartSeries[] =>
    topologies.map((t) =>
      meanSeries(
        t,
        ofReference.filter((r) => r.topology === t),
        'rate',
        metric,
      ),
    );
  const under = `(${reference ?? 'none'} victims)`;
  charts.push(
    {
      file: 'fig11a-stalled-time-by-topology.svg',
      svg: rateChart(
        `Stalled time per topology ${under}`,
        'stalledMsPerPeer',
        byTopology('stalledMsPerPeer'),
      ),
    },
    {
      file: 'fig11b-stalls-by-topology.svg',
      svg: rateChart(`Stalls per topology ${under}`, 'stallsPerPeer', byTopology('stallsPerPeer')),
    },
    {
      file: 'fig12-goodput-by-topology.svg',
      svg: rateChart(
        `Goodput per topology ${under}`,
        'goodputBpsPerPeer',
        byTopology('goodputBpsPerPeer'),
      ),
    },
  );
  if (unique(allRecords.map((r) => r.peers)).length > 1) {
    const maxRate = Math.max(...ofReference.map((r) => r.rate));
    const acrossSizes = allRecords.filter((r) => r.distribution === reference);
    charts.push({
      file: 'scalability-stalled-time-by-peers.svg',
      svg: lineChart({
        title: `Stalled time against swarm size at ${String(maxRate)} failures/s ${under}`,
        xLabel: 'peers',
        yLabel: METRIC_LABEL.stalledMsPerPeer,
        series: topologies.map((t) =>
          meanSeries(
            t,
            acrossSizes.filter((r) => r.topology === t && r.rate === maxRate),
            'peers',
            'stalledMsPerPeer',
          ),
        ),
      }),
    });
  }
  return charts;
}
