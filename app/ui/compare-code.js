// The compare page's code card: a line diff (jsdiff) from the first run's version to each other one.
import { h } from "./format.js";
import { effectiveParameters, versionKey } from "./compare-common.js";

function declaredText(p) {
  if (!p) return "—";
  const range = p.choices ? `choices ${p.choices.map((c) => JSON.stringify(c)).join(" / ")}` : `${p.low} to ${p.high}`;
  return `${p.kind}, ${range}, default ${JSON.stringify(p.default)}${p.space ? `, space ${p.space}` : ""}`;
}

function parameterDiff(baseDoc, doc, baseName, name) {
  const a = new Map((baseDoc.declared_parameters || []).map((p) => [p.name, p]));
  const b = new Map((doc.declared_parameters || []).map((p) => [p.name, p]));
  const rows = [];
  for (const n of new Set([...a.keys(), ...b.keys()])) {
    const x = a.get(n);
    const y = b.get(n);
    if (x && y && declaredText(x) === declaredText(y)) continue;
    rows.push(h("tr", { class: !x ? "add" : !y ? "del" : "changed" },
      h("th", { scope: "row" }, h("code", {}, n)),
      h("td", {}, declaredText(x)), h("td", {}, declaredText(y)),
      h("td", {}, !x ? "added" : !y ? "removed" : "changed")));
  }
  const values = [];
  for (const n of new Set([...Object.keys(baseDoc.parameters || {}), ...Object.keys(doc.parameters || {})])) {
    const x = JSON.stringify(baseDoc.parameters?.[n]);
    const y = JSON.stringify(doc.parameters?.[n]);
    if (x !== y) values.push(h("tr", { class: "changed" }, h("th", { scope: "row" }, h("code", {}, n)),
      h("td", {}, x ?? "—"), h("td", {}, y ?? "—"), h("td", {}, "version's value")));
  }
  if (!rows.length && !values.length) return h("p", { class: "muted" }, "The declared parameters are the same.");
  return h("div", { class: "table-wrap" }, h("table", { class: "param-diff" },
    h("caption", {}, `Declared parameters: ${baseName} → ${name}`),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Parameter"), h("th", { scope: "col" }, baseName),
      h("th", { scope: "col" }, name), h("th", { scope: "col" }, "Change"))),
    h("tbody", {}, rows, values)));
}

function codeDiff(Diff, before, after, beforeName, afterName, whole) {
  const patch = Diff.structuredPatch(beforeName, afterName, before, after, "", "", { context: whole ? Number.MAX_SAFE_INTEGER : 3 });
  let added = 0;
  let removed = 0;
  const body = [];
  for (const hunk of patch.hunks) {
    body.push(h("tr", { class: "hunk" }, h("td", { colspan: "4" }, `@@ −${hunk.oldStart},${hunk.oldLines} +${hunk.newStart},${hunk.newLines} @@`)));
    let o = hunk.oldStart;
    let n = hunk.newStart;
    for (const text of hunk.lines) {
      const mark = text[0];
      if (mark === "\\") continue; // "\ No newline at end of file"
      const kind = mark === "+" ? "add" : mark === "-" ? "del" : "ctx";
      if (kind === "add") added++;
      if (kind === "del") removed++;
      body.push(h("tr", { class: kind },
        h("td", { class: "ln" }, kind === "add" ? "" : String(o)),
        h("td", { class: "ln" }, kind === "del" ? "" : String(n)),
        h("td", { class: "mark", "aria-hidden": "true" }, kind === "add" ? "+" : kind === "del" ? "−" : ""),
        h("td", { class: "code" }, kind === "ctx" ? null : h("span", { class: "sr-only" }, kind === "add" ? "added: " : "removed: "), text.slice(1))));
      if (kind !== "add") o++;
      if (kind !== "del") n++;
    }
  }
  return {
    added, removed,
    table: h("div", { class: "table-wrap diff-wrap" }, h("table", { class: "diff" },
      h("caption", { class: "sr-only" }, `Code changes from ${beforeName} to ${afterName}: ${added} lines added, ${removed} removed`),
      h("thead", { class: "sr-only" }, h("tr", {}, h("th", { scope: "col" }, `Line in ${beforeName}`), h("th", { scope: "col" }, `Line in ${afterName}`),
        h("th", { scope: "col" }, "Change"), h("th", { scope: "col" }, "Code"))),
      h("tbody", {}, body))),
  };
}

export function codeCard(runs, state) {
  const base = runs[0];
  const box = h("div", { id: "compare-code" });
  const whole = h("input", { type: "checkbox", id: "diff-whole" });
  const card = h("section", { class: "card", "aria-labelledby": "code-title" },
    h("div", { class: "row spread" }, h("h2", { id: "code-title" }, "Strategy code and parameters"),
      h("div", { class: "check" }, whole, h("label", { for: "diff-whole" }, "Show the whole files"))),
    box);
  const name = (run) => `${run.job.strategy} v${run.job.strategy_version}`;
  // One diff per other version (by code): the runs that ran it, in order.
  const others = new Map();
  for (const run of runs.slice(1)) {
    if (run.job.code_sha256 === base.job.code_sha256 && versionKey(run.job) === versionKey(base.job)) continue;
    const key = versionKey(run.job);
    if (!others.has(key)) others.set(key, []);
    others.get(key).push(run);
  }
  const paramDiffs = () => {
    const differing = [];
    const values = runs.map(effectiveParameters);
    for (const n of new Set(values.flatMap((m) => [...m.keys()]))) {
      const shown = values.map((m) => JSON.stringify(m.get(n)?.value));
      if (shown.some((v) => v !== shown[0])) differing.push(`${n} (${runs.map((r, i) => `${r.key} ${shown[i] ?? "—"}`).join(", ")})`);
    }
    return differing;
  };

  async function render() {
    const parts = [];
    if (!others.size) {
      const differing = paramDiffs();
      whole.parentElement.hidden = true;
      parts.push(h("p", { id: "code-same" }, `All ${runs.length} runs ran the same code: ${name(base)} (SHA-256 `,
        h("code", {}, base.job.code_sha256.slice(0, 12)), ")."),
      h("p", {}, differing.length ? `They differ only in their parameters: ${differing.join("; ")}.` : "Their parameters are the same too."));
      box.replaceChildren(...parts);
      return;
    }
    let Diff;
    try {
      await import("/ui/vendor/diff.js");
      Diff = globalThis.Diff;
      if (!Diff?.structuredPatch) throw new Error("not loaded");
    } catch {
      box.replaceChildren(h("p", { class: "field-error", role: "alert" },
        "The diff library (jsdiff) is missing: node_modules/diff is not installed. Run `make node_modules/.installed` (or `make run`) and reload."));
      return;
    }
    if (state.disposed) return;
    for (const group of others.values()) {
      const run = group[0];
      const title = `${base.key} (${name(base)}) → ${group.map((r) => r.key).join(", ")} (${name(run)})`;
      const section = h("section", { class: "code-diff", "aria-label": `Changes from ${name(base)} to ${name(run)}` }, h("h3", {}, title));
      if (run.job.code_sha256 === base.job.code_sha256) {
        section.append(h("p", {}, `${name(base)} and ${name(run)} have the same code (same SHA-256).`));
      } else if (base.doc?.error || run.doc?.error || typeof base.doc?.code !== "string" || typeof run.doc?.code !== "string") {
        section.append(h("p", { class: "field-error" }, `Could not load the code of the versions: ${base.doc?.error || run.doc?.error || "no code in the answer"}.`));
        parts.push(section);
        continue;
      } else {
        const diff = codeDiff(Diff, base.doc.code, run.doc.code, name(base), name(run), whole.checked);
        section.append(h("p", { class: "diff-stat" }, h("span", { class: "better" }, `+${diff.added}`), " ",
          h("span", { class: "worse" }, `−${diff.removed}`), ` lines (SHA-256 ${base.job.code_sha256.slice(0, 12)} → ${run.job.code_sha256.slice(0, 12)})`),
        diff.table);
      }
      if (base.doc && run.doc && !base.doc.error && !run.doc.error) section.append(parameterDiff(base.doc, run.doc, name(base), name(run)));
      parts.push(section);
    }
    const sameAsBase = runs.slice(1).filter((r) => versionKey(r.job) === versionKey(base.job));
    if (sameAsBase.length) parts.push(h("p", { class: "muted" }, `${[base, ...sameAsBase].map((r) => r.key).join(", ")} ran the same version (${name(base)}).`));
    box.replaceChildren(...parts);
  }
  whole.addEventListener("change", () => render());
  render();
  return card;
}
