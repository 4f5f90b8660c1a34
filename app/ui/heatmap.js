// A sweep's objective over two parameters as an accessible heatmap: a <table> whose column and
// row headers are the values of X and Y, each cell the best objective of the trials at that point
// (whatever the other parameters were), coloured on a scale from worse to better, with a legend.
import { h } from "./format.js";
import { improves, objectiveText, valueText } from "./sweep-format.js";

const MAX_VALUES = 25; // more distinct values than this on an axis: equal-width bins
const BINS = 10;
// Viridis, from worse (dark) to better (bright): perceptually even and readable in grey.
const PALETTE = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];

function same(a, b) {
  if (typeof a === "number" && typeof b === "number") {
    return Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));
  }
  return a === b;
}

/** The values of one axis: the space's (a list, or a range with its step) and those the trials
 * ran with, in order; a continuous range, or too many values, is cut into bins. */
export function axisOf(name, spec, trials) {
  const seen = [];
  for (const t of trials) {
    const v = t.parameters?.[name];
    if (v !== undefined && !seen.some((s) => same(s, v))) seen.push(v);
  }
  let values = [];
  let low = null;
  let high = null;
  if (Array.isArray(spec)) values = [...spec];
  else if (spec && typeof spec === "object" && typeof spec.low === "number") {
    ({ low, high } = spec);
    const count = spec.step ? Math.floor((high - low) / spec.step + 1e-9) + 1 : Infinity;
    if (count <= MAX_VALUES) {
      for (let i = 0; i < count; i++) values.push(Number((low + i * spec.step).toPrecision(12)));
    } else values = null;
  }
  const numeric = seen.every((v) => typeof v === "number") && (values || []).every((v) => typeof v === "number");
  if (values) {
    for (const v of seen) if (!values.some((s) => same(s, v))) values.push(v);
    if (numeric) values.sort((a, b) => a - b);
    if (!numeric || values.length <= MAX_VALUES) {
      return { name, labels: values.map(valueText), keys: values.map(String), index: (v) => values.findIndex((s) => same(s, v)), binned: false };
    }
  }
  // Bins over the range (or what the trials ran with).
  const numbers = seen.filter((v) => typeof v === "number");
  const lo = Math.min(low ?? Infinity, ...numbers);
  const hi = Math.max(high ?? -Infinity, ...numbers);
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) {
    return { name, labels: [], keys: [], index: () => -1, binned: true };
  }
  const bins = hi > lo ? BINS : 1;
  const width = (hi - lo) / bins || 1;
  const edges = Array.from({ length: bins }, (_, i) => [lo + i * width, i === bins - 1 ? hi : lo + (i + 1) * width]);
  return {
    name,
    labels: edges.map(([a, b]) => (bins === 1 ? valueText(a) : `${valueText(a)} – ${valueText(b)}`)),
    keys: edges.map(([a, b]) => `${a}..${b}`),
    index: (v) => (typeof v === "number" ? Math.max(0, Math.min(bins - 1, Math.floor((v - lo) / width))) : -1),
    binned: bins > 1,
  };
}

function colourAt(t) {
  const x = Math.max(0, Math.min(1, t)) * (PALETTE.length - 1);
  const i = Math.min(PALETTE.length - 2, Math.floor(x));
  const f = x - i;
  return PALETTE[i].map((c, k) => Math.round(c + (PALETTE[i + 1][k] - c) * f));
}

const css = ([r, g, b]) => `rgb(${r}, ${g}, ${b})`;
// Relative luminance (WCAG): dark text on bright cells, white on dark ones.
function textOn([r, g, b]) {
  const lin = (c) => ((c /= 255) <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b) > 0.22 ? "#111" : "#fff";
}

/** The cells of X by Y: per cell the best trial, and how many trials ran, wait or failed there. */
export function cellsOf(trials, ax, ay, direction) {
  const cells = new Map();
  for (const t of trials) {
    const xi = ax.index(t.parameters?.[ax.name]);
    const yi = ay ? ay.index(t.parameters?.[ay.name]) : 0;
    if (xi < 0 || yi < 0) continue;
    const key = `${xi}|${yi}`;
    const cell = cells.get(key) || { best: null, trials: 0, pending: 0, failed: 0 };
    cells.set(key, cell);
    cell.trials += 1;
    if (t.status === "pending") cell.pending += 1;
    else if (t.status !== "completed") cell.failed += 1;
    if (t.status === "completed" && typeof t.objective === "number"
      && improves(direction, t.number, t.objective, cell.best && { trial: cell.best.number, objective: cell.best.objective })) {
      cell.best = t;
    }
  }
  return cells;
}

/**
 * The heatmap of `sweep.objective` over parameters `x` and `y` (y: "" for one row), from
 * `trials`; `bestTrial` (a number or null) is the sweep's best, whose cell is marked.
 */
export function heatmap(sweep, trials, x, y, bestTrial) {
  const ax = axisOf(x, sweep.space[x], trials);
  const ay = y ? axisOf(y, sweep.space[y], trials) : null;
  const cells = cellsOf(trials, ax, ay, sweep.direction);
  const values = [...cells.values()].filter((c) => c.best).map((c) => c.best.objective);
  const min = values.length ? Math.min(...values) : 0;
  const max = values.length ? Math.max(...values) : 0;
  // 0: the worst value shown, 1: the best (for `minimize` the lowest).
  const goodness = (v) => {
    const t = max > min ? (v - min) / (max - min) : 1;
    return sweep.direction === "minimize" ? 1 - t : t;
  };
  const objective = sweep.objective;

  const rowsOf = ay ? ay.labels : [objective];
  const head = h("tr", {},
    h("th", { scope: "col", class: "corner" }, ay ? h("span", {}, `${ay.name} ↓ · ${ax.name} →`) : `${ax.name} →`),
    ax.labels.map((label, i) => h("th", { scope: "col", class: "num", "data-x": ax.keys[i] }, label)));
  const body = rowsOf.map((rowLabel, yi) => h("tr", {},
    h("th", { scope: "row", "data-y": ay ? ay.keys[yi] : "" }, rowLabel),
    ax.labels.map((xLabel, xi) => {
      const cell = cells.get(`${xi}|${yi}`);
      const where = `${ax.name} ${xLabel}${ay ? `, ${ay.name} ${rowLabel}` : ""}`;
      const td = h("td", { class: "cell num", "data-x": ax.keys[xi], "data-y": ay ? ay.keys[yi] : "" });
      if (cell?.best) {
        const t = cell.best;
        const colour = colourAt(goodness(t.objective));
        td.classList.add("filled");
        td.style.backgroundColor = css(colour);
        td.style.color = textOn(colour);
        td.dataset.value = String(t.objective);
        td.dataset.trial = String(t.number);
        const isBest = t.number === bestTrial;
        const extra = cell.trials > 1 ? `, best of ${cell.trials} trials` : "";
        td.title = `${where}: ${objective} ${objectiveText(objective, t.objective)} (trial ${t.number}${extra})${isBest ? ", the sweep's best" : ""}`;
        td.append(h("a", { href: `#/jobs/${t.backtest_id}`, "aria-label": `${objectiveText(objective, t.objective)}${isBest ? ", best trial" : ""}, open trial ${t.number}'s backtest` },
          objectiveText(objective, t.objective)));
        if (isBest) {
          td.classList.add("best");
          td.dataset.best = "true";
          td.append(h("span", { class: "best-mark", "aria-hidden": "true" }, " ★"));
        }
      } else {
        td.classList.add("empty");
        const state = !cell ? "not run yet" : cell.pending ? "running" : cell.failed ? "failed" : "no value";
        td.dataset.state = state.replace(/ /g, "-");
        td.title = `${where}: ${state}`;
        td.append(cell && !cell.pending ? h("span", { "aria-hidden": "true" }, "✕") : cell ? h("span", { "aria-hidden": "true" }, "…") : "",
          h("span", { class: "sr-only" }, state));
      }
      return td;
    })));

  const caption = `${objective} by ${ax.name}${ay ? ` and ${ay.name}` : ""}: best trial per cell, ${sweep.direction === "minimize" ? "lower" : "higher"} is better${ax.binned || ay?.binned ? "; values in bins" : ""}`;
  const table = h("table", { class: "heatmap", id: "heatmap" }, h("caption", {}, caption), h("thead", {}, head), h("tbody", {}, body));
  return h("div", {}, h("div", { class: "table-wrap heatmap-wrap" }, table), legend(sweep, min, max, values.length));
}

function legend(sweep, min, max, count) {
  const worse = sweep.direction === "minimize" ? max : min;
  const better = sweep.direction === "minimize" ? min : max;
  const bar = h("div", { class: "heat-bar", "aria-hidden": "true" });
  bar.style.background = `linear-gradient(to right, ${PALETTE.map((c, i) => `${css(c)} ${(i / (PALETTE.length - 1)) * 100}%`).join(", ")})`;
  const middle = (worse + better) / 2;
  return h("div", { class: "heat-legend", id: "heat-legend" },
    h("p", { class: "legend-title" }, `Colour scale of ${sweep.objective}:`),
    count ? h("div", { class: "heat-scale" },
      bar,
      h("div", { class: "heat-ticks" },
        h("span", { "data-edge": "worse" }, `${objectiveText(sweep.objective, worse)} (worse)`),
        count > 1 && max > min ? h("span", {}, objectiveText(sweep.objective, middle)) : null,
        h("span", { "data-edge": "better" }, `${objectiveText(sweep.objective, better)} (better)`)))
      : h("p", { class: "muted" }, "No trial has finished yet."),
    h("ul", { class: "heat-keys" },
      h("li", {}, h("span", { class: "key key-empty", "aria-hidden": "true" }), "not run yet"),
      h("li", {}, h("span", { class: "key key-empty", "aria-hidden": "true" }, "…"), "running"),
      h("li", {}, h("span", { class: "key key-empty", "aria-hidden": "true" }, "✕"), "failed"),
      h("li", {}, h("span", { class: "key key-best", "aria-hidden": "true" }, "★"), "the sweep's best trial")));
}
