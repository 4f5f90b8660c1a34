// Strategies: the catalog (`#/strategies`); the router imports the strategy pages from here too.
// One strategy is strategy.js, a version strategy-version.js, a promotion strategy-promotion.js.
import { api } from "./api.js";
import { h } from "./format.js";
import { notify } from "./app.js";
import { gatesSummary, liveNote, liveReload, promotionHref, shortId, stageBadge, strategyHref, versionHref, when } from "./strategy-common.js";

export { strategyPage } from "./strategy.js";
export { versionPage } from "./strategy-version.js";
export { promotionPage } from "./strategy-promotion.js";

async function allPages(path, max = 10) {
  const items = [];
  let cursor = null;
  for (let i = 0; i < max; i++) {
    const sep = path.includes("?") ? "&" : "?";
    const page = await api(`${path}${sep}limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    items.push(...page.items);
    cursor = page.next_cursor;
    if (!cursor) break;
  }
  return items;
}

function stagesCell(s, asOf) {
  const out = [];
  for (const stage of ["production", "staging"]) {
    const v = s.stages?.[stage];
    if (v) out.push(h("a", { href: versionHref(s.name, v), class: "stage-link" }, stageBadge(stage), ` v${v}`));
  }
  return out.length ? out : [stageBadge("registered"), asOf ? null : h("span", { class: "sr-only" }, " no version promoted")];
}

function liveCell(s, env) {
  const live = s.live?.[env];
  return live
    ? h("span", { class: "live-rev", "data-env": env }, h("strong", {}, `v${live.version}`), h("span", { class: "muted" }, ` rev ${live.revision}`))
    : h("span", { class: "muted" }, "not deployed");
}

// ---------------------------------------------------------------------------------------------
// The catalog

export function strategiesPage(main) {
  let disposed = false;
  const note = liveNote();
  const tbody = h("tbody", { id: "strategies-body" });
  const empty = h("p", { class: "muted", id: "strategies-empty" }, "Loading…");
  const pending = h("div", { id: "pending-promotions" }, h("p", { class: "muted" }, "Loading…"));
  const table = h("div", { class: "table-wrap" }, h("table", { id: "strategies", class: "st-table" },
    h("caption", { class: "sr-only" }, "Registered strategies, their stages and what each environment runs, updated live"),
    h("thead", {}, h("tr", {},
      h("th", { scope: "col" }, "Strategy"),
      h("th", { scope: "col" }, "Latest"),
      h("th", { scope: "col", class: "num hide-narrow" }, "Versions"),
      h("th", { scope: "col" }, "Promoted"),
      h("th", { scope: "col" }, "Live in staging"),
      h("th", { scope: "col" }, "Live in production"),
      h("th", { scope: "col", class: "num" }, "Pending"),
      h("th", { scope: "col", class: "hide-narrow" }, "Updated"))),
    tbody));
  main.replaceChildren(
    h("section", { class: "card", "aria-labelledby": "strategies-title" },
      h("div", { class: "row title-row" }, h("h1", { id: "strategies-title" }, "Strategies"), note),
      h("p", { class: "muted" }, "Each strategy with the version holding each stage and the revision each environment runs. Open one for its versions, promotions, deployments and audit history."),
      table, empty),
    h("section", { class: "card", "aria-labelledby": "pending-title" },
      h("h2", { id: "pending-title" }, "Promotions waiting for a decision"),
      pending));

  function render(items, waiting) {
    const byStrategy = new Map();
    for (const p of waiting) byStrategy.set(p.strategy, [...(byStrategy.get(p.strategy) || []), p]);
    tbody.replaceChildren(...items.map((s) => h("tr", { "data-name": s.name },
      h("th", { scope: "row" }, h("a", { href: strategyHref(s.name) }, s.name)),
      h("td", {}, h("a", { href: versionHref(s.name, s.latest_version), "aria-label": `${s.name} v${s.latest_version}` }, `v${s.latest_version}`)),
      h("td", { class: "num hide-narrow" }, String(s.versions?.length ?? s.latest_version)),
      h("td", { class: "stages" }, stagesCell(s)),
      h("td", {}, liveCell(s, "staging")),
      h("td", {}, liveCell(s, "production")),
      h("td", { class: "num" }, byStrategy.get(s.name)?.length
        ? h("a", { href: promotionHref(byStrategy.get(s.name)[0].id), title: "the newest pending promotion" }, String(byStrategy.get(s.name).length))
        : "0"),
      h("td", { class: "hide-narrow" }, when(s.updated_at, true)))));
    empty.textContent = items.length ? "" : "No strategy is registered yet. Register one with POST /api/v1/strategies/{name}/versions or `tradai strategy register`.";
    pending.replaceChildren(waiting.length
      ? h("div", { class: "table-wrap" }, h("table", { id: "pending", class: "st-table" },
        h("caption", { class: "sr-only" }, "Pending promotions, newest first"),
        h("thead", {}, h("tr", {}, ["Promotion", "Strategy version", "Target", "Requested", "Gates"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, waiting.map((p) => h("tr", { "data-id": p.id },
          h("td", {}, h("a", { href: promotionHref(p.id) }, shortId(p.id))),
          h("td", {}, h("a", { href: versionHref(p.strategy, p.version) }, `${p.strategy} v${p.version}`)),
          h("td", {}, stageBadge(p.target_stage)),
          h("td", {}, p.requested_by, " · ", when(p.requested_at, true)),
          h("td", {}, gatesSummary(p.gates)))))))
      : h("p", { class: "muted" }, "None."));
  }

  let loads = 0;
  async function load() {
    const seq = ++loads;
    try {
      const [items, waiting] = await Promise.all([allPages("/strategies"), allPages("/promotions?status=pending", 2)]);
      if (!disposed && seq === loads) render(items, waiting);
    } catch (error) {
      if (error.status !== 401 && !disposed) notify(`Could not load the strategies: ${error.message}`);
    }
  }

  // Subscribe, then load: a change in between reloads once more.
  const live = liveReload(note, () => true, () => !disposed && load());
  load();
  return { dispose() { disposed = true; live.close(); } };
}
