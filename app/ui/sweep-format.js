// What the sweeps list and a sweep's page share: objective formatting, the best-trial rule, progress.
import { h, int, pct } from "./format.js";

const DASH = "—";
const sigFmt = new Intl.NumberFormat(undefined, { maximumSignificantDigits: 4 });
// Metrics the API gives as ratios (0.05 = 5 %), shown as percentages; counts as integers.
const RATIOS = new Set(["profit_total", "max_drawdown", "winrate", "profit_mean", "cagr"]);
const COUNTS = new Set(["total_trades"]);

/** The API's objective names (SweepCreate.objective); the form refines them from the OpenAPI document. */
export const OBJECTIVES = ["sharpe", "sortino", "calmar", "profit_total", "profit_total_abs", "profit_factor",
  "max_drawdown", "max_drawdown_abs", "winrate", "total_trades", "profit_mean", "cagr", "expectancy",
  "trades_per_day", "final_balance", "starting_balance"];
/** Metrics where less is better: the form proposes `minimize` for them. */
export const LOWER_IS_BETTER = new Set(["max_drawdown", "max_drawdown_abs"]);
export const SWEEP_FINAL = new Set(["completed", "failed", "cancelled"]);

export function objectiveText(objective, v) {
  if (v === null || v === undefined || Number.isNaN(v)) return DASH;
  if (RATIOS.has(objective)) return pct(v);
  if (COUNTS.has(objective)) return int(v);
  return sigFmt.format(v);
}

/** A parameter value as a header or table cell shows it. */
export function valueText(v) {
  if (v === null || v === undefined) return DASH;
  if (typeof v === "number") return sigFmt.format(v);
  return String(v);
}

/** Whether trial `number`'s `objective` beats `best` ({trial, objective}): the API's rule, a tie
 * keeps the earlier trial. */
export function improves(direction, number, objective, best) {
  if (!best) return true;
  if (objective === best.objective) return number < best.trial;
  return direction === "minimize" ? objective < best.objective : objective > best.objective;
}

export const arrow = (direction) => (direction === "minimize" ? "↓" : "↑");

/** Trials finished (completed or not) out of those planned, as a <progress> with its numbers. */
export function sweepProgress(sweep, label) {
  const finished = sweep.done + sweep.failed;
  const fraction = sweep.status === "completed" ? 1 : sweep.total ? Math.min(1, finished / sweep.total) : 0;
  return h("div", { class: "progress" },
    h("progress", { max: "1", value: String(fraction), "aria-label": label }),
    h("span", { class: "progress-count" }, `${int(finished)} / ${int(sweep.total)}`));
}
