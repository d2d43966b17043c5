// The runtime-config editor: JSON in a textarea, saved with the version it was read at.
import { api, ApiError } from "./api.js";

const $ = (id) => document.getElementById(id);
let version = null;

function status(text, state = "") {
  const node = $("config-status");
  node.textContent = text;
  node.className = state;
}

async function load() {
  const current = await api("/api/config");
  version = current.version;
  $("config-editor").value = JSON.stringify(current.config, null, 2);
  $("config-version").textContent = `version ${version}`;
  status(current.updated_by ? `last saved by ${current.updated_by}` : "", "muted");
}

async function save() {
  let config;
  try {
    config = JSON.parse($("config-editor").value);
  } catch (error) {
    status(`Not valid JSON: ${error.message}`, "neg");
    return;
  }
  try {
    const saved = await api("/api/config", { method: "PUT", body: { version, config } });
    version = saved.version;
    $("config-version").textContent = `version ${version}`;
    status("Saved.", "pos");
  } catch (error) {
    if (error instanceof ApiError && error.status === 409) {
      status("Someone else changed the config meanwhile. Reload, then apply your change again.", "neg");
    } else {
      status(error instanceof ApiError ? error.message : "Could not save.", "neg");
    }
  }
}

export function bindConfigEditor() {
  $("config-save").addEventListener("click", save);
  $("config-reload").addEventListener("click", () => load().catch(() => status("Could not load.", "neg")));
  load().catch(() => status("Could not load the config.", "neg"));
}
