// One promotion (`#/promotions/<id>`): status, who asked and when, the target, the gate results,
// the decision, Approve / Reject for approvers (the server enforces four eyes and its refusal is
// shown as it said it), then Deploy for operators once approved.
import { api, session } from "./api.js";
import { h } from "./format.js";
import { notify } from "./app.js";
import {
  alertBox, clearBox, gatesSummary, gatesTable, jobHref, leadFor, liveNote, liveReload, notFound,
  promotionBadge, shortId, showProblem, stageBadge, strategyHref, versionHref, when,
  fill,
} from "./strategy-common.js";

const DEPLOYABLE = { staging: ["staging", "production"], production: ["production"] };

export function promotionPage(main, id) {
  let disposed = false;
  let promotion = null;
  let version = null;
  let deployments = null;
  let history = [];
  const note = liveNote();
  const title = h("h1", { id: "promotion-title" }, `Promotion ${id.slice(0, 8)}`);
  const summary = h("div", { id: "promotion-summary" }, h("p", { class: "muted" }, "Loading…"));
  const gatesBox = h("div", { id: "gates-box" });
  const decisionBox = h("div", { id: "decision-box" });
  const deployBox = h("div", { id: "deploy-box" });
  const trailBox = h("div", { id: "trail-box" });
  const decisionAlert = alertBox("decision-error");
  const deployAlert = alertBox("deploy-error");
  const comment = h("textarea", { id: "decision-reason", name: "reason", rows: "3", "aria-describedby": "decision-reason-hint decision-reason-error" });
  const commentError = h("p", { class: "field-error", id: "decision-reason-error" });
  const approveButton = h("button", { type: "button", id: "approve", onclick: () => decide(true) }, "Approve");
  const rejectButton = h("button", { type: "button", id: "reject", class: "danger-solid", onclick: () => decide(false) }, "Reject");
  const fourEyesNote = h("p", { class: "hint four-eyes", id: "four-eyes-note" });
  const decisionForm = h("div", { class: "decision-form" },
    h("div", { class: "field" },
      h("label", { for: "decision-reason" }, "Reason (required to reject, optional to approve)"),
      comment,
      h("p", { class: "hint", id: "decision-reason-hint" }, "A rejection's reason is recorded in the audit history."),
      commentError),
    fourEyesNote,
    h("div", { class: "row" }, approveButton, rejectButton));

  const decisionCard = h("section", { class: "card", "aria-labelledby": "decision-title" },
    h("h2", { id: "decision-title" }, "Decision"), decisionBox, decisionAlert);
  const deployCard = h("section", { class: "card", "aria-labelledby": "deploy-title", hidden: true },
    h("h2", { id: "deploy-title" }, "Deployment"), deployBox, deployAlert);
  main.replaceChildren(
    h("p", {}, h("a", { href: "#/strategies" }, "← All strategies")),
    h("section", { class: "card", "aria-labelledby": "promotion-title" }, h("div", { class: "row title-row" }, title, note), summary),
    h("div", { class: "grid2" },
      h("section", { class: "card", "aria-labelledby": "gates-title" }, h("h2", { id: "gates-title" }, "Gate results"), gatesBox),
      h("div", {}, decisionCard, deployCard)),
    h("section", { class: "card", "aria-labelledby": "trail-title" }, h("h2", { id: "trail-title" }, "This promotion's history"), trailBox));

  function mine() {
    return promotion && session.claims?.sub === promotion.requested_by;
  }

  function render() {
    const p = promotion;
    title.replaceChildren(`Promotion of ${p.strategy} v${p.version} to ${p.target_stage} `, promotionBadge(p.status));
    const item = (k, v, itemId) => h("div", { id: itemId }, h("dt", {}, k), h("dd", {}, v));
    fill(summary, h("dl", { class: "metrics" },
      item("Status", promotionBadge(p.status), "promotion-status"),
      item("Strategy version", h("a", { href: versionHref(p.strategy, p.version) }, `${p.strategy} v${p.version}`)),
      item("Version's stage now", version ? stageBadge(version.stage) : "…", "promotion-version-stage"),
      item("Target", stageBadge(p.target_stage)),
      item("Requested by", p.requested_by, "requested-by"),
      item("Requested", when(p.requested_at)),
      item("Evidence", h("a", { href: jobHref(p.backtest_id), title: "the backtest the gates were checked against" }, "backtest ", shortId(p.backtest_id))),
      item("Gates", gatesSummary(p.gates)),
      p.decided_by ? item(p.status === "rejected" ? "Rejected by" : "Approved by", p.decided_by, "decided-by") : null,
      p.decided_at ? item("Decided", when(p.decided_at)) : null),
    p.reason ? h("p", { id: "promotion-reason" }, h("strong", {}, "Reason: "), p.reason) : null);
    gatesBox.replaceChildren(gatesTable(p.gates, "gates"));
    renderDecision();
    renderDeploy();
    renderTrail();
  }

  function renderDecision() {
    const p = promotion;
    if (p.status !== "pending") {
      clearBox(decisionAlert);
      decisionBox.replaceChildren(h("p", { id: "decision" }, promotionBadge(p.status), " by ", h("strong", {}, p.decided_by || "?"), " at ", when(p.decided_at),
        p.reason ? [". Reason: ", h("q", {}, p.reason)] : ".",
        h("br"), h("span", { class: "muted" }, `Requested by ${p.requested_by}: four eyes, two people.`)));
      return;
    }
    if (!session.can("approve")) {
      decisionBox.replaceChildren(h("p", { class: "muted", id: "decision" }, "Waiting for an approver. ",
        mine() ? "You requested it; someone else with the approver role decides." : "Your roles cannot approve or reject."));
      return;
    }
    fourEyesNote.textContent = mine()
      ? "You requested this promotion. Under the four-eyes rule another approver must decide it; the server will refuse you."
      : `Requested by ${p.requested_by}. Check the gates and the evidence before deciding.`;
    if (!decisionBox.contains(decisionForm)) decisionBox.replaceChildren(h("p", { class: "muted", id: "decision" }, "Pending."), decisionForm);
  }

  function renderDeploy() {
    const p = promotion;
    if (p.status !== "approved" || !version || !deployments) {
      deployCard.hidden = true;
      return;
    }
    deployCard.hidden = false;
    const env = p.target_stage;
    const live = deployments.live?.[env];
    const lines = [h("p", { id: "deploy-live" }, live
      ? [`${env[0].toUpperCase()}${env.slice(1)} runs `, h("strong", {}, `v${live.version}`), ` (revision ${live.revision}).`]
      : `${env[0].toUpperCase()}${env.slice(1)} has never been deployed.`)];
    if (live?.version === p.version) {
      lines.push(h("p", { class: "ok-note" }, `v${p.version} is live in ${env}.`));
    } else if (!DEPLOYABLE[env].includes(version.stage)) {
      lines.push(h("p", { class: "muted" }, `v${p.version} is ${version.stage} now and cannot be deployed to ${env}.`));
    } else if (session.can("deploy")) {
      lines.push(h("button", { type: "button", id: "deploy", onclick: (e) => deploy(env, e.currentTarget) }, `Deploy v${p.version} to ${env}`));
    } else {
      lines.push(h("p", { class: "muted" }, "An operator deploys it."));
    }
    lines.push(h("p", {}, h("a", { href: strategyHref(p.strategy) }, `All deployments of ${p.strategy}`), " (revisions, roll back)."));
    deployBox.replaceChildren(...lines);
  }

  function renderTrail() {
    const steps = history.filter((e) => e.details?.promotion_id === id || (e.action === "stage changed" && String(e.details?.cause || "").includes(id)));
    trailBox.replaceChildren(steps.length
      ? h("ol", { class: "timeline audit", id: "promotion-trail", "aria-label": "This promotion's history, oldest first" }, steps.map((e) => h("li", { "data-action": e.action },
        h("strong", {}, e.action[0].toUpperCase() + e.action.slice(1)), " by ", e.actor, " · ", when(e.at), h("span", { class: "muted" }, ` #${e.position}`),
        e.action === "stage changed" ? h("div", { class: "audit-details" }, stageBadge(e.details.from), " → ", stageBadge(e.details.to)) : null,
        e.details?.reason ? h("div", { class: "audit-details" }, `reason: “${e.details.reason}”`) : null)))
      : h("p", { class: "muted" }, "Loading…"));
  }

  async function decide(approve) {
    clearBox(decisionAlert);
    commentError.textContent = "";
    comment.removeAttribute("aria-invalid");
    const reason = comment.value.trim();
    if (!approve && !reason) {
      commentError.textContent = "Say why you reject it: the requester reads this.";
      comment.setAttribute("aria-invalid", "true");
      comment.focus();
      return;
    }
    approveButton.disabled = true;
    rejectButton.disabled = true;
    const verb = approve ? "approve" : "reject";
    try {
      promotion = await api(`/promotions/${id}/${verb}`, { method: "POST", body: approve ? undefined : { reason } });
      notify(`Promotion ${approve ? "approved" : "rejected"}.`, "info");
      await load();
      decisionBox.querySelector("#decision")?.setAttribute("tabindex", "-1");
      decisionBox.querySelector("#decision")?.focus();
    } catch (error) {
      if (error.status === 401) return;
      let lead;
      if (error.status === 403 && mine()) lead = `You requested this promotion; someone else must ${verb} it (four eyes).`;
      else if (error.status === 409) lead = `Already decided or changed meanwhile: it cannot be ${approve ? "approved" : "rejected"} now.`;
      else lead = leadFor(error, `${verb} this promotion`);
      showProblem(decisionAlert, lead, error);
      if (error.status === 409) load();
    } finally {
      approveButton.disabled = false;
      rejectButton.disabled = false;
    }
  }

  async function deploy(env, button) {
    clearBox(deployAlert);
    button.disabled = true;
    try {
      const rev = await api(`/strategies/${encodeURIComponent(promotion.strategy)}/deployments`, { method: "POST", body: { version: promotion.version, environment: env } });
      notify(`Deployed v${rev.version} to ${env} as revision ${rev.revision}.`, "info");
      await load();
    } catch (error) {
      if (error.status !== 401) showProblem(deployAlert, leadFor(error, `deploy v${promotion.version} to ${env}`), error);
      button.disabled = false;
    }
  }

  let loads = 0;
  async function load() {
    const seq = ++loads; // an older answer arriving late does not overwrite a newer one
    try {
      const p = await api(`/promotions/${id}`);
      if (disposed || seq !== loads) return;
      const strategy = encodeURIComponent(p.strategy);
      const [v, d, hist] = await Promise.all([
        api(`/strategies/${strategy}/versions/${p.version}`),
        api(`/strategies/${strategy}/deployments`),
        api(`/strategies/${strategy}/history`),
      ]);
      if (disposed || seq !== loads) return;
      promotion = p;
      version = v;
      deployments = d;
      history = hist.entries;
      render();
    } catch (error) {
      if (disposed) return;
      if (error.status === 404) notFound(main, "No such promotion", error, h("a", { href: "#/strategies" }, "Back to the strategies"));
      else if (error.status !== 401) notify(`Could not load the promotion: ${error.message}`);
    }
  }

  // The promotion's version events come on `strategies`, deployments on `strategies/<name>`:
  // subscribed once the first load told the strategy, then loaded again to miss nothing.
  let live = null;
  load().then(() => {
    if (disposed || !promotion) return;
    live = liveReload(note, (msg) => {
      const d = msg.data || {};
      return String(d.promotion_id) === id || (version && String(d.id) === String(version.id))
        || msg.stream === `strategies/${promotion.strategy}`;
    }, () => !disposed && load(), ["strategies", `strategies/${promotion.strategy}`]);
    load();
  });
  return { dispose() { disposed = true; live?.close(); } };
}
