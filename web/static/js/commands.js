// Filing Commands: POST /api/commands with an Idempotency-Key, then following the Command to its
// end state. The key is made once per confirmed action, so a resend is the same Command.
import { api, ApiError, newKey } from "./api.js";
import { el } from "./format.js";

const FINISHED = new Set(["REJECTED", "SUCCEEDED", "FAILED", "RESOLVED"]);
const WAITING = { NEW: "NEW — queued for the bot", ACCEPTED: "ACCEPTED", DISPATCHED: "DISPATCHED — sent" };
const OK = new Set(["SUCCEEDED", "RESOLVED"]);
const POLL_MS = 400;
const FOLLOW_MS = 30000;
const listeners = [];

export function onCommandFinished(listener) {
  listeners.push(listener);
}

function logLine(label) {
  const log = document.getElementById("command-log");
  const item = el("li");
  const status = el("span", "sending…", "status pending");
  item.append(el("span", label, "kind"), status);
  log.prepend(item);
  while (log.children.length > 8) log.lastElementChild.remove();
  return (text, state) => { status.textContent = text; status.className = `status ${state}`; };
}

function describe(command) {
  const why = command.reason || (command.last_error && command.last_error.message) || "";
  return `${command.status}${why ? ` — ${why}` : ""}`;
}

// Returns the Command as last seen (its status may still be running after the follow window).
export async function sendCommand(kind, payload = {}, { key = newKey(), label } = {}) {
  const show = logLine(label || kind.replaceAll("_", " ").toLowerCase());
  try {
    const filed = await api("/api/commands", {
      method: "POST",
      body: { kind, payload },
      headers: { "Idempotency-Key": key },
    });
    show(WAITING[filed.status] || filed.status, "pending");
    const deadline = Date.now() + FOLLOW_MS;
    let command = filed;
    while (!FINISHED.has(command.status) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      command = await api(filed.status_url);
      show(WAITING[command.status] || command.status, "pending");
    }
    if (FINISHED.has(command.status)) {
      show(describe(command), OK.has(command.status) ? "ok" : "bad");
    } else {
      show(`${WAITING[command.status] || command.status} (still waiting)`, "pending");
    }
    for (const listener of listeners) listener(kind, command);
    return command;
  } catch (error) {
    show(error instanceof ApiError ? error.message : "could not be sent", "bad");
    throw error;
  }
}
