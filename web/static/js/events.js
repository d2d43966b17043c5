// The event log: filtered by type, source and command, searched, paged backwards; live (from the
// stream) for the events the current filters would show.
import { api, ApiError, withQuery } from "./api.js";
import { clock, el } from "./format.js";

const $ = (id) => document.getElementById(id);
const PAGE = 50;
const MAX_SHOWN = 500;
const HIDDEN_KEYS = new Set(["originator_id", "originator_version", "timestamp", "envelope", "scope"]);
const seenTypes = new Set();

export function summary(data) {
  if (!data || typeof data !== "object") return "";
  return Object.entries(data)
    .filter(([key]) => !HIDDEN_KEYS.has(key))
    .slice(0, 6)
    .map(([key, value]) => `${key}=${typeof value === "object" ? JSON.stringify(value) : value}`)
    .join("  ");
}

// One event: a line that opens to its full data, with a jump to the account as it was then.
export function eventItem(event, { highlight = false } = {}) {
  const item = el("li", null, highlight ? "highlight" : "");
  item.dataset.id = event.notification_id;
  const details = el("details");
  const line = el("summary");
  const travel = el("a", "state then", "travel");
  travel.href = `#travel?event=${event.notification_id}`;
  travel.title = `The account as it was right after event #${event.notification_id}`;
  line.append(
    el("span", `#${event.notification_id}`, "id"),
    el("span", clock(event.timestamp), "time"),
    el("span", event.event_type, "type"),
    el("span", event.source, `source ${String(event.source).toLowerCase()}`),
    el("span", summary(event.data), "data"),
    travel,
  );
  details.append(line, el("pre", JSON.stringify(event, null, 2)));
  item.append(details);
  learnType(event.event_type);
  return item;
}

function learnType(type) {
  if (!type || seenTypes.has(type)) return;
  seenTypes.add(type);
  const prefix = `${type.split(".")[0]}.`;
  const options = new Set([...seenTypes, ...[...seenTypes].map((t) => `${t.split(".")[0]}.`), prefix]);
  $("event-types").replaceChildren(...[...options].sort().map((value) => {
    const option = document.createElement("option");
    option.value = value;
    return option;
  }));
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function filters() {
  const form = $("events-filters");
  return {
    type: form.elements.type.value.trim(),
    source: form.elements.source.value,
    command_id: form.elements.command_id.value.trim().toLowerCase(),
    q: form.elements.q.value.trim(),
  };
}

// The query for the filters: a bare aggregate name ("Order") means all of its event types.
function query(f) {
  const bare = /^[A-Za-z]+$/.test(f.type);
  return { ...f, type: bare ? "" : f.type, aggregate_type: bare ? f.type : "" };
}

function problem(f) {
  if (f.command_id && !UUID.test(f.command_id)) {
    return "A command id is a UUID, e.g. 3f2a9c1e-8b7d-4e55-9a0b-2c6d1e8f7a41";
  }
  if (f.type && !/^[A-Za-z]{1,32}(\.[A-Za-z]{0,32})?$/.test(f.type)) {
    return "An event type looks like Order.Filled, Order. (every Order event) or Order";
  }
  return "";
}

function matches(event, f) {
  if (f.q) return false; // a search is answered by the server only
  if (f.source && event.source !== f.source) return false;
  if (f.command_id && event.command_id !== f.command_id) return false;
  if (f.type) {
    const type = event.event_type || "";
    const prefix = f.type.endsWith(".") ? f.type : /^[A-Za-z]+$/.test(f.type) ? `${f.type}.` : null;
    if (prefix ? !type.startsWith(prefix) : type !== f.type) return false;
  }
  return true;
}

let cursor = null;
let generation = 0;

export async function loadEvents({ more = false } = {}) {
  const mine = ++generation;
  const f = filters();
  const error = $("events-error");
  const wrong = problem(f);
  if (wrong) { error.textContent = wrong; error.hidden = false; return; }
  try {
    const page = await api(withQuery("/api/events", { ...query(f), limit: PAGE, cursor: more ? cursor : null }));
    if (mine !== generation) return;
    error.hidden = true;
    const list = $("events");
    if (!more) list.replaceChildren();
    for (const event of page.items) list.append(eventItem(event));
    if (!list.children.length) list.append(el("li", "No events match", "muted"));
    cursor = page.next_cursor ?? null;
    $("events-more").hidden = cursor === null;
    $("events-live").textContent = f.q ? "search: live updates paused" : "live";
  } catch (failure) {
    if (mine !== generation) return;
    error.textContent = failure instanceof ApiError ? failure.message : "Could not load the events.";
    error.hidden = false;
  }
}

export function addLiveEvent(event) {
  learnType(event.event_type);
  const list = $("events");
  const f = filters();
  if (problem(f) || !matches(event, f)) return;
  if (list.querySelector(`li[data-id="${event.notification_id}"]`)) return;
  list.querySelector("li.muted")?.remove();
  list.prepend(eventItem(event));
  while (list.children.length > MAX_SHOWN) list.lastElementChild.remove();
}

export function bindEvents() {
  const form = $("events-filters");
  // A choice from a list applies at once; typing waits for a pause in the keystrokes.
  let timer = null;
  form.addEventListener("input", (event) => {
    if (event.target.tagName === "SELECT") return;
    clearTimeout(timer);
    timer = setTimeout(() => loadEvents(), 250);
  });
  form.addEventListener("change", (event) => {
    if (event.target.tagName !== "SELECT") return;
    clearTimeout(timer);
    loadEvents();
  });
  form.addEventListener("submit", (event) => { event.preventDefault(); loadEvents(); });
  $("events-more").addEventListener("click", () => loadEvents({ more: true }));
}
