// The web UI's entry: sign-in, the fragment router (ROUTES) and the banner.
import { session, onUnauthorized, claimsOf } from "./api.js";
import { h } from "./format.js";
import { watchScrollRegions } from "./scroll-regions.js";

const main = document.getElementById("main");
const banner = document.getElementById("banner");
let current = null; // the page shown: {dispose()}
let signInMessage = "";

export function notify(text, kind = "error") {
  banner.textContent = text;
  banner.className = kind === "info" ? "banner info" : "banner";
  banner.hidden = !text;
}

function dispose() {
  current?.dispose?.();
  current = null;
}

function signOut(message = "") {
  dispose();
  session.clear();
  signInMessage = message;
  if (location.hash !== "#/signin") location.hash = "#/signin";
  else route();
}

onUnauthorized((message) => signOut(message));

function header() {
  const signedIn = Boolean(session.token);
  document.getElementById("nav").hidden = !signedIn;
  document.getElementById("who").hidden = !signedIn;
  document.getElementById("who-name").textContent = signedIn
    ? `${session.claims.sub} (${session.claims.roles.join(", ") || "no roles"})`
    : "";
}

function signInPage() {
  const error = h("p", { class: "field-error", id: "token-error", role: "alert" }, signInMessage);
  const input = h("textarea", {
    id: "token", name: "token", required: true, autocomplete: "off", spellcheck: "false",
    "aria-describedby": "token-hint token-error",
  });
  const form = h("form", { class: "card signin", novalidate: true },
    h("h1", {}, "Sign in"),
    h("div", { class: "field" },
      h("label", { for: "token" }, "Access token (JWT)"),
      input,
      h("p", { class: "hint", id: "token-hint" },
        "Mint one with ", h("code", {}, "tradai token --sub NAME --role researcher"),
        ". It is kept for this browser tab only (sessionStorage)."),
      error),
    h("button", { type: "submit" }, "Sign in"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const token = input.value.trim();
    try {
      claimsOf(token);
      session.set(token);
    } catch (err) {
      error.textContent = `That token cannot be read: ${err.message}.`;
      input.setAttribute("aria-invalid", "true");
      input.focus();
      return;
    }
    if (session.expired()) {
      session.clear();
      error.textContent = "That token has expired: mint a new one.";
      input.focus();
      return;
    }
    signInMessage = "";
    location.hash = "#/jobs";
  });
  main.replaceChildren(form);
  input.focus();
  return null;
}

// Pages by the URL's fragment, each module loaded when first shown (the sign-in page needs none
// of them): [pattern, module, page function]. A page function takes <main> and the pattern's
// groups (decoded) and returns {dispose()} or null.
const UUID = "([0-9a-fA-F-]{36})";
const loadJobs = () => import("./jobs.js");
const ROUTES = [
  [new RegExp(`^#/jobs/${UUID}$`), () => import("./job.js"), "jobPage"],
  [/^#\/compare(?:\?ids=([^&]*))?$/, () => import("./compare.js"), "comparePage"], // ?ids=<id>,<id>,...
  [/^#\/strategies$/, () => import("./strategies.js"), "strategiesPage"],
  [/^#\/strategies\/([^/?]+)(?:\?as_of=([^&]*))?$/, () => import("./strategies.js"), "strategyPage"],
  [/^#\/strategies\/([^/]+)\/versions\/([0-9]+)$/, () => import("./strategies.js"), "versionPage"],
  [new RegExp(`^#/promotions/${UUID}$`), () => import("./strategies.js"), "promotionPage"],
  [/^#\/sweeps$/, () => import("./sweeps.js"), "sweepsPage"],
  [new RegExp(`^#/sweeps/${UUID}$`), () => import("./sweeps.js"), "sweepPage"],
];
let shown = 0; // counts routings: a page whose module arrives after the user moved on is dropped

function pageFor(hash) {
  for (const [pattern, load, name] of ROUTES) {
    const match = hash.match(pattern);
    if (match) {
      const groups = match.slice(1).map((g) => (g === undefined ? undefined : decodeURIComponent(g)));
      return [load, name, groups];
    }
  }
  return null;
}

async function show(load, name, groups) {
  const ticket = shown;
  let module;
  try {
    module = await load();
  } catch (error) {
    notify(`This page could not be loaded (${error.message}). Reload to try again.`);
    return;
  }
  if (ticket !== shown) return;
  current = module[name](main, ...groups);
}

function route() {
  shown++;
  dispose();
  notify("");
  const hash = location.hash || "#/jobs";
  if (!session.token) {
    header();
    signInPage();
    if (hash !== "#/signin") history.replaceState(null, "", "#/signin");
    return;
  }
  if (session.expired()) return signOut("Your token has expired. Sign in again with a new one.");
  header();
  const page = pageFor(hash);
  if (page) show(...page);
  else if (hash === "#/signin" || hash === "#/jobs" || hash === "#/" || hash === "#") {
    if (hash !== "#/jobs") history.replaceState(null, "", "#/jobs");
    show(loadJobs, "jobsPage", []);
  } else {
    main.replaceChildren(h("h1", {}, "Not found"), h("p", {}, "No such page. ", h("a", { href: "#/jobs" }, "Back to the jobs")));
  }
  main.focus({ preventScroll: true });
}

document.getElementById("signout").addEventListener("click", () => signOut("Signed out."));
window.addEventListener("hashchange", route);
session.load();
watchScrollRegions(main);
route();
