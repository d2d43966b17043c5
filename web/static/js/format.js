// Numbers arrive as decimal strings; they are shown as given (trimmed), never through floats.
// Times arrive as ISO-8601 UTC in exchange time and are shown in UTC, never in the browser's zone.
export const TIME_ZONE_LABEL = "UTC, exchange time";

export function money(value, digits = 2) {
  if (value === null || value === undefined || value === "") return "—";
  const [whole, fraction = ""] = String(value).split(".");
  const padded = (fraction + "0".repeat(digits)).slice(0, digits);
  const sign = whole.startsWith("-") ? "-" : "";
  const grouped = whole.replace("-", "").replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return digits > 0 ? `${sign}${grouped}.${padded}` : `${sign}${grouped}`;
}

// A profit or loss: signed, so a gain reads "+12.30".
export function pnl(value, digits = 2) {
  const text = money(value, digits);
  return text !== "—" && signClass(value) === "pos" ? `+${text}` : text;
}

// A price keeps every digit it has (at least two): ticks finer than a cent stay visible.
export function price(value) {
  if (value === null || value === undefined || value === "") return "—";
  const fraction = (String(value).split(".")[1] || "").replace(/0+$/, "");
  return money(value, Math.max(2, fraction.length));
}

export function quantity(value) {
  if (value === null || value === undefined || value === "") return "—";
  const text = String(value);
  return text.includes(".") ? text.replace(/0+$/, "").replace(/\.$/, "") : text;
}

export function isZero(value) {
  return value === null || value === undefined || !/[1-9]/.test(String(value));
}

export function signClass(value) {
  if (value === null || value === undefined) return "";
  const text = String(value);
  if (!/[1-9]/.test(text)) return "";
  return text.startsWith("-") ? "neg" : "pos";
}

// A ratio given as a decimal string or number (0.5) shown as a percentage ("50.0 %").
export function percent(value) {
  if (value === null || value === undefined || value === "") return "—";
  const number = Number(value);
  return Number.isFinite(number) ? `${(number * 100).toFixed(1)} %` : "—";
}

export function ratio(value, digits = 2) {
  if (value === null || value === undefined || value === "") return "—";
  const number = Number(value);
  if (number === Infinity || String(value).toLowerCase() === "infinity") return "∞";
  return Number.isFinite(number) ? number.toFixed(digits) : "—";
}

// "2026-01-05T12:00:00.123Z" → "2026-01-05 12:00:00" (UTC as given, no conversion).
export function clock(iso) {
  if (!iso) return "—";
  const text = String(iso);
  const utc = /Z$|[+-]00:?00$/.test(text) ? text : new Date(text).toISOString();
  return utc.replace("T", " ").replace(/\.\d+/, "").replace(/(Z|[+-]00:?00)$/, "");
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined || seconds === "") return "—";
  let rest = Math.round(Number(seconds));
  if (!Number.isFinite(rest)) return "—";
  if (rest < 60) return `${rest} s`;
  const parts = [];
  for (const [unit, size] of [["d", 86400], ["h", 3600], ["min", 60], ["s", 1]]) {
    const count = Math.floor(rest / size);
    rest -= count * size;
    if (count) parts.push(`${count} ${unit}`);
    if (parts.length === 2) break;
  }
  return parts.join(" ");
}

export function age(seconds) {
  if (seconds === null || seconds === undefined) return "never";
  if (seconds < 60) return `${Math.round(seconds)} s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  return `${Math.round(seconds / 3600)} h ago`;
}

export function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

export function row(cells) {
  const tr = document.createElement("tr");
  for (const cell of cells) {
    const td = document.createElement("td");
    if (cell instanceof Node) td.append(cell); else td.textContent = cell;
    tr.append(td);
  }
  return tr;
}

export function sideTag(side) {
  return el("span", side, `side-${String(side || "").toLowerCase()}`);
}

export function amount(value, format = money) {
  return el("span", format(value), signClass(value));
}
