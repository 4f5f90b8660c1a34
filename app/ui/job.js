// Job: status (live over `backtests/<id>`), metrics, per-pair results, the equity and drawdown
// chart (uPlot), trades (paged, sortable), the event timeline and the result zip.
import { api, jobAtLeast, Live } from "./api.js";
import { dateTime, h, int, money, num, pct, precise, quoteOf, shortDate, signClass } from "./format.js";
import { notify } from "./app.js";
import { progressCell, statusBadge } from "./jobs.js";

const FINISHED = new Set(["completed", "failed", "cancelled"]);
const PAGE = 50;

export function jobPage(main, id) {
  const live = new Live((on) => {
    liveNote.className = on ? "live on" : "live";
    liveNote.textContent = on ? "live" : "reconnecting…";
  });
  let disposed = false;
  let job = null;
  let resultLoaded = false;
  let chart = null;
  const liveNote = h("span", { class: "live", role: "status" }, "connecting…");
  const title = h("h1", { id: "job-title" }, `Job ${id.slice(0, 8)}`);
  const summary = h("div", { id: "job-summary" });
  const results = h("div", { id: "job-results" });
  const timeline = h("ol", { class: "timeline", id: "timeline", "aria-label": "Events of this job, oldest first" });
  main.replaceChildren(
    h("p", {}, h("a", { href: "#/jobs" }, "← All jobs")),
    h("section", { class: "card" }, h("div", { class: "row" }, title, liveNote), summary),
    results,
    h("section", { class: "card", "aria-labelledby": "events-title" }, h("h2", { id: "events-title" }, "Event timeline"), timeline));

  function showSummary() {
    const quote = quoteOf(job.pairs);
    title.textContent = `${job.strategy} v${job.strategy_version} · ${job.id.slice(0, 8)}`;
    const item = (k, v) => h("div", {}, h("dt", {}, k), h("dd", {}, v));
    summary.replaceChildren(h("dl", { class: "metrics" },
      item("Status", statusBadge(job.status)),
      item("Strategy version", h("a", {
        id: "version-link",
        href: `#/strategies/${encodeURIComponent(job.strategy)}/versions/${job.strategy_version}`,
        title: "the exact code this job ran",
      }, `${job.strategy} v${job.strategy_version}`)),
      item("Progress", progressCell(job)),
      item("Pairs", job.pairs.join(", ")),
      item("Timeframe · range", `${job.timeframe} · ${job.timerange}`),
      item("Exchange", job.exchange),
      item("Submitted", h("time", { datetime: job.submitted_at }, dateTime(job.submitted_at))),
      item("Started", h("time", { datetime: job.started_at || "" }, dateTime(job.started_at))),
      item("Finished", h("time", { datetime: job.finished_at || "" }, dateTime(job.finished_at))),
      item("Submitted by", job.submitted_by),
      item("Attempt", String(job.attempt)),
      item("Stake · balance", `${money(job.stake_amount, quote)} · ${money(job.starting_balance, quote)}`),
      item("Code SHA-256", h("code", { title: job.code_sha256 }, job.code_sha256.slice(0, 12)))),
    ...(job.error ? [h("p", { class: "field-error", role: "alert" }, `Error: ${job.error}`)] : []));
  }

  async function loadJob(version = 0) {
    const loaded = await jobAtLeast(id, version);
    if (disposed || (job && loaded.version < job.version)) return;
    job = loaded;
    showSummary();
    if (job.status === "completed" && !resultLoaded) {
      resultLoaded = true;
      await loadResult();
    }
  }

  function addEvent(e) {
    const data = { ...(e.data || {}) };
    for (const k of ["id", "version", "timestamp", "originator_id", "originator_version"]) delete data[k];
    const text = JSON.stringify(data);
    timeline.append(h("li", {},
      h("strong", {}, e.type.replace(/^BacktestJob\./, "")), " ",
      h("time", { datetime: e.timestamp || "" }, e.timestamp ? dateTime(e.timestamp) : ""),
      h("span", { class: "muted" }, ` #${e.position}`),
      text !== "{}" ? h("div", {}, h("code", {}, text.length > 300 ? `${text.slice(0, 300)}…` : text)) : null));
  }

  async function loadResult() {
    const [result, equity] = await Promise.all([api(`/backtests/${id}/result`), api(`/backtests/${id}/equity`)]);
    if (disposed) return;
    const quote = quoteOf(job.pairs);
    const m = result.metrics;
    const metric = (k, v, cls = "") => h("div", {}, h("dt", {}, k), h("dd", { class: cls }, v));
    const downloads = result.artifacts.map((name) => h("button", {
      type: "button", class: "secondary", "data-artifact": name, onclick: () => download(name),
    }, name.endsWith(".zip") ? `Download ${name} (freqtrade's result)` : `Download ${name}`));
    const chartBox = h("div", { class: "chart", id: "equity-chart", role: "img", "aria-label": "Equity and drawdown over time" });
    results.replaceChildren(
      h("section", { class: "card", "aria-labelledby": "metrics-title" },
        h("h2", { id: "metrics-title" }, "Metrics"),
        h("dl", { class: "metrics", id: "metrics" },
          metric("Total profit", pct(m.profit_total), signClass(m.profit_total)),
          metric("Profit", money(m.profit_total_abs, quote), signClass(m.profit_total_abs)),
          metric("Trades", int(m.total_trades)),
          metric("Win rate", pct(m.winrate)),
          metric("Max drawdown", pct(m.max_drawdown)),
          metric("Profit factor", num(m.profit_factor)),
          metric("Sharpe", num(m.sharpe)),
          metric("Sortino", num(m.sortino)),
          metric("Calmar", num(m.calmar)),
          metric("Starting balance", money(m.starting_balance, quote)),
          metric("Final balance", money(m.final_balance, quote)),
          metric("Backtested", `${shortDate(result.backtest_start)} – ${shortDate(result.backtest_end)}`)),
        ...(downloads.length ? [h("div", { class: "row" }, downloads)] : [])),
      h("section", { class: "card", "aria-labelledby": "chart-title" },
        h("h2", { id: "chart-title" }, "Equity and drawdown"), chartBox),
      h("section", { class: "card", "aria-labelledby": "pairs-title" },
        h("h2", { id: "pairs-title" }, "Per pair"), pairTable(result.per_pair, quote)),
      tradesCard(quote));
    drawChart(chartBox, equity, quote);
  }

  async function download(name) {
    try {
      const res = await api(`/backtests/${id}/artifacts/${encodeURIComponent(name)}`, { raw: true });
      const url = URL.createObjectURL(await res.blob());
      const a = h("a", { href: url, download: `${id}-${name}` });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (error) {
      if (error.status !== 401) notify(`Could not download ${name}: ${error.message}`);
    }
  }

  async function drawChart(box, equity, quote) {
    if (!equity.points.length) {
      box.replaceChildren(h("p", { class: "muted" }, "No closed trades: nothing to draw."));
      return;
    }
    let uPlot;
    try {
      uPlot = (await import("/ui/vendor/uplot.esm.js")).default;
    } catch {
      box.replaceChildren(h("p", { class: "field-error", role: "alert" },
        "The chart library (uPlot) is missing: node_modules/uplot is not installed. Run `make node_modules/.installed` (or `make run`) and reload."));
      return;
    }
    if (disposed) return;
    const start = equity.starting_balance ?? equity.points[0].equity;
    const xs = [Date.parse(equity.points[0].ts) / 1000 - 1, ...equity.points.map((p) => Date.parse(p.ts) / 1000)];
    const eq = [start, ...equity.points.map((p) => p.equity)];
    const dd = [0, ...equity.points.map((p) => -p.drawdown)];
    const opts = {
      width: Math.max(280, box.clientWidth),
      height: 320,
      series: [
        { value: (u, v) => (v === null ? "—" : dateTime(new Date(v * 1000).toISOString())) },
        { label: "Equity", scale: "eq", stroke: "#1f5fbf", width: 2, value: (u, v) => money(v, quote) },
        { label: "Drawdown", scale: "dd", stroke: "#b3261e", fill: "rgba(179,38,30,0.12)", width: 1, value: (u, v) => pct(v) },
      ],
      scales: { dd: { range: (u, min) => [Math.min(min, -0.01) * 1.1, 0] } },
      axes: [
        {},
        { scale: "eq", values: (u, vals) => vals.map((v) => precise(v)), size: 70 },
        { scale: "dd", side: 1, grid: { show: false }, values: (u, vals) => vals.map((v) => pct(v)), size: 70 },
      ],
    };
    chart = new uPlot(opts, [xs, eq, dd], box);
    const resize = () => chart && chart.setSize({ width: Math.max(280, box.clientWidth), height: 320 });
    window.addEventListener("resize", resize);
    chart.disposeResize = () => window.removeEventListener("resize", resize);
  }

  function tradesCard(quote) {
    const cols = [
      ["pair", "Pair", (t) => t.pair],
      ["open_date", "Opened", (t) => shortDate(t.open_date)],
      ["close_date", "Closed", (t) => shortDate(t.close_date)],
      ["open_rate", "Open rate", (t) => precise(t.open_rate), "num"],
      ["close_rate", "Close rate", (t) => precise(t.close_rate), "num"],
      ["amount", "Amount", (t) => precise(t.amount), "num"],
      ["stake_amount", "Stake", (t) => money(t.stake_amount, quote), "num"],
      ["profit_ratio", "Profit %", (t) => pct(t.profit_ratio), "num"],
      ["profit_abs", "Profit", (t) => money(t.profit_abs, quote), "num"],
      ["exit_reason", "Exit", (t) => t.exit_reason],
    ];
    const cursors = [null]; // the cursor of each page seen
    let index = 0;
    let items = [];
    let next = null;
    let sort = null; // [key, direction]
    const tbody = h("tbody");
    const status = h("span", { class: "muted", role: "status" });
    const prev = h("button", { type: "button", class: "secondary", onclick: () => go(index - 1) }, "Previous");
    const nextButton = h("button", { type: "button", class: "secondary", onclick: () => go(index + 1) }, "Next");
    const heads = cols.map(([key, label, , cls]) => h("th", { scope: "col", class: cls || "", "aria-sort": "none" },
      h("button", { type: "button", class: "sort", onclick: () => sortBy(key) }, label)));

    function draw() {
      const rows = [...items];
      if (sort) {
        const [key, dir] = sort;
        rows.sort((a, b) => (a[key] < b[key] ? -dir : a[key] > b[key] ? dir : 0));
      }
      tbody.replaceChildren(...rows.map((t) => h("tr", {}, cols.map(([key, , f, cls]) => {
        const cell = h("td", { class: cls || "" }, f(t));
        if (key === "profit_abs" || key === "profit_ratio") cell.classList.add(...[signClass(t[key])].filter(Boolean));
        return cell;
      }))));
      heads.forEach((th, i) => th.setAttribute("aria-sort", sort && sort[0] === cols[i][0] ? (sort[1] > 0 ? "ascending" : "descending") : "none"));
      prev.disabled = index === 0;
      nextButton.disabled = !next;
      status.textContent = items.length ? `Page ${index + 1}, trades ${index * PAGE + 1}–${index * PAGE + items.length}` : "No trades.";
    }
    function sortBy(key) {
      sort = sort && sort[0] === key ? [key, -sort[1]] : [key, 1];
      draw();
    }
    async function go(i) {
      if (i < 0 || (i > index && !next)) return;
      if (i > index) cursors[i] = next;
      const query = new URLSearchParams({ limit: String(PAGE) });
      if (cursors[i]) query.set("cursor", cursors[i]);
      try {
        const page = await api(`/backtests/${id}/trades?${query}`);
        index = i;
        items = page.items;
        next = page.next_cursor;
        draw();
      } catch (error) {
        if (error.status !== 401) notify(`Could not load the trades: ${error.message}`);
      }
    }
    go(0);
    return h("section", { class: "card", "aria-labelledby": "trades-title" },
      h("h2", { id: "trades-title" }, "Trades"),
      h("div", { class: "table-wrap" }, h("table", { id: "trades" },
        h("caption", { class: "sr-only" }, "Closed trades; the column buttons sort this page"),
        h("thead", {}, h("tr", {}, heads)), tbody)),
      h("div", { class: "pager" }, prev, nextButton, status));
  }

  async function start() {
    try {
      await loadJob();
      const events = await api(`/backtests/${id}/events`);
      if (disposed) return;
      for (const e of events) addEvent(e);
      const since = events.length ? events[events.length - 1].position : null;
      live.subscribe(`backtests/${id}`, (msg) => {
        addEvent({ type: msg.type, timestamp: msg.data?.timestamp, position: msg.position, data: msg.data });
        if (msg.type.endsWith(".ProgressReported") && job) {
          job = { ...job, progress: { phase: msg.data.phase, fraction: msg.data.fraction } };
          showSummary();
        } else {
          loadJob(msg.data?.version ?? 0).catch((error) => error.status !== 401 && notify(`Could not reload the job: ${error.message}`));
        }
      }, since);
    } catch (error) {
      if (error.status === 404) main.replaceChildren(h("h1", {}, "No such job"), h("p", {}, error.message, " ", h("a", { href: "#/jobs" }, "Back to the jobs")));
      else if (error.status !== 401) notify(`Could not load the job: ${error.message}`);
    }
  }

  start();
  return {
    dispose() {
      disposed = true;
      live.close();
      chart?.disposeResize?.();
      chart?.destroy();
    },
  };
}



function pairTable(rows, quote) {
  const head = ["Pair", "Trades", "Avg profit", "Total profit", "Profit", "Wins", "Draws", "Losses", "Win rate", "Max drawdown"];
  return h("div", { class: "table-wrap" }, h("table", { id: "per-pair" },
    h("caption", { class: "sr-only" }, "Results per pair"),
    h("thead", {}, h("tr", {}, head.map((t, i) => h("th", { scope: "col", class: i ? "num" : "" }, t)))),
    h("tbody", {}, rows.map((p) => h("tr", {},
      h("th", { scope: "row" }, p.pair),
      h("td", { class: "num" }, int(p.trades)),
      h("td", { class: `num ${signClass(p.profit_mean)}` }, pct(p.profit_mean)),
      h("td", { class: `num ${signClass(p.profit_total)}` }, pct(p.profit_total)),
      h("td", { class: `num ${signClass(p.profit_total_abs)}` }, money(p.profit_total_abs, quote)),
      h("td", { class: "num" }, int(p.wins)),
      h("td", { class: "num" }, int(p.draws)),
      h("td", { class: "num" }, int(p.losses)),
      h("td", { class: "num" }, pct(p.winrate)),
      h("td", { class: "num" }, pct(p.max_drawdown)))))));
}
