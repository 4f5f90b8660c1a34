// A sweep's page: status and counts, the best trial, the heatmap and the trials, live.
// The heatmap of the objective over two parameters is heatmap.js, the trials (sorted, paged)
// sweep-trials.js; it follows `sweeps/<id>` after one load of GET /sweeps/{id}.
import { api, Live, session } from "./api.js";
import { dateTime, h, int } from "./format.js";
import { notify } from "./app.js";
import { statusBadge } from "./jobs.js";
import { heatmap } from "./heatmap.js";
import { trialsTable } from "./sweep-trials.js";
import { arrow, improves, objectiveText, SWEEP_FINAL, sweepProgress, valueText } from "./sweep-format.js";

const FETCH = 1000; // trials per request (the API's most)
const FINAL_TRIAL = new Set(["completed", "failed", "cancelled"]);

/** The sweep at `version` or later, with all its trials (GET /sweeps/{id} pages them). */
async function loadSweep(id, version = 0, tries = 40) {
  let sweep = await api(`/sweeps/${id}?trials_limit=${FETCH}`);
  for (let i = 1; i < tries && sweep.version < version; i++) {
    await new Promise((resolve) => setTimeout(resolve, Math.min(50 * i, 500)));
    sweep = await api(`/sweeps/${id}?trials_limit=${FETCH}`);
  }
  const trials = [...sweep.trials.items];
  let offset = sweep.trials.next_offset;
  while (offset !== null && offset !== undefined) {
    const page = await api(`/sweeps/${id}?trials_offset=${offset}&trials_limit=${FETCH}`);
    trials.push(...page.trials.items);
    offset = page.trials.next_offset;
  }
  return { sweep, trials };
}

export function sweepPage(main, id) {
  const live = new Live((on) => {
    liveNote.className = on ? "live on" : "live";
    liveNote.textContent = on ? "live" : "reconnecting…";
  });
  let disposed = false;
  let sweep = null; // the header as loaded, its counts and best recomputed from `trials`
  const trials = new Map(); // number -> trial
  let seenVersion = 0; // the sweep's version that `sweep` and `trials` include
  let buffered = []; // live messages that came before the first load
  let loaded = false;
  let resyncing = false;
  let scheduled = false;
  let params = [];

  const liveNote = h("span", { class: "live", role: "status" }, "connecting…");
  const title = h("h1", { id: "sweep-title" }, `Sweep ${id.slice(0, 8)}`);
  const cancelSlot = h("div", { class: "sweep-actions" });
  const summary = h("div", { id: "sweep-summary" }, h("p", { class: "muted" }, "Loading…"));
  const bestBox = h("div", { id: "best-trial" });
  const xSelect = h("select", { id: "heat-x", name: "heat-x" });
  const ySelect = h("select", { id: "heat-y", name: "heat-y" });
  const heatBox = h("div", { id: "heatmap-box" });
  const trialsCard = trialsTable(() => ({ sweep, trials, params }));

  main.replaceChildren(
    h("p", {}, h("a", { href: "#/sweeps" }, "← All sweeps")),
    h("section", { class: "card", "aria-labelledby": "sweep-title" },
      h("div", { class: "row sweep-head" }, title, liveNote, cancelSlot), summary),
    h("div", { class: "sweep-grid" },
      h("section", { class: "card", "aria-labelledby": "best-title" }, h("h2", { id: "best-title" }, "Best trial"), bestBox),
      h("section", { class: "card heat-card", "aria-labelledby": "heat-title" },
        h("h2", { id: "heat-title" }, "Objective heatmap"),
        h("div", { class: "filters" },
          h("div", { class: "field" }, h("label", { for: "heat-x" }, "X (columns)"), xSelect),
          h("div", { class: "field" }, h("label", { for: "heat-y" }, "Y (rows)"), ySelect)),
        h("p", { class: "hint", id: "heat-hint" }, "Where the other parameters vary, a cell shows the best of its trials. Select a value to open its backtest."),
        heatBox)),
    trialsCard.section);

  // --- state ------------------------------------------------------------------------------------

  function putTrial(t) {
    const known = trials.get(t.number);
    if (known && FINAL_TRIAL.has(known.status) && !FINAL_TRIAL.has(t.status)) return; // older news
    trials.set(t.number, { ...known, ...t });
  }

  /** Counts and best from the trials (the API's rule), so they move with every event. */
  function recount() {
    let done = 0;
    let failed = 0;
    let pending = 0;
    let best = null;
    for (const t of trials.values()) {
      if (t.status === "completed") done += 1;
      else if (t.status === "pending") pending += 1;
      else failed += 1;
      if (t.status === "completed" && typeof t.objective === "number" && improves(sweep.direction, t.number, t.objective, best)) {
        best = { trial: t.number, parameters: t.parameters, objective: t.objective };
      }
    }
    sweep = { ...sweep, done, failed, pending, best: best || sweep.best };
  }

  function apply(msg) {
    const kind = msg.type.split(".").pop();
    const d = msg.data || {};
    if (kind === "TrialAsked") {
      putTrial({ number: d.number, backtest_id: d.job_id, parameters: d.parameters, status: "pending", objective: null });
    } else if (kind === "TrialFinished") {
      if (!trials.has(d.number)) return false;
      putTrial({ number: d.number, status: d.job_status, objective: d.objective ?? null });
    } else if (kind === "Completed") sweep = { ...sweep, status: "completed" };
    else if (kind === "Failed") sweep = { ...sweep, status: "failed", error: d.reason };
    else if (kind === "Cancelled") sweep = { ...sweep, status: "cancelled" };
    seenVersion = Math.max(seenVersion, d.version ?? 0);
    return true;
  }

  function onMessage(msg) {
    if (disposed) return;
    if (!loaded || resyncing) {
      buffered.push(msg);
      return;
    }
    const version = msg.data?.version ?? 0;
    if (version <= seenVersion) return; // already in what was loaded
    // A gap (the read model answered before it had every event up to the subscription): reload.
    if (version > seenVersion + 1 || !apply(msg)) {
      resync(version);
      return;
    }
    recount();
    schedule();
  }

  async function resync(version) {
    resyncing = true;
    try {
      const got = await loadSweep(id, version);
      if (disposed) return;
      take(got);
    } catch (error) {
      if (error.status !== 401) notify(`Could not reload the sweep: ${error.message}`);
    } finally {
      resyncing = false;
    }
    const waiting = buffered;
    buffered = [];
    for (const msg of waiting) onMessage(msg);
  }

  function take({ sweep: loadedSweep, trials: items }) {
    if (sweep && loadedSweep.version < seenVersion) return;
    const status = sweep && SWEEP_FINAL.has(sweep.status) && !SWEEP_FINAL.has(loadedSweep.status) ? sweep.status : loadedSweep.status;
    sweep = { ...loadedSweep, status };
    for (const t of items) putTrial(t);
    seenVersion = Math.max(seenVersion, loadedSweep.version);
    recount();
    if (!params.length) setUpAxes();
    schedule();
  }

  // --- drawing ----------------------------------------------------------------------------------

  function schedule() {
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(() => {
      scheduled = false;
      if (!disposed && sweep) draw();
    });
  }

  function draw() {
    drawSummary();
    drawBest();
    drawHeatmap();
    trialsCard.draw();
  }

  function drawSummary() {
    title.textContent = `${sweep.strategy} v${sweep.strategy_version} · sweep ${sweep.id.slice(0, 8)}`;
    const item = (k, v, extra = {}) => h("div", extra, h("dt", {}, k), h("dd", {}, v));
    const running = sweep.status === "running";
    summary.replaceChildren(
      h("dl", { class: "metrics", id: "sweep-counts" },
        item("Status", statusBadge(sweep.status), { "data-status": sweep.status, id: "sweep-status" }),
        item("Progress", sweepProgress(sweep, `trials finished out of ${sweep.total} planned`), { class: "wide" }),
        item("Completed", int(sweep.done), { id: "count-done" }),
        item("Failed or cancelled", int(sweep.failed), { id: "count-failed" }),
        item("Running or waiting", int(sweep.pending), { id: "count-pending" }),
        item("Planned", int(sweep.total), { id: "count-total" }),
        item("Sampler", `${sweep.method}${sweep.method === "grid" ? "" : ` (seed ${sweep.seed})`}`),
        item("Objective", `${sweep.objective} ${arrow(sweep.direction)} ${sweep.direction}`),
        item("Max trials", int(sweep.max_trials)),
        item("Strategy version", h("a", { href: `#/strategies/${encodeURIComponent(sweep.strategy)}/versions/${sweep.strategy_version}` }, `${sweep.strategy} v${sweep.strategy_version}`)),
        item("Pairs", sweep.pairs.join(", ")),
        item("Timeframe · range", `${sweep.timeframe} · ${sweep.timerange}`),
        item("Exchange · priority", `${sweep.exchange} · ${sweep.priority}`),
        item("Submitted by", sweep.submitted_by),
        item("Submitted", h("time", { datetime: sweep.submitted_at }, dateTime(sweep.submitted_at)))),
      h("details", { class: "space-details" },
        h("summary", {}, "Search space"),
        h("ul", { class: "space-list" }, Object.entries(sweep.space).map(([name, spec]) => h("li", {},
          h("code", {}, name), ": ",
          Array.isArray(spec) ? spec.map(valueText).join(", ")
            : `${valueText(spec.low)} … ${valueText(spec.high)}${spec.step ? ` by ${valueText(spec.step)}` : " (continuous)"}`)))),
      ...(sweep.error ? [h("p", { class: "field-error", role: "alert" }, `Error: ${sweep.error}`)] : []));
    const canCancel = running && session.can("cancel");
    const existing = cancelSlot.querySelector("button");
    if (canCancel && !existing) {
      cancelSlot.replaceChildren(h("button", { type: "button", class: "danger", id: "cancel-sweep", onclick: cancelSweep }, "Cancel sweep"));
    } else if (!canCancel && existing) {
      const hadFocus = existing === document.activeElement;
      cancelSlot.replaceChildren();
      if (hadFocus) {
        title.setAttribute("tabindex", "-1");
        title.focus();
      }
    }
  }

  function drawBest() {
    const best = sweep.best;
    if (!best) {
      bestBox.replaceChildren(h("p", { class: "muted" }, sweep.status === "running" ? "No trial has completed yet." : "No trial completed."));
      return;
    }
    const trial = trials.get(best.trial);
    bestBox.replaceChildren(
      h("p", { class: "best-value" },
        h("span", { class: "muted" }, `${sweep.objective} `),
        h("strong", { id: "best-value", "data-value": String(best.objective) }, objectiveText(sweep.objective, best.objective)),
        h("span", { class: "muted" }, ` · trial ${best.trial}`)),
      h("dl", { class: "params", id: "best-params" }, Object.entries(best.parameters).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) =>
        h("div", {}, h("dt", {}, k), h("dd", {}, valueText(v))))),
      trial?.backtest_id ? h("p", {}, h("a", { href: `#/jobs/${trial.backtest_id}`, id: "best-job" }, `Open its backtest (${trial.backtest_id.slice(0, 8)})`)) : null,
      h("p", { class: "hint" }, "Parameters to reproduce it: ", h("code", { id: "best-json" }, JSON.stringify(best.parameters))));
  }

  function setUpAxes() {
    params = Object.keys(sweep.space).sort();
    xSelect.replaceChildren(...params.map((p) => h("option", { value: p }, p)));
    ySelect.replaceChildren(h("option", { value: "" }, "(none: one row)"), ...params.map((p) => h("option", { value: p }, p)));
    xSelect.value = params[0] || "";
    ySelect.value = params[1] || "";
  }

  function drawHeatmap() {
    if (!params.length) return;
    const x = xSelect.value;
    const y = ySelect.value === x ? "" : ySelect.value;
    const focused = heatBox.contains(document.activeElement) ? document.activeElement.closest("td") : null;
    const at = focused ? [focused.dataset.x, focused.dataset.y] : null;
    heatBox.replaceChildren(heatmap(sweep, [...trials.values()], x, y, sweep.best?.trial ?? null));
    if (at) heatBox.querySelector(`td[data-x="${CSS.escape(at[0])}"][data-y="${CSS.escape(at[1])}"] a`)?.focus();
  }


  async function cancelSweep() {
    const button = cancelSlot.querySelector("button");
    if (button) button.disabled = true;
    try {
      const answer = await api(`/sweeps/${id}/cancel`, { method: "POST" });
      if (SWEEP_FINAL.has(answer.status)) sweep = { ...sweep, status: answer.status };
      notify(`Sweep ${id.slice(0, 8)} cancelled: trials not run yet are cancelled, finished ones kept.`, "info");
      schedule();
    } catch (error) {
      if (button) button.disabled = false;
      if (error.status !== 401) notify(`Could not cancel the sweep: ${error.message}`);
    }
  }

  xSelect.addEventListener("change", drawHeatmap);
  ySelect.addEventListener("change", drawHeatmap);

  async function start() {
    // Subscribe first, then load: what changes meanwhile comes as events (kept until loaded).
    const subscribed = live.subscribe(`sweeps/${id}`, onMessage);
    await Promise.race([subscribed, new Promise((resolve) => setTimeout(resolve, 3000))]);
    try {
      const got = await loadSweep(id);
      if (disposed) return;
      take(got);
      loaded = true;
      const waiting = buffered;
      buffered = [];
      for (const msg of waiting) onMessage(msg);
    } catch (error) {
      if (error.status === 404) main.replaceChildren(h("h1", {}, "No such sweep"), h("p", {}, error.message, " ", h("a", { href: "#/sweeps" }, "Back to the sweeps")));
      else if (error.status !== 401) notify(`Could not load the sweep: ${error.message}`);
    }
  }

  start();
  return {
    dispose() {
      disposed = true;
      live.close();
    },
  };
}
