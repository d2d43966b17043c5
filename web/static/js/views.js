// Sections of the page chosen by the URL hash ("#orders", "#travel?event=42"), so every section
// can be linked to, and the back button moves between them.
const views = new Map();
let current = null;

export function registerView(name, onShow) {
  views.set(name, onShow);
}

export function currentView() {
  return current;
}

function parse(hash) {
  const text = hash.replace(/^#/, "");
  const [name, query = ""] = text.split("?");
  return { name: views.has(name) ? name : "desk", params: new URLSearchParams(query) };
}

function show() {
  const { name, params } = parse(window.location.hash);
  current = name;
  for (const panel of document.querySelectorAll("[data-view-panel]")) {
    panel.hidden = panel.dataset.viewPanel !== name;
  }
  for (const link of document.querySelectorAll("[data-view]")) {
    if (link.dataset.view === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const onShow = views.get(name);
  if (onShow) onShow(params);
}

export function startViews() {
  window.addEventListener("hashchange", show);
  show();
}
