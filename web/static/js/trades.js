// Performance (whole run and today, in exchange time) and the closed round trips.
import { api, ApiError, withQuery } from "./api.js";
import { amount, clock, duration, el, money, percent, pnl, price, quantity, ratio, sideTag, signClass } from "./format.js";
import { fillTable } from "./table.js";

const $ = (id) => document.getElementById(id);
const PAGE = 50;

const FIGURES = [
  ["total_pnl", "Total PnL", (s) => pnl(s.total_pnl), (s) => signClass(s.total_pnl)],
  ["win_rate", "Win rate", (s) => percent(s.win_rate)],
  ["profit_factor", "Profit factor", (s) => ratio(s.profit_factor)],
  ["max_drawdown", "Max drawdown", (s) => money(s.max_drawdown)],
  ["trades_per_day", "Trades per day", (s) => ratio(s.trades_per_day)],
  ["trades", "Trades (won / lost)", (s) => `${s.trades} (${s.wins} / ${s.losses})`],
  ["fees", "Fees", (s) => money(s.fees)],
  ["best_trade", "Best trade", (s) => pnl(s.best_trade), (s) => signClass(s.best_trade)],
  ["worst_trade", "Worst trade", (s) => pnl(s.worst_trade), (s) => signClass(s.worst_trade)],
];

function renderStats(container, stats, scope) {
  container.replaceChildren(...FIGURES.map(([key, label, format, tone]) => {
    const box = el("div", null, "kpi");
    const value = el("div", format(stats), `value ${tone ? tone(stats) : ""}`);
    value.dataset.figure = `${scope}.${key}`;
    box.append(el("div", label, "label"), value);
    return box;
  }));
}

export async function loadPerformance() {
  const error = $("perf-error");
  try {
    const perf = await api("/api/performance");
    error.hidden = true;
    renderStats($("perf-all"), perf.all, "all");
    renderStats($("perf-today"), perf.today, "today");
    const zone = perf.time_zone || "UTC";
    $("perf-today-title").textContent = `Today (${zone}, exchange time)`;
    $("perf-as-of").textContent = perf.as_of ? `as of ${clock(perf.as_of)} ${zone}` : "";
  } catch (failure) {
    error.textContent = failure instanceof ApiError ? `Performance: ${failure.message}` : "Could not load the performance.";
    error.hidden = false;
  }
}

const COLUMNS = [
  { label: "Opened (UTC)", cell: (t) => clock(t.opened_at), className: "num" },
  { label: "Closed (UTC)", cell: (t) => clock(t.closed_at), className: "num" },
  { label: "Side", cell: (t) => sideTag(t.side) },
  { label: "Size", cell: (t) => quantity(t.quantity), className: "num" },
  { label: "Entry", cell: (t) => price(t.entry_price), className: "num" },
  { label: "Exit", cell: (t) => price(t.exit_price), className: "num" },
  { label: "Fees", cell: (t) => money(t.fees), className: "num" },
  { label: "Realized", cell: (t) => amount(t.realized_pnl, pnl), className: "num" },
  { label: "Net PnL", cell: (t) => amount(t.net_pnl, pnl), className: "num" },
  { label: "Duration", cell: (t) => duration(t.duration_seconds), className: "num" },
];

let cursor = null;

export async function loadTrades({ more = false } = {}) {
  const error = $("trades-error");
  try {
    const page = await api(withQuery("/api/trades", { limit: PAGE, cursor: more ? cursor : null }));
    error.hidden = true;
    fillTable($("trades-table"), COLUMNS, page.items, { empty: "No closed trades yet", append: more });
    cursor = page.next_cursor ?? null;
    $("trades-more").hidden = cursor === null;
  } catch (failure) {
    error.textContent = failure instanceof ApiError ? `Trades: ${failure.message}` : "Could not load the trades.";
    error.hidden = false;
  }
}

export function bindTrades() {
  $("trades-more").addEventListener("click", () => loadTrades({ more: true }));
}
