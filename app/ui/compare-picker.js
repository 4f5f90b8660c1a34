// The compare page's run picker: completed jobs, newest first, a checkbox each (at most COMPARE_MAX).
import { api } from "./api.js";
import { h, shortDate } from "./format.js";
import { COMPARE_MAX, COMPARE_MIN, compareHash } from "./jobs.js";
import { paramText, shortId } from "./compare-common.js";

export function picker(preselected, state) {
  const chosen = new Set(preselected.slice(0, COMPARE_MAX));
  const tbody = h("tbody");
  const status = h("p", { class: "muted", role: "status" }, "Loading the completed jobs…");
  const more = h("button", { type: "button", class: "secondary", hidden: true }, "Load more");
  const submit = h("button", { type: "submit", id: "compare-go" }, "Compare");
  const count = h("span", { class: "hint", id: "compare-count", "aria-live": "polite" });
  let cursor = null;

  function update() {
    const n = chosen.size;
    submit.textContent = `Compare selected (${n})`;
    submit.disabled = n < COMPARE_MIN || n > COMPARE_MAX;
    count.textContent = n > COMPARE_MAX ? `Untick ${n - COMPARE_MAX}: at most ${COMPARE_MAX}.`
      : n >= COMPARE_MAX ? `${COMPARE_MAX} ticked: the most that can be compared.`
        : `${n} ticked; tick ${COMPARE_MIN} to ${COMPARE_MAX}.`;
    for (const box of tbody.querySelectorAll("input[type=checkbox]")) box.disabled = !box.checked && n >= COMPARE_MAX;
  }

  function row(job) {
    const box = h("input", {
      type: "checkbox", id: `pick-${job.id}`, value: job.id, checked: chosen.has(job.id),
      onchange: () => { if (box.checked) chosen.add(job.id); else chosen.delete(job.id); update(); },
    });
    return h("tr", { "data-id": job.id },
      h("td", { class: "pick" }, box,
        h("label", { for: `pick-${job.id}`, class: "sr-only" }, `Compare job ${shortId(job.id)} (${job.strategy} v${job.strategy_version})`)),
      h("th", { scope: "row" }, h("a", { href: `#/jobs/${job.id}` }, h("code", {}, shortId(job.id)))),
      h("td", {}, `${job.strategy} v${job.strategy_version}`),
      h("td", { class: "params" }, paramText(job.parameters)),
      h("td", { class: "hide-narrow" }, (job.pairs || []).join(", ")),
      h("td", { class: "hide-narrow" }, `${job.timeframe} · ${job.timerange}`),
      h("td", { class: "hide-narrow" }, h("time", { datetime: job.finished_at || "" }, shortDate(job.finished_at))));
  }

  async function page() {
    const query = new URLSearchParams({ status: "completed", limit: "50" });
    if (cursor) query.set("cursor", cursor);
    more.disabled = true;
    try {
      const answer = await api(`/backtests?${query}`);
      if (state.disposed) return;
      tbody.append(...answer.items.map(row));
      cursor = answer.next_cursor;
      more.hidden = !cursor;
      status.textContent = tbody.children.length ? "" : "No completed backtests yet: submit some on the jobs page.";
      update();
    } catch (error) {
      if (error.status !== 401) status.textContent = `Could not load the completed jobs: ${error.message}`;
    } finally {
      more.disabled = false;
    }
  }
  more.addEventListener("click", page);

  const form = h("form", { id: "compare-picker", class: "picker", "aria-label": "Pick runs to compare" },
    h("div", { class: "table-wrap" }, h("table", {},
      h("caption", { class: "sr-only" }, "Completed backtests, newest first; tick the runs to compare"),
      h("thead", {}, h("tr", {},
        h("th", { scope: "col", class: "pick" }, h("span", { class: "sr-only" }, "Compare")),
        h("th", { scope: "col" }, "Job"), h("th", { scope: "col" }, "Strategy"), h("th", { scope: "col" }, "Parameters"),
        h("th", { scope: "col", class: "hide-narrow" }, "Pairs"), h("th", { scope: "col", class: "hide-narrow" }, "Timeframe · range"),
        h("th", { scope: "col", class: "hide-narrow" }, "Finished"))),
      tbody)),
    status, more,
    h("div", { class: "compare-bar" }, submit, count));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    if (chosen.size >= COMPARE_MIN && chosen.size <= COMPARE_MAX) location.hash = compareHash([...chosen]);
  });
  update();
  page();
  return form;
}
