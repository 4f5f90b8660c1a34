// The compare page's metrics and inputs tables: one column per run, the first run (A) the reference.
import { blank, dateTime, h, int, money, num, pct, shortDate } from "./format.js";
import { effectiveParameters, same, shortId, signed, swatch } from "./compare-common.js";

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

export function metricsCard(runs) {
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

export function inputsCard(runs) {
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
