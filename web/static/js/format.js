// Numbers arrive as decimal strings; they are shown as given (trimmed), never through floats.
export function money(value, digits = 2) {
  if (value === null || value === undefined || value === "") return "—";
  const [whole, fraction = ""] = String(value).split(".");
  const padded = (fraction + "0".repeat(digits)).slice(0, digits);
  const sign = whole.startsWith("-") ? "-" : "";
  const grouped = whole.replace("-", "").replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return digits > 0 ? `${sign}${grouped}.${padded}` : `${sign}${grouped}`;
}

export function quantity(value) {
  if (value === null || value === undefined || value === "") return "—";
  const text = String(value);
  return text.includes(".") ? text.replace(/0+$/, "").replace(/\.$/, "") : text;
}

export function signClass(value) {
  if (value === null || value === undefined) return "";
  const text = String(value);
  if (text.startsWith("-")) return "neg";
  return /[1-9]/.test(text) ? "pos" : "";
}

export function clock(iso) {
  if (!iso) return "—";
  return iso.replace("T", " ").replace(/\.\d+/, "").replace("Z", "");
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
