// The audit log: filters, pages by next_cursor, the integrity check, export links that
// carry the same filters.
import { api } from "./api.js";
import { clear, element, showText } from "./dom.js";
import { errorText, formatTime, labelOr, localToIso, t } from "./i18n.js";

const form = document.getElementById("audit-filters");
const rows = document.getElementById("audit-rows");
const more = document.getElementById("audit-more");
const empty = document.getElementById("audit-empty");
const errorBox = document.getElementById("audit-error");
let cursor = null;

function filters() {
  const data = new FormData(form);
  const params = new URLSearchParams();
  for (const name of ["actor", "case_id", "action", "outcome"]) {
    const value = String(data.get(name) || "").trim();
    if (value) params.set(name, value);
  }
  for (const name of ["since", "until"]) {
    const value = String(data.get(name) || "");
    if (value) params.set(name, localToIso(value));
  }
  return params;
}

function row(entry) {
  const tr = element("tr", { attrs: { "data-testid": "audit-row", "data-action": entry.action, "data-outcome": entry.outcome } });
  const who = entry.actor.username
    ? `${entry.actor.username}${entry.actor.role ? ` (${labelOr(`role.${entry.actor.role}`, entry.actor.role)})` : ""}`
    : "—";
  tr.append(
    element("td", { text: entry.seq }),
    element("td", { text: formatTime(entry.at) }),
    element("td", { text: who }),
    element("td", { text: entry.address ?? "—" }),
    element("td", { text: labelOr(`action.${entry.action}`, entry.action), attrs: { title: entry.action } }),
    element("td", { text: entry.case_id ?? "—" }),
    element("td", { text: entry.object_id ?? "—" }),
    element("td", { text: t(`outcome.${entry.outcome}`), className: `outcome-${entry.outcome}` }),
  );
  return tr;
}

async function load(append = false) {
  errorBox.hidden = true;
  const params = filters();
  params.set("limit", "50");
  if (append && cursor) params.set("cursor", cursor);
  try {
    const page = await api(`/api/v1/audit?${params}`);
    if (!append) clear(rows);
    for (const entry of page.items) rows.append(row(entry));
    cursor = page.next_cursor;
    more.hidden = cursor === null;
    empty.hidden = rows.children.length > 0;
  } catch (error) {
    showText(errorBox, errorText(error));
  }
  const exportParams = filters().toString();
  const suffix = exportParams ? `?${exportParams}` : "";
  document.getElementById("export-csv").href = `/api/v1/audit/export.csv${suffix}`;
  document.getElementById("export-ndjson").href = `/api/v1/audit/export.ndjson${suffix}`;
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  load();
});
form.addEventListener("reset", () => setTimeout(() => load(), 0));
more.addEventListener("click", () => load(true));

document.getElementById("verify").addEventListener("click", async () => {
  const box = document.getElementById("verify-result");
  box.hidden = false;
  box.className = "verify";
  box.textContent = t("verify.running");
  try {
    const result = await api("/api/v1/audit/verify");
    box.dataset.ok = String(result.ok);
    box.classList.add(result.ok ? "verify-ok" : "verify-bad");
    box.textContent = result.ok
      ? t("verify.ok", { rows: result.rows })
      : t("verify.bad", { rows: result.rows, seq: result.first_bad_seq ?? "—", reason: result.reason ?? "" });
  } catch (error) {
    box.classList.add("verify-bad");
    box.textContent = errorText(error);
  }
});

// The action filter suggests every action by its code, with what it means beside it.
for (const option of document.querySelectorAll("#known-actions option")) {
  option.label = labelOr(`action.${option.value}`, option.value);
}

const params = new URLSearchParams(window.location.search);
for (const name of ["actor", "case_id", "action", "outcome"]) {
  if (params.has(name)) form.elements[name].value = params.get(name);
}
load();
