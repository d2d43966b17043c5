// The dashboard's entry: signs in or out, wires the sections, and keeps them live from the stream.
import { api, ApiError, hasSession, openStream, signOut, username } from "./api.js";
import { chartsAvailable, EquityChart, PriceChart } from "./charts.js";
import { onCommandFinished, sendCommand } from "./commands.js";
import { bindConfigEditor, checkConfig, refreshConfig } from "./config.js";
import { confirmAction } from "./confirm.js";
import { renderDesk } from "./desk.js";
import { addLiveEvent, bindEvents, loadEvents } from "./events.js";
import { age } from "./format.js";
import { bindOrderTicket, setTicketSymbol } from "./order-form.js";
import { bindOrders, loadOrders } from "./orders.js";
import { bindThemeToggle } from "./theme.js";
import { bindTrades, loadPerformance, loadTrades } from "./trades.js";
import { bindTravel, travelFromHash } from "./travel.js";
import { currentView, registerView, startViews } from "./views.js";

const $ = (id) => document.getElementById(id);
const POLL_MS = 5000;
const CONFIG_POLL_MS = 15000;
const busy = new Set();

let priceChart = null;
let equityChart = null;
let board = null;

function setText(id, text, className) {
  const node = $(id);
  node.textContent = text;
  if (className !== undefined) node.className = className;
}

function showBoard(data) {
  board = data;
  setTicketSymbol(data.symbol);
  renderDesk(data, (id) => busy.has(id));
}

async function refreshBoard() {
  try {
    showBoard(await api("/api/dashboard"));
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 401)) console.error(error);
  }
}

async function loadCharts() {
  if (!priceChart) return;
  const [candles, equity] = await Promise.all([api("/api/candles?limit=300"), api("/api/equity")]);
  setText("chart-interval", candles.interval);
  priceChart.update(candles.items, candles.fills, candles.interval);
  equityChart.update(equity.items, equity.current, equity.as_of);
  const unmarked = Number($("chart-markers").dataset.unmarked || 0);
  const marked = $("chart-markers").children.length;
  setText("chart-caption", `${marked} fill${marked === 1 ? "" : "s"} marked`
    + `${unmarked ? ` (${unmarked} outside these candles)` : ""} · times in UTC, exchange time`);
}

async function loadHealth() {
  try {
    const response = await fetch("/health");
    const h = await response.json();
    setText("trading-mode", h.mode || "—", "badge neutral");
    setText("h-db", h.database, h.database === "ok" ? "pos" : "neg");
    const ages = h.ages_seconds || {};
    setText("h-bot", age(ages.bot_heartbeat), h.bot_alive ? "" : "neg");
    setText("h-user", age(h.user_stream_age_seconds));
    setText("h-reconcile", age(h.reconcile_age_seconds));
    const lag = h.projection_lag;
    setText("h-lag", lag === undefined || lag === null ? "—" : `${lag} event${lag === 1 ? "" : "s"}`);
  } catch {
    setText("h-db", "unreachable", "neg");
  }
}

// Sections showing derived lists reload (at most once a second) when events change them.
let staleTimer = null;
function reloadVisibleLists() {
  clearTimeout(staleTimer);
  staleTimer = setTimeout(() => {
    const view = currentView();
    if (view === "orders") loadOrders();
    if (view === "trades") { loadPerformance(); loadTrades(); }
  }, 1000);
}

function bindControls() {
  for (const button of document.querySelectorAll("[data-command]")) {
    button.addEventListener("click", async () => {
      const kind = button.dataset.command;
      if (button.dataset.confirm) {
        const confirmed = await confirmAction({
          title: button.dataset.confirm,
          sent: { kind, payload: {} },
          sentTitle: "POST /api/commands",
          confirmLabel: button.textContent,
          danger: true,
        });
        if (!confirmed) return;
      }
      busy.add(button.id);
      button.disabled = true;
      try {
        await sendCommand(kind, {});
      } catch {
        // shown in the command log
      } finally {
        busy.delete(button.id);
        button.disabled = false;
        if (board) showBoard(board);
      }
    });
  }
}

function start() {
  setText("username", username());
  $("logout").addEventListener("click", signOut);
  bindThemeToggle($("theme-toggle"));
  bindControls();
  bindOrderTicket();
  bindOrders();
  bindTrades();
  bindEvents();
  bindTravel();
  bindConfigEditor();
  onCommandFinished(() => { refreshBoard(); reloadVisibleLists(); });

  if (chartsAvailable()) {
    priceChart = new PriceChart($("price-chart"), $("chart-markers"));
    equityChart = new EquityChart($("equity-chart"));
  } else {
    $("charts-missing").hidden = false;
    $("price-chart").hidden = true;
    $("equity-card").hidden = true;
  }

  registerView("desk", () => { refreshBoard(); loadCharts().catch(console.error); });
  registerView("orders", () => loadOrders());
  registerView("trades", () => { loadPerformance(); loadTrades(); });
  registerView("events", () => loadEvents());
  registerView("travel", (params) => travelFromHash(params));
  registerView("config", () => refreshConfig().catch(console.error));
  startViews();

  loadHealth();
  openStream({
    event: (event) => {
      addLiveEvent(event);
      if (/^(Order|Account|Position)\./.test(event.event_type || "")) reloadVisibleLists();
    },
    dashboard: (data) => showBoard(data),
  }, (status) => setText("stream-status", status, `badge ${status === "live" ? "ok" : "warn"}`));
  checkConfig().catch(console.error);
  setInterval(loadHealth, POLL_MS);
  setInterval(() => checkConfig().catch(console.error), CONFIG_POLL_MS);
  setInterval(() => { if (currentView() === "desk") loadCharts().catch(console.error); }, POLL_MS);
}

// Without a session nothing starts: every request would be refused on the way to the login.
// Scripts with `defer` (the chart library) run before module scripts' DOMContentLoaded handlers.
if (!hasSession()) {
  window.location.replace("/login");
} else if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", start);
} else {
  start();
}
