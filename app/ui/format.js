// Number and date formatting with the browser's locale and time zone (Intl).
const locale = undefined; // the user's own
const pctFmt = new Intl.NumberFormat(locale, { style: "percent", minimumFractionDigits: 2, maximumFractionDigits: 2 });
const numFmt = new Intl.NumberFormat(locale, { maximumFractionDigits: 2 });
const preciseFmt = new Intl.NumberFormat(locale, { maximumSignificantDigits: 6 });
const dateFmt = new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "medium" });
const shortDateFmt = new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "short" });
const DASH = "—";

export const blank = (v) => v === null || v === undefined || Number.isNaN(v);
export const pct = (ratio) => (blank(ratio) ? DASH : pctFmt.format(ratio));
export const num = (v) => (blank(v) ? DASH : numFmt.format(v));
export const precise = (v) => (blank(v) ? DASH : preciseFmt.format(v));
export const int = (v) => (blank(v) ? DASH : Math.round(v).toLocaleString(locale));

/** An amount in the pair's quote currency: Intl's currency style for ISO codes (USD, EUR),
 * else the number and the code (USDT, BTC are not ISO 4217). */
export function money(v, currency) {
  if (blank(v)) return DASH;
  if (currency && /^[A-Z]{3}$/.test(currency)) {
    try {
      return new Intl.NumberFormat(locale, { style: "currency", currency }).format(v);
    } catch { /* an unknown code: fall through */ }
  }
  return `${numFmt.format(v)}${currency ? ` ${currency}` : ""}`;
}

export const quoteOf = (pairs) => (pairs && pairs.length ? pairs[0].split("/")[1]?.split(":")[0] : "");
export const dateTime = (iso) => (iso ? dateFmt.format(new Date(iso)) : DASH);
export const shortDate = (iso) => (iso ? shortDateFmt.format(new Date(iso)) : DASH);
export const signClass = (v) => (blank(v) || v === 0 ? "" : v > 0 ? "pos" : "neg");

/** A tiny element builder: h("td", {class: "num"}, "1.0", child, ...). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === false || v === null || v === undefined) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k in el && typeof v !== "string") el[k] = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}
