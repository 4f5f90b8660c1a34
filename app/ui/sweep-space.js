// The sweep form's parameter-space editor: one row per parameter (a list of values or a range),
// prefilled from the version's declared parameters, with the grid's size and the rows' errors.
import { h, int } from "./format.js";

/** An Error with extra fields: `field` (the API's name) or `entry` and `control` (a space row). */
export const fail = (message, extra = {}) => Object.assign(new Error(message), extra);

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

export function append(slot, text) {
  slot.textContent += `${slot.textContent ? " " : ""}${text}`;
}

/** The "Parameter space" fieldset of the form; `method` and `maxTrials` are the form's controls
 * (the plan below the rows reads them). */
export function spaceEditor({ method, maxTrials }) {
  const spaceRows = h("div", { id: "space-rows" });
  const spaceError = h("p", { class: "field-error", id: "sw-e-space", "data-field": "space" });
  const plan = h("p", { class: "hint", id: "space-plan", "aria-live": "polite" });
  const datalist = h("datalist", { id: "declared-params" });
  const addButton = h("button", { type: "button", class: "secondary", id: "add-param", onclick: () => addRow({ include: true }).name.focus() }, "Add parameter");
  let declared = []; // the version's declared parameters
  let rowSeq = 0;
  const spaceRowsList = []; // {row, use, name, mode, values, low, high, step, error, hint, remove}

  const fieldset = h("fieldset", { class: "space", "aria-describedby": "space-help sw-e-space space-plan" },
    h("legend", {}, "Parameter space"),
    h("p", { class: "hint", id: "space-help" },
      "Tick the parameters to sweep. A list of values (8, 12, 16) or a range: low, high and a step (a grid needs a step for decimals; random and TPE draw from a range without one)."),
    spaceRows, datalist, addButton, spaceError, plan);

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

  /** The body's `space`; throws fail(...) naming the row (or the field "space"). */
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

  function clearErrors() {
    spaceError.textContent = "";
    for (const e of spaceRowsList) {
      e.error.textContent = "";
      for (const c of [e.name, e.values, e.low, e.high, e.step]) c.removeAttribute("aria-invalid");
    }
  }

  /** A problem the form found in a row (fail(..., {entry, control})): shown there, focused. */
  function showRowError(err) {
    append(err.entry.error, err.message);
    err.control.setAttribute("aria-invalid", "true");
    err.control.focus();
  }

  /** A problem with the field `space` or `space.<name>`: shown next to its parameter (or under
   * the space); returns the control to focus. */
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
    append(spaceError, `${fieldName !== "space" ? `${fieldName}: ` : ""}${message}`);
    return spaceRowsList.find((e) => e.use.checked)?.name || addButton;
  }

  return {
    fieldset, setDeclared, space, showPlan, clearErrors, showRowError, showError,
    /** Whether the API's field name is the space's (`space`, `space.<name>`). */
    owns: (fieldName) => fieldName.startsWith("space"),
    /** A message under the space (replacing what was there). */
    note: (text) => { spaceError.textContent = text; },
  };
}
