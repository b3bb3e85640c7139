// The doctor's list of their facility's cases, or the council's queue: sorted by the
// server (urgency, then waiting time, or by date); waiting time coloured against its
// target. The form above it searches: words, status, urgency, request dates, order.
import { api } from "./api.js";
import { clear, element, showText } from "./dom.js";
import { formatDuration, formatTime, problemText, t } from "./i18n.js";
import { deadlineElement } from "./deadline.js";
import { WAITING_STATUSES, waitingLevel } from "./urgency.js";

const rows = document.getElementById("case-rows");
const empty = document.getElementById("cases-empty");
const emptyText = empty.textContent;
const more = document.getElementById("cases-more");
const form = document.getElementById("case-search");
const statusFilter = document.getElementById("filter-status");
const isDoctor = document.body.dataset.role === "district_doctor";
let items = [];
let cursor = null;

function waitingCell(item) {
  const cell = element("td", { className: "waiting" });
  if (!WAITING_STATUSES.has(item.status)) {
    cell.textContent = "—";
    return cell;
  }
  const seconds = (Date.now() - new Date(item.created_at).getTime()) / 1000;
  const level = waitingLevel(item.urgency, seconds);
  cell.classList.add(`wait-${level}`);
  cell.dataset.testid = "waiting";
  cell.dataset.level = level;
  const label = element("span", { text: formatDuration(seconds) });
  cell.append(label, element("span", { className: "wait-flag", text: t(`wait.${level}`) }));
  const deadline = deadlineElement(item.deadlines);
  if (deadline) cell.append(deadline);
  return cell;
}

// The status, and once accepted the way the council answers (written or live).
function statusText(item) {
  const status = t(`status.${item.status}`);
  return item.mode ? `${status} · ${t(`mode.${item.mode}`)}` : status;
}

function row(item) {
  const tr = element("tr", { attrs: { "data-testid": "case-row", "data-case-id": item.id } });
  const link = element("a", {
    text: t("case.number", { id: item.id }),
    attrs: { href: `/cases/${Number(item.id)}`, "data-testid": "case-link" },
  });
  const first = element("td");
  first.append(link);
  const urgency = element("td");
  urgency.append(
    element("span", {
      className: `badge urgency-${item.urgency}`,
      text: t(`urgency.${item.urgency}`),
    }),
  );
  const place = isDoctor ? item.council?.name : item.requesting_facility?.name;
  tr.append(
    first,
    element("td", { text: item.title ?? "—" }),
    element("td", { text: item.patient_code ?? "—" }),
    urgency,
    element("td", { text: statusText(item), attrs: { "data-testid": "case-row-status" } }),
    element("td", { text: place ?? "—" }),
    element("td", { text: formatTime(item.scheduled_at) }),
    waitingCell(item),
  );
  return tr;
}

function render() {
  clear(rows);
  for (const item of items) rows.append(row(item));
  empty.hidden = items.length > 0;
  more.hidden = cursor === null;
}

// A day picked in the form, as the instant its local midnight is (``days`` later).
function localMidnight(day, days = 0) {
  const date = new Date(`${day}T00:00`);
  date.setDate(date.getDate() + days);
  return date.toISOString();
}

function query() {
  const params = new URLSearchParams({ limit: "50" });
  const fields = new FormData(form);
  for (const name of ["q", "status", "urgency", "council", "facility"]) {
    const value = String(fields.get(name) ?? "").trim();
    if (value) params.set(name, value);
  }
  if (fields.get("from")) params.set("from", localMidnight(fields.get("from")));
  // The last day picked is included: the search ends at the next day's midnight.
  if (fields.get("to")) params.set("to", localMidnight(fields.get("to"), 1));
  if (fields.get("sort") !== "urgency") params.set("sort", fields.get("sort"));
  return params;
}

async function load(append = false) {
  const params = query();
  if (append && cursor) params.set("cursor", cursor);
  try {
    const page = await api(`/api/v1/cases?${params}`);
    items = append ? items.concat(page.items) : page.items;
    cursor = page.next_cursor;
    empty.textContent = emptyText;
    render();
  } catch (error) {
    items = [];
    cursor = null;
    render();
    showText(empty, problemText(error));
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  load();
});
// After the reset has put the fields back, list again.
form.addEventListener("reset", () => setTimeout(() => load()));
statusFilter.addEventListener("change", () => load());
more.addEventListener("click", () => load(true));
document.addEventListener("telemed:notify", () => load());
setInterval(render, 60_000);
load();
