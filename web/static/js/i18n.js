// The browser's strings: a JSON catalog per language (web/static/i18n/<lang>.json), keyed
// by message names, chosen by the page's <html lang>. Formatting of times and durations.

export const lang = document.documentElement.lang === "en" ? "en" : "vi";
export const locale = lang === "vi" ? "vi-VN" : "en-GB";

const response = await fetch(`/static/i18n/${lang}.json`, { credentials: "same-origin" });
const catalog = response.ok ? await response.json() : {};

export function t(key, params = {}) {
  const text = catalog[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (match, name) =>
    name in params && params[name] !== null && params[name] !== undefined
      ? String(params[name])
      : match,
  );
}

// The catalog's text for ``key``, or ``fallback`` when it has none (a code the page may
// meet before its catalog knows it, such as a new audit action).
export function labelOr(key, fallback) {
  const text = t(key);
  return text === key ? fallback : text;
}

export function errorText(error) {
  const key = `error.${error?.code || "error"}`;
  const text = t(key);
  return text === key ? t("error.generic") : text;
}

// A refusal as the user reads it: each field problem the server names with a code that has
// a text here (e.g. problem.password_common), else the error's general text.
export function problemText(error) {
  const known = (error?.data?.fields || [])
    .map((problem) => {
      if (!problem.code) return null;
      const key = `problem.${problem.code}`;
      const text = t(key, problem);
      return text === key ? null : text;
    })
    .filter(Boolean);
  return known.length ? known.join(" ") : errorText(error);
}

const numberFormat = new Intl.NumberFormat(locale);
const percentFormat = new Intl.NumberFormat(locale, { style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 1 });

export function formatNumber(value) {
  return value === null || value === undefined ? "—" : numberFormat.format(value);
}

// A share (0..1) as the language writes it: "66,7 %" in Vietnamese, "66.7%" in English.
export function formatPercent(share) {
  return share === null || share === undefined ? "—" : percentFormat.format(share);
}

const timeFormat = new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "short" });

export function formatTime(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? "—" : timeFormat.format(date);
}

const dateFormat = new Intl.DateTimeFormat(locale, { day: "2-digit", month: "2-digit", year: "numeric", timeZone: "UTC" });

// A calendar date ("1958-03-14") as the language writes it, whatever the browser's zone.
export function formatDate(isoDate) {
  const date = new Date(`${isoDate}T00:00:00Z`);
  return Number.isNaN(date.getTime()) ? "—" : dateFormat.format(date);
}

export function formatDuration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "—";
  const total = Math.max(0, Math.round(seconds / 60));
  const days = Math.floor(total / 1440);
  const hours = Math.floor((total % 1440) / 60);
  const minutes = total % 60;
  const parts = [];
  if (days) parts.push(t("duration.days", { n: days }));
  if (hours) parts.push(t("duration.hours", { n: hours }));
  if (!days && (minutes || !hours)) parts.push(t("duration.minutes", { n: minutes }));
  return parts.join(" ");
}

// A datetime-local value ("2026-01-02T09:00") as ISO 8601 with the browser's offset then.
export function localToIso(value) {
  if (!value) return "";
  const date = new Date(value);
  const offset = -date.getTimezoneOffset();
  const sign = offset >= 0 ? "+" : "-";
  const pad = (n) => String(Math.floor(Math.abs(n))).padStart(2, "0");
  const withSeconds = value.length === 16 ? `${value}:00` : value;
  return `${withSeconds}${sign}${pad(offset / 60)}:${pad(offset % 60)}`;
}
