// What the backtest and sweep forms share: freqtrade's timeframes and a labelled field with its
// hint and its error line (where the API's problem details for that field are shown).
import { h } from "./format.js";

export const TIMEFRAMES = ["1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w"];

/** A field builder whose ids start with the given prefixes (one form's ids never clash with
 * another's on the same page). */
export function fieldBuilder({ control: controlPrefix, hint: hintPrefix, error: errorPrefix }) {
  return (id, label, control, hint) => {
    control.id = `${controlPrefix}${id}`;
    control.name = id;
    control.setAttribute("aria-describedby", `${hint ? `${hintPrefix}${id} ` : ""}${errorPrefix}${id}`);
    return h("div", { class: "field" },
      h("label", { for: `${controlPrefix}${id}` }, label),
      control,
      hint ? h("p", { class: "hint", id: `${hintPrefix}${id}` }, hint) : null,
      h("p", { class: "field-error", id: `${errorPrefix}${id}`, "data-field": id }));
  };
}

/** The API's refusal of a form: each problem's message next to its field (`showError(field,
 * message)` marks it and returns its control), or the detail in the form's own error line; the
 * first marked field gets the focus. `what` names what was submitted ("backtest", "sweep"). */
export function showProblems(error, { showError, formError, what }) {
  let first = null;
  for (const problem of error.errors) {
    const control = showError(problem.field || "", problem.message || "invalid");
    first = first || control;
  }
  if (!error.errors.length) formError.textContent = error.message;
  else if (!formError.textContent) formError.textContent = `The server did not accept this ${what} (${error.status}): see the fields marked.`;
  first?.focus();
}
