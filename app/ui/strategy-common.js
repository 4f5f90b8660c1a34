// What the strategy, version and promotion pages share: links, badges, the gate table, the
// promotions table, problem messages and the live `strategies` stream with a coalesced reload.
import { Live, session } from "./api.js";
import { dateTime, h, int, pct, shortDate } from "./format.js";

export const ENVIRONMENTS = ["staging", "production"];

export const strategyHref = (name, asOf) => `#/strategies/${encodeURIComponent(name)}${asOf ? `?as_of=${encodeURIComponent(asOf)}` : ""}`;
export const versionHref = (name, version) => `#/strategies/${encodeURIComponent(name)}/versions/${version}`;
export const promotionHref = (id) => `#/promotions/${id}`;
export const jobHref = (id) => `#/jobs/${id}`;

/** replaceChildren that, like h(), flattens arrays and leaves out null, undefined and false. */
export function fill(el, ...children) {
  el.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
  return el;
}

/** <time> in the user's time zone, the UTC instant in its title and datetime attribute. */
export function when(iso, short = false) {
  if (!iso) return h("span", { class: "muted" }, "—");
  return h("time", { datetime: iso, title: new Date(iso).toISOString() }, short ? shortDate(iso) : dateTime(iso));
}

export function stageBadge(stage) {
  return h("span", { class: `stage stage-${stage || "none"}` }, stage || "—");
}

export function promotionBadge(status) {
  return h("span", { class: `status promotion-${status}` }, status);
}

/** A short id in <code>, the whole id in its title. */
export const shortId = (id) => h("code", { title: String(id) }, String(id).slice(0, 8));

const GATE_LABELS = {
  backtest_completed: "Backtest completed",
  same_strategy_version: "Same strategy version",
  min_trades: "Minimum trades",
  max_drawdown: "Maximum drawdown",
  min_profit: "Minimum profit",
};

function figure(name, value) {
  if (value === null || value === undefined) return "none";
  if ((name === "max_drawdown" || name === "min_profit") && typeof value === "number") return pct(value);
  if (name === "min_trades" && typeof value === "number") return int(value);
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

/** Why a gate passed or failed, in a sentence, with its figures. */
export function gateReason(g) {
  const a = figure(g.name, g.actual);
  const t = figure(g.name, g.threshold);
  const missing = g.actual === null || g.actual === undefined;
  switch (g.name) {
    case "backtest_completed":
      return g.passed ? "the cited backtest completed" : `the cited backtest is ${a}; it must be ${t}`;
    case "same_strategy_version":
      return g.passed ? `the backtest ran ${a}` : `the backtest ran ${a}, not ${t}`;
    case "min_trades":
      return missing ? `no trade count (the backtest has no result); at least ${t} needed`
        : `${a} trade${g.actual === 1 ? "" : "s"} ${g.passed ? "≥" : "<"} ${t} required`;
    case "max_drawdown":
      return missing ? `no drawdown figure (the backtest has no result); at most ${t} allowed`
        : `max drawdown ${a} ${g.passed ? "≤" : ">"} ${t} allowed`;
    case "min_profit":
      return missing ? `no profit figure (the backtest has no result); at least ${t} needed`
        : `total profit ${a} ${g.passed ? "≥" : "<"} ${t} required`;
    default:
      return `actual ${a}, threshold ${t}`;
  }
}

export function gatesSummary(gates) {
  const passed = gates.filter((g) => g.passed).length;
  return h("span", { class: passed === gates.length ? "gates-ok" : "gates-bad" }, `${passed} of ${gates.length} gates passed`);
}

/** Every gate: passed or failed, why, actual and threshold. */
export function gatesTable(gates, id, caption = "Promotion gates: result, reason and figures") {
  return h("div", { class: "table-wrap" }, h("table", { class: "st-table gates", id },
    h("caption", { class: "sr-only" }, caption),
    h("thead", {}, h("tr", {},
      h("th", { scope: "col" }, "Gate"), h("th", { scope: "col" }, "Result"), h("th", { scope: "col" }, "Reason"),
      h("th", { scope: "col", class: "num" }, "Actual"), h("th", { scope: "col", class: "num" }, "Threshold"))),
    h("tbody", {}, gates.map((g) => h("tr", { "data-gate": g.name, "data-passed": String(g.passed) },
      h("th", { scope: "row", title: g.name }, GATE_LABELS[g.name] || g.name),
      h("td", {}, h("span", { class: g.passed ? "gate gate-pass" : "gate gate-fail" }, g.passed ? "passed" : "failed")),
      h("td", { class: "wrap" }, gateReason(g)),
      h("td", { class: "num" }, figure(g.name, g.actual)),
      h("td", { class: "num" }, figure(g.name, g.threshold)))))));
}

/** Promotions with status, people, times and gates (in a disclosure). */
export function promotionsTable(promotions, { id, showVersion = false, name } = {}) {
  if (!promotions.length) return h("p", { class: "muted", id: id ? `${id}-empty` : undefined }, "No promotions.");
  return h("div", { class: "table-wrap" }, h("table", { id, class: "st-table promotions" },
    h("caption", { class: "sr-only" }, "Promotions, newest first"),
    h("thead", {}, h("tr", {},
      h("th", { scope: "col" }, "Promotion"),
      showVersion ? h("th", { scope: "col" }, "Version") : null,
      h("th", { scope: "col" }, "Target"), h("th", { scope: "col" }, "Status"),
      h("th", { scope: "col" }, "Requested"), h("th", { scope: "col" }, "Decided"),
      h("th", { scope: "col" }, "Gates"))),
    h("tbody", {}, [...promotions].sort((a, b) => (a.requested_at < b.requested_at ? 1 : -1)).map((p) => h("tr", { "data-id": p.id, "data-status": p.status },
      h("td", {}, h("a", { href: promotionHref(p.id), "aria-label": `Promotion ${String(p.id).slice(0, 8)} of v${p.version} to ${p.target_stage}` }, shortId(p.id))),
      showVersion ? h("td", {}, h("a", { href: versionHref(name || p.strategy, p.version) }, `v${p.version}`)) : null,
      h("td", {}, stageBadge(p.target_stage)),
      h("td", {}, promotionBadge(p.status)),
      h("td", {}, p.requested_by, " · ", when(p.requested_at, true)),
      h("td", { class: "wrap" }, p.decided_by ? [p.decided_by, " · ", when(p.decided_at, true)] : h("span", { class: "muted" }, "—"),
        p.reason ? h("div", { class: "muted" }, `“${p.reason}”`) : null),
      h("td", { class: "wrap" }, h("details", {}, h("summary", {}, gatesSummary(p.gates)),
        gatesTable(p.gates, undefined, `Gates of promotion ${String(p.id).slice(0, 8)} (v${p.version} to ${p.target_stage}): result, reason and figures`))))))));
}

/** A message box for the server's refusals; empty, it takes no room. */
export function alertBox(id) {
  return h("div", { class: "alert", id, role: "alert" });
}

/** Put `lead` and the server's own words (problem details) into an alert box. */
export function showProblem(box, lead, error) {
  const detail = error?.body?.detail || error?.message || "";
  const fields = (error?.errors || []).filter((e) => !String(e.field || "").startsWith("gates."));
  fill(box,
    h("p", { class: "alert-lead" }, lead),
    detail ? h("p", { class: "alert-detail" }, `The server said (${error.status}): ${detail}`) : null,
    fields.length ? h("ul", {}, fields.map((e) => h("li", {}, `${e.field}: ${e.message}`))) : null);
}

export function clearBox(box) {
  box.replaceChildren();
}

/** What a refusal means to the person who clicked, for the usual statuses. */
export function leadFor(error, action) {
  if (error.status === 403) return `You may not ${action}: ${session.claims?.roles?.length ? "your roles do not allow it" : "no role"}.`;
  if (error.status === 409) return `Cannot ${action} now: the record changed or does not allow it.`;
  if (error.status === 404) return `Cannot ${action}: not found.`;
  if (error.status === 422 || error.status === 400) return `Cannot ${action}: the server did not accept the request.`;
  return `Could not ${action}.`;
}

export function declaredTable(declared, id) {
  if (!declared?.length) return h("p", { class: "muted" }, "This version declares no parameters.");
  const range = (p) => (p.choices ? p.choices.map((c) => JSON.stringify(c)).join(", ")
    : p.low !== null && p.low !== undefined ? `${p.low} – ${p.high}` : "—");
  return h("div", { class: "table-wrap" }, h("table", { id, class: "st-table" },
    h("caption", { class: "sr-only" }, "Parameters the code declares"),
    h("thead", {}, h("tr", {}, ["Name", "Type", "Space", "Range or choices", "Default", "Decimals"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, declared.map((p) => h("tr", {},
      h("th", { scope: "row" }, h("code", {}, p.name)),
      h("td", {}, p.kind), h("td", {}, p.space), h("td", {}, range(p)),
      h("td", {}, h("code", {}, JSON.stringify(p.default))),
      h("td", {}, p.decimals ?? "—"))))));
}

/** One line per declared parameter: "fast_span int 5–30, default 12". */
export function declaredInline(declared) {
  if (!declared?.length) return h("span", { class: "muted" }, "none");
  return h("ul", { class: "plain" }, declared.map((p) => h("li", {},
    h("code", {}, p.name), ` ${p.kind}`,
    p.choices ? ` {${p.choices.map(String).join(", ")}}` : p.low !== null && p.low !== undefined ? ` ${p.low}–${p.high}` : "",
    `, default ${JSON.stringify(p.default)}`)));
}

/** Does this live message concern strategy `name` (or one of the aggregates in `ids`)? */
export function concerns(msg, name, ids) {
  const d = msg.data || {};
  return d.name === name || d.strategy === name || (d.id && ids.has(String(d.id)));
}

/**
 * The `strategies` stream for a page: `relevant(msg)` picks the changes that matter and `reload()`
 * runs once for a burst, then once more a moment later (the read model is another subscriber of
 * the same log and may apply an event a few milliseconds after it reached us).
 */
export function liveReload(note, relevant, reload, streams = ["strategies"]) {
  const live = new Live((on) => {
    note.className = on ? "live on" : "live";
    note.textContent = on ? "live" : "reconnecting…";
  }, () => reload());
  const timers = new Set();
  let pending = false;
  function later(ms, fn) {
    const t = setTimeout(() => { timers.delete(t); fn(); }, ms);
    timers.add(t);
  }
  function schedule() {
    if (pending) return;
    pending = true;
    later(150, () => { pending = false; reload(); });
    later(1200, reload);
  }
  for (const stream of streams) live.subscribe(stream, (msg) => { if (relevant(msg)) schedule(); });
  return {
    close() {
      live.close();
      for (const t of timers) clearTimeout(t);
      timers.clear();
    },
  };
}

export function liveNote() {
  return h("span", { class: "live", role: "status" }, "connecting…");
}

/** Re-render `fn` inside `root`, keeping keyboard focus on the control with the same data-key. */
export function keepFocus(root, fn) {
  const active = document.activeElement;
  const key = active && root.contains(active) ? active.dataset.key : null;
  fn();
  if (key) root.querySelector(`[data-key="${CSS.escape(key)}"]`)?.focus();
}

/** The 404 page of a strategy-side record. */
export function notFound(main, title, error, back) {
  main.replaceChildren(h("h1", {}, title), h("p", {}, error.message, " ", back));
}
