// Jobs: the live list (GET /backtests, then the `backtests` stream) beside the submit form (backtest-form.js).
import { api, jobAtLeast, Live, session } from "./api.js";
import { h, pct, shortDate } from "./format.js";
import { notify } from "./app.js";
import { submitForm } from "./backtest-form.js";
import { liveRows } from "./live-rows.js";

const FILTERABLE = ["submitted", "running", "completed", "failed", "cancelled"]; // the API's filter
const FINISHED = new Set(["completed", "failed", "cancelled"]);

// The compare page takes two to six completed runs: #/compare?ids=<id>,<id>,...
export const COMPARE_MIN = 2;
export const COMPARE_MAX = 6;
export const compareHash = (ids) => `#/compare?ids=${ids.map(encodeURIComponent).join(",")}`;

export function statusBadge(status) {
  return h("span", { class: `status status-${status}` }, status);
}

export function progressCell(job) {
  const done = job.status === "completed" ? 1 : job.progress?.fraction ?? 0;
  const phase = FINISHED.has(job.status) ? "" : job.progress?.phase || "";
  return h("div", { class: "progress" },
    h("progress", { max: "1", value: String(done), "aria-label": `progress of job ${job.id.slice(0, 8)}${phase ? `, ${phase}` : ""}` }),
    h("span", {}, pct(done).replace(/[.,]00/, "")),
    phase ? h("span", { class: "muted" }, phase) : null);
}

export function jobsPage(main) {
  const jobs = new Map(); // id -> job
  const live = new Live((on) => {
    liveNote.className = on ? "live on" : "live";
    liveNote.textContent = on ? "live" : "reconnecting…";
  }, () => load());
  let disposed = false;
  const selected = new Set(); // ids of the completed jobs ticked for comparison, in ticking order

  const liveNote = h("span", { class: "live", role: "status" }, "connecting…");
  const statusFilter = h("select", { id: "filter-status", name: "status" },
    h("option", { value: "" }, "any"), FILTERABLE.map((s) => h("option", { value: s }, s)));
  const strategyFilter = h("select", { id: "filter-strategy", name: "strategy" }, h("option", { value: "" }, "any"));
  const tbody = h("tbody", { id: "jobs-body" });
  const empty = h("p", { class: "muted", id: "jobs-empty" }, "Loading…");
  const table = h("div", { class: "table-wrap" }, h("table", { id: "jobs" },
    h("caption", { class: "sr-only" }, "Backtest jobs, newest first, updated live"),
    h("thead", {}, h("tr", {},
      h("th", { scope: "col", class: "pick" }, h("span", { class: "sr-only" }, "Compare")),
      h("th", { scope: "col" }, "Job"), h("th", { scope: "col" }, "Status"), h("th", { scope: "col" }, "Progress"),
      h("th", { scope: "col" }, "Strategy"), h("th", { scope: "col", class: "hide-narrow" }, "Pairs"),
      h("th", { scope: "col", class: "hide-narrow" }, "Timeframe"), h("th", { scope: "col", class: "hide-narrow" }, "Timerange"),
      h("th", { scope: "col" }, "Submitted"), h("th", { scope: "col" }, h("span", { class: "sr-only" }, "Actions")))),
    tbody));

  const compareButton = h("button", {
    type: "button", class: "secondary", id: "compare-selected", disabled: true,
    "aria-describedby": "compare-hint", onclick: () => { location.hash = compareHash([...selected]); },
  }, "Compare selected (0)");
  const compareHint = h("span", { class: "hint", id: "compare-hint" },
    `Tick ${COMPARE_MIN} to ${COMPARE_MAX} completed jobs to compare them.`);
  const listCard = h("section", { class: "card", "aria-labelledby": "jobs-title" },
    h("div", { class: "row" }, h("h1", { id: "jobs-title" }, "Backtest jobs"), liveNote),
    h("div", { class: "filters" },
      h("div", { class: "field" }, h("label", { for: "filter-status" }, "Status"), statusFilter),
      h("div", { class: "field" }, h("label", { for: "filter-strategy" }, "Strategy"), strategyFilter),
      h("div", { class: "compare-bar" }, compareButton, compareHint)),
    table, empty);
  const form = session.can("submit") ? submitForm(upsert) : null;
  main.replaceChildren(h("div", { class: form ? "grid2" : "" }, listCard, form));

  function matches(job) {
    return (!statusFilter.value || job.status === statusFilter.value) && (!strategyFilter.value || job.strategy === strategyFilter.value);
  }

  function pickBox(job) {
    if (job.status !== "completed") return null;
    return h("input", {
      type: "checkbox", class: "pick", "data-action": "select", "data-id": job.id,
      checked: selected.has(job.id),
      disabled: !selected.has(job.id) && selected.size >= COMPARE_MAX,
      "aria-label": `Select job ${job.id.slice(0, 8)} (${job.strategy} v${job.strategy_version}) to compare`,
      onchange: (e) => {
        if (e.target.checked) selected.add(job.id);
        else selected.delete(job.id);
        selectionChanged();
      },
    });
  }

  function selectionChanged() {
    const n = selected.size;
    compareButton.textContent = `Compare selected (${n})`;
    compareButton.disabled = n < COMPARE_MIN || n > COMPARE_MAX;
    for (const box of tbody.querySelectorAll("input.pick")) box.disabled = !box.checked && n >= COMPARE_MAX;
  }

  function row(job) {
    const cancel = session.can("cancel") && !FINISHED.has(job.status) && !job.cancel_requested
      ? h("button", { type: "button", class: "danger", "data-action": "cancel", "aria-label": `Cancel job ${job.id.slice(0, 8)}`, onclick: () => cancelJob(job.id) }, "Cancel")
      : job.cancel_requested && !FINISHED.has(job.status) ? h("span", { class: "muted" }, "cancelling") : null;
    return [
      h("td", { class: "pick" }, pickBox(job)),
      h("td", {}, h("a", { href: `#/jobs/${job.id}` }, h("code", {}, job.id.slice(0, 8)))),
      h("td", {}, statusBadge(job.status), job.attempt > 1 ? h("span", { class: "muted" }, ` attempt ${job.attempt}`) : null),
      h("td", {}, progressCell(job)),
      h("td", {}, `${job.strategy} v${job.strategy_version}`),
      h("td", { class: "hide-narrow" }, (job.pairs || []).join(", ")),
      h("td", { class: "hide-narrow" }, job.timeframe),
      h("td", { class: "hide-narrow" }, job.timerange),
      h("td", {}, h("time", { datetime: job.submitted_at }, shortDate(job.submitted_at))),
      h("td", {}, cancel),
    ];
  }

  const listed = liveRows({ tbody, items: jobs, cells: row, matches });

  function render(job) {
    listed.render(job);
    empty.textContent = listed.size ? "" : "No jobs match.";
  }

  function upsert(job) {
    const known = jobs.get(job.id);
    if (known && known.version > job.version) return; // an older snapshot than the one shown
    jobs.set(job.id, job);
    if (![...strategyFilter.options].some((o) => o.value === job.strategy)) {
      strategyFilter.append(h("option", { value: job.strategy }, job.strategy));
    }
    render(job);
  }

  // One request at a time per job; events arriving meanwhile ask for one more.
  const inflight = new Map();
  async function refresh(id, version) {
    const running = inflight.get(id);
    if (running) {
      running.again = true;
      running.version = Math.max(running.version, version);
      return;
    }
    const state = { again: true, version };
    inflight.set(id, state);
    try {
      while (state.again && !disposed) {
        state.again = false;
        upsert(await jobAtLeast(id, state.version));
      }
    } catch (error) {
      if (error.status !== 401 && error.status !== 404) notify(`Could not load job ${id}: ${error.message}`);
    } finally {
      inflight.delete(id);
    }
  }

  function onEvent(msg) {
    const id = msg.data?.id;
    if (!id || disposed) return;
    const known = jobs.get(id);
    if (msg.type.endsWith(".ProgressReported") && known) {
      // Straight from the event, no request: the next snapshot carries the same numbers.
      upsert({ ...known, progress: { phase: msg.data.phase, fraction: msg.data.fraction } });
      return;
    }
    refresh(id, msg.data.version ?? 0);
  }

  async function load() {
    const query = new URLSearchParams({ limit: "100" });
    if (statusFilter.value) query.set("status", statusFilter.value);
    if (strategyFilter.value) query.set("strategy", strategyFilter.value);
    try {
      const page = await api(`/backtests?${query}`);
      if (disposed) return;
      jobs.clear(); listed.clear();
      for (const job of page.items) upsert(job);
      empty.textContent = listed.size ? "" : "No jobs yet.";
    } catch (error) {
      if (error.status !== 401) notify(`Could not load the jobs: ${error.message}`);
    }
  }

  async function cancelJob(id) {
    try {
      upsert(await api(`/backtests/${id}/cancel`, { method: "POST" }));
      notify(`Cancel requested for job ${id.slice(0, 8)}.`, "info");
    } catch (error) {
      if (error.status !== 401) notify(`Could not cancel job ${id.slice(0, 8)}: ${error.message}`);
    }
  }

  async function strategies() {
    try {
      const page = await api("/strategies?limit=100");
      for (const s of page.items) {
        if (![...strategyFilter.options].some((o) => o.value === s.name)) strategyFilter.append(h("option", { value: s.name }, s.name));
      }
      form?.setStrategies(page.items);
    } catch (error) {
      if (error.status !== 401) notify(`Could not load the strategies: ${error.message}`);
    }
  }

  statusFilter.addEventListener("change", load);
  strategyFilter.addEventListener("change", load);
  // Subscribe first, then list: a change between the two is applied by its event.
  live.subscribe("backtests", onEvent);
  load();
  strategies();
  return {
    dispose() {
      disposed = true;
      live.close();
    },
  };
}
