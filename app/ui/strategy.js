// One strategy (`#/strategies/<name>`, optionally `?as_of=<ISO instant>`): the page and time travel.
// Its versions, promotions with their gates, deployments per environment with deploy and roll back
// (strategy-deployments.js), the audit history as a timeline (strategy-history.js), and "as of".
import { api } from "./api.js";
import { h } from "./format.js";
import { notify } from "./app.js";
import { declaredInline, liveNote, liveReload, notFound, promotionsTable, stageBadge, strategyHref, versionHref, when, fill } from "./strategy-common.js";
import { renderDeployments } from "./strategy-deployments.js";
import { renderHistory } from "./strategy-history.js";

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
      item("Created", [r.detail.created_by, " · ", when(r.detail.created_at, true)]),
      item("Owner", r.detail.created_by, "owner"),
      item("Maintainers", (r.detail.maintainers || []).join(", ") || h("span", { class: "muted" }, "none"), "maintainers")));
  }

  function renderVersions(r) {
    versionsBox.replaceChildren(r.versions.length ? h("div", { class: "table-wrap" }, h("table", { id: "versions", class: "st-table" },
      h("caption", { class: "sr-only" }, "Versions of this strategy, newest first"),
      h("thead", {}, h("tr", {}, ["Version", "Stage", "Registered", "By", "Code SHA-256", "Declared parameters", "Description"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, r.versions.map((v) => h("tr", { "data-version": String(v.version), "data-stage": v.stage },
        h("th", { scope: "row" }, h("a", { href: versionHref(name, v.version), "aria-label": `v${v.version}: code, backtests, promotions` }, `v${v.version}`)),
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
    renderDeployments(deploymentsBox, r, { name, past, state, reload: load });
    renderHistory(historyBox, name, r.history);
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
