// Sweeps: the live list (GET /sweeps, then the `sweeps` stream) and the form to submit one, with
// an editor of the parameter space prefilled from the version's declared parameters.
// A sweep's own page is sweep.js.
import { api, Live, session } from "./api.js";
import { h, int, shortDate } from "./format.js";
import { notify } from "./app.js";
import { statusBadge } from "./jobs.js";
import { arrow, LOWER_IS_BETTER, OBJECTIVES, objectiveText, sweepProgress } from "./sweep-format.js";

export { sweepPage } from "./sweep.js";

const STATUSES = ["running", "completed", "cancelled", "failed"]; // the API's filter
const TIMEFRAMES = ["1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w"];
const METHODS = [["grid", "grid (every combination)"], ["random", "random (seeded)"], ["tpe", "TPE (Bayesian, Optuna)"]];
const FIELDS = ["strategy", "strategy_version", "pairs", "timeframe", "timerange", "exchange", "stake_amount",
  "max_open_trades", "starting_balance", "fee", "priority", "method", "objective", "direction", "max_trials", "seed"];
const OPTIONS = new Set(["exchange", "stake_amount", "max_open_trades", "starting_balance", "fee", "priority"]);

export function sweepsPage(main) {
  const sweeps = new Map(); // id -> sweep
  const rows = new Map(); // id -> <tr>
  const live = new Live((on) => {
    liveNote.className = on ? "live on" : "live";
    liveNote.textContent = on ? "live" : "reconnecting…";
  });
  let disposed = false;
  let nextCursor = null;

  const liveNote = h("span", { class: "live", role: "status" }, "connecting…");
  const statusFilter = h("select", { id: "sweeps-filter-status", name: "status" },
    h("option", { value: "" }, "any"), STATUSES.map((s) => h("option", { value: s }, s)));
  const tbody = h("tbody", { id: "sweeps-body" });
  const empty = h("p", { class: "muted", id: "sweeps-empty" }, "Loading…");
  const more = h("button", { type: "button", class: "secondary", id: "sweeps-more", hidden: true, onclick: () => load(nextCursor) }, "Load more");
  const th = (text, cls = "") => h("th", { scope: "col", class: cls }, text);
  const listCard = h("section", { class: "card", "aria-labelledby": "sweeps-title" },
    h("div", { class: "row" }, h("h1", { id: "sweeps-title" }, "Parameter sweeps"), liveNote),
    h("div", { class: "filters" },
      h("div", { class: "field" }, h("label", { for: "sweeps-filter-status" }, "Status"), statusFilter)),
    h("div", { class: "table-wrap" }, h("table", { id: "sweeps" },
      h("caption", { class: "sr-only" }, "Parameter sweeps, newest first, updated live"),
      h("thead", {}, h("tr", {},
        th("Sweep"), th("Status"), th("Trials"), th("Best", "num"), th("Objective"), th("Strategy"),
        th("Sampler", "hide-narrow"), th("Submitted by", "hide-narrow"), th("Created", "hide-narrow"),
        h("th", { scope: "col" }, h("span", { class: "sr-only" }, "Actions")))),
      tbody)),
    empty, more);
  const form = session.can("submit") ? sweepForm(upsert) : null;
  main.replaceChildren(h("div", { class: form ? "grid2 sweeps-layout" : "" }, listCard, form));

  const matches = (s) => !statusFilter.value || s.status === statusFilter.value;

  function row(s) {
    const cancel = session.can("cancel") && s.status === "running"
      ? h("button", { type: "button", class: "danger", "data-action": "cancel", "aria-label": `Cancel sweep ${s.id.slice(0, 8)}`, onclick: () => cancelSweep(s.id) }, "Cancel")
      : null;
    return [
      h("td", {}, h("a", { href: `#/sweeps/${s.id}` }, h("code", {}, s.id.slice(0, 8)))),
      h("td", {}, statusBadge(s.status)),
      h("td", {}, sweepProgress(s, `trials of sweep ${s.id.slice(0, 8)} finished out of ${s.total} planned`),
        s.failed ? h("span", { class: "muted small" }, `${int(s.failed)} failed`) : null),
      h("td", { class: "num", "data-best": s.best ? String(s.best.objective) : "" }, s.best ? objectiveText(s.objective, s.best.objective) : "—"),
      h("td", { title: s.direction }, `${s.objective} ${arrow(s.direction)}`),
      h("td", {}, `${s.strategy} v${s.strategy_version}`),
      h("td", { class: "hide-narrow" }, s.method),
      h("td", { class: "hide-narrow" }, s.submitted_by),
      h("td", { class: "hide-narrow" }, h("time", { datetime: s.submitted_at }, shortDate(s.submitted_at))),
      h("td", {}, cancel),
    ];
  }

  function render(s) {
    let tr = rows.get(s.id);
    if (!matches(s)) {
      tr?.remove();
      rows.delete(s.id);
    } else if (tr) {
      const focused = tr.contains(document.activeElement) ? document.activeElement.dataset.action : null;
      tr.replaceChildren(...row(s));
      tr.dataset.status = s.status;
      if (focused) tr.querySelector(`[data-action="${focused}"]`)?.focus();
    } else {
      tr = h("tr", { "data-id": s.id, "data-status": s.status }, row(s));
      rows.set(s.id, tr);
      const after = [...rows.entries()].find(([id]) => id !== s.id && sweeps.get(id).submitted_at < s.submitted_at);
      if (after) tbody.insertBefore(tr, after[1]);
      else tbody.append(tr);
    }
    empty.textContent = rows.size ? "" : "No sweeps match.";
  }

  function upsert(s) {
    const known = sweeps.get(s.id);
    if (known && known.version > s.version) return;
    sweeps.set(s.id, s);
    render(s);
  }

  // One request at a time per sweep; events arriving meanwhile ask for one more.
  const inflight = new Map();
  async function refresh(id, version) {
    const running = inflight.get(id);
    if (running) {
      running.again = true;
      running.version = Math.max(running.version, version);
      return;
    }
    const state = { again: true, version };
    inflight.set(id, state);
    try {
      while (state.again && !disposed) {
        state.again = false;
        let s = await api(`/sweeps/${id}?trials_limit=1`);
        for (let i = 1; i < 40 && s.version < state.version && !disposed; i++) {
          await new Promise((resolve) => setTimeout(resolve, Math.min(50 * i, 500)));
          s = await api(`/sweeps/${id}?trials_limit=1`);
        }
        if (!disposed) upsert(s);
      }
    } catch (error) {
      if (error.status !== 401 && error.status !== 404) notify(`Could not load sweep ${id.slice(0, 8)}: ${error.message}`);
    } finally {
      inflight.delete(id);
    }
  }

  function onEvent(msg) {
    const id = msg.data?.id;
    if (!id || disposed) return;
    if (msg.type.endsWith(".TrialAsked") && sweeps.has(id)) return; // no count shown changes
    refresh(id, msg.data.version ?? 0);
  }

  async function load(cursor = null) {
    const query = new URLSearchParams({ limit: "50" });
    if (statusFilter.value) query.set("status", statusFilter.value);
    if (cursor) query.set("cursor", cursor);
    try {
      const page = await api(`/sweeps?${query}`);
      if (disposed) return;
      if (!cursor) {
        sweeps.clear(); rows.clear(); tbody.replaceChildren();
      }
      for (const s of page.items) upsert(s);
      nextCursor = page.next_cursor;
      more.hidden = !nextCursor;
      empty.textContent = rows.size ? "" : statusFilter.value ? "No sweeps match." : "No sweeps yet.";
    } catch (error) {
      if (error.status !== 401) notify(`Could not load the sweeps: ${error.message}`);
    }
  }

  async function cancelSweep(id) {
    try {
      upsert(await api(`/sweeps/${id}/cancel`, { method: "POST" }));
      notify(`Sweep ${id.slice(0, 8)} cancelled: trials not run yet are cancelled, finished ones kept.`, "info");
    } catch (error) {
      if (error.status !== 401) notify(`Could not cancel sweep ${id.slice(0, 8)}: ${error.message}`);
    }
  }

  statusFilter.addEventListener("change", () => load());
  // Subscribe first, then list: a change between the two is applied by its event.
  live.subscribe("sweeps", onEvent);
  load();
  form?.start();
  return {
    dispose() {
      disposed = true;
      live.close();
    },
  };
}

// --- the submit form ----------------------------------------------------------------------------

function field(id, label, control, hint) {
  control.id = `sw-${id}`;
  control.name = id;
  control.setAttribute("aria-describedby", `${hint ? `sw-h-${id} ` : ""}sw-e-${id}`);
  return h("div", { class: "field" },
    h("label", { for: `sw-${id}` }, label),
    control,
    hint ? h("p", { class: "hint", id: `sw-h-${id}` }, hint) : null,
    h("p", { class: "field-error", id: `sw-e-${id}`, "data-field": id }));
}

const fail = (message, extra = {}) => Object.assign(new Error(message), extra);

/** A value typed in the space editor, read as the declared parameter's kind wants it. */
function parseValue(text, spec) {
  const t = text.trim();
  if (t === "") throw fail("an empty value");
  const kind = spec?.kind;
  if (kind === "boolean" || (!spec && /^(true|false)$/i.test(t))) {
    if (/^true$/i.test(t)) return true;
    if (/^false$/i.test(t)) return false;
    throw fail(`${t} is not true or false`);
  }
  const number = Number(t);
  if (kind === "int") {
    if (!Number.isInteger(number)) throw fail(`${t} is not an integer`);
    return number;
  }
  if (kind === "decimal") {
    if (!Number.isFinite(number)) throw fail(`${t} is not a number`);
    return number;
  }
  if (kind === "categorical") {
    const match = (spec.choices || []).find((c) => String(c) === t);
    return match !== undefined ? match : t;
  }
  return Number.isFinite(number) ? number : t;
}

const plain = (v) => (typeof v === "number" ? String(Number(v.toPrecision(12))) : String(v));

/** A round step (1, 2 or 5 times a power of ten) giving about five values over the declared range. */
function niceStep(spec) {
  const span = spec.high - spec.low;
  if (!(span > 0)) return 1;
  const rough = span / 4;
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  const n = rough / magnitude;
  let step = (n < 1.5 ? 1 : n < 3 ? 2 : n < 7 ? 5 : 10) * magnitude;
  if (spec.kind === "int") step = Math.max(1, Math.round(step));
  else if (spec.decimals !== null && spec.decimals !== undefined) step = Math.max(10 ** -spec.decimals, Number(step.toFixed(spec.decimals)));
  return step;
}

function declaredText(spec) {
  if (!spec) return "Not declared by this version.";
  const range = spec.kind === "int" || spec.kind === "decimal"
    ? `${plain(spec.low)} … ${plain(spec.high)}${spec.decimals !== null && spec.decimals !== undefined ? ` (${spec.decimals} decimals)` : ""}`
    : (spec.choices || []).map(plain).join(", ");
  return `${spec.kind} ${range}, default ${plain(spec.default)}`;
}

function sweepForm(onSubmitted) {
  const strategy = h("select", { required: true }, h("option", { value: "" }, "loading…"));
  const version = h("input", { type: "number", min: "1", step: "1", inputmode: "numeric", placeholder: "latest" });
  const pairs = h("input", { type: "text", value: "BTC/USDT", autocomplete: "off" });
  const timeframe = h("select", {}, TIMEFRAMES.map((t) => h("option", { value: t, selected: t === "5m" }, t)));
  const timerange = h("input", { type: "text", value: "20240101-20240201", autocomplete: "off" });
  const method = h("select", {}, METHODS.map(([v, label]) => h("option", { value: v }, label)));
  const objective = h("select", {}, OBJECTIVES.map((o) => h("option", { value: o, selected: o === "sharpe" }, o)));
  const direction = h("select", {}, h("option", { value: "maximize" }, "maximize"), h("option", { value: "minimize" }, "minimize"));
  const maxTrials = h("input", { type: "number", min: "1", max: "10000", step: "1", value: "100", inputmode: "numeric" });
  const seed = h("input", { type: "number", min: "0", step: "1", inputmode: "numeric", placeholder: "random" });
  const exchange = h("input", { type: "text", placeholder: "binance", autocomplete: "off" });
  const priority = h("select", {}, ["low", "normal", "high"].map((p) => h("option", { value: p, selected: p === "normal" }, p)));
  const stake = h("input", { type: "number", min: "0", step: "any", placeholder: "strategy default" });
  const maxOpen = h("input", { type: "number", min: "1", step: "1", placeholder: "strategy default" });
  const balance = h("input", { type: "number", min: "0", step: "any", placeholder: "default" });
  const fee = h("input", { type: "number", min: "0", max: "0.1", step: "any", placeholder: "exchange's" });
  const formError = h("p", { class: "field-error", role: "alert", id: "sweep-form-error" });
  const done = h("p", { role: "status", class: "muted", id: "sweep-form-done" });
  const submit = h("button", { type: "submit", id: "submit-sweep" }, "Submit sweep");
  const spaceRows = h("div", { id: "space-rows" });
  const spaceError = h("p", { class: "field-error", id: "sw-e-space", "data-field": "space" });
  const plan = h("p", { class: "hint", id: "space-plan", "aria-live": "polite" });
  const datalist = h("datalist", { id: "declared-params" });
  const addButton = h("button", { type: "button", class: "secondary", id: "add-param", onclick: () => addRow({ include: true }).name.focus() }, "Add parameter");
  const seedField = field("seed", "Seed", seed, "Random and TPE: the same seed draws the same trials.");
  const latest = new Map(); // strategy -> latest version
  let declared = []; // the version's declared parameters
  let rowSeq = 0;
  let directionTouched = false;
  const spaceRowsList = []; // {row, use, name, mode, values, low, high, step, error, hint, remove}

  const form = h("form", { class: "card", id: "sweep-form", novalidate: true, "aria-labelledby": "sweep-form-title" },
    h("h2", { id: "sweep-form-title" }, "New sweep"),
    field("strategy", "Strategy", strategy),
    field("strategy_version", "Version", version, "Empty: the latest registered version."),
    field("pairs", "Pairs", pairs, "BASE/QUOTE, separated by commas."),
    h("div", { class: "row" }, field("timeframe", "Timeframe", timeframe), field("timerange", "Timerange", timerange, "YYYYMMDD-YYYYMMDD")),
    h("div", { class: "row" }, field("method", "Sampler", method), field("max_trials", "Max trials", maxTrials)),
    h("div", { class: "row" }, field("objective", "Objective", objective), field("direction", "Direction", direction)),
    seedField,
    h("fieldset", { class: "space", "aria-describedby": "space-help sw-e-space space-plan" },
      h("legend", {}, "Parameter space"),
      h("p", { class: "hint", id: "space-help" },
        "Tick the parameters to sweep. A list of values (8, 12, 16) or a range: low, high and a step (a grid needs a step for decimals; random and TPE draw from a range without one)."),
      spaceRows, datalist, addButton, spaceError, plan),
    h("details", {},
      h("summary", {}, "Options"),
      h("div", { class: "row" }, field("exchange", "Exchange", exchange), field("priority", "Priority", priority)),
      h("div", { class: "row" }, field("stake_amount", "Stake amount", stake), field("max_open_trades", "Max open trades", maxOpen)),
      h("div", { class: "row" }, field("starting_balance", "Starting balance", balance), field("fee", "Fee (ratio)", fee))),
    formError, submit, done);

  const controls = { strategy, strategy_version: version, pairs, timeframe, timerange, method, objective, direction,
    max_trials: maxTrials, seed, exchange, priority, stake_amount: stake, max_open_trades: maxOpen, starting_balance: balance, fee };

  // --- the space editor ---

  function specOf(name) {
    return declared.find((p) => p.name === name.trim());
  }

  function addRow({ spec = null, include = false } = {}) {
    const n = ++rowSeq;
    const id = (part) => `sp-${part}-${n}`;
    const use = h("input", { type: "checkbox", id: id("use"), checked: include });
    const name = h("input", { type: "text", id: id("name"), value: spec?.name || "", list: "declared-params", autocomplete: "off", spellcheck: "false", "aria-describedby": `${id("hint")} ${id("error")}` });
    const mode = h("select", { id: id("mode") }, h("option", { value: "list" }, "list of values"), h("option", { value: "range" }, "range"));
    const values = h("input", { type: "text", id: id("values"), autocomplete: "off", spellcheck: "false", placeholder: "8, 12, 16", "aria-describedby": id("error") });
    const low = h("input", { type: "number", id: id("low"), step: "any", "aria-describedby": id("error") });
    const high = h("input", { type: "number", id: id("high"), step: "any", "aria-describedby": id("error") });
    const step = h("input", { type: "number", id: id("step"), step: "any", min: "0", placeholder: "none", "aria-describedby": id("error") });
    const legend = h("legend", { class: "sr-only" });
    const hint = h("p", { class: "hint", id: id("hint") });
    const error = h("p", { class: "field-error", id: id("error") });
    const label = (control, text) => h("div", { class: "field" }, h("label", { for: control.id }, text), control);
    const listBox = h("div", { class: "space-list-values" }, label(values, "Values"));
    const rangeBox = h("div", { class: "space-range" }, label(low, "Low"), label(high, "High"), label(step, "Step"));
    const remove = h("button", { type: "button", class: "link remove-param" }, "Remove");
    const row = h("fieldset", { class: "space-row", "data-row": String(n) },
      legend,
      h("div", { class: "space-line" },
        h("div", { class: "field use" }, use, h("label", { for: use.id }, "Sweep")),
        label(name, "Name"),
        label(mode, "As"),
        listBox, rangeBox, remove),
      hint, error);
    const entry = { row, use, name, mode, values, low, high, step, error, hint, listBox, rangeBox, remove };

    function sync() {
      const current = specOf(name.value);
      const numeric = !current || current.kind === "int" || current.kind === "decimal";
      mode.querySelector('option[value="range"]').disabled = !numeric;
      if (!numeric && mode.value === "range") mode.value = "list";
      listBox.hidden = mode.value !== "list";
      rangeBox.hidden = mode.value !== "range";
      row.classList.toggle("off", !use.checked);
      row.dataset.name = name.value.trim();
      legend.textContent = `Parameter ${name.value.trim() || "(no name)"}`;
      remove.setAttribute("aria-label", `Remove parameter ${name.value.trim() || n}`);
      hint.textContent = declaredText(current);
      showPlan();
    }
    entry.sync = sync;
    if (spec) prefill(entry, spec);
    row.addEventListener("input", (e) => {
      if (e.target !== use && !use.checked) use.checked = true; // typing in a row means to sweep it
      sync();
    });
    row.addEventListener("change", sync);
    remove.addEventListener("click", () => {
      const at = spaceRowsList.indexOf(entry);
      spaceRowsList.splice(at, 1);
      row.remove();
      (spaceRowsList[at]?.name || addButton).focus();
      showPlan();
    });
    spaceRowsList.push(entry);
    spaceRows.append(row);
    sync();
    return entry;
  }

  function prefill(entry, spec) {
    if (spec.kind === "int" || spec.kind === "decimal") {
      entry.mode.value = "range";
      entry.low.value = plain(spec.low);
      entry.high.value = plain(spec.high);
      entry.step.value = plain(niceStep(spec));
      entry.values.placeholder = [spec.low, spec.default, spec.high].filter((v, i, all) => all.indexOf(v) === i).map(plain).join(", ");
    } else {
      entry.mode.value = "list";
      entry.values.value = (spec.choices || []).map(plain).join(", ");
    }
  }

  function setDeclared(params) {
    declared = params;
    datalist.replaceChildren(...params.map((p) => h("option", { value: p.name })));
    spaceRows.replaceChildren();
    spaceRowsList.length = 0;
    let numeric = 0;
    for (const spec of params) {
      const isNumeric = spec.kind === "int" || spec.kind === "decimal";
      addRow({ spec, include: isNumeric && numeric < 2 });
      if (isNumeric) numeric += 1;
    }
    if (!params.length) spaceError.textContent = "This version declares no hyperoptable parameters: there is nothing to sweep.";
    showPlan();
  }

  /** The space entry of one row, or an error naming the row. */
  function entryOf(entry) {
    const spec = specOf(entry.name.value);
    if (entry.mode.value === "list") {
      const parts = entry.values.value.split(",").map((s) => s.trim()).filter(Boolean);
      if (!parts.length) throw fail("give at least one value", { entry, control: entry.values });
      try {
        return parts.map((p) => parseValue(p, spec));
      } catch (err) {
        throw fail(err.message, { entry, control: entry.values });
      }
    }
    const out = {};
    for (const key of ["low", "high"]) {
      const control = entry[key];
      if (control.value.trim() === "" || !Number.isFinite(Number(control.value))) throw fail(`${key}: a number is needed`, { entry, control });
      out[key] = Number(control.value);
    }
    if (entry.step.value.trim() !== "") {
      const step = Number(entry.step.value);
      if (!Number.isFinite(step)) throw fail("step: a number is needed", { entry, control: entry.step });
      out.step = step;
    }
    return out;
  }

  function space() {
    const out = {};
    for (const entry of spaceRowsList) {
      if (!entry.use.checked) continue;
      const name = entry.name.value.trim();
      if (!name) throw fail("name the parameter", { entry, control: entry.name });
      if (name in out) throw fail(`${name} is in the space twice`, { entry, control: entry.name });
      out[name] = entryOf(entry);
    }
    if (!Object.keys(out).length) throw fail("tick at least one parameter to sweep", { field: "space" });
    return out;
  }

  function sizeOf(entry) {
    if (entry.mode.value === "list") return entry.values.value.split(",").filter((s) => s.trim()).length || null;
    const low = Number(entry.low.value);
    const high = Number(entry.high.value);
    if (entry.low.value === "" || entry.high.value === "" || high < low) return null;
    let step = entry.step.value === "" ? null : Number(entry.step.value);
    if (step === null && specOf(entry.name.value)?.kind === "int") step = 1;
    if (!step || step <= 0) return Infinity;
    return Math.floor((high - low) / step + 1e-9) + 1;
  }

  function showPlan() {
    const used = spaceRowsList.filter((e) => e.use.checked);
    if (!used.length) {
      plan.textContent = "No parameter ticked.";
      return;
    }
    const cap = Number(maxTrials.value) || 100;
    const sizes = used.map(sizeOf);
    if (method.value !== "grid") {
      plan.textContent = `${method.value === "tpe" ? "TPE" : "Random"}: up to ${int(cap)} trials drawn from ${used.length} parameter${used.length > 1 ? "s" : ""}.`;
    } else if (sizes.some((s) => s === null)) {
      plan.textContent = "Grid: fill in every ticked parameter to see its size.";
    } else if (sizes.some((s) => s === Infinity)) {
      plan.textContent = "Grid: a range without a step is continuous; give it a step, or use random or TPE.";
    } else {
      const size = sizes.reduce((a, b) => a * b, 1);
      plan.textContent = `Grid: ${sizes.join(" × ")} = ${int(size)} combinations → ${int(Math.min(size, cap))} trials${size > cap ? ` (capped by max trials ${int(cap)})` : ""}.`;
    }
  }

  // --- errors ---

  function clearErrors() {
    formError.textContent = "";
    spaceError.textContent = "";
    for (const [name, control] of Object.entries(controls)) {
      control.removeAttribute("aria-invalid");
      form.querySelector(`#sw-e-${name}`).textContent = "";
    }
    for (const e of spaceRowsList) {
      e.error.textContent = "";
      for (const c of [e.name, e.values, e.low, e.high, e.step]) c.removeAttribute("aria-invalid");
    }
  }

  function append(slot, text) {
    slot.textContent += `${slot.textContent ? " " : ""}${text}`;
  }

  /** Shows a problem next to its field; returns the control to focus. */
  function showError(fieldName, message) {
    const spaceMatch = /^space\.(.+)$/.exec(fieldName);
    if (spaceMatch) {
      const entry = spaceRowsList.find((e) => e.use.checked && e.name.value.trim() === spaceMatch[1]);
      if (entry) {
        append(entry.error, message);
        const inputs = !specOf(spaceMatch[1]) ? [entry.name]
          : entry.mode.value === "list" ? [entry.values] : [entry.low, entry.high, entry.step];
        for (const c of inputs) c.setAttribute("aria-invalid", "true");
        return inputs[0];
      }
    }
    if (fieldName === "space" || fieldName.startsWith("space")) {
      append(spaceError, `${fieldName !== "space" ? `${fieldName}: ` : ""}${message}`);
      return spaceRowsList.find((e) => e.use.checked)?.name || addButton;
    }
    const name = FIELDS.find((f) => fieldName === f || fieldName.startsWith(`${f}.`) || fieldName.startsWith(`${f}[`));
    if (!name) {
      append(formError, `${fieldName && fieldName !== "body" ? `${fieldName}: ` : ""}${message}`);
      return null;
    }
    const sub = fieldName !== name ? `${fieldName.slice(name.length).replace(/^[.[]/, "").replace(/]$/, "")}: ` : "";
    append(form.querySelector(`#sw-e-${name}`), `${sub}${message}`);
    controls[name].setAttribute("aria-invalid", "true");
    if (OPTIONS.has(name)) form.querySelector("details").open = true;
    return controls[name];
  }

  function body() {
    const out = {
      strategy: strategy.value,
      pairs: pairs.value.split(/[\s,]+/).filter(Boolean),
      timeframe: timeframe.value,
      timerange: timerange.value.trim(),
      method: method.value,
      objective: objective.value,
      direction: direction.value,
      priority: priority.value,
      space: space(),
    };
    const numbers = { strategy_version: version, max_trials: maxTrials, stake_amount: stake, max_open_trades: maxOpen, starting_balance: balance, fee };
    if (method.value !== "grid") numbers.seed = seed;
    for (const [name, control] of Object.entries(numbers)) {
      if (control.value.trim() === "") continue;
      const value = Number(control.value);
      if (!Number.isFinite(value)) throw fail("a number is needed", { field: name });
      out[name] = value;
    }
    if (exchange.value.trim()) out.exchange = exchange.value.trim();
    return out;
  }

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearErrors();
    done.textContent = "";
    let payload;
    try {
      payload = body();
    } catch (err) {
      if (err.entry) {
        append(err.entry.error, err.message);
        err.control.setAttribute("aria-invalid", "true");
        err.control.focus();
      } else showError(err.field || "", err.message)?.focus();
      return;
    }
    submit.disabled = true;
    try {
      const sweep = await api("/sweeps", { method: "POST", body: payload });
      onSubmitted(sweep);
      done.replaceChildren("Submitted: ", h("a", { href: `#/sweeps/${sweep.id}`, id: "open-sweep" }, `sweep ${sweep.id.slice(0, 8)}`),
        ` (${int(sweep.total)} trial${sweep.total === 1 ? "" : "s"} planned).`);
    } catch (error) {
      if (error.status === 401) return;
      let first = null;
      for (const problem of error.errors) {
        const control = showError(problem.field || "", problem.message || "invalid");
        first = first || control;
      }
      if (!error.errors.length) formError.textContent = error.message;
      else if (!formError.textContent) formError.textContent = `The server did not accept this sweep (${error.status}): see the fields marked.`;
      first?.focus();
    } finally {
      submit.disabled = false;
    }
  });

  // --- loading what the form offers ---

  let versionRequest = 0;
  async function loadVersion() {
    const name = strategy.value;
    const v = version.value.trim() || latest.get(name);
    if (!name || !v) return;
    const request = ++versionRequest;
    try {
      const detail = await api(`/strategies/${encodeURIComponent(name)}/versions/${encodeURIComponent(v)}`);
      if (request === versionRequest) setDeclared(detail.declared_parameters || []);
    } catch (error) {
      if (error.status === 401 || request !== versionRequest) return;
      setDeclared([]);
      spaceError.textContent = `Could not read ${name} v${v}'s parameters: ${error.message}. Add the parameters by name.`;
    }
  }

  async function loadObjectives() {
    // The API's allowed values, from its OpenAPI document (public); the built-in list otherwise.
    try {
      const res = await fetch("/schema/openapi.json", { headers: { Accept: "application/json" } });
      if (!res.ok) return;
      const props = (await res.json())?.components?.schemas?.SweepCreate?.properties || {};
      const choose = (select, values, keep) => {
        if (!Array.isArray(values) || !values.length) return;
        const current = select.value;
        select.replaceChildren(...values.map((v) => h("option", { value: v, selected: v === current }, keep ? keep(v) : v)));
      };
      choose(objective, props.objective?.enum);
      choose(direction, props.direction?.enum);
      const labels = new Map(METHODS);
      choose(method, props.method?.enum, (v) => labels.get(v) || v);
    } catch { /* keep the built-in lists */ }
  }

  async function loadStrategies() {
    try {
      const page = await api("/strategies?limit=100");
      strategy.replaceChildren(...(page.items.length
        ? page.items.map((s) => h("option", { value: s.name }, `${s.name} (latest v${s.latest_version})`))
        : [h("option", { value: "" }, "no strategies registered")]));
      for (const s of page.items) latest.set(s.name, s.latest_version);
      version.max = String(latest.get(strategy.value) || "");
      await loadVersion();
    } catch (error) {
      if (error.status !== 401) notify(`Could not load the strategies: ${error.message}`);
    }
  }

  strategy.addEventListener("change", () => {
    version.value = "";
    version.max = String(latest.get(strategy.value) || "");
    loadVersion();
  });
  version.addEventListener("change", loadVersion);
  objective.addEventListener("change", () => {
    if (!directionTouched) direction.value = LOWER_IS_BETTER.has(objective.value) ? "minimize" : "maximize";
  });
  direction.addEventListener("change", () => { directionTouched = true; });
  const methodChanged = () => {
    seedField.hidden = method.value === "grid";
    showPlan();
  };
  method.addEventListener("change", methodChanged);
  maxTrials.addEventListener("input", showPlan);
  methodChanged();

  form.start = () => {
    loadStrategies();
    loadObjectives();
  };
  return form;
}

