// Order history with filters (status, side, type, origin, open), paged by cursor, and the cancel
// of one open order: a CANCEL_ORDER Command, confirmed first.
import { api, ApiError, newKey, withQuery } from "./api.js";
import { sendCommand } from "./commands.js";
import { confirmAction } from "./confirm.js";
import { clock, el, isZero, price, quantity, sideTag } from "./format.js";
import { fillTable } from "./table.js";

const $ = (id) => document.getElementById(id);
const PAGE = 50;
const CLOSED = new Set(["FILLED", "CANCELED", "EXPIRED", "REJECTED", "FINISHED", "EXPIRED_IN_MATCH"]);

function isOpen(order) {
  if (order.is_open !== undefined) return Boolean(order.is_open);
  return !CLOSED.has(order.status);
}

export function cancelOrderButton(order) {
  if (!isOpen(order)) return "";
  const button = el("button", "Cancel", "secondary small");
  button.type = "button";
  button.dataset.cancel = order.client_order_id;
  button.setAttribute("aria-label", `Cancel order ${order.client_order_id}`);
  button.addEventListener("click", () => cancelOrder(order, button));
  return button;
}

async function cancelOrder(order, button) {
  const payload = { client_order_id: order.client_order_id, is_algo: Boolean(order.is_algo) };
  const key = newKey();
  const confirmed = await confirmAction({
    title: "Cancel this order?",
    lines: [
      ["Order", order.client_order_id],
      ["Side", sideTag(order.side)],
      ["Type", order.type],
      ["Quantity", order.close_position ? "whole position" : quantity(order.quantity)],
      ["Price", isZero(order.price) ? "—" : price(order.price)],
      ["Stop", isZero(order.stop_price) ? "—" : price(order.stop_price)],
    ],
    sent: { kind: "CANCEL_ORDER", payload },
    sentTitle: `POST /api/commands · Idempotency-Key ${key}`,
    confirmLabel: "Cancel order",
    danger: true,
  });
  if (!confirmed) return;
  button.disabled = true;
  button.textContent = "Cancelling…";
  const again = () => { button.disabled = false; button.textContent = "Cancel"; };
  try {
    const command = await sendCommand("CANCEL_ORDER", payload, { key, label: `cancel ${order.client_order_id}` });
    if (command.status === "REJECTED" || command.status === "FAILED") again();
  } catch {
    again();
  }
}

const COLUMNS = [
  { label: "Created (UTC)", cell: (o) => clock(o.created_at), className: "num" },
  { label: "Side", cell: (o) => sideTag(o.side) },
  { label: "Type", cell: (o) => o.type },
  { label: "Qty", cell: (o) => (o.close_position ? "all" : quantity(o.quantity)), className: "num" },
  { label: "Filled", cell: (o) => quantity(o.executed_quantity), className: "num" },
  { label: "Price", cell: (o) => (isZero(o.price) ? "—" : price(o.price)), className: "num" },
  { label: "Avg price", cell: (o) => (isZero(o.average_price) ? "—" : price(o.average_price)), className: "num" },
  { label: "Stop", cell: (o) => (isZero(o.stop_price) ? "—" : price(o.stop_price)), className: "num" },
  { label: "Status", cell: (o) => o.status },
  { label: "Origin", cell: (o) => el("span", o.origin, `tag ${o.origin === "EXTERNAL" ? "external" : ""}`) },
  { label: "Client id", cell: (o) => o.client_order_id, className: "wrap" },
  { label: "", cell: (o) => cancelOrderButton(o) },
];

let cursor = null;
let generation = 0;

function filters() {
  const form = $("orders-filters");
  return Object.fromEntries(["status", "side", "type", "origin", "open"].map((name) => [name, form.elements[name].value]));
}

export async function loadOrders({ more = false } = {}) {
  const mine = ++generation;
  const error = $("orders-error");
  try {
    const page = await api(withQuery("/api/orders", { ...filters(), limit: PAGE, cursor: more ? cursor : null }));
    if (mine !== generation) return; // a newer filter won the race
    error.hidden = true;
    fillTable($("orders-table"), COLUMNS, page.items, { empty: "No orders match", append: more });
    cursor = page.next_cursor ?? null;
    $("orders-more").hidden = cursor === null;
  } catch (failure) {
    if (mine !== generation) return;
    error.textContent = failure instanceof ApiError ? failure.message : "Could not load the orders.";
    error.hidden = false;
  }
}

export function bindOrders() {
  $("orders-filters").addEventListener("change", () => loadOrders());
  $("orders-filters").addEventListener("submit", (event) => { event.preventDefault(); loadOrders(); });
  $("orders-more").addEventListener("click", () => loadOrders({ more: true }));
}
