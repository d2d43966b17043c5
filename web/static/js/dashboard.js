import { api, ApiError, hasSession, newKey, openStream, signOut, username } from "./api.js";
import { chartsAvailable, EquityChart, PriceChart } from "./charts.js";
import { bindConfigEditor } from "./config.js";
import { age, clock, el, money, quantity, row, signClass } from "./format.js";

if (!hasSession()) window.location.replace("/login");

const $ = (id) => document.getElementById(id);
const FINISHED = new Set(["REJECTED", "SUCCEEDED", "FAILED", "RESOLVED"]);
const MAX_EVENTS = 200;

let priceChart = null;
let equityChart = null;
let board = null;

function setText(id, text, className) {
  const node = $(id);
  node.textContent = text;
  if (className !== undefined) node.className = className;
}

function renderBoard(data) {
  board = data;
  setText("symbol", `${data.symbol} · ${data.interval}`);
  const mode = data.engine.mode;
  setText("engine-mode", mode, `badge ${mode === "RUNNING" ? "ok" : "warn"}`);
  // Offer what makes sense now; a command in flight keeps its button disabled meanwhile.
  if (!$("btn-pause").dataset.busy) $("btn-pause").disabled = mode === "PAUSED";
  if (!$("btn-resume").dataset.busy) $("btn-resume").disabled = mode === "RUNNING";

  const p = data.position;
  setText("pos-side", p.side, `side ${p.side.toLowerCase()}`);
  setText("pos-qty", quantity(p.quantity));
  setText("pos-entry", money(p.entry_price));
  setText("pos-mark", money(p.mark_price));
  setText("pos-upnl", money(p.unrealized_pnl), signClass(p.unrealized_pnl));
  setText("pos-lev", p.leverage ? `${p.leverage}×` : "—");

  const b = data.balance;
  setText("bal-wallet", b ? `${money(b.wallet_balance)} ${b.asset}` : "—");
  setText("bal-available", b ? money(b.available_balance) : "—");
  setText("bal-equity", money(data.equity));
  setText("pnl-today", money(data.today_pnl), signClass(data.today_pnl));

  const orders = $("orders");
  const rows = [
    ...data.open_orders.protective.map((o) => ["protective", o]),
    ...data.open_orders.normal.map((o) => ["normal", o]),
  ].map(([kind, o]) => row([
    el("span", kind, `tag ${kind}`), o.client_order_id, o.side, o.type,
    o.close_position ? "all" : quantity(o.quantity),
    o.price === "0" ? "—" : money(o.price), o.stop_price === "0" ? "—" : money(o.stop_price),
    o.status,
  ]));
  orders.replaceChildren(...(rows.length ? rows : [emptyRow(8, "No open orders")]));

  const fills = data.last_fills.map((f) => row([
    clock(f.time), el("span", f.side, `side ${f.side.toLowerCase()}`), quantity(f.quantity),
    money(f.price), `${quantity(f.fee)} ${f.fee_asset}`,
    el("span", money(f.realized_pnl), signClass(f.realized_pnl)),
  ]));
  $("fills").replaceChildren(...(fills.length ? fills : [emptyRow(6, "No fills yet")]));

  const alarms = $("alarms");
  alarms.hidden = data.alarms.length === 0;
  alarms.replaceChildren(...data.alarms.map((a) => el("div", `⚠ ${a.code}: ${a.message}`, "alarm")));
}

function emptyRow(span, text) {
  const tr = document.createElement("tr");
  const td = el("td", text, "muted");
  td.colSpan = span;
  tr.append(td);
  return tr;
}

function addEvent(event, atTop = true) {
  const list = $("events");
  const item = el("li");
  item.append(
    el("span", clock(event.timestamp), "time"),
    el("span", event.event_type, "type"),
    el("span", event.source, `source ${String(event.source).toLowerCase()}`),
    el("span", summary(event.data), "data"),
  );
  item.dataset.id = event.notification_id;
  if (atTop) list.prepend(item); else list.append(item);
  while (list.children.length > MAX_EVENTS) list.lastElementChild.remove();
}

function summary(data) {
  if (!data || typeof data !== "object") return "";
  return Object.entries(data)
    .filter(([key]) => !["originator_id", "originator_version", "timestamp", "envelope", "scope"].includes(key))
    .slice(0, 6)
    .map(([key, value]) => `${key}=${typeof value === "object" ? JSON.stringify(value) : value}`)
    .join("  ");
}

async function loadEvents() {
  const page = await api("/api/events?limit=50");
  $("events").replaceChildren();
  for (const event of page.items) addEvent(event, false);
}

async function loadCharts() {
  if (!priceChart) return;
  const [candles, equity] = await Promise.all([api("/api/candles?limit=300"), api("/api/equity")]);
  setText("chart-interval", candles.interval);
  priceChart.update(candles.items, candles.fills, candles.interval);
  equityChart.update(equity.items, equity.current, equity.as_of);
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
    setText("h-lag", h.projection_lag === undefined ? "—" : `${h.projection_lag} events`);
  } catch {
    setText("h-db", "unreachable", "neg");
  }
}

function logCommand(kind) {
  const item = el("li");
  const label = el("span", kind.replaceAll("_", " ").toLowerCase(), "kind");
  const status = el("span", "sending…", "status pending");
  item.append(label, status);
  $("command-log").prepend(item);
  while ($("command-log").children.length > 6) $("command-log").lastElementChild.remove();
  return (text, state) => { status.textContent = text; status.className = `status ${state}`; };
}

async function fileCommand(kind, button) {
  const show = logCommand(kind);
  button.disabled = true;
  button.dataset.busy = "1";
  try {
    const filed = await api("/api/commands", {
      method: "POST",
      body: { kind, payload: {} },
      headers: { "Idempotency-Key": newKey() },
    });
    show(filed.status, "pending");
    const deadline = Date.now() + 30000;
    let command = filed;
    while (!FINISHED.has(command.status) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 400));
      command = await api(filed.status_url);
      show(command.status, "pending");
    }
    const ok = command.status === "SUCCEEDED" || command.status === "RESOLVED";
    const why = command.reason || (command.last_error && command.last_error.message) || "";
    show(FINISHED.has(command.status) ? `${command.status}${why ? ` — ${why}` : ""}`
      : `${command.status} (still running)`, ok ? "ok" : FINISHED.has(command.status) ? "bad" : "pending");
    refresh();
  } catch (error) {
    show(error instanceof ApiError ? error.message : "failed to send", "bad");
  } finally {
    delete button.dataset.busy;
    button.disabled = false;
    if (board) renderBoard(board);
  }
}

async function refresh() {
  try {
    renderBoard(await api("/api/dashboard"));
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 401)) console.error(error);
  }
}

function start() {
  setText("username", username());
  $("logout").addEventListener("click", signOut);
  for (const button of document.querySelectorAll("[data-command]")) {
    button.addEventListener("click", () => {
      const question = button.dataset.confirm;
      if (question && !window.confirm(question)) return;
      fileCommand(button.dataset.command, button);
    });
  }
  if (chartsAvailable()) {
    priceChart = new PriceChart($("price-chart"));
    equityChart = new EquityChart($("equity-chart"));
  } else {
    $("charts-missing").hidden = false;
    $("price-chart").hidden = true;
    $("equity-chart").parentElement.hidden = true;
  }
  bindConfigEditor();
  refresh();
  loadEvents().catch(console.error);
  loadCharts().catch(console.error);
  loadHealth();
  openStream({
    event: (event) => addEvent(event),
    dashboard: (data) => renderBoard(data),
  }, (status) => setText("stream-status", status, `badge ${status === "live" ? "ok" : "warn"}`));
  setInterval(loadHealth, 5000);
  setInterval(() => loadCharts().catch(console.error), 5000);
}

// Scripts with `defer` (the chart library) run before module scripts' DOMContentLoaded handlers.
if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", start);
} else {
  start();
}
