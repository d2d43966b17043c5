// Tables built from column definitions. Each cell carries its column's name (data-label), so on
// a phone a row can be shown as a card of "name: value" lines without a second template.
import { el } from "./format.js";

// columns: [{ label, cell: (item) => string | Node, className? }]
export function fillTable(table, columns, items, { empty = "Nothing yet", rowClass, append = false } = {}) {
  if (!table.tHead) {
    const head = table.createTHead().insertRow();
    for (const column of columns) {
      const th = document.createElement("th");
      th.textContent = column.label;
      th.scope = "col";
      head.append(th);
    }
  }
  const body = table.tBodies[0] || table.createTBody();
  if (!append) body.replaceChildren();
  body.querySelector(".empty")?.remove();
  for (const item of items) body.append(tableRow(columns, item, rowClass));
  if (!body.rows.length) {
    const tr = el("tr", null, "empty");
    const td = el("td", empty);
    td.colSpan = columns.length;
    tr.append(td);
    body.append(tr);
  }
}

function tableRow(columns, item, rowClass) {
  const tr = document.createElement("tr");
  const extra = rowClass ? rowClass(item) : "";
  if (extra) tr.className = extra;
  for (const column of columns) {
    const td = document.createElement("td");
    td.dataset.label = column.label;
    if (column.className) td.className = column.className;
    const value = column.cell(item);
    if (value instanceof Node) td.append(value);
    else td.textContent = value === null || value === undefined ? "—" : String(value);
    tr.append(td);
  }
  return tr;
}
