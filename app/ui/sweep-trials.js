// A sweep's trials table: filtered by status, sorted by any column, paged (sweep.js draws it).
import { h, int } from "./format.js";
import { statusBadge } from "./jobs.js";
import { objectiveText, valueText } from "./sweep-format.js";

const PAGE = 50; // trials per page of the table

/** The Trials card; `current()` gives the page's {sweep, trials (number -> trial), params}.
 * Returns {section, draw}: draw() after every change. */
export function trialsTable(current) {
  const trialsBody = h("tbody", { id: "trials-body" });
  const trialsHead = h("tr");
  const pagerStatus = h("span", { class: "muted", role: "status" });
  const prev = h("button", { type: "button", class: "secondary", onclick: () => { page -= 1; drawTrials(); } }, "Previous");
  const next = h("button", { type: "button", class: "secondary", onclick: () => { page += 1; drawTrials(); } }, "Next");
  const statusFilter = h("select", { id: "trials-status", name: "trials-status" },
    h("option", { value: "" }, "all"), ["completed", "pending", "failed", "cancelled"].map((s) => h("option", { value: s }, s)));
  let page = 0;
  let sort = ["number", 1]; // [column key, 1 ascending | -1 descending]

  const section = h("section", { class: "card", "aria-labelledby": "trials-title" },
    h("div", { class: "row" }, h("h2", { id: "trials-title" }, "Trials"),
      h("div", { class: "field trials-filter" }, h("label", { for: "trials-status" }, "Status"), statusFilter)),
    h("div", { class: "table-wrap" }, h("table", { id: "trials" },
      h("caption", { class: "sr-only" }, "The sweep's trials; the column buttons sort them"),
      h("thead", {}, trialsHead), trialsBody)),
    h("div", { class: "pager" }, prev, next, pagerStatus));

  function columns() {
    const { sweep, params } = current();
    return [
      ["number", "#", (t) => [String(t.number), t.number === sweep.best?.trial ? h("span", { class: "best-mark", title: "the sweep's best" }, " ★") : null], "num"],
      ["status", "Status", (t) => statusBadge(t.status)],
      ...params.map((p) => [`p:${p}`, p, (t) => valueText(t.parameters?.[p]), "num"]),
      ["objective", sweep.objective, (t) => objectiveText(sweep.objective, t.objective), "num"],
      ["job", "Backtest", (t) => h("a", { href: `#/jobs/${t.backtest_id}`, "aria-label": `${t.backtest_id.slice(0, 8)}: the backtest of trial ${t.number}` }, h("code", {}, t.backtest_id.slice(0, 8)))],
    ];
  }

  function valueOf(t, key) {
    if (key.startsWith("p:")) return t.parameters?.[key.slice(2)];
    return t[key];
  }

  function compare(a, b, key, dir) {
    const va = valueOf(a, key);
    const vb = valueOf(b, key);
    const missingA = va === null || va === undefined;
    const missingB = vb === null || vb === undefined;
    if (missingA || missingB) return missingA === missingB ? a.number - b.number : missingA ? 1 : -1; // blanks last
    if (va < vb) return -dir;
    if (va > vb) return dir;
    return a.number - b.number;
  }

  let headKey = "";
  function drawTrials() {
    const cols = columns();
    const key = cols.map((c) => `${c[0]}=${c[1]}`).join("|") + sort.join();
    if (key !== headKey) {
      const focused = trialsHead.contains(document.activeElement) ? document.activeElement.dataset.sort : null;
      headKey = key;
      trialsHead.replaceChildren(...cols.map(([k, label, , cls]) => {
        const sortable = k !== "job";
        const state = sort[0] === k ? (sort[1] > 0 ? "ascending" : "descending") : "none";
        return h("th", { scope: "col", class: cls || "", "aria-sort": sortable ? state : null },
          sortable ? h("button", { type: "button", class: "sort", "data-sort": k, onclick: () => sortBy(k) },
            label, h("span", { "aria-hidden": "true" }, state === "ascending" ? " ▲" : state === "descending" ? " ▼" : "")) : label);
      }));
      if (focused) trialsHead.querySelector(`[data-sort="${CSS.escape(focused)}"]`)?.focus();
    }
    const { sweep, trials } = current();
    const rows = [...trials.values()].filter((t) => !statusFilter.value || t.status === statusFilter.value);
    rows.sort((a, b) => compare(a, b, sort[0], sort[1]));
    const pages = Math.max(1, Math.ceil(rows.length / PAGE));
    page = Math.max(0, Math.min(page, pages - 1));
    const shown = rows.slice(page * PAGE, page * PAGE + PAGE);
    trialsBody.replaceChildren(...shown.map((t) => h("tr", {
      "data-trial": String(t.number), "data-status": t.status, class: t.number === sweep.best?.trial ? "best-row" : "",
    }, cols.map(([k, , f, cls]) => h(k === "number" ? "th" : "td", { class: cls || "", scope: k === "number" ? "row" : null }, f(t))))));
    prev.disabled = page === 0;
    next.disabled = page >= pages - 1;
    pagerStatus.textContent = rows.length
      ? `Trials ${int(page * PAGE + 1)}–${int(page * PAGE + shown.length)} of ${int(rows.length)}${pages > 1 ? ` (page ${page + 1} of ${pages})` : ""}`
      : trials.size ? "No trial has this status." : "No trial asked yet.";
  }

  function sortBy(key) {
    const { sweep } = current();
    // The objective sorts best first on the first press; the rest ascending.
    const first = key === "objective" && sweep.direction === "maximize" ? -1 : 1;
    sort = sort[0] === key ? [key, -sort[1]] : [key, first];
    page = 0;
    drawTrials();
  }

  statusFilter.addEventListener("change", () => { page = 0; drawTrials(); });
  return { section, draw: drawTrials };
}
