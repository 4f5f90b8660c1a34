// Sweeps: the live list (GET /sweeps, then the `sweeps` stream), with the form to submit one
// (sweep-form.js) beside it. A sweep's own page is sweep.js.
import { api, Live, session } from "./api.js";
import { h, int, shortDate } from "./format.js";
import { notify } from "./app.js";
import { statusBadge } from "./jobs.js";
import { arrow, objectiveText, sweepProgress } from "./sweep-format.js";
import { sweepForm } from "./sweep-form.js";
import { liveRows } from "./live-rows.js";

export { sweepPage } from "./sweep.js";

const STATUSES = ["running", "completed", "cancelled", "failed"]; // the API's filter

export function sweepsPage(main) {
  const sweeps = new Map(); // id -> sweep
  const live = new Live((on) => {
    liveNote.className = on ? "live on" : "live";
    liveNote.textContent = on ? "live" : "reconnecting…";
  }, () => load());
  let disposed = false;
  let nextCursor = null;

  const liveNote = h("span", { class: "live", role: "status" }, "connecting…");
  const statusFilter = h("select", { id: "sweeps-filter-status", name: "status" },
    h("option", { value: "" }, "any"), STATUSES.map((s) => h("option", { value: s }, s)));
  const tbody = h("tbody", { id: "sweeps-body" });
  const empty = h("p", { class: "muted", id: "sweeps-empty" }, "Loading…");
  const more = h("button", { type: "button", class: "secondary", id: "sweeps-more", hidden: true, onclick: () => load(nextCursor) }, "Load more");
  const th = (text, cls = "") => h("th", { scope: "col", class: cls }, text);
  const listCard = h("section", { class: "card", "aria-labelledby": "sweeps-title" },
    h("div", { class: "row" }, h("h1", { id: "sweeps-title" }, "Parameter sweeps"), liveNote),
    h("div", { class: "filters" },
      h("div", { class: "field" }, h("label", { for: "sweeps-filter-status" }, "Status"), statusFilter)),
    h("div", { class: "table-wrap" }, h("table", { id: "sweeps" },
      h("caption", { class: "sr-only" }, "Parameter sweeps, newest first, updated live"),
      h("thead", {}, h("tr", {},
        th("Sweep"), th("Status"), th("Trials"), th("Best", "num"), th("Objective"), th("Strategy"),
        th("Sampler", "hide-narrow"), th("Submitted by", "hide-narrow"), th("Created", "hide-narrow"),
        h("th", { scope: "col" }, h("span", { class: "sr-only" }, "Actions")))),
      tbody)),
    empty, more);
  const form = session.can("submit") ? sweepForm(upsert) : null;
  main.replaceChildren(h("div", { class: form ? "grid2 sweeps-layout" : "" }, listCard, form));

  const matches = (s) => !statusFilter.value || s.status === statusFilter.value;

  function row(s) {
    const cancel = session.can("cancel") && s.status === "running"
      ? h("button", { type: "button", class: "danger", "data-action": "cancel", "aria-label": `Cancel sweep ${s.id.slice(0, 8)}`, onclick: () => cancelSweep(s.id) }, "Cancel")
      : null;
    return [
      h("td", {}, h("a", { href: `#/sweeps/${s.id}` }, h("code", {}, s.id.slice(0, 8)))),
      h("td", {}, statusBadge(s.status)),
      h("td", {}, sweepProgress(s, `trials of sweep ${s.id.slice(0, 8)} finished out of ${s.total} planned`),
        s.failed ? h("span", { class: "muted small" }, `${int(s.failed)} failed`) : null),
      h("td", { class: "num", "data-best": s.best ? String(s.best.objective) : "" }, s.best ? objectiveText(s.objective, s.best.objective) : "—"),
      h("td", { title: s.direction }, `${s.objective} ${arrow(s.direction)}`),
      h("td", {}, `${s.strategy} v${s.strategy_version}`),
      h("td", { class: "hide-narrow" }, s.method),
      h("td", { class: "hide-narrow" }, s.submitted_by),
      h("td", { class: "hide-narrow" }, h("time", { datetime: s.submitted_at }, shortDate(s.submitted_at))),
      h("td", {}, cancel),
    ];
  }

  const listed = liveRows({ tbody, items: sweeps, cells: row, matches });

  function render(s) {
    listed.render(s);
    empty.textContent = listed.size ? "" : "No sweeps match.";
  }

  function upsert(s) {
    const known = sweeps.get(s.id);
    if (known && known.version > s.version) return;
    sweeps.set(s.id, s);
    render(s);
  }

  // One request at a time per sweep; events arriving meanwhile ask for one more.
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
        let s = await api(`/sweeps/${id}?trials_limit=1`);
        for (let i = 1; i < 40 && s.version < state.version && !disposed; i++) {
          await new Promise((resolve) => setTimeout(resolve, Math.min(50 * i, 500)));
          s = await api(`/sweeps/${id}?trials_limit=1`);
        }
        if (!disposed) upsert(s);
      }
    } catch (error) {
      if (error.status !== 401 && error.status !== 404) notify(`Could not load sweep ${id.slice(0, 8)}: ${error.message}`);
    } finally {
      inflight.delete(id);
    }
  }

  function onEvent(msg) {
    const id = msg.data?.id;
    if (!id || disposed) return;
    if (msg.type.endsWith(".TrialAsked") && sweeps.has(id)) return; // no count shown changes
    refresh(id, msg.data.version ?? 0);
  }

  async function load(cursor = null) {
    const query = new URLSearchParams({ limit: "50" });
    if (statusFilter.value) query.set("status", statusFilter.value);
    if (cursor) query.set("cursor", cursor);
    try {
      const page = await api(`/sweeps?${query}`);
      if (disposed) return;
      if (!cursor) {
        sweeps.clear(); listed.clear();
      }
      for (const s of page.items) upsert(s);
      nextCursor = page.next_cursor;
      more.hidden = !nextCursor;
      empty.textContent = listed.size ? "" : statusFilter.value ? "No sweeps match." : "No sweeps yet.";
    } catch (error) {
      if (error.status !== 401) notify(`Could not load the sweeps: ${error.message}`);
    }
  }

  async function cancelSweep(id) {
    try {
      upsert(await api(`/sweeps/${id}/cancel`, { method: "POST" }));
      notify(`Sweep ${id.slice(0, 8)} cancelled: trials not run yet are cancelled, finished ones kept.`, "info");
    } catch (error) {
      if (error.status !== 401) notify(`Could not cancel sweep ${id.slice(0, 8)}: ${error.message}`);
    }
  }

  statusFilter.addEventListener("change", () => load());
  // Subscribe first, then list: a change between the two is applied by its event.
  live.subscribe("sweeps", onEvent);
  load();
  form?.start();
  return {
    dispose() {
      disposed = true;
      live.close();
    },
  };
}
