// One confirmation dialog for every action that changes trading state: it names the action,
// lists what matters in words, and shows the exact request that will be sent.
import { el } from "./format.js";

const $ = (id) => document.getElementById(id);

// lines: [[label, value | Node]]; sent: the request body (shown as JSON); extra: a Node.
export function confirmAction({
  title, lines = [], sent = null, sentTitle = "Will send", extra = null,
  confirmLabel = "Confirm", danger = false,
}) {
  const dialog = $("confirm");
  $("confirm-title").textContent = title;
  $("confirm-lines").replaceChildren(...lines.flatMap(([label, value]) => {
    const dd = el("dd");
    if (value instanceof Node) dd.append(value); else dd.textContent = String(value);
    return [el("dt", label), dd];
  }));
  $("confirm-extra").replaceChildren(...(extra ? [extra] : []));
  $("confirm-sent-box").hidden = sent === null;
  $("confirm-sent-title").textContent = sentTitle;
  $("confirm-sent").textContent = sent === null ? "" : JSON.stringify(sent, null, 2);
  const ok = $("confirm-ok");
  ok.textContent = confirmLabel;
  ok.className = danger ? "danger" : "";
  dialog.returnValue = "";
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.showModal();
    $("confirm-cancel").focus();
  });
}
