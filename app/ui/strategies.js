// Strategies: the catalog (`#/strategies`) and one strategy (`#/strategies/<name>`, optionally
// `?as_of=<ISO instant>`): versions, promotions with their gates, deployments per environment
// with deploy and roll back, the audit history as a timeline, and time travel.
// The version and promotion pages live in their own modules; the router imports all four here.
import { api, session } from "./api.js";
import { h } from "./format.js";
import { notify } from "./app.js";
import {
  ENVIRONMENTS, alertBox, clearBox, declaredInline, keepFocus, leadFor, liveNote, liveReload, notFound,
  promotionHref, promotionsTable, shortId, showProblem, stageBadge, strategyHref,
  versionHref, when, jobHref, gatesSummary,
  fill,
} from "./strategy-common.js";

export { versionPage } from "./strategy-version.js";
export { promotionPage } from "./strategy-promotion.js";

// Which version stages each environment runs (the server's rule; it decides in any case).
const DEPLOYABLE = { staging: ["staging", "production"], production: ["production"] };

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
    if (v) out.push(h("a", { href: versionHref(s.name, v), class: "stage-link", "aria-label": `${stage}: version ${v}` }, stageBadge(stage), ` v${v}`));
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
      h("td", {}, h("a", { href: versionHref(s.name, s.latest_version), "aria-label": `${s.name} version ${s.latest_version}` }, `v${s.latest_version}`)),
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

// ---------------------------------------------------------------------------------------------
// One strategy

/** A datetime-local value ("2026-05-01T12:30:05") for an instant, in the user's time zone. */
function localInput(iso) {
  const d = new Date(iso);
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

const ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone || "local time";

export function strategyPage(main, name, asOf) {
  let disposed = false;
  const past = asOf !== undefined && asOf !== "";
  const instant = past ? new Date(asOf) : null;
  const state = { deployChoice: {}, rollbackChoice: {} };
  const note = liveNote();
  const title = h("h1", { id: "strategy-title" }, name);
  const headline = h("div", { id: "strategy-headline", class: "headline" });
  const versionsBox = h("div", { id: "versions-box" }, h("p", { class: "muted" }, "Loading…"));
  const promotionsBox = h("div", { id: "promotions-box" }, h("p", { class: "muted" }, "Loading…"));
  const deploymentsBox = h("div", { id: "deployments-box" }, h("p", { class: "muted" }, "Loading…"));
  const historyBox = h("div", { id: "history-box" }, h("p", { class: "muted" }, "Loading…"));

  // The "as of" control: the user's local time in, a UTC instant in the URL.
  const asOfInput = h("input", { type: "datetime-local", id: "as-of", name: "as_of", step: "1", "aria-describedby": "as-of-hint as-of-error" });
  if (past && !Number.isNaN(instant.getTime())) asOfInput.value = localInput(asOf);
  const asOfError = h("p", { class: "field-error", id: "as-of-error" });
  const asOfForm = h("form", { class: "as-of-form", id: "as-of-form", novalidate: true, "aria-label": "Time travel" },
    h("div", { class: "field" },
      h("label", { for: "as-of" }, "Show as of"),
      asOfInput,
      h("p", { class: "hint", id: "as-of-hint" }, `Your time zone (${ZONE}); the record as it stood at that instant.`),
      asOfError),
    h("button", { type: "submit", class: "secondary", id: "as-of-go" }, "Show as of"),
    past ? h("a", { href: strategyHref(name), class: "button-link", id: "back-to-now" }, "Back to now") : null);
  asOfForm.addEventListener("submit", (e) => {
    e.preventDefault();
    asOfError.textContent = "";
    asOfInput.removeAttribute("aria-invalid");
    const value = asOfInput.value;
    const when_ = value ? new Date(value) : null; // a datetime-local value is the user's local time
    if (!when_ || Number.isNaN(when_.getTime())) {
      asOfError.textContent = "Pick a date and time.";
      asOfInput.setAttribute("aria-invalid", "true");
      asOfInput.focus();
      return;
    }
    if (when_.getTime() > Date.now()) {
      asOfError.textContent = "That is in the future: pick a past instant (or go back to now).";
      asOfInput.setAttribute("aria-invalid", "true");
      asOfInput.focus();
      return;
    }
    location.hash = strategyHref(name, when_.toISOString());
  });

  const pastBanner = past ? h("div", { class: "past-banner", id: "past-banner", role: "note", "aria-label": "Time travel" },
    h("strong", {}, "You are looking at the past. "),
    "This is ", name, " as it stood at ", when(asOf), ` (UTC ${Number.isNaN(instant.getTime()) ? asOf : instant.toISOString().slice(0, 19).replace("T", " ")}). `,
    "Nothing here changes live and no action is offered. ",
    h("a", { href: strategyHref(name) }, "Back to now")) : null;

  fill(main,
    h("p", {}, h("a", { href: "#/strategies" }, "← All strategies")),
    pastBanner,
    h("section", { class: "card", "aria-labelledby": "strategy-title" },
      h("div", { class: "row title-row" }, title, past ? h("span", { class: "past-tag" }, "as of the past") : note),
      headline, asOfForm),
    h("section", { class: "card", "aria-labelledby": "versions-title" }, h("h2", { id: "versions-title" }, "Versions"), versionsBox),
    h("section", { class: "card", "aria-labelledby": "promotions-title" }, h("h2", { id: "promotions-title" }, "Promotions"), promotionsBox),
    h("section", { class: "card", "aria-labelledby": "deployments-title" }, h("h2", { id: "deployments-title" }, "Deployments"), deploymentsBox),
    h("section", { class: "card", "aria-labelledby": "history-title" }, h("h2", { id: "history-title" }, "Audit history"),
      h("p", { class: "muted" }, "Every registration, promotion, decision, stage change, deployment and rollback, replayed from the event store in log order."),
      historyBox));

  const ids = new Set(); // the aggregates of this strategy (its versions), for the live filter

  /** The record now, or as of `instant`: versions replayed with `?at=`, the rest cut at it. */
  async function gather() {
    const [detail, deployments, history] = await Promise.all([
      api(`/strategies/${encodeURIComponent(name)}`),
      api(`/strategies/${encodeURIComponent(name)}/deployments`),
      api(`/strategies/${encodeURIComponent(name)}/history`),
    ]);
    const at = past ? `?at=${encodeURIComponent(asOf)}` : "";
    const cut = (iso) => !past || Date.parse(iso) <= instant.getTime();
    const numbers = detail.versions.map((v) => v.version).filter((n, i) => cut(detail.versions[i].registered_at));
    const versions = (await Promise.all(numbers.map((n) => api(`/strategies/${encodeURIComponent(name)}/versions/${n}${at}`)
      .catch((error) => { if (error.status === 404 && past) return null; throw error; })))).filter(Boolean);
    for (const v of versions) ids.add(String(v.id));
    const environments = {};
    const live = {};
    for (const env of Object.keys(deployments.environments || {})) {
      environments[env] = deployments.environments[env].filter((r) => cut(r.at));
      const last = environments[env][environments[env].length - 1];
      if (last) live[env] = { revision: last.revision, version: last.version };
    }
    const stages = { staging: null, production: null };
    for (const v of versions) if (v.stage in stages) stages[v.stage] = Math.max(stages[v.stage] || 0, v.version);
    return {
      detail,
      existed: cut(detail.created_at),
      versions: versions.sort((a, b) => b.version - a.version),
      promotions: versions.flatMap((v) => v.promotions),
      environments,
      live: past ? live : deployments.live || {},
      stages: past ? stages : detail.stages,
      history: history.entries.filter((e) => cut(e.at)),
    };
  }

  function renderHeadline(r) {
    const stage = (s) => (r.stages[s] ? h("a", { href: versionHref(name, r.stages[s]), class: "stage-link" }, stageBadge(s), ` v${r.stages[s]}`) : h("span", { class: "muted" }, `no version in ${s}`));
    const live = (env) => (r.live[env] ? h("span", { "data-env": env, class: "live-rev" }, `v${r.live[env].version} (revision ${r.live[env].revision})`) : h("span", { class: "muted" }, "not deployed"));
    const item = (k, v, id) => h("div", { id }, h("dt", {}, k), h("dd", {}, v));
    headline.replaceChildren(h("dl", { class: "metrics" },
      item("Latest version", h("a", { href: versionHref(name, r.versions[0]?.version ?? r.detail.latest_version) }, `v${r.versions[0]?.version ?? r.detail.latest_version}`)),
      item("Production", stage("production"), "stage-production"),
      item("Staging", stage("staging"), "stage-staging"),
      item("Live in production", live("production"), "live-production"),
      item("Live in staging", live("staging"), "live-staging"),
      item("Created", [r.detail.created_by, " · ", when(r.detail.created_at, true)])));
  }

  function renderVersions(r) {
    versionsBox.replaceChildren(r.versions.length ? h("div", { class: "table-wrap" }, h("table", { id: "versions", class: "st-table" },
      h("caption", { class: "sr-only" }, "Versions of this strategy, newest first"),
      h("thead", {}, h("tr", {}, ["Version", "Stage", "Registered", "By", "Code SHA-256", "Declared parameters", "Description"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, r.versions.map((v) => h("tr", { "data-version": String(v.version), "data-stage": v.stage },
        h("th", { scope: "row" }, h("a", { href: versionHref(name, v.version), "aria-label": `Version ${v.version}: code, backtests, promotions` }, `v${v.version}`)),
        h("td", {}, stageBadge(v.stage)),
        h("td", {}, when(v.registered_at, true)),
        h("td", {}, v.registered_by),
        h("td", {}, h("code", { title: v.code_sha256 }, v.code_sha256.slice(0, 12))),
        h("td", { class: "wrap" }, declaredInline(v.declared_parameters)),
        h("td", { class: "wrap" }, v.description || h("span", { class: "muted" }, "—"))))))) : h("p", { class: "muted" }, "No version yet."));
  }

  function renderPromotions(r) {
    promotionsBox.replaceChildren(promotionsTable(r.promotions, { id: "promotions", showVersion: true, name }));
  }

  function renderDeployments(r) {
    const byVersion = new Map(r.versions.map((v) => [v.version, v]));
    keepFocus(deploymentsBox, () => deploymentsBox.replaceChildren(h("div", { class: "envs" }, ENVIRONMENTS.map((env) => {
      const revisions = r.environments[env] || [];
      const live = r.live[env];
      const error = alertBox(`deploy-error-${env}`);
      const actions = [];
      if (!past && session.can("deploy")) {
        const eligible = r.versions.filter((v) => DEPLOYABLE[env].includes(v.stage) && v.version !== live?.version);
        if (eligible.length) {
          const choice = state.deployChoice[env];
          const select = h("select", { id: `deploy-version-${env}`, "data-key": `deploy-version-${env}`, onchange: (e) => { state.deployChoice[env] = e.target.value; } },
            eligible.map((v) => h("option", { value: String(v.version), selected: String(v.version) === choice }, `v${v.version} (${v.stage})`)));
          actions.push(h("form", { class: "inline-form", "data-env": env, onsubmit: (e) => { e.preventDefault(); deploy(env, Number(select.value), error, e.submitter); } },
            h("div", { class: "field" }, h("label", { for: `deploy-version-${env}` }, `Version to deploy to ${env}`), select),
            h("button", { type: "submit", "data-key": `deploy-${env}`, "data-action": "deploy" }, `Deploy to ${env}`)));
        } else {
          actions.push(h("p", { class: "hint" }, live
            ? `Nothing else to deploy: no other version is promoted to ${env === "staging" ? "staging or production" : "production"}.`
            : `No version is promoted to ${env === "staging" ? "staging (or production)" : "production"} yet: approve a promotion first.`));
        }
      }
      if (!past && session.can("rollback") && revisions.length >= 2) {
        const choice = state.rollbackChoice[env] || "";
        const previous = revisions[revisions.length - 2];
        const select = h("select", { id: `rollback-to-${env}`, "data-key": `rollback-to-${env}`, onchange: (e) => { state.rollbackChoice[env] = e.target.value; } },
          h("option", { value: "" }, `the previous revision (${previous.revision}, v${previous.version})`),
          [...revisions].reverse().filter((x) => x.revision !== live?.revision).map((x) => h("option", { value: String(x.revision), selected: String(x.revision) === choice }, `revision ${x.revision} (v${x.version})`)));
        actions.push(h("form", { class: "inline-form", "data-env": env, onsubmit: (e) => { e.preventDefault(); rollback(env, select.value, error, e.submitter); } },
          h("div", { class: "field" }, h("label", { for: `rollback-to-${env}` }, `Roll ${env} back to`), select),
          h("button", { type: "submit", class: "secondary", "data-key": `rollback-${env}`, "data-action": "rollback" }, `Roll back ${env}`)));
      }
      return h("section", { class: "env", "data-env": env, "aria-labelledby": `env-${env}` },
        h("h3", { id: `env-${env}` }, env[0].toUpperCase() + env.slice(1)),
        h("p", { class: "env-live", id: `env-live-${env}` }, live
          ? [h("strong", {}, `Live: v${live.version}`), ` (revision ${live.revision}`, byVersion.get(live.version) ? ", " : null, byVersion.get(live.version) ? stageBadge(byVersion.get(live.version).stage) : null, ")"]
          : h("span", { class: "muted" }, past ? "Not deployed at that time." : "Never deployed.")),
        revisions.length ? h("div", { class: "table-wrap" }, h("table", { id: `revisions-${env}`, class: "st-table" },
          h("caption", { class: "sr-only" }, `Revisions of ${env}, newest first`),
          h("thead", {}, h("tr", {}, ["Revision", "Version", "How", "By", "When"].map((t) => h("th", { scope: "col" }, t)))),
          h("tbody", {}, [...revisions].reverse().map((x) => h("tr", { "data-revision": String(x.revision), class: x.revision === live?.revision ? "current" : "" },
            h("th", { scope: "row" }, String(x.revision), x.revision === live?.revision ? h("span", { class: "sr-only" }, " (live)") : null),
            h("td", {}, h("a", { href: versionHref(name, x.version) }, `v${x.version}`)),
            h("td", {}, x.kind === "rollback" ? `rollback${x.to_revision ? ` to revision ${x.to_revision}` : ""}` : "deploy"),
            h("td", {}, x.by),
            h("td", {}, when(x.at, true))))))) : null,
        actions,
        error);
    }))));
  }

  async function deploy(env, version, box, button) {
    clearBox(box);
    if (button) button.disabled = true;
    try {
      const rev = await api(`/strategies/${encodeURIComponent(name)}/deployments`, { method: "POST", body: { version, environment: env } });
      notify(`Deployed v${rev.version} to ${env} as revision ${rev.revision}.`, "info");
      delete state.deployChoice[env];
      await load();
    } catch (error) {
      if (error.status !== 401) showProblem(box, leadFor(error, `deploy v${version} to ${env}`), error);
    } finally {
      if (button) button.disabled = false;
    }
  }

  async function rollback(env, to, box, button) {
    clearBox(box);
    if (button) button.disabled = true;
    try {
      const body = { environment: env };
      if (to) body.to_revision = Number(to);
      const rev = await api(`/strategies/${encodeURIComponent(name)}/rollback`, { method: "POST", body });
      notify(`Rolled ${env} back: revision ${rev.revision} runs v${rev.version}.`, "info");
      delete state.rollbackChoice[env];
      await load();
    } catch (error) {
      if (error.status !== 401) showProblem(box, leadFor(error, `roll ${env} back`), error);
    } finally {
      if (button) button.disabled = false;
    }
  }

  function renderHistory(r) {
    if (!r.history.length) {
      historyBox.replaceChildren(h("p", { class: "muted" }, "Nothing recorded yet."));
      return;
    }
    historyBox.replaceChildren(h("ol", { class: "timeline audit", id: "history", "aria-label": "Audit history, oldest first" },
      r.history.map((e) => h("li", { "data-action": e.action, "data-position": String(e.position), class: `audit-${e.action.replace(/\s+/g, "-")}` },
        h("div", { class: "audit-head" },
          h("strong", { class: "audit-action" }, e.action[0].toUpperCase() + e.action.slice(1)),
          e.version ? [" ", h("a", { href: versionHref(name, e.version) }, `v${e.version}`)] : null,
          " by ", h("span", { class: "actor" }, e.actor), " · ", when(e.at),
          h("span", { class: "muted" }, ` #${e.position}`),
          " ", h("a", { href: strategyHref(name, e.at), class: "as-of-link", title: "Show the strategy as it stood right after this" }, "as of here")),
        auditDetails(e)))));
  }

  function auditDetails(e) {
    const d = e.details || {};
    const promo = d.promotion_id ? h("a", { href: promotionHref(d.promotion_id) }, "promotion ", shortId(d.promotion_id)) : null;
    switch (e.action) {
      case "version registered":
        return h("div", { class: "audit-details" }, "code ", h("code", { title: d.code_sha256 }, (d.code_sha256 || "").slice(0, 12)), d.description ? ` · ${d.description}` : "");
      case "promotion requested":
        return h("div", { class: "audit-details" }, promo, " to ", stageBadge(d.target_stage), " citing backtest ",
          h("a", { href: jobHref(d.backtest_id) }, shortId(d.backtest_id)), " · ", gatesSummary(d.gates || []));
      case "promotion approved":
        return h("div", { class: "audit-details" }, promo);
      case "promotion rejected":
        return h("div", { class: "audit-details" }, promo, ` · reason: “${d.reason}”`);
      case "stage changed":
        return h("div", { class: "audit-details" }, stageBadge(d.from), " → ", stageBadge(d.to), d.cause ? h("span", { class: "muted" }, ` (${d.cause})`) : null);
      case "deployed":
        return h("div", { class: "audit-details" }, `${d.environment}, revision ${d.revision}`);
      case "rolled back":
        return h("div", { class: "audit-details" }, `${d.environment}: revision ${d.revision} runs revision ${d.to_revision}'s version (was revision ${d.from_revision})`);
      default:
        return Object.keys(d).length ? h("div", { class: "audit-details" }, h("code", {}, JSON.stringify(d))) : null;
    }
  }

  let loads = 0;
  async function load() {
    const seq = ++loads; // an older answer arriving late does not overwrite a newer one
    let r;
    try {
      r = await gather();
    } catch (error) {
      if (disposed || seq !== loads) return;
      if (error.status === 404) notFound(main, "No such strategy", error, h("a", { href: "#/strategies" }, "Back to the strategies"));
      else if (error.status === 400 && past) notify(`That "as of" instant was refused: ${error.message}`);
      else if (error.status !== 401) notify(`Could not load ${name}: ${error.message}`);
      return;
    }
    if (disposed || seq !== loads) return;
    if (past && !r.existed) {
      headline.replaceChildren(h("p", { id: "not-yet" }, `${name} did not exist yet at that time (created `, when(r.detail.created_at), ")."));
      for (const box of [versionsBox, promotionsBox, deploymentsBox, historyBox]) box.replaceChildren(h("p", { class: "muted" }, "Nothing at that time."));
      return;
    }
    renderHeadline(r);
    renderVersions(r);
    renderPromotions(r);
    renderDeployments(r);
    renderHistory(r);
  }

  if (past && Number.isNaN(instant.getTime())) {
    main.replaceChildren(h("h1", {}, name), h("p", { role: "alert" }, `"${asOf}" is not a date and time. `, h("a", { href: strategyHref(name) }, `${name} now`)));
    return null;
  }
  // The past does not change: no live stream then.
  const live = past ? null : liveReload(note, (msg) => {
    const d = msg.data || {};
    return d.name === name || d.strategy === name || (d.id && ids.has(String(d.id))) || msg.stream === `strategies/${name}`;
  }, () => !disposed && load(), ["strategies", `strategies/${name}`]);
  load();
  return { dispose() { disposed = true; live?.close(); } };
}

