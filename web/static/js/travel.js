// Time travel: the position, balances and open orders as they were at a moment (UTC, exchange
// time) or right after an event, with the events around that point.
import { api, ApiError, withQuery } from "./api.js";
import { eventItem } from "./events.js";
import { clock, el, isZero, money, pnl, price, quantity, sideTag, signClass } from "./format.js";
import { fillTable } from "./table.js";

const $ = (id) => document.getElementById(id);
const AROUND = 12;

const BALANCE_COLUMNS = [
  { label: "Asset", cell: (b) => b.asset },
  { label: "Wallet", cell: (b) => money(b.walletBalance), className: "num" },
  { label: "Cross wallet", cell: (b) => money(b.crossWalletBalance), className: "num" },
  { label: "Available", cell: (b) => (b.availableBalance === null ? "—" : money(b.availableBalance)), className: "num" },
];

const ORDER_COLUMNS = [
  { label: "Side", cell: (o) => sideTag(o.side) },
  { label: "Type", cell: (o) => o.type },
  { label: "Qty", cell: (o) => quantity(o.origQty), className: "num" },
  { label: "Filled", cell: (o) => quantity(o.executedQty), className: "num" },
  { label: "Price", cell: (o) => (isZero(o.price) ? "—" : price(o.price)), className: "num" },
  { label: "Stop", cell: (o) => (isZero(o.stopPrice) ? "—" : price(o.stopPrice)), className: "num" },
  { label: "Status", cell: (o) => o.status },
  { label: "Origin", cell: (o) => o.origin },
  { label: "Client id", cell: (o) => o.clientOrderId, className: "wrap" },
];

let shownEvent = null;

const MOMENT = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2})(:\d{2}(\.\d{1,6})?)?(Z|[+-]00:?00)?$/;

// "2026-01-05T12:00:00.123+00:00" → "2026-01-05 12:00:00.123", the form the field takes.
function shown(iso) {
  return iso ? new Date(iso).toISOString().replace("T", " ").replace("Z", "") : "";
}

// What was typed, as the ISO time the API takes ("…Z"), or null when it is not a moment.
export function moment(text) {
  const match = MOMENT.exec(text.trim());
  if (!match) return null;
  const [, date, minutes, seconds = ":00"] = match;
  const iso = `${date}T${minutes}${seconds}Z`;
  return Number.isNaN(Date.parse(iso)) ? null : iso;
}

function set(id, text, className = "") {
  $(id).textContent = text;
  $(id).className = className;
}

function render(state, asked) {
  shownEvent = state.notification_id;
  const p = state.position;
  const size = String(p.positionAmt);
  const side = !/[1-9]/.test(size) ? "FLAT" : size.startsWith("-") ? "SHORT" : "LONG";
  set("tt-side", side, `side-${side.toLowerCase()}`);
  set("tt-qty", quantity(size.replace("-", "")), "num");
  set("tt-entry", isZero(p.entryPrice) ? "—" : price(p.entryPrice), "num");
  set("tt-realized", pnl(p.realizedPnl), `num ${signClass(p.realizedPnl)}`);
  set("tt-lev", p.leverage ? `${p.leverage}×` : "—", "num");
  const engine = state.engine || {};
  set("tt-engine", engine.mode ? `${engine.mode}${engine.reason ? ` (${engine.reason})` : ""}` : "—");
  fillTable($("tt-balances"), BALANCE_COLUMNS, state.balances, { empty: "No balance yet" });
  fillTable($("tt-orders"), ORDER_COLUMNS, state.open_orders, { empty: "No open orders then" });
  const when = state.as_of ? `${clock(state.as_of)}${state.as_of.match(/\.\d{3}/)?.[0] || ""} UTC, exchange time` : "before the first event";
  const prefix = asked.time ? `Last event at or before ${asked.time.replace("T", " ").replace("Z", "")} UTC: ` : "";
  const told = state.notification_id
    ? `the account right after event #${state.notification_id} (${when}).`
    : "nothing had happened yet.";
  $("travel-summary").textContent = prefix ? `${prefix}${told}` : told[0].toUpperCase() + told.slice(1);
  $("travel-summary").className = "";
  $("travel-event").value = String(state.notification_id);
  if (state.as_of) $("travel-time").value = shown(state.as_of);
  $("travel-result").hidden = false;
  $("travel-steps").hidden = false;
  $("travel-prev").disabled = state.notification_id <= 0;
}

async function loadAround(id) {
  const card = $("travel-around-card");
  if (!id) { card.hidden = true; return; }
  const page = await api(withQuery("/api/events", { around: id, limit: AROUND }));
  const items = [...page.items].sort((a, b) => b.notification_id - a.notification_id);
  $("travel-events").replaceChildren(...items.map((e) => eventItem(e, { highlight: e.notification_id === id })));
  card.hidden = false;
}

// asked: { event: "123" } or { time: "2026-01-05T12:00:00.000Z" } (UTC).
export async function travelTo(asked) {
  const at = asked.event !== undefined && asked.event !== "" ? String(asked.event) : asked.time || "";
  const error = $("travel-error");
  if (!at) { error.textContent = "Give a moment or an event number."; error.hidden = false; return; }
  try {
    const state = await api(withQuery("/api/state", { at }));
    error.hidden = true;
    render(state, asked);
    await loadAround(state.notification_id);
  } catch (failure) {
    error.textContent = failure instanceof ApiError ? failure.message : "Could not travel there.";
    error.hidden = false;
  }
}

// The hash keeps the place, so a moment can be linked to and survives a reload.
export function travelFromHash(params) {
  if (params.has("event")) travelTo({ event: params.get("event") });
  else if (params.has("at") && moment(params.get("at"))) travelTo({ time: moment(params.get("at")) });
}

function go(asked) {
  const query = asked.event !== undefined ? `event=${encodeURIComponent(asked.event)}` : `at=${encodeURIComponent(asked.time)}`;
  const hash = `#travel?${query}`;
  if (window.location.hash === hash) travelTo(asked); else window.location.hash = hash;
}

export function bindTravel() {
  const form = $("travel-form");
  // Typing in one field clears the other, so it is clear which one is asked.
  $("travel-time").addEventListener("input", () => { $("travel-event").value = ""; });
  $("travel-event").addEventListener("input", () => { $("travel-time").value = ""; });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const id = $("travel-event").value.trim();
    const typed = $("travel-time").value.trim();
    if (id !== "") { go({ event: id }); return; }
    const time = moment(typed);
    if (time) go({ time });
    else {
      $("travel-error").textContent = typed
        ? `"${typed}" is not a moment: write it as 2026-01-05 12:00:00 (UTC, 24-hour)`
        : "Give a moment or an event number.";
      $("travel-error").hidden = false;
    }
  });
  $("travel-now").addEventListener("click", () => {
    $("travel-event").value = "";
    go({ time: new Date().toISOString() });
  });
  $("travel-prev").addEventListener("click", () => go({ event: String(Math.max(0, (shownEvent || 0) - 1)) }));
  $("travel-next").addEventListener("click", () => go({ event: String((shownEvent || 0) + 1) }));
}
