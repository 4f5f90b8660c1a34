// Compare: two to six completed runs side by side (the page; its parts are the compare-*.js modules).
// Their equity curves overlaid in one chart (each normalised to its own starting balance) with
// their drawdowns below, the metrics with the best value per row and each run's difference from
// the first, the inputs that differ, and a line diff of the strategy code and declared parameters
// when the runs ran different versions.
import { api } from "./api.js";
import { h, quoteOf } from "./format.js";
import { notify } from "./app.js";
import { COMPARE_MAX, COMPARE_MIN, statusBadge } from "./jobs.js";
import { paramText, shortId, swatch, versionKey } from "./compare-common.js";
import { picker } from "./compare-picker.js";
import { drawCharts } from "./compare-charts.js";
import { inputsCard, metricsCard } from "./compare-tables.js";
import { codeCard } from "./compare-code.js";

const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const KEYS = ["A", "B", "C", "D", "E", "F"];
// Distinct on white and for the common colour-vision deficiencies; the dashes (compare-charts.js)
// tell them apart in grey too.
const COLOURS = ["#1f5fbf", "#d55e00", "#009e73", "#8e44ad", "#b07d00", "#0089a3"];

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
