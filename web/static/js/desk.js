// The desk: position, balance and PnL, the open orders (each cancellable), the last fills, alarms.
import { cancelOrderButton } from "./orders.js";
import { amount, clock, el, isZero, money, pnl, price, quantity, sideTag, signClass } from "./format.js";
import { fillTable } from "./table.js";

const $ = (id) => document.getElementById(id);

function setText(id, text, className = "") {
  const node = $(id);
  node.textContent = text;
  node.className = className;
}

function orderPrice(order) {
  return isZero(order.price) ? "—" : price(order.price);
}

const OPEN_ORDER_COLUMNS = [
  { label: "Kind", cell: (o) => el("span", o.protective ? "protective" : "normal", `tag ${o.protective ? "protective" : ""}`) },
  { label: "Side", cell: (o) => sideTag(o.side) },
  { label: "Type", cell: (o) => o.type },
  { label: "Qty", cell: (o) => (o.close_position ? "all" : quantity(o.quantity)), className: "num" },
  { label: "Filled", cell: (o) => quantity(o.executed_quantity), className: "num" },
  { label: "Price", cell: orderPrice, className: "num" },
  { label: "Stop", cell: (o) => (isZero(o.stop_price) ? "—" : price(o.stop_price)), className: "num" },
  { label: "Status", cell: (o) => o.status },
  { label: "Client id", cell: (o) => o.client_order_id, className: "wrap" },
  { label: "", cell: (o) => cancelOrderButton(o) },
];

const FILL_COLUMNS = [
  { label: "Time (UTC)", cell: (f) => clock(f.time), className: "num" },
  { label: "Side", cell: (f) => sideTag(f.side) },
  { label: "Qty", cell: (f) => quantity(f.quantity), className: "num" },
  { label: "Price", cell: (f) => price(f.price), className: "num" },
  { label: "Fee", cell: (f) => `${quantity(f.fee)} ${f.fee_asset}`, className: "num" },
  { label: "Realized", cell: (f) => amount(f.realized_pnl, pnl), className: "num" },
];

const shown = new Map();

function changed(name, rows) {
  const key = JSON.stringify(rows);
  if (shown.get(name) === key) return false;
  shown.set(name, key);
  return true;
}

export function renderDesk(data, engineBusy) {
  setText("symbol", `${data.symbol} · ${data.interval}`, "muted");
  for (const node of document.querySelectorAll('[data-unit="base"]')) {
    node.textContent = data.symbol.endsWith("USDT") ? `(${data.symbol.slice(0, -4)})` : "";
  }
  const mode = data.engine.mode;
  setText("engine-mode", mode, `badge ${mode === "RUNNING" ? "ok" : "warn"}`);
  $("engine-mode").title = data.engine.reason ? `Engine ${mode}: ${data.engine.reason}` : `Engine ${mode}`;
  const why = mode !== "RUNNING" && data.engine.reason ? `${mode}: ${data.engine.reason}` : "";
  setText("engine-reason", why, "muted");
  $("engine-reason").hidden = !why;
  // Offer what makes sense now; a command in flight keeps its button disabled meanwhile.
  if (!engineBusy("btn-pause")) $("btn-pause").disabled = mode === "PAUSED";
  if (!engineBusy("btn-resume")) $("btn-resume").disabled = mode === "RUNNING";
  if (data.time_zone) $("time-zone").textContent = `${data.time_zone}, exchange time`;

  const p = data.position;
  setText("pos-side", p.side, `side-${p.side.toLowerCase()}`);
  setText("pos-qty", quantity(p.quantity), "num");
  setText("pos-entry", isZero(p.entry_price) ? "—" : price(p.entry_price), "num");
  setText("pos-breakeven", isZero(p.break_even_price) ? "—" : price(p.break_even_price), "num");
  setText("pos-mark", price(p.mark_price), "num");
  setText("pos-upnl", pnl(p.unrealized_pnl), `num ${signClass(p.unrealized_pnl)}`);
  setText("pos-lev", p.leverage ? `${p.leverage}×` : "—", "num");
  if (p.leverage && !$("leverage-input").value && document.activeElement !== $("leverage-input")) {
    $("leverage-input").placeholder = String(p.leverage);
  }

  const b = data.balance;
  setText("bal-wallet", b ? `${money(b.wallet_balance)} ${b.asset}` : "—", "num");
  setText("bal-available", b && b.available_balance !== null ? money(b.available_balance) : "—", "num");
  setText("bal-equity", money(data.equity), "num");
  setText("pnl-today", pnl(data.today_pnl), `num ${signClass(data.today_pnl)}`);

  // Tables are rebuilt only when they change: a snapshot every few seconds must not replace a
  // Cancel button under the pointer.
  const open = [...data.open_orders.protective, ...data.open_orders.normal];
  if (changed("open-orders", open)) {
    fillTable($("open-orders"), OPEN_ORDER_COLUMNS, open, { empty: "No open orders" });
    $("open-orders-count").textContent = open.length ? `${open.length} open` : "";
  }
  if (changed("fills", data.last_fills)) {
    fillTable($("fills"), FILL_COLUMNS, data.last_fills, { empty: "No fills yet" });
  }

  const alarms = $("alarms");
  alarms.hidden = data.alarms.length === 0;
  alarms.replaceChildren(...data.alarms.map((a) => el("div", `⚠ ${a.code}: ${a.message}`, "alarm")));
}

