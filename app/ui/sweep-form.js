// The form to submit a sweep (POST /sweeps): the backtest's settings, the sampler and objective,
// the parameter space (sweep-space.js) and the API's problems shown next to their fields.
import { api } from "./api.js";
import { h, int } from "./format.js";
import { notify } from "./app.js";
import { LOWER_IS_BETTER, OBJECTIVES } from "./sweep-format.js";
import { append, fail, spaceEditor } from "./sweep-space.js";
import { fieldBuilder, showProblems, TIMEFRAMES } from "./form-field.js";

const METHODS = [["grid", "grid (every combination)"], ["random", "random (seeded)"], ["tpe", "TPE (Bayesian, Optuna)"]];
const FIELDS = ["strategy", "strategy_version", "pairs", "timeframe", "timerange", "exchange", "stake_amount",
  "max_open_trades", "starting_balance", "fee", "priority", "method", "objective", "direction", "max_trials", "seed"];
const OPTIONS = new Set(["exchange", "stake_amount", "max_open_trades", "starting_balance", "fee", "priority"]);

const field = fieldBuilder({ control: "sw-", hint: "sw-h-", error: "sw-e-" });

export function sweepForm(onSubmitted) {
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
  const seedField = field("seed", "Seed", seed, "Random and TPE: the same seed draws the same trials.");
  const editor = spaceEditor({ method, maxTrials });
  const latest = new Map(); // strategy -> latest version
  let directionTouched = false;

  const form = h("form", { class: "card", id: "sweep-form", novalidate: true, "aria-labelledby": "sweep-form-title" },
    h("h2", { id: "sweep-form-title" }, "New sweep"),
    field("strategy", "Strategy", strategy),
    field("strategy_version", "Version", version, "Empty: the latest registered version."),
    field("pairs", "Pairs", pairs, "BASE/QUOTE, separated by commas."),
    h("div", { class: "row" }, field("timeframe", "Timeframe", timeframe), field("timerange", "Timerange", timerange, "YYYYMMDD-YYYYMMDD")),
    h("div", { class: "row" }, field("method", "Sampler", method), field("max_trials", "Max trials", maxTrials)),
    h("div", { class: "row" }, field("objective", "Objective", objective), field("direction", "Direction", direction)),
    seedField,
    editor.fieldset,
    h("details", {},
      h("summary", {}, "Options"),
      h("div", { class: "row" }, field("exchange", "Exchange", exchange), field("priority", "Priority", priority)),
      h("div", { class: "row" }, field("stake_amount", "Stake amount", stake), field("max_open_trades", "Max open trades", maxOpen)),
      h("div", { class: "row" }, field("starting_balance", "Starting balance", balance), field("fee", "Fee (ratio)", fee))),
    formError, submit, done);

  const controls = { strategy, strategy_version: version, pairs, timeframe, timerange, method, objective, direction,
    max_trials: maxTrials, seed, exchange, priority, stake_amount: stake, max_open_trades: maxOpen, starting_balance: balance, fee };

  // --- errors ---

  function clearErrors() {
    formError.textContent = "";
    editor.clearErrors();
    for (const [name, control] of Object.entries(controls)) {
      control.removeAttribute("aria-invalid");
      form.querySelector(`#sw-e-${name}`).textContent = "";
    }
  }

  /** Shows a problem next to its field; returns the control to focus. */
  function showError(fieldName, message) {
    if (editor.owns(fieldName)) return editor.showError(fieldName, message);
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
      space: editor.space(),
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
      if (err.entry) editor.showRowError(err);
      else showError(err.field || "", err.message)?.focus();
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
      showProblems(error, { showError, formError, what: "sweep" });
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
      if (request === versionRequest) editor.setDeclared(detail.declared_parameters || []);
    } catch (error) {
      if (error.status === 401 || request !== versionRequest) return;
      editor.setDeclared([]);
      editor.note(`Could not read ${name} v${v}'s parameters: ${error.message}. Add the parameters by name.`);
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
    editor.showPlan();
  };
  method.addEventListener("change", methodChanged);
  maxTrials.addEventListener("input", editor.showPlan);
  methodChanged();

  form.start = () => {
    loadStrategies();
    loadObjectives();
  };
  return form;
}
