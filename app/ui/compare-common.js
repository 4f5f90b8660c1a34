// What the compare page's parts share: short ids, parameter text, a run's swatch and parameters.
import { blank, h, pct } from "./format.js";

export const signed = (v, text) => (v > 0 ? `+${text}` : text);
export const signedPct = (v) => (blank(v) ? "—" : signed(v, pct(v)));
export const same = (a, b) => a === b || (typeof a === "number" && typeof b === "number" && Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b)));
export const shortId = (id) => id.slice(0, 8);
export const paramText = (params) => {
  const entries = Object.entries(params || {});
  return entries.length ? entries.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(", ") : "default parameters";
};
export const versionKey = (job) => `${job.strategy}\u0000${job.strategy_version}`;
export const swatch = (run) => {
  const el = h("span", { class: "swatch", "aria-hidden": "true" });
  el.style.setProperty("--run", run.colour);
  if (run.index) el.classList.add(`dash-${run.index}`);
  return el;
};

/** A run's value for each declared parameter: the backtest's own, else the version's, else the
 * declared default; with where it came from. */
export function effectiveParameters(run) {
  const out = new Map();
  const declared = run.doc?.declared_parameters || [];
  for (const p of declared) out.set(p.name, { value: p.default, from: "default" });
  for (const [k, v] of Object.entries(run.doc?.parameters || {})) out.set(k, { value: v, from: "version" });
  for (const [k, v] of Object.entries(run.job.parameters || {})) out.set(k, { value: v, from: "run" });
  return out;
}
