// Light or dark: the user's choice (remembered) or else the system's; charts follow via an event.
const KEY = "ae.theme";
const darkQuery = window.matchMedia("(prefers-color-scheme: dark)");

function chosen() {
  try {
    const value = localStorage.getItem(KEY);
    return value === "dark" || value === "light" ? value : null;
  } catch {
    return null;
  }
}

export function currentTheme() {
  return chosen() || (darkQuery.matches ? "dark" : "light");
}

function announce() {
  document.dispatchEvent(new CustomEvent("themechange", { detail: currentTheme() }));
}

function show(button) {
  const dark = currentTheme() === "dark";
  button.textContent = dark ? "Light" : "Dark";
  button.setAttribute("aria-pressed", String(dark));
  button.title = dark ? "Switch to the light theme" : "Switch to the dark theme";
}

export function bindThemeToggle(button) {
  show(button);
  button.addEventListener("click", () => {
    const next = currentTheme() === "dark" ? "light" : "dark";
    document.documentElement.dataset.theme = next;
    try { localStorage.setItem(KEY, next); } catch { /* not remembered, still applied */ }
    show(button);
    announce();
  });
  darkQuery.addEventListener("change", () => {
    if (chosen()) return;
    show(button);
    announce();
  });
}

// A colour of the current theme, as the stylesheet defines it.
export function themeColor(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}
