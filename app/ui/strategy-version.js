// One strategy version (`#/strategies/<name>/versions/<v>`): the exact code (what a job ran), its
// declared parameters, its backtests with their headline figures, its promotions, and the form
// to request a promotion citing one of those backtests.
import { api, session } from "./api.js";
import { h, int, pct, num, signClass } from "./format.js";
import { notify } from "./app.js";
import { statusBadge } from "./jobs.js";
import {
  alertBox, clearBox, declaredTable, gatesTable, jobHref, liveNote, liveReload, notFound, promotionHref,
  promotionsTable, shortId, showProblem, stageBadge, strategyHref, when,
  fill,
} from "./strategy-common.js";

const NEXT_STAGE = { registered: "staging", staging: "production" };
const RESULTS = 20; // headline figures for the newest completed backtests

export function versionPage(main, name, versionText) {
  const number = Number(versionText);
  const base = `/strategies/${encodeURIComponent(name)}/versions/${number}`;
  let disposed = false;
  let version = null;
  let jobs = [];
  let codeUrl = null; // the code as a file, for its download link
  const metrics = new Map(); // job id -> result metrics
  const jobIds = new Set();
  const note = liveNote();
  const title = h("h1", { id: "version-title" }, `${name} v${number}`);
  const summary = h("div", { id: "version-summary" }, h("p", { class: "muted" }, "Loading…"));
  const codeBox = h("div", { id: "code-box" });
  const paramsBox = h("div", { id: "params-box" });
  const backtestsBox = h("div", { id: "backtests-box" }, h("p", { class: "muted" }, "Loading…"));
  const promotionsBox = h("div", { id: "version-promotions-box" });
  const formSlot = h("div", { id: "request-slot" });
  const form = session.can("request-promotion") ? requestForm(name, number, base) : null;

  main.replaceChildren(
    h("p", {}, h("a", { href: strategyHref(name) }, `← ${name}`)),
    h("section", { class: "card", "aria-labelledby": "version-title" }, h("div", { class: "row title-row" }, title, note), summary),
    h("div", { class: form ? "grid2 version-grid" : "version-grid" },
      h("div", {},
        h("section", { class: "card", "aria-labelledby": "code-title" }, h("h2", { id: "code-title" }, "Code"), codeBox),
        h("section", { class: "card", "aria-labelledby": "params-title" }, h("h2", { id: "params-title" }, "Parameters"), paramsBox),
        h("section", { class: "card", "aria-labelledby": "backtests-title" }, h("h2", { id: "backtests-title" }, "Backtests of this version"), backtestsBox),
        h("section", { class: "card", "aria-labelledby": "vpromotions-title" }, h("h2", { id: "vpromotions-title" }, "Promotions"), promotionsBox)),
      form ? formSlot : null));

  function renderSummary(live) {
    const item = (k, v, id) => h("div", { id }, h("dt", {}, k), h("dd", {}, v));
    const liveIn = Object.entries(live || {}).filter(([, l]) => l.version === number).map(([env, l]) => `${env} (revision ${l.revision})`);
    title.replaceChildren(`${name} v${number} `, stageBadge(version.stage));
    fill(summary, h("dl", { class: "metrics" },
      item("Stage", stageBadge(version.stage), "version-stage"),
      item("Registered", when(version.registered_at)),
      item("Registered by", version.registered_by),
      item("Runs in", liveIn.length ? liveIn.join(", ") : h("span", { class: "muted" }, "no environment"), "version-live"),
      item("Code SHA-256", h("code", { class: "sha", id: "code-sha" }, version.code_sha256))),
    version.description ? h("p", { class: "description" }, version.description) : null);
  }

  function renderCode() {
    const lines = version.code.replace(/\n$/, "").split("\n");
    const code = h("code", { id: "code", class: "language-python" }, lines.map((line) => h("span", { class: "line" }, line, "\n")));
    const file = `${name}.py`;
    const copied = h("span", { class: "muted", role: "status" });
    codeUrl = URL.createObjectURL(new Blob([version.code], { type: "text/x-python" }));
    const url = codeUrl;
    codeBox.replaceChildren(
      h("div", { class: "row code-actions" },
        h("button", { type: "button", class: "secondary", id: "copy-code", onclick: async () => {
          try {
            await navigator.clipboard.writeText(version.code);
            copied.textContent = "Copied.";
          } catch {
            copied.textContent = "The browser refused the clipboard: select the code instead.";
          }
        } }, "Copy code"),
        h("a", { href: url, download: file, class: "button-link", id: "download-code" }, `Download ${file}`),
        h("span", { class: "muted" }, `${lines.length} lines`),
        copied),
      h("div", { class: "code-wrap", tabindex: "0", role: "region", "aria-label": `Source of ${name} v${number}` },
        h("pre", { class: "code" }, code)));
  }

  function renderParams() {
    const given = version.parameters && Object.keys(version.parameters).length;
    paramsBox.replaceChildren(
      h("h3", {}, "Declared by the code"),
      h("p", { class: "hint" }, "A backtest may set these by name (within the range); the rest keep their defaults."),
      declaredTable(version.declared_parameters, "declared"),
      h("h3", {}, "Given at registration"),
      given ? h("pre", { class: "json" }, JSON.stringify(version.parameters, null, 2)) : h("p", { class: "muted" }, "None."));
  }

  function renderBacktests() {
    if (!jobs.length) {
      backtestsBox.replaceChildren(h("p", { class: "muted", id: "no-backtests" }, "No backtest of this version yet. ",
        h("a", { href: "#/jobs" }, "Submit one from the jobs page"), ` (strategy ${name}, version ${number}).`));
      return;
    }
    backtestsBox.replaceChildren(h("div", { class: "table-wrap" }, h("table", { id: "version-backtests", class: "st-table" },
      h("caption", { class: "sr-only" }, "Backtests of this version, newest first"),
      h("thead", {}, h("tr", {},
        h("th", { scope: "col" }, "Job"), h("th", { scope: "col" }, "Status"),
        h("th", { scope: "col" }, "Pairs"), h("th", { scope: "col" }, "Timeframe · range"),
        h("th", { scope: "col", class: "num" }, "Trades"), h("th", { scope: "col", class: "num" }, "Profit"),
        h("th", { scope: "col", class: "num" }, "Max DD"), h("th", { scope: "col", class: "num" }, "Sharpe"),
        h("th", { scope: "col" }, "Submitted"))),
      h("tbody", {}, jobs.map((j) => {
        const m = metrics.get(j.id) || {};
        return h("tr", { "data-id": j.id, "data-status": j.status },
          h("td", {}, h("a", { href: jobHref(j.id), "aria-label": `Job ${j.id.slice(0, 8)}` }, shortId(j.id))),
          h("td", {}, statusBadge(j.status)),
          h("td", {}, j.pairs.join(", ")),
          h("td", {}, `${j.timeframe} · ${j.timerange}`),
          h("td", { class: "num" }, int(m.total_trades)),
          h("td", { class: `num ${signClass(m.profit_total)}` }, pct(m.profit_total)),
          h("td", { class: "num" }, pct(m.max_drawdown)),
          h("td", { class: "num" }, num(m.sharpe)),
          h("td", {}, j.submitted_by, " · ", when(j.submitted_at, true)));
      })))));
  }

  let versionLoads = 0;
  let jobLoads = 0;
  async function loadVersion() {
    const seq = ++versionLoads;
    const [v, deployments] = await Promise.all([api(base), api(`/strategies/${encodeURIComponent(name)}/deployments`)]);
    if (disposed || seq !== versionLoads) return;
    const first = !version;
    version = v;
    renderSummary(deployments.live);
    if (first) {
      renderCode();
      renderParams();
    }
    promotionsBox.replaceChildren(promotionsTable(version.promotions, { id: "version-promotions" }));
    form?.update(version, jobs, metrics);
  }

  async function loadBacktests() {
    const seq = ++jobLoads;
    const found = [];
    let cursor = null;
    for (let i = 0; i < 5; i++) {
      const page = await api(`/backtests?strategy=${encodeURIComponent(name)}&limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      found.push(...page.items.filter((j) => j.strategy_version === number));
      cursor = page.next_cursor;
      if (!cursor) break;
    }
    const wanted = found.filter((j) => j.status === "completed" && !metrics.has(j.id)).slice(0, RESULTS);
    await Promise.all(wanted.map((j) => api(`/backtests/${j.id}/result`).then((r) => metrics.set(j.id, r.metrics)).catch(() => null)));
    if (disposed || seq !== jobLoads) return;
    jobs = found;
    for (const j of found) jobIds.add(j.id);
    renderBacktests();
    if (version) form?.update(version, jobs, metrics);
  }

  async function load() {
    try {
      await loadVersion();
      await loadBacktests();
    } catch (error) {
      if (disposed) return;
      if (error.status === 404) notFound(main, "No such version", error, h("a", { href: strategyHref(name) }, `Back to ${name}`));
      else if (error.status !== 401) notify(`Could not load ${name} v${number}: ${error.message}`);
    }
  }

  const wrap = (fn) => () => !disposed && fn().catch((error) => error.status !== 401 && notify(`Could not reload: ${error.message}`));
  const liveVersion = liveReload(note, (msg) => {
    const d = msg.data || {};
    return (version && String(d.id) === String(version.id)) || ((d.name === name || d.strategy === name) && d.number === number)
      || (msg.type.startsWith("Strategy.") && msg.stream === `strategies/${name}`);
  }, wrap(loadVersion), ["strategies", `strategies/${name}`]);
  // Backtests of this version: a new one, or one of ours that finished (progress is left out).
  const liveJobs = liveReload(h("span"), (msg) => {
    const d = msg.data || {};
    if (msg.type.endsWith(".ProgressReported")) return false;
    return (d.strategy === name && (d.strategy_version === undefined || d.strategy_version === number)) || jobIds.has(String(d.id));
  }, wrap(loadBacktests), ["backtests"]);

  if (form) formSlot.replaceChildren(form);
  load();
  return {
    dispose() {
      disposed = true;
      liveVersion.close();
      liveJobs.close();
      if (codeUrl) URL.revokeObjectURL(codeUrl);
    },
  };
}

function requestForm(name, number, base) {
  const target = h("select", { id: "f-target_stage", name: "target_stage", "aria-describedby": "h-target_stage e-target_stage" },
    h("option", { value: "staging" }, "staging"), h("option", { value: "production" }, "production"));
  const backtest = h("select", { id: "f-backtest_id", name: "backtest_id", "aria-describedby": "h-backtest_id e-backtest_id" },
    h("option", { value: "" }, "loading…"));
  const errors = { target_stage: h("p", { class: "field-error", id: "e-target_stage" }), backtest_id: h("p", { class: "field-error", id: "e-backtest_id" }) };
  const problem = alertBox("request-error");
  const gates = h("div", { id: "request-gates" });
  const submit = h("button", { type: "submit", id: "request-promotion" }, "Request promotion");
  const stageNote = h("p", { class: "hint", id: "request-stage-note" });
  let targetTouched = false;
  target.addEventListener("change", () => { targetTouched = true; });

  const form = h("form", { class: "card request-form", id: "request-form", novalidate: true, "aria-labelledby": "request-title" },
    h("h2", { id: "request-title" }, "Request promotion"),
    h("p", { class: "hint" }, "The gates are checked now, against the backtest you cite; an approver other than you decides."),
    stageNote,
    h("div", { class: "field" }, h("label", { for: "f-target_stage" }, "Target stage"), target,
      h("p", { class: "hint", id: "h-target_stage" }, "Production needs staging first."), errors.target_stage),
    h("div", { class: "field" }, h("label", { for: "f-backtest_id" }, "Evidence: a completed backtest of this version"), backtest,
      h("p", { class: "hint", id: "h-backtest_id" }, "Its trades, drawdown and profit are held to the gates."), errors.backtest_id),
    problem, gates, submit);

  function clear() {
    clearBox(problem);
    gates.replaceChildren();
    for (const [field, slot] of Object.entries(errors)) {
      slot.textContent = "";
      form.querySelector(`#f-${field}`).removeAttribute("aria-invalid");
    }
  }

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clear();
    if (!backtest.value) {
      errors.backtest_id.textContent = "Pick the backtest that supports this promotion (run one first if there is none).";
      backtest.setAttribute("aria-invalid", "true");
      backtest.focus();
      return;
    }
    submit.disabled = true;
    try {
      const promotion = await api(`${base}/promotions`, { method: "POST", body: { target_stage: target.value, backtest_id: backtest.value } });
      notify(`Promotion of ${name} v${number} to ${promotion.target_stage} requested: it waits for an approver.`, "info");
      location.hash = promotionHref(promotion.id);
    } catch (error) {
      if (error.status === 401) return;
      let first = null;
      for (const err of error.errors) {
        const slot = errors[err.field];
        if (!slot) continue;
        slot.textContent += `${slot.textContent ? " " : ""}${err.message}`;
        const control = form.querySelector(`#f-${err.field}`);
        control.setAttribute("aria-invalid", "true");
        first = first || control;
      }
      const failed = Array.isArray(error.body.gates) ? error.body.gates : null;
      const lead = failed ? `The gates refused this promotion (${failed.filter((g) => !g.passed).length} of ${failed.length} failed); nothing was recorded.`
        : error.status === 409 ? "This promotion cannot be requested now."
          : error.status === 403 ? "Your roles do not allow requesting a promotion."
            : "The server did not accept this request.";
      showProblem(problem, lead, error);
      if (failed) gates.replaceChildren(h("h3", {}, "Gate results"), gatesTable(failed, "request-gate-results"));
      (first || problem).focus?.();
    } finally {
      submit.disabled = false;
    }
  });

  form.update = (version, jobs, metrics) => {
    const next = NEXT_STAGE[version.stage];
    if (!targetTouched && next) target.value = next;
    const pending = version.promotions.find((p) => p.status === "pending");
    fill(stageNote, 
      `Now ${version.stage}. `,
      pending ? ["A promotion is already pending: ", h("a", { href: promotionHref(pending.id) }, shortId(pending.id)), " (one at a time per version)."] : null,
      !next ? "Nothing further to promote it to." : null);
    const completed = jobs.filter((j) => j.status === "completed");
    const chosen = backtest.value;
    backtest.replaceChildren(...(completed.length
      ? completed.map((j) => {
        const m = metrics.get(j.id);
        const figures = m ? ` · ${int(m.total_trades)} trade${m.total_trades === 1 ? "" : "s"}, profit ${pct(m.profit_total)}, max DD ${pct(m.max_drawdown)}` : "";
        return h("option", { value: j.id, selected: j.id === chosen }, `${j.id.slice(0, 8)} · ${j.pairs.join(", ")} ${j.timeframe} ${j.timerange}${figures}`);
      })
      : [h("option", { value: "" }, "no completed backtest of this version")]));
  };
  return form;
}
