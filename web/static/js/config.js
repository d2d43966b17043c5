// The runtime config: the editor (saved with the version it was read at), the history of
// versions with who and when, a diff between any two, and a rollback to an earlier one.
import { api, ApiError } from "./api.js";
import { confirmAction } from "./confirm.js";
import { diffConfigs, show } from "./diff.js";
import { clock, el } from "./format.js";
import { fillTable } from "./table.js";

const $ = (id) => document.getElementById(id);
let version = null;
let history = [];

function status(text, state = "muted") {
  const node = $("config-status");
  node.textContent = text;
  node.className = state;
}

// A stored config that cannot load stops the bot from trading: said on every section.
function showLoadError(current) {
  const message = current.error
    ? `The stored config (version ${current.version}) cannot be loaded, so the bot refuses to trade: ${current.error}`
    : "";
  for (const id of ["config-error", "config-banner"]) $(id).hidden = !message;
  $("config-error").textContent = message;
  $("config-banner-text").textContent = message ? `Config version ${current.version} cannot be loaded: the bot refuses to trade.` : "";
}

export async function checkConfig() {
  showLoadError(await api("/api/config"));
}

async function load() {
  const current = await api("/api/config");
  version = current.version;
  $("config-editor").value = JSON.stringify(current.config, null, 2);
  $("config-version").textContent = `version ${version}`;
  $("config-meta").textContent = current.updated_at
    ? `saved ${clock(current.updated_at)} UTC${current.updated_by ? ` by ${current.updated_by}` : ""}` : "";
  showLoadError(current);
  status("");
}

function changeText(item) {
  if (item.change === "RolledBack") return `rolled back to v${item.rolled_back_to}`;
  return item.change === "Created" ? "created" : "changed";
}

function historyColumns(latest) {
  return [
    { label: "Version", cell: (v) => `v${v.version}`, className: "num" },
    { label: "Change", cell: changeText },
    { label: "By", cell: (v) => v.by || "—" },
    { label: "At (UTC)", cell: (v) => clock(v.at), className: "num" },
    { label: "Changed keys", cell: (v) => changedKeys(v), className: "wrap" },
    {
      label: "",
      cell: (v) => {
        if (v.version === latest) return el("span", "current", "tag");
        const button = el("button", `Roll back to v${v.version}`, "secondary small");
        button.type = "button";
        button.dataset.rollback = String(v.version);
        button.addEventListener("click", () => rollBack(v));
        return button;
      },
    },
  ];
}

function previousOf(item) {
  return history.find((h) => h.version < item.version) || null;
}

function changedKeys(item) {
  const before = previousOf(item);
  if (!before) return "—";
  const changes = diffConfigs(before.config, item.config);
  return changes.length ? changes.map((c) => c.path).join(", ") : "no change";
}

function versionOptions(select, chosen) {
  select.replaceChildren(...history.map((h) => {
    const option = el("option", `v${h.version} · ${h.by || "—"} · ${clock(h.at)} · ${changeText(h)}`);
    option.value = String(h.version);
    option.selected = h.version === chosen;
    return option;
  }));
}

export function diffList(changes) {
  const list = el("ul", null, "diff");
  for (const change of changes) {
    const item = el("li");
    item.dataset.path = change.path;
    item.append(
      el("span", change.path, "path"), el("span", ": "),
      el("span", show(change.before), "old"), el("span", "->", "arrow"),
      el("span", show(change.after), "new"),
    );
    list.append(item);
  }
  return list;
}

function renderDiff() {
  const from = history.find((h) => String(h.version) === $("diff-from").value);
  const to = history.find((h) => String(h.version) === $("diff-to").value);
  if (!from || !to) { $("diff-summary").textContent = "Two versions are needed to compare."; return; }
  const changes = diffConfigs(from.config, to.config);
  $("diff-summary").textContent = changes.length
    ? `${changes.length} change${changes.length === 1 ? "" : "s"} from v${from.version} to v${to.version}`
    : `v${from.version} and v${to.version} are the same`;
  $("config-diff").replaceChildren(...diffList(changes).children);
}

async function loadHistory() {
  const page = await api("/api/config/history");
  history = [...page.items].sort((a, b) => b.version - a.version);
  const latest = history.length ? history[0].version : null;
  fillTable($("config-history"), historyColumns(latest), history, { empty: "No versions yet" });
  versionOptions($("diff-to"), latest);
  versionOptions($("diff-from"), history.length > 1 ? history[1].version : latest);
  renderDiff();
}

async function rollBack(target) {
  const latest = history[0];
  const changes = diffConfigs(latest.config, target.config);
  const body = { version: latest.version, to_version: target.version };
  const confirmed = await confirmAction({
    title: `Roll the config back to v${target.version}?`,
    lines: [
      ["Now", `v${latest.version} (${changeText(latest)} by ${latest.by || "—"})`],
      ["Becomes", `v${latest.version + 1}, the body of v${target.version}`],
      ["Changes", changes.length ? `${changes.length}` : "none"],
    ],
    extra: diffList(changes),
    sent: body,
    sentTitle: "POST /api/config/rollback",
    confirmLabel: `Roll back to v${target.version}`,
    danger: true,
  });
  if (!confirmed) return;
  try {
    const saved = await api("/api/config/rollback", { method: "POST", body });
    await refreshConfig();
    status(`Rolled back: now version ${saved.version}.`, "pos");
  } catch (error) {
    if (error instanceof ApiError && error.status === 409) {
      status("Someone changed the config meanwhile. Look at the history again, then retry.", "neg");
      await refreshConfig().catch(() => {});
    } else {
      status(error instanceof ApiError ? error.message : "Could not roll back.", "neg");
    }
  }
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
    await refreshConfig();
    status(`Saved as version ${saved.version}.`, "pos");
  } catch (error) {
    if (error instanceof ApiError && error.status === 409) {
      status("Someone else changed the config meanwhile. Reload, then apply your change again.", "neg");
    } else {
      status(error instanceof ApiError ? error.message : "Could not save.", "neg");
    }
  }
}

export async function refreshConfig() {
  await Promise.all([load(), loadHistory()]);
}

export function bindConfigEditor() {
  $("config-save").addEventListener("click", save);
  $("config-reload").addEventListener("click", () => refreshConfig().catch(() => status("Could not load.", "neg")));
  $("diff-from").addEventListener("change", renderDiff);
  $("diff-to").addEventListener("change", renderDiff);
}
