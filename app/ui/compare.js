// Compare: two to six completed runs side by side. Their equity curves overlaid in one chart
// (each normalised to its own starting balance) with their drawdowns below, the metrics with the
// best value per row and each run's difference from the first, the inputs that differ, and a line
// diff of the strategy code and declared parameters when the runs ran different versions.
import { api } from "./api.js";
import { blank, dateTime, h, int, money, num, pct, quoteOf, shortDate } from "./format.js";
import { notify } from "./app.js";
import { COMPARE_MAX, COMPARE_MIN, compareHash, statusBadge } from "./jobs.js";

const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const KEYS = ["A", "B", "C", "D", "E", "F"];
// Distinct on white and for the common colour-vision deficiencies; the dashes tell them apart in
// grey too.
const COLOURS = ["#1f5fbf", "#d55e00", "#009e73", "#8e44ad", "#b07d00", "#0089a3"];
const DASHES = [[], [9, 4], [2, 3], [12, 3, 3, 3], [5, 5], [1, 4]];
const CHART_HEIGHT = 340;
const DRAWDOWN_HEIGHT = 200;

// The result's metrics, in the order a researcher reads them: [key, label, kind, direction]
// (direction 1: higher is better, -1: lower is better, 0: neither). Kinds: ratio (shown as %,
// differences in percentage points), money (the pairs' quote currency), int, num. Metrics the
// result has beyond these are listed after them as plain numbers.
const METRICS = [
  ["profit_total", "Total profit", "ratio", 1],
  ["profit_total_abs", "Absolute profit", "money", 1],
  ["final_balance", "Final balance", "money", 1],
  ["cagr", "CAGR", "ratio", 1],
  ["max_drawdown", "Max drawdown", "ratio", -1],
  ["max_drawdown_abs", "Max drawdown (absolute)", "money", -1],
  ["sharpe", "Sharpe", "num", 1],
  ["sortino", "Sortino", "num", 1],
  ["calmar", "Calmar", "num", 1],
  ["profit_factor", "Profit factor", "num", 1],
  ["expectancy", "Expectancy (per trade)", "money", 1],
  ["profit_mean", "Average profit per trade", "ratio", 1],
  ["winrate", "Win rate", "ratio", 1],
  ["total_trades", "Trades", "int", 0],
  ["trades_per_day", "Trades per day", "num", 0],
  ["market_change", "Market change", "ratio", 0],
  ["starting_balance", "Starting balance", "money", 0],
];
const RUN_DEFAULTS = { stake_amount: "strategy default", max_open_trades: "strategy default", starting_balance: "default", fee: "exchange's", exchange: "binance" };

const signed = (v, text) => (v > 0 ? `+${text}` : text);
const signedPct = (v) => (blank(v) ? "—" : signed(v, pct(v)));
const same = (a, b) => a === b || (typeof a === "number" && typeof b === "number" && Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b)));
const shortId = (id) => id.slice(0, 8);
const paramText = (params) => {
  const entries = Object.entries(params || {});
  return entries.length ? entries.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(", ") : "default parameters";
};
const versionKey = (job) => `${job.strategy}\u0000${job.strategy_version}`;
const swatch = (run) => {
  const el = h("span", { class: "swatch", "aria-hidden": "true" });
  el.style.setProperty("--run", run.colour);
  if (run.index) el.classList.add(`dash-${run.index}`);
  return el;
};

/** `ids`: the decoded `ids` of #/compare?ids=<id>,<id>,... (or undefined). */
export function comparePage(main, ids) {
  const state = { disposed: false, charts: [], cleanups: [] };
  const wanted = [...new Set((ids || "").split(",").map((s) => s.trim()).filter(Boolean))];
  if (wanted.length < COMPARE_MIN) {
    main.replaceChildren(
      h("h1", {}, "Compare runs"),
      h("section", { class: "card", "aria-labelledby": "pick-title" },
        h("h2", { id: "pick-title" }, "Pick the runs"),
        h("p", {}, `Tick ${COMPARE_MIN} to ${COMPARE_MAX} completed backtests below (or on the `,
          h("a", { href: "#/jobs" }, "jobs page"), ") and press Compare: their equity curves are overlaid, " +
          "normalised to each run's starting balance, next to their metrics, their inputs and, when they ran " +
          "different versions of a strategy, the diff of its code."),
        picker(wanted, state)));
  } else if (wanted.length > COMPARE_MAX) {
    main.replaceChildren(
      h("h1", {}, "Compare runs"),
      h("p", { class: "field-error", role: "alert", id: "compare-problems" },
        `${wanted.length} runs were asked for: at most ${COMPARE_MAX} can be compared at once. Untick some.`),
      h("section", { class: "card" }, picker(wanted, state)));
  } else {
    main.replaceChildren(h("h1", {}, `Compare ${wanted.length} runs`), h("p", { class: "muted", role: "status" }, "Loading the runs…"));
    load(main, wanted, state).catch((error) => {
      if (error.status !== 401 && !state.disposed) notify(`Could not load the runs: ${error.message}`);
    });
  }
  return {
    dispose() {
      state.disposed = true;
      for (const chart of state.charts) chart.destroy();
      for (const cleanup of state.cleanups) cleanup();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The picker: completed jobs, newest first, with a checkbox each (at most COMPARE_MAX ticked).

function picker(preselected, state) {
  const chosen = new Set(preselected.slice(0, COMPARE_MAX));
  const tbody = h("tbody");
  const status = h("p", { class: "muted", role: "status" }, "Loading the completed jobs…");
  const more = h("button", { type: "button", class: "secondary", hidden: true }, "Load more");
  const submit = h("button", { type: "submit", id: "compare-go" }, "Compare");
  const count = h("span", { class: "hint", id: "compare-count", "aria-live": "polite" });
  let cursor = null;

  function update() {
    const n = chosen.size;
    submit.textContent = `Compare selected (${n})`;
    submit.disabled = n < COMPARE_MIN || n > COMPARE_MAX;
    count.textContent = n > COMPARE_MAX ? `Untick ${n - COMPARE_MAX}: at most ${COMPARE_MAX}.`
      : n >= COMPARE_MAX ? `${COMPARE_MAX} ticked: the most that can be compared.`
        : `${n} ticked; tick ${COMPARE_MIN} to ${COMPARE_MAX}.`;
    for (const box of tbody.querySelectorAll("input[type=checkbox]")) box.disabled = !box.checked && n >= COMPARE_MAX;
  }

  function row(job) {
    const box = h("input", {
      type: "checkbox", id: `pick-${job.id}`, value: job.id, checked: chosen.has(job.id),
      onchange: () => { if (box.checked) chosen.add(job.id); else chosen.delete(job.id); update(); },
    });
    return h("tr", { "data-id": job.id },
      h("td", { class: "pick" }, box,
        h("label", { for: `pick-${job.id}`, class: "sr-only" }, `Compare job ${shortId(job.id)} (${job.strategy} v${job.strategy_version})`)),
      h("th", { scope: "row" }, h("a", { href: `#/jobs/${job.id}` }, h("code", {}, shortId(job.id)))),
      h("td", {}, `${job.strategy} v${job.strategy_version}`),
      h("td", { class: "params" }, paramText(job.parameters)),
      h("td", { class: "hide-narrow" }, (job.pairs || []).join(", ")),
      h("td", { class: "hide-narrow" }, `${job.timeframe} · ${job.timerange}`),
      h("td", { class: "hide-narrow" }, h("time", { datetime: job.finished_at || "" }, shortDate(job.finished_at))));
  }

  async function page() {
    const query = new URLSearchParams({ status: "completed", limit: "50" });
    if (cursor) query.set("cursor", cursor);
    more.disabled = true;
    try {
      const answer = await api(`/backtests?${query}`);
      if (state.disposed) return;
      tbody.append(...answer.items.map(row));
      cursor = answer.next_cursor;
      more.hidden = !cursor;
      status.textContent = tbody.children.length ? "" : "No completed backtests yet: submit some on the jobs page.";
      update();
    } catch (error) {
      if (error.status !== 401) status.textContent = `Could not load the completed jobs: ${error.message}`;
    } finally {
      more.disabled = false;
    }
  }
  more.addEventListener("click", page);

  const form = h("form", { id: "compare-picker", class: "picker", "aria-label": "Pick runs to compare" },
    h("div", { class: "table-wrap" }, h("table", {},
      h("caption", { class: "sr-only" }, "Completed backtests, newest first; tick the runs to compare"),
      h("thead", {}, h("tr", {},
        h("th", { scope: "col", class: "pick" }, h("span", { class: "sr-only" }, "Compare")),
        h("th", { scope: "col" }, "Job"), h("th", { scope: "col" }, "Strategy"), h("th", { scope: "col" }, "Parameters"),
        h("th", { scope: "col", class: "hide-narrow" }, "Pairs"), h("th", { scope: "col", class: "hide-narrow" }, "Timeframe · range"),
        h("th", { scope: "col", class: "hide-narrow" }, "Finished"))),
      tbody)),
    status, more,
    h("div", { class: "compare-bar" }, submit, count));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    if (chosen.size >= COMPARE_MIN && chosen.size <= COMPARE_MAX) location.hash = compareHash([...chosen]);
  });
  update();
  page();
  return form;
}

// ---------------------------------------------------------------------------------------------
// Loading: each job, and the result and equity of those that completed; the strategy versions.

async function loadRun(id) {
  if (!UUID_RE.test(id)) return { id, problem: "is not a job id" };
  let job;
  try {
    job = await api(`/backtests/${id}`);
  } catch (error) {
    if (error.status === 401) throw error;
    return { id, problem: error.status === 404 ? "does not exist" : `could not be loaded (${error.message})` };
  }
  if (job.status !== "completed") return { id, job, problem: `is ${job.status}, not completed: it has no result to compare` };
  try {
    const [result, equity] = await Promise.all([api(`/backtests/${id}/result`), api(`/backtests/${id}/equity`)]);
    return { id, job, result, equity };
  } catch (error) {
    if (error.status === 401) throw error;
    return { id, job, problem: `has no result to compare (${error.message})` };
  }
}

async function load(main, wanted, state) {
  const loaded = await Promise.all(wanted.map(loadRun));
  if (state.disposed) return;
  const runs = loaded.filter((r) => !r.problem).map((r, index) => ({
    ...r, index, key: KEYS[index], colour: COLOURS[index], quote: quoteOf(r.job.pairs),
  }));
  const problems = loaded.filter((r) => r.problem);
  const problemBox = problems.length ? h("div", { class: "card problems", role: "alert", id: "compare-problems" },
    h("p", {}, runs.length >= COMPARE_MIN ? "Left out of the comparison:" : "These runs cannot be compared:"),
    h("ul", {}, problems.map((r) => h("li", {},
      r.job ? h("a", { href: `#/jobs/${r.id}` }, `Job ${shortId(r.id)}`) : h("code", {}, `Job ${r.id.slice(0, 40)}`),
      r.job ? ` (${r.job.strategy} v${r.job.strategy_version}) ` : " ", r.problem, r.job ? [" ", statusBadge(r.job.status)] : null)))) : null;

  if (runs.length < COMPARE_MIN) {
    main.replaceChildren(h("h1", {}, "Compare runs"), problemBox || "",
      h("section", { class: "card", "aria-labelledby": "pick-title" },
        h("h2", { id: "pick-title" }, `Pick at least ${COMPARE_MIN} completed runs`),
        picker(runs.map((r) => r.id), state)));
    return;
  }

  // The versions the runs ran: their code, declared parameters and the version's own values.
  const versionKeys = [...new Set(runs.map((r) => versionKey(r.job)))];
  const docs = new Map(await Promise.all(versionKeys.map(async (key) => {
    const [name, version] = key.split("\u0000");
    try {
      return [key, await api(`/strategies/${encodeURIComponent(name)}/versions/${version}`)];
    } catch (error) {
      if (error.status === 401) throw error;
      return [key, { error: error.message }];
    }
  })));
  if (state.disposed) return;
  for (const run of runs) {
    run.doc = docs.get(versionKey(run.job));
    run.start = run.equity.starting_balance ?? run.result.metrics.starting_balance ?? run.equity.points[0]?.equity;
    run.label = `${run.key} · ${run.job.strategy} v${run.job.strategy_version} · ${shortId(run.id)} · ${paramText(run.job.parameters)}`;
  }

  const selection = h("details", { class: "reselect" }, h("summary", {}, "Change the selection"));
  selection.addEventListener("toggle", () => {
    if (selection.open && selection.children.length === 1) selection.append(picker(runs.map((r) => r.id), state));
  });
  const chartBox = h("div", { class: "chart", id: "compare-chart", role: "img", "aria-label": `Equity of runs ${runs.map((r) => r.key).join(", ")}, as growth from each run's starting balance, over time` });
  const drawdownBox = h("div", { class: "chart small", id: "compare-drawdown", role: "img", "aria-label": "Drawdown of each run from its peak, over time" });

  main.replaceChildren(...[
    h("h1", {}, `Compare ${runs.length} runs`),
    problemBox,
    h("section", { class: "card", "aria-labelledby": "runs-title" },
      h("h2", { id: "runs-title", class: "sr-only" }, "Runs"),
      h("ol", { class: "runs", id: "compare-runs" }, runs.map((run) => h("li", {},
        swatch(run),
        h("strong", { class: "key" }, run.key),
        h("span", {}, h("a", { href: `#/jobs/${run.id}` }, `${run.job.strategy} v${run.job.strategy_version} · `, h("code", {}, shortId(run.id))),
          h("span", { class: "muted" }, ` · ${paramText(run.job.parameters)} · ${run.job.pairs.join(", ")} · ${run.job.timeframe} · ${run.job.timerange}`))))),
      selection),
    h("section", { class: "card", "aria-labelledby": "curves-title" },
      h("h2", { id: "curves-title" }, "Equity, normalised to the starting balance"),
      h("p", { class: "hint" }, "Each run's balance as growth from its own starting balance (0 % is where it began), " +
        "stepping when a trade closes. Hover to read every run at one time; click a legend entry to hide its run."),
      chartBox,
      h("h3", { id: "drawdown-title" }, "Drawdown from the peak"),
      drawdownBox),
    metricsCard(runs),
    inputsCard(runs),
    codeCard(runs, state)].filter(Boolean));
  drawCharts(runs, chartBox, drawdownBox, state);
}

// ---------------------------------------------------------------------------------------------
// The charts: one x (the union of every run's times, sorted) and one series per run.

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

async function drawCharts(runs, chartBox, drawdownBox, state) {
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

// ---------------------------------------------------------------------------------------------
// Tables: one column per run, the first run (A) is the reference.

function runHeads(runs, first, numeric) {
  return h("tr", {}, h("th", { scope: "col" }, first), runs.map((run) => h("th", { scope: "col", class: numeric ? "num run" : "run" },
    swatch(run), h("span", { class: "key" }, run.key), " ",
    h("a", { href: `#/jobs/${run.id}`, "aria-label": `run ${run.key}: job ${shortId(run.id)}` }, h("code", {}, shortId(run.id))),
    h("span", { class: "sub" }, `v${run.job.strategy_version}`))));
}

function formatMetric(kind, v, quote) {
  if (kind === "ratio") return pct(v);
  if (kind === "money") return money(v, quote);
  if (kind === "int") return int(v);
  return num(v);
}

function formatDelta(kind, d, quote) {
  if (kind === "ratio") return signed(d, `${num(d * 100)} pp`);
  if (kind === "money") return signed(d, money(d, quote));
  if (kind === "int") return signed(d, int(d));
  return signed(d, num(d));
}

function metricsCard(runs) {
  const known = new Set(METRICS.map((m) => m[0]));
  const extra = [...new Set(runs.flatMap((r) => Object.keys(r.result.metrics)))]
    .filter((k) => !known.has(k) && runs.some((r) => typeof r.result.metrics[k] === "number"))
    .map((k) => [k, k.replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase()), "num", 0]);
  const rows = [...METRICS, ...extra].filter(([k]) => runs.some((r) => !blank(r.result.metrics[k])));
  const sameQuote = runs.every((r) => r.quote === runs[0].quote);
  const tbody = h("tbody", {}, rows.map(([key, label, kind, direction]) => {
    const values = runs.map((r) => r.result.metrics[key]);
    const present = values.filter((v) => typeof v === "number" && Number.isFinite(v));
    const differs = present.some((v) => !same(v, present[0])) || present.length !== values.length;
    const best = direction && differs && present.length ? (direction > 0 ? Math.max(...present) : Math.min(...present)) : null;
    const tr = h("tr", { class: differs ? "differs" : "same", "data-metric": key },
      h("th", { scope: "row" }, label, direction ? h("span", { class: "sub" }, direction > 0 ? "higher is better" : "lower is better") : null));
    runs.forEach((run, i) => {
      const v = values[i];
      const cell = h("td", { class: "num" }, formatMetric(kind, v, run.quote));
      if (best !== null && typeof v === "number" && same(v, best)) {
        cell.classList.add("best");
        cell.append(h("span", { class: "sr-only" }, " (best)"));
      }
      const ref = values[0];
      if (i > 0 && typeof v === "number" && typeof ref === "number" && !same(v, ref) && (kind !== "money" || sameQuote)) {
        const d = v - ref;
        const verdict = direction === 0 ? "" : d * direction > 0 ? "better" : "worse";
        cell.classList.add("changed");
        cell.append(h("span", { class: `delta ${verdict}`, title: `difference from run ${runs[0].key}` },
          `${formatDelta(kind, d, run.quote)} vs ${runs[0].key}`));
      }
      tr.append(cell);
    });
    return tr;
  }));
  const onlyDiffering = h("input", { type: "checkbox", id: "metrics-differing" });
  const table = h("table", { id: "compare-metrics", class: "compare" },
    h("caption", { class: "sr-only" }, `Metrics of runs ${runs.map((r) => r.key).join(", ")}; the best value of each row is marked, and each run's difference from run ${runs[0].key} is shown under its value`),
    h("thead", {}, runHeads(runs, "Metric", true)), tbody);
  onlyDiffering.addEventListener("change", () => table.classList.toggle("only-differing", onlyDiffering.checked));
  return h("section", { class: "card", "aria-labelledby": "metrics-title" },
    h("div", { class: "row spread" }, h("h2", { id: "metrics-title" }, "Metrics"),
      h("div", { class: "check" }, onlyDiffering, h("label", { for: "metrics-differing" }, "Only rows that differ"))),
    h("p", { class: "hint" }, h("span", { class: "best legend-chip" }, "Highlighted"), ": the best value of the row; under each value, its difference from run ",
      runs[0].key, " (", h("span", { class: "better" }, "better"), " or ", h("span", { class: "worse" }, "worse"), ")."),
    h("div", { class: "table-wrap" }, table));
}

/** A run's value for each declared parameter: the backtest's own, else the version's, else the
 * declared default; with where it came from. */
function effectiveParameters(run) {
  const out = new Map();
  const declared = run.doc?.declared_parameters || [];
  for (const p of declared) out.set(p.name, { value: p.default, from: "default" });
  for (const [k, v] of Object.entries(run.doc?.parameters || {})) out.set(k, { value: v, from: "version" });
  for (const [k, v] of Object.entries(run.job.parameters || {})) out.set(k, { value: v, from: "run" });
  return out;
}

function inputsCard(runs) {
  const rows = [
    ["Strategy", (r) => r.job.strategy],
    ["Version", (r) => `v${r.job.strategy_version}`],
    ["Code SHA-256", (r) => r.job.code_sha256, (r) => h("code", { title: r.job.code_sha256 }, r.job.code_sha256.slice(0, 12))],
    ["Pairs", (r) => r.job.pairs.join(", ")],
    ["Timeframe", (r) => r.job.timeframe],
    ["Timerange", (r) => r.job.timerange],
    ["Backtested", (r) => `${shortDate(r.result.backtest_start)} – ${shortDate(r.result.backtest_end)}`],
    ["Exchange", (r) => r.job.exchange || RUN_DEFAULTS.exchange],
    ["Stake amount", (r) => (blank(r.job.stake_amount) ? RUN_DEFAULTS.stake_amount : money(r.job.stake_amount, r.quote))],
    ["Max open trades", (r) => (blank(r.job.max_open_trades) ? RUN_DEFAULTS.max_open_trades : int(r.job.max_open_trades))],
    ["Starting balance", (r) => (blank(r.job.starting_balance) ? `${RUN_DEFAULTS.starting_balance} (${money(r.start, r.quote)})` : money(r.job.starting_balance, r.quote))],
    ["Fee", (r) => (blank(r.job.fee) ? RUN_DEFAULTS.fee : pct(r.job.fee))],
  ];
  const params = runs.map(effectiveParameters);
  const names = [...new Set(params.flatMap((m) => [...m.keys()]))];
  const FROM = { default: "declared default", version: "the version's value", run: "set for this run" };
  const paramRows = names.map((name) => [name, (r, i) => (params[i].has(name) ? JSON.stringify(params[i].get(name).value) : "—"),
    (r, i) => {
      const p = params[i].get(name);
      if (!p) return h("span", { class: "muted", title: "not declared by this version" }, "—");
      return h("span", {}, JSON.stringify(p.value), p.from === "run" ? null : h("span", { class: "sub" }, FROM[p.from]));
    }]);
  const other = [
    ["Submitted by", (r) => r.job.submitted_by],
    ["Finished", (r) => r.job.finished_at, (r) => h("time", { datetime: r.job.finished_at || "" }, dateTime(r.job.finished_at))],
  ];
  const build = ([label, value, show], group) => {
    const values = runs.map((r, i) => value(r, i));
    const differs = values.some((v) => v !== values[0]);
    const distinct = group !== "info" && differs;
    return h("tr", { class: distinct ? "differs" : "same", "data-input": label },
      h("th", { scope: "row" }, group === "param" ? h("code", {}, label) : label),
      runs.map((r, i) => h("td", { class: distinct && i > 0 && values[i] !== values[0] ? "changed" : "" },
        show ? show(r, i) : values[i],
        distinct && i > 0 && values[i] !== values[0] ? h("span", { class: "sr-only" }, ` (differs from ${runs[0].key})`) : null)));
  };
  const table = h("table", { id: "compare-inputs", class: "compare" },
    h("caption", { class: "sr-only" }, `Inputs of runs ${runs.map((r) => r.key).join(", ")}; the rows where they differ are highlighted`),
    h("thead", {}, runHeads(runs, "Input", false)),
    h("tbody", {}, rows.map((r) => build(r, "input"))),
    names.length ? h("tbody", {}, h("tr", { class: "group" }, h("th", { scope: "colgroup", colspan: String(runs.length + 1) }, "Strategy parameters")),
      paramRows.map((r) => build(r, "param"))) : null,
    h("tbody", {}, other.map((r) => build(r, "info"))));
  const differing = [...table.querySelectorAll("tr.differs")].map((tr) => tr.dataset.input);
  return h("section", { class: "card", "aria-labelledby": "inputs-title" },
    h("h2", { id: "inputs-title" }, "Inputs"),
    h("p", { class: "hint", id: "inputs-summary" }, differing.length
      ? `The runs differ in: ${differing.join(", ")} (highlighted).`
      : "The runs had the same inputs."),
    h("div", { class: "table-wrap" }, table));
}

// ---------------------------------------------------------------------------------------------
// Code: a line diff (jsdiff) from the first run's version to each other version run.

function declaredText(p) {
  if (!p) return "—";
  const range = p.choices ? `choices ${p.choices.map((c) => JSON.stringify(c)).join(" / ")}` : `${p.low} to ${p.high}`;
  return `${p.kind}, ${range}, default ${JSON.stringify(p.default)}${p.space ? `, space ${p.space}` : ""}`;
}

function parameterDiff(baseDoc, doc, baseName, name) {
  const a = new Map((baseDoc.declared_parameters || []).map((p) => [p.name, p]));
  const b = new Map((doc.declared_parameters || []).map((p) => [p.name, p]));
  const rows = [];
  for (const n of new Set([...a.keys(), ...b.keys()])) {
    const x = a.get(n);
    const y = b.get(n);
    if (x && y && declaredText(x) === declaredText(y)) continue;
    rows.push(h("tr", { class: !x ? "add" : !y ? "del" : "changed" },
      h("th", { scope: "row" }, h("code", {}, n)),
      h("td", {}, declaredText(x)), h("td", {}, declaredText(y)),
      h("td", {}, !x ? "added" : !y ? "removed" : "changed")));
  }
  const values = [];
  for (const n of new Set([...Object.keys(baseDoc.parameters || {}), ...Object.keys(doc.parameters || {})])) {
    const x = JSON.stringify(baseDoc.parameters?.[n]);
    const y = JSON.stringify(doc.parameters?.[n]);
    if (x !== y) values.push(h("tr", { class: "changed" }, h("th", { scope: "row" }, h("code", {}, n)),
      h("td", {}, x ?? "—"), h("td", {}, y ?? "—"), h("td", {}, "version's value")));
  }
  if (!rows.length && !values.length) return h("p", { class: "muted" }, "The declared parameters are the same.");
  return h("div", { class: "table-wrap" }, h("table", { class: "param-diff" },
    h("caption", {}, `Declared parameters: ${baseName} → ${name}`),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Parameter"), h("th", { scope: "col" }, baseName),
      h("th", { scope: "col" }, name), h("th", { scope: "col" }, "Change"))),
    h("tbody", {}, rows, values)));
}

function codeDiff(Diff, before, after, beforeName, afterName, whole) {
  const patch = Diff.structuredPatch(beforeName, afterName, before, after, "", "", { context: whole ? Number.MAX_SAFE_INTEGER : 3 });
  let added = 0;
  let removed = 0;
  const body = [];
  for (const hunk of patch.hunks) {
    body.push(h("tr", { class: "hunk" }, h("td", { colspan: "4" }, `@@ −${hunk.oldStart},${hunk.oldLines} +${hunk.newStart},${hunk.newLines} @@`)));
    let o = hunk.oldStart;
    let n = hunk.newStart;
    for (const text of hunk.lines) {
      const mark = text[0];
      if (mark === "\\") continue; // "\ No newline at end of file"
      const kind = mark === "+" ? "add" : mark === "-" ? "del" : "ctx";
      if (kind === "add") added++;
      if (kind === "del") removed++;
      body.push(h("tr", { class: kind },
        h("td", { class: "ln" }, kind === "add" ? "" : String(o)),
        h("td", { class: "ln" }, kind === "del" ? "" : String(n)),
        h("td", { class: "mark", "aria-hidden": "true" }, kind === "add" ? "+" : kind === "del" ? "−" : ""),
        h("td", { class: "code" }, kind === "ctx" ? null : h("span", { class: "sr-only" }, kind === "add" ? "added: " : "removed: "), text.slice(1))));
      if (kind !== "add") o++;
      if (kind !== "del") n++;
    }
  }
  return {
    added, removed,
    table: h("div", { class: "table-wrap diff-wrap" }, h("table", { class: "diff" },
      h("caption", { class: "sr-only" }, `Code changes from ${beforeName} to ${afterName}: ${added} lines added, ${removed} removed`),
      h("thead", { class: "sr-only" }, h("tr", {}, h("th", { scope: "col" }, `Line in ${beforeName}`), h("th", { scope: "col" }, `Line in ${afterName}`),
        h("th", { scope: "col" }, "Change"), h("th", { scope: "col" }, "Code"))),
      h("tbody", {}, body))),
  };
}

function codeCard(runs, state) {
  const base = runs[0];
  const box = h("div", { id: "compare-code" });
  const whole = h("input", { type: "checkbox", id: "diff-whole" });
  const card = h("section", { class: "card", "aria-labelledby": "code-title" },
    h("div", { class: "row spread" }, h("h2", { id: "code-title" }, "Strategy code and parameters"),
      h("div", { class: "check" }, whole, h("label", { for: "diff-whole" }, "Show the whole files"))),
    box);
  const name = (run) => `${run.job.strategy} v${run.job.strategy_version}`;
  // One diff per other version (by code): the runs that ran it, in order.
  const others = new Map();
  for (const run of runs.slice(1)) {
    if (run.job.code_sha256 === base.job.code_sha256 && versionKey(run.job) === versionKey(base.job)) continue;
    const key = versionKey(run.job);
    if (!others.has(key)) others.set(key, []);
    others.get(key).push(run);
  }
  const paramDiffs = () => {
    const differing = [];
    const values = runs.map(effectiveParameters);
    for (const n of new Set(values.flatMap((m) => [...m.keys()]))) {
      const shown = values.map((m) => JSON.stringify(m.get(n)?.value));
      if (shown.some((v) => v !== shown[0])) differing.push(`${n} (${runs.map((r, i) => `${r.key} ${shown[i] ?? "—"}`).join(", ")})`);
    }
    return differing;
  };

  async function render() {
    const parts = [];
    if (!others.size) {
      const differing = paramDiffs();
      whole.parentElement.hidden = true;
      parts.push(h("p", { id: "code-same" }, `All ${runs.length} runs ran the same code: ${name(base)} (SHA-256 `,
        h("code", {}, base.job.code_sha256.slice(0, 12)), ")."),
      h("p", {}, differing.length ? `They differ only in their parameters: ${differing.join("; ")}.` : "Their parameters are the same too."));
      box.replaceChildren(...parts);
      return;
    }
    let Diff;
    try {
      await import("/ui/vendor/diff.js");
      Diff = globalThis.Diff;
      if (!Diff?.structuredPatch) throw new Error("not loaded");
    } catch {
      box.replaceChildren(h("p", { class: "field-error", role: "alert" },
        "The diff library (jsdiff) is missing: node_modules/diff is not installed. Run `make node_modules/.installed` (or `make run`) and reload."));
      return;
    }
    if (state.disposed) return;
    for (const group of others.values()) {
      const run = group[0];
      const title = `${base.key} (${name(base)}) → ${group.map((r) => r.key).join(", ")} (${name(run)})`;
      const section = h("section", { class: "code-diff", "aria-label": `Changes from ${name(base)} to ${name(run)}` }, h("h3", {}, title));
      if (run.job.code_sha256 === base.job.code_sha256) {
        section.append(h("p", {}, `${name(base)} and ${name(run)} have the same code (same SHA-256).`));
      } else if (base.doc?.error || run.doc?.error || typeof base.doc?.code !== "string" || typeof run.doc?.code !== "string") {
        section.append(h("p", { class: "field-error" }, `Could not load the code of the versions: ${base.doc?.error || run.doc?.error || "no code in the answer"}.`));
        parts.push(section);
        continue;
      } else {
        const diff = codeDiff(Diff, base.doc.code, run.doc.code, name(base), name(run), whole.checked);
        section.append(h("p", { class: "diff-stat" }, h("span", { class: "better" }, `+${diff.added}`), " ",
          h("span", { class: "worse" }, `−${diff.removed}`), ` lines (SHA-256 ${base.job.code_sha256.slice(0, 12)} → ${run.job.code_sha256.slice(0, 12)})`),
        diff.table);
      }
      if (base.doc && run.doc && !base.doc.error && !run.doc.error) section.append(parameterDiff(base.doc, run.doc, name(base), name(run)));
      parts.push(section);
    }
    const sameAsBase = runs.slice(1).filter((r) => versionKey(r.job) === versionKey(base.job));
    if (sameAsBase.length) parts.push(h("p", { class: "muted" }, `${[base, ...sameAsBase].map((r) => r.key).join(", ")} ran the same version (${name(base)}).`));
    box.replaceChildren(...parts);
  }
  whole.addEventListener("change", () => render());
  render();
  return card;
}
