// The order ticket: a PLACE_ORDER Command built from the form, reviewed in a confirmation that
// shows the exact request, then filed; and leverage (SET_LEVERAGE) the same way.
import { ApiError, newKey } from "./api.js";
import { sendCommand } from "./commands.js";
import { confirmAction } from "./confirm.js";
import { price, quantity, sideTag } from "./format.js";

const $ = (id) => document.getElementById(id);
const DECIMAL = /^\d+(\.\d+)?$/;
const CONDITIONAL = new Set(["STOP_MARKET", "TAKE_PROFIT_MARKET"]);

let symbol = "";

export function setTicketSymbol(name) {
  symbol = name;
}

function form() {
  return $("order-form");
}

function typeShown() {
  return form().elements.type.value;
}

// Only the fields that apply to the chosen type are shown (and sent).
function showFieldsForType() {
  const type = typeShown();
  for (const node of form().querySelectorAll("[data-for]")) {
    node.hidden = !node.dataset.for.split(" ").includes(type);
  }
  $("order-stop-label").textContent = CONDITIONAL.has(type) ? "Trigger price" : "Stop loss";
  const closeAll = CONDITIONAL.has(type) && $("order-close").checked;
  $("order-qty").disabled = closeAll;
}

function decimalField(name, label, errors) {
  const input = form().elements[name];
  const field = input.closest(".field");
  const text = input.value.trim();
  if (input.disabled || (field && field.hidden) || text === "") return undefined;
  if (!DECIMAL.test(text) || !/[1-9]/.test(text)) {
    errors.push(`${label} must be a positive number like 0.010`);
    return undefined;
  }
  return text;
}

// The payload as the API takes it (PLACE_ORDER), or the reasons it cannot be sent.
export function orderPayload() {
  const f = form();
  const type = typeShown();
  const errors = [];
  const payload = { side: f.elements.side.value, type };
  const qty = decimalField("quantity", "Quantity", errors);
  const limit = decimalField("price", "Limit price", errors);
  const stop = decimalField("stop_price", CONDITIONAL.has(type) ? "Trigger price" : "Stop loss", errors);
  const takeProfit = decimalField("take_profit_price", "Take profit", errors);
  const closeAll = CONDITIONAL.has(type) && $("order-close").checked;
  if (qty !== undefined) payload.quantity = qty;
  if (type === "LIMIT") {
    if (limit === undefined && !errors.length) errors.push("A limit order needs a limit price");
    payload.price = limit;
    payload.time_in_force = f.elements.time_in_force.value;
  }
  if (stop !== undefined) payload.stop_price = stop;
  if (CONDITIONAL.has(type) && stop === undefined && !errors.length) {
    errors.push("A stop or take-profit order needs its trigger price");
  }
  if (takeProfit !== undefined && !CONDITIONAL.has(type)) payload.take_profit_price = takeProfit;
  if ($("order-reduce").checked) payload.reduce_only = true;
  if (closeAll) payload.close_position = true;
  if (qty === undefined && !closeAll && !payload.reduce_only && stop === undefined && !errors.length) {
    errors.push("Give a quantity (or a stop loss, and the risk guard sizes the order)");
  }
  const reason = f.elements.reason.value.trim();
  if (reason) payload.reason = reason;
  for (const key of Object.keys(payload)) if (payload[key] === undefined) delete payload[key];
  return { payload, errors };
}

function describeOrder(payload) {
  const lines = [["Symbol", symbol || "—"], ["Side", sideTag(payload.side)], ["Type", payload.type]];
  lines.push(["Quantity", payload.close_position ? "whole position"
    : payload.quantity ? quantity(payload.quantity) : "sized by the risk guard"]);
  if (payload.price) lines.push(["Limit price", `${price(payload.price)} ${payload.time_in_force}`]);
  if (payload.stop_price) {
    lines.push([CONDITIONAL.has(payload.type) ? "Trigger" : "Stop loss", price(payload.stop_price)]);
  }
  if (payload.take_profit_price) lines.push(["Take profit", price(payload.take_profit_price)]);
  if (payload.reduce_only) lines.push(["Reduce only", "yes"]);
  if (payload.reason) lines.push(["Note", payload.reason]);
  return lines;
}

function showError(id, text) {
  $(id).textContent = text;
  $(id).hidden = !text;
}

async function reviewOrder(event) {
  event.preventDefault();
  const { payload, errors } = orderPayload();
  if (errors.length) { showError("order-error", errors.join(". ")); return; }
  showError("order-error", "");
  const key = newKey();
  const confirmed = await confirmAction({
    title: `${payload.side === "BUY" ? "Buy" : "Sell"} ${symbol}: place this order?`,
    lines: describeOrder(payload),
    sent: { kind: "PLACE_ORDER", payload },
    sentTitle: `POST /api/commands · Idempotency-Key ${key}`,
    confirmLabel: `Place ${payload.side === "BUY" ? "buy" : "sell"} order`,
    danger: payload.side === "SELL",
  });
  if (!confirmed) return;
  const button = $("order-review");
  button.disabled = true;
  try {
    const label = `${payload.side.toLowerCase()} ${payload.quantity ? quantity(payload.quantity) : ""} ${payload.type.toLowerCase()}`;
    await sendCommand("PLACE_ORDER", payload, { key, label: label.replace(/\s+/g, " ") });
  } catch (error) {
    showError("order-error", error instanceof ApiError ? error.message : "The order could not be sent.");
  } finally {
    button.disabled = false;
  }
}

async function reviewLeverage(event) {
  event.preventDefault();
  const text = $("leverage-input").value.trim();
  const leverage = Number(text);
  if (!/^\d+$/.test(text) || leverage < 1 || leverage > 125) {
    showError("leverage-error", "Leverage is a whole number from 1 to 125");
    return;
  }
  showError("leverage-error", "");
  const key = newKey();
  const payload = { leverage };
  const confirmed = await confirmAction({
    title: `Set ${symbol} leverage to ${leverage}×?`,
    lines: [["Symbol", symbol || "—"], ["Leverage", `${leverage}×`]],
    sent: { kind: "SET_LEVERAGE", payload },
    sentTitle: `POST /api/commands · Idempotency-Key ${key}`,
    confirmLabel: "Set leverage",
  });
  if (!confirmed) return;
  try {
    await sendCommand("SET_LEVERAGE", payload, { key, label: `leverage ${leverage}×` });
  } catch (error) {
    showError("leverage-error", error instanceof ApiError ? error.message : "Could not be sent.");
  }
}

export function bindOrderTicket() {
  form().addEventListener("change", showFieldsForType);
  form().addEventListener("submit", reviewOrder);
  $("leverage-form").addEventListener("submit", reviewLeverage);
  showFieldsForType();
}
