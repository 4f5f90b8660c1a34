// A strategy's deployments: each environment's live revision and revisions, deploy and roll back.
import { api, session } from "./api.js";
import { h } from "./format.js";
import { notify } from "./app.js";
import { ENVIRONMENTS, alertBox, clearBox, keepFocus, leadFor, showProblem, stageBadge, versionHref, when } from "./strategy-common.js";

// Which version stages each environment runs (the server's rule; it decides in any case).
const DEPLOYABLE = { staging: ["staging", "production"], production: ["production"] };

/** The Deployments card's content in `box` for the record `r`; `ctx`: {name, past, state, reload}
 * (state keeps the versions picked in the selects across live reloads). */
export function renderDeployments(box, r, ctx) {
  const { name, past, state } = ctx;
  const byVersion = new Map(r.versions.map((v) => [v.version, v]));
  keepFocus(box, () => box.replaceChildren(h("div", { class: "envs" }, ENVIRONMENTS.map((env) => {
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
        actions.push(h("form", { class: "inline-form", "data-env": env, onsubmit: (e) => { e.preventDefault(); deploy(ctx, env, Number(select.value), error, e.submitter); } },
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
      actions.push(h("form", { class: "inline-form", "data-env": env, onsubmit: (e) => { e.preventDefault(); rollback(ctx, env, select.value, error, e.submitter); } },
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

async function deploy({ name, state, reload }, env, version, box, button) {
  clearBox(box);
  if (button) button.disabled = true;
  try {
    const rev = await api(`/strategies/${encodeURIComponent(name)}/deployments`, { method: "POST", body: { version, environment: env } });
    notify(`Deployed v${rev.version} to ${env} as revision ${rev.revision}.`, "info");
    delete state.deployChoice[env];
    await reload();
  } catch (error) {
    if (error.status !== 401) showProblem(box, leadFor(error, `deploy v${version} to ${env}`), error);
  } finally {
    if (button) button.disabled = false;
  }
}

async function rollback({ name, state, reload }, env, to, box, button) {
  clearBox(box);
  if (button) button.disabled = true;
  try {
    const body = { environment: env };
    if (to) body.to_revision = Number(to);
    const rev = await api(`/strategies/${encodeURIComponent(name)}/rollback`, { method: "POST", body });
    notify(`Rolled ${env} back: revision ${rev.revision} runs v${rev.version}.`, "info");
    delete state.rollbackChoice[env];
    await reload();
  } catch (error) {
    if (error.status !== 401) showProblem(box, leadFor(error, `roll ${env} back`), error);
  } finally {
    if (button) button.disabled = false;
  }
}
