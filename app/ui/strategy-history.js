// A strategy's audit history as a timeline: what happened, to which version, by whom and when.
import { h } from "./format.js";
import { gatesSummary, jobHref, promotionHref, shortId, stageBadge, strategyHref, versionHref, when } from "./strategy-common.js";

/** The audit history (GET /strategies/{name}/history entries, in log order) as a timeline in `box`. */
export function renderHistory(box, name, history) {
  if (!history.length) {
    box.replaceChildren(h("p", { class: "muted" }, "Nothing recorded yet."));
    return;
  }
  box.replaceChildren(h("ol", { class: "timeline audit", id: "history", "aria-label": "Audit history, oldest first" },
    history.map((e) => h("li", { "data-action": e.action, "data-position": String(e.position), class: `audit-${e.action.replace(/\s+/g, "-")}` },
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
    case "maintainer added":
      return h("div", { class: "audit-details" }, `${d.user} may now register versions`);
    case "maintainer removed":
      return h("div", { class: "audit-details" }, `${d.user} may no longer register versions`);
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
