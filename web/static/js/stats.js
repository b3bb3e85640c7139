// The statistics page: figures from GET /api/v1/stats drawn as SVG bar charts.
import { api } from "./api.js";
import { barChart, shareBar } from "./charts.js";
import { clear, element, showText } from "./dom.js";
import { errorText, formatDuration, formatNumber, formatPercent, locale, t } from "./i18n.js";

const form = document.getElementById("stats-filters");
const errorBox = document.getElementById("stats-error");

function monthLabel(month) {
  const [year, number] = month.split("-").map(Number);
  return new Intl.DateTimeFormat(locale, { month: "short", year: "numeric" }).format(
    new Date(year, number - 1, 1),
  );
}

function nextDay(value) {
  const date = new Date(`${value}T00:00:00`);
  date.setDate(date.getDate() + 1);
  return date.toISOString();
}

// "median / 90th percentile (count)" of one duration figure.
function durations(figure) {
  if (!figure.count) return "—";
  const median = formatDuration(figure.median_seconds);
  return `${median} / ${formatDuration(figure.p90_seconds)} (${formatNumber(figure.count)})`;
}

function perModeRows(rows) {
  const body = document.getElementById("per-mode-rows");
  clear(body);
  for (const row of rows) {
    const tr = element("tr", { attrs: { "data-testid": "per-mode-row", "data-mode": row.mode, "data-urgency": row.urgency } });
    tr.append(
      element("td", { text: t(`mode.${row.mode}`) }),
      element("td", { text: t(`urgency.${row.urgency}`) }),
      element("td", { text: formatNumber(row.cases) }),
      element("td", { text: durations(row.first_answer), attrs: { "data-testid": "per-mode-first-answer" } }),
      element("td", { text: durations(row.decision), attrs: { "data-testid": "per-mode-decision" } }),
    );
    body.append(tr);
  }
}

async function load() {
  errorBox.hidden = true;
  const data = new FormData(form);
  const params = new URLSearchParams();
  if (data.get("since")) params.set("since", new Date(`${data.get("since")}T00:00:00`).toISOString());
  if (data.get("until")) params.set("until", nextDay(data.get("until")));
  let stats;
  try {
    stats = await api(`/api/v1/stats?${params}`);
  } catch (error) {
    showText(errorBox, errorText(error));
    return;
  }
  document.getElementById("stats-total").textContent = t("stats.total", { n: formatNumber(stats.requests) });
  barChart(
    document.getElementById("chart-facility"),
    stats.per_facility.map((row) => ({
      label: row.facility.name,
      values: [{ value: row.requests, text: formatNumber(row.requests) }],
    })),
    { title: t("stats.per_facility") },
  );
  barChart(
    document.getElementById("chart-month"),
    stats.per_month.map((row) => ({
      label: monthLabel(row.month),
      values: [{ value: row.requests, text: formatNumber(row.requests) }],
    })),
    { title: t("stats.per_month"), labelWidth: 140 },
  );
  barChart(
    document.getElementById("chart-decision"),
    stats.time_to_decision.map((row) => ({
      label: `${t(`urgency.${row.urgency}`)} (${t("stats.decided", { n: formatNumber(row.decided) })})`,
      values: [
        { value: (row.median_seconds ?? 0) / 3600, text: `${t("stats.median")} ${formatDuration(row.median_seconds)}`, className: "median" },
        { value: (row.p90_seconds ?? 0) / 3600, text: `${t("stats.p90")} ${formatDuration(row.p90_seconds)}`, className: "p90" },
      ],
    })),
    { title: t("stats.time_to_decision"), labelWidth: 240 },
  );
  perModeRows(stats.per_mode);
  const transfer = stats.transfer;
  const share = transfer.share_without_transfer;
  shareBar(document.getElementById("chart-transfer"), share, {
    title: t("stats.without_transfer"),
    text: formatPercent(share),
  });
  const caption = document.getElementById("chart-transfer");
  caption.append(
    element("p", {
      className: "hint",
      text: t("stats.without_transfer_detail", {
        kept: formatNumber(transfer.without_transfer),
        decided: formatNumber(transfer.decided),
      }),
      attrs: { "data-testid": "transfer-detail" },
    }),
  );
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  load();
});
load();
