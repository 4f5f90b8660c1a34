// The compare page's charts (uPlot): the runs' equity, normalised, overlaid; their drawdowns below.
import { dateTime, h, pct } from "./format.js";
import { shortId, signedPct } from "./compare-common.js";

// The dashes tell the runs apart in grey too (the colours are compare.js's).
const DASHES = [[], [9, 4], [2, 3], [12, 3, 3, 3], [5, 5], [1, 4]];
const CHART_HEIGHT = 340;
const DRAWDOWN_HEIGHT = 200;

// One x (the union of every run's times, sorted) and one series per run.

/** A run's closed-trade balance as [seconds, growth, drawdown]: from the backtest's start (at the
 * starting balance) to its end (at the last balance), so every run spans its whole range. */
function curveOf(run) {
  const start = run.start || 1;
  const points = run.equity.points.map((p) => [Date.parse(p.ts) / 1000, p.equity / start - 1, -(p.drawdown || 0)]);
  const begin = Date.parse(run.result.backtest_start) / 1000;
  const end = Date.parse(run.result.backtest_end) / 1000;
  if (!Number.isNaN(begin) && (!points.length || points[0][0] > begin)) points.unshift([begin, 0, 0]);
  const last = points[points.length - 1];
  if (last && !Number.isNaN(end) && last[0] < end) points.push([end, last[1], last[2]]);
  return points;
}

/** uPlot's aligned data: the union of the runs' times; a run holds its balance between its own
 * points (the balance only changes when a trade closes) and has null (a gap) outside its range. */
function alignCurves(curves, column) {
  const xs = [...new Set(curves.flatMap((c) => c.map((p) => p[0])))].sort((a, b) => a - b);
  const series = curves.map((curve) => {
    const out = new Array(xs.length).fill(null);
    let i = 0;
    let value = null;
    xs.forEach((x, k) => {
      while (i < curve.length && curve[i][0] <= x) value = curve[i++][column];
      out[k] = curve.length && x >= curve[0][0] && x <= curve[curve.length - 1][0] ? value : null;
    });
    return out;
  });
  return [xs, ...series];
}

export async function drawCharts(runs, chartBox, drawdownBox, state) {
  let uPlot;
  try {
    uPlot = (await import("/ui/vendor/uplot.esm.js")).default;
  } catch {
    chartBox.replaceChildren(h("p", { class: "field-error", role: "alert" },
      "The chart library (uPlot) is missing: node_modules/uplot is not installed. Run `make node_modules/.installed` (or `make run`) and reload."));
    return;
  }
  if (state.disposed) return;
  const curves = runs.map(curveOf);
  const time = { value: (u, v) => (v === null ? "—" : dateTime(new Date(v * 1000).toISOString())) };
  const line = (run) => ({
    label: run.label, stroke: run.colour, width: 2, dash: DASHES[run.index], spanGaps: true,
    paths: uPlot.paths.stepped({ align: 1 }), points: { show: false },
  });
  const sync = { key: `compare-${Math.random().toString(36).slice(2)}`, setSeries: true };
  const width = (box) => Math.max(280, box.clientWidth);
  const growth = new uPlot({
    width: width(chartBox), height: CHART_HEIGHT,
    cursor: { sync },
    series: [time, ...runs.map((run) => ({ ...line(run), value: (u, v) => signedPct(v) }))],
    axes: [{}, { values: (u, vals) => vals.map((v) => signedPct(v)), size: 70 }],
  }, alignCurves(curves, 1), chartBox);
  const drawdown = new uPlot({
    width: width(drawdownBox), height: DRAWDOWN_HEIGHT,
    cursor: { sync },
    series: [time, ...runs.map((run) => ({ ...line(run), label: `${run.key} · ${shortId(run.id)}`, value: (u, v) => pct(v) }))],
    scales: { y: { range: (u, min) => [Math.min(min ?? 0, -0.01) * 1.1, 0] } },
    axes: [{}, { values: (u, vals) => vals.map((v) => pct(v)), size: 70 }],
  }, alignCurves(curves, 2), drawdownBox);
  state.charts.push(growth, drawdown);
  const resize = () => {
    growth.setSize({ width: width(chartBox), height: CHART_HEIGHT });
    drawdown.setSize({ width: width(drawdownBox), height: DRAWDOWN_HEIGHT });
  };
  window.addEventListener("resize", resize);
  state.cleanups.push(() => window.removeEventListener("resize", resize));
}
