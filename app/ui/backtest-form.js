// The form to submit a backtest (POST /backtests), with the API's problems next to their fields.
import { api } from "./api.js";
import { h } from "./format.js";
import { fieldBuilder, showProblems, TIMEFRAMES } from "./form-field.js";

const FIELDS = ["strategy", "strategy_version", "pairs", "timeframe", "timerange", "exchange",
  "stake_amount", "max_open_trades", "starting_balance", "fee", "priority", "parameters"];

const field = fieldBuilder({ control: "f-", hint: "h-", error: "e-" });

export function submitForm(onSubmitted) {
  const strategy = h("select", { required: true }, h("option", { value: "" }, "loading…"));
  const version = h("input", { type: "number", min: "1", step: "1", inputmode: "numeric", placeholder: "latest" });
  const pairs = h("input", { type: "text", value: "BTC/USDT", autocomplete: "off" });
  const timeframe = h("select", {}, TIMEFRAMES.map((t) => h("option", { value: t, selected: t === "5m" }, t)));
  const timerange = h("input", { type: "text", value: "20240101-20240201", autocomplete: "off", pattern: "[0-9]{8}-[0-9]{8}" });
  const exchange = h("input", { type: "text", placeholder: "binance", autocomplete: "off" });
  const stake = h("input", { type: "number", min: "0", step: "any", placeholder: "strategy default" });
  const maxOpen = h("input", { type: "number", min: "1", step: "1", placeholder: "strategy default" });
  const balance = h("input", { type: "number", min: "0", step: "any", placeholder: "default" });
  const fee = h("input", { type: "number", min: "0", max: "0.1", step: "any", placeholder: "exchange's" });
  const priority = h("select", {}, ["low", "normal", "high"].map((p) => h("option", { value: p, selected: p === "normal" }, p)));
  const parameters = h("textarea", { placeholder: '{"fast_span": 12}', spellcheck: "false" });
  const formError = h("p", { class: "field-error", role: "alert", id: "form-error" });
  const done = h("p", { role: "status", class: "muted", id: "form-done" });
  const submit = h("button", { type: "submit", id: "submit-backtest" }, "Submit backtest");
  const versions = new Map();

  const form = h("form", { class: "card", id: "submit-form", novalidate: true, "aria-labelledby": "submit-title" },
    h("h2", { id: "submit-title" }, "New backtest"),
    field("strategy", "Strategy", strategy),
    field("strategy_version", "Version", version, "Empty: the latest registered version."),
    field("pairs", "Pairs", pairs, "BASE/QUOTE, separated by commas."),
    h("div", { class: "row" }, field("timeframe", "Timeframe", timeframe), field("timerange", "Timerange", timerange, "YYYYMMDD-YYYYMMDD")),
    h("details", {},
      h("summary", {}, "Options"),
      h("div", { class: "row" }, field("exchange", "Exchange", exchange), field("priority", "Priority", priority)),
      h("div", { class: "row" }, field("stake_amount", "Stake amount", stake), field("max_open_trades", "Max open trades", maxOpen)),
      h("div", { class: "row" }, field("starting_balance", "Starting balance", balance), field("fee", "Fee (ratio)", fee)),
      field("parameters", "Strategy parameters (JSON object)", parameters, "Values for the strategy's own parameters by name.")),
    formError, submit, done);

  const controls = { strategy, strategy_version: version, pairs, timeframe, timerange, exchange,
    stake_amount: stake, max_open_trades: maxOpen, starting_balance: balance, fee, priority, parameters };

  function clearErrors() {
    formError.textContent = "";
    for (const [name, control] of Object.entries(controls)) {
      control.removeAttribute("aria-invalid");
      form.querySelector(`#e-${name}`).textContent = "";
    }
  }

  function showError(fieldName, message) {
    const name = FIELDS.find((f) => fieldName === f || fieldName.startsWith(`${f}.`) || fieldName.startsWith(`${f}[`));
    if (!name) {
      formError.textContent += `${formError.textContent ? " " : ""}${fieldName && fieldName !== "body" ? `${fieldName}: ` : ""}${message}`;
      return null;
    }
    const slot = form.querySelector(`#e-${name}`);
    const sub = fieldName !== name ? `${fieldName.slice(name.length).replace(/^[.[]/, "").replace(/]$/, "")}: ` : "";
    slot.textContent += `${slot.textContent ? " " : ""}${sub}${message}`;
    controls[name].setAttribute("aria-invalid", "true");
    if (name === "parameters" || ["exchange", "stake_amount", "max_open_trades", "starting_balance", "fee", "priority"].includes(name)) {
      form.querySelector("details").open = true;
    }
    return controls[name];
  }

  function body() {
    const out = {
      strategy: strategy.value,
      pairs: pairs.value.split(/[\s,]+/).filter(Boolean),
      timeframe: timeframe.value,
      timerange: timerange.value.trim(),
      priority: priority.value,
    };
    const numbers = { strategy_version: version, stake_amount: stake, max_open_trades: maxOpen, starting_balance: balance, fee };
    for (const [name, control] of Object.entries(numbers)) if (control.value.trim() !== "") out[name] = Number(control.value);
    if (exchange.value.trim()) out.exchange = exchange.value.trim();
    if (parameters.value.trim()) {
      let parsed;
      try { parsed = JSON.parse(parameters.value); } catch (err) { throw Object.assign(new Error(`not valid JSON (${err.message})`), { field: "parameters" }); }
      if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw Object.assign(new Error("must be a JSON object"), { field: "parameters" });
      out.parameters = parsed;
    }
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
      showError(err.field, err.message)?.focus();
      return;
    }
    submit.disabled = true;
    try {
      const job = await api("/backtests", { method: "POST", body: payload });
      onSubmitted(job);
      done.replaceChildren("Submitted: ", h("a", { href: `#/jobs/${job.id}` }, `job ${job.id.slice(0, 8)}`), ".");
    } catch (error) {
      if (error.status === 401) return;
      showProblems(error, { showError, formError, what: "backtest" });
    } finally {
      submit.disabled = false;
    }
  });

  form.setStrategies = (items) => {
    strategy.replaceChildren(...(items.length ? items.map((s) => h("option", { value: s.name }, `${s.name} (latest v${s.latest_version})`)) : [h("option", { value: "" }, "no strategies registered")]));
    for (const s of items) versions.set(s.name, s.latest_version);
    version.max = String(versions.get(strategy.value) || "");
  };
  strategy.addEventListener("change", () => { version.max = String(versions.get(strategy.value) || ""); });
  return form;
}
