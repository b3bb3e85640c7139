// What the administration pages share: loading lists from /api/v1/admin, explaining a
// refusal field by field in the user's language, and small form helpers.
import { api } from "./api.js";
import { element } from "./dom.js";
import { problemText } from "./i18n.js";

export const ADMIN = "/api/v1/admin";

export async function items(path) {
  return (await api(`${ADMIN}/${path}`)).items;
}

export function showRefusal(box, error) {
  box.textContent = error ? problemText(error) : "";
  box.hidden = !error;
}

export function formValues(form) {
  const values = {};
  for (const [name, value] of new FormData(form)) values[name] = String(value).trim();
  return values;
}

export function fillSelect(select, options, { empty } = {}) {
  const chosen = select.value;
  while (select.options.length) select.remove(0);
  if (empty !== undefined) select.append(new Option(empty, ""));
  for (const { value, label } of options) select.append(new Option(label, value));
  if ([...select.options].some((option) => option.value === chosen)) select.value = chosen;
}

export function facilityOptions(facilities) {
  return facilities.map((f) => ({ value: f.code, label: `${f.name} (${f.code})` }));
}

export function smallButton(text, testid, { danger = false } = {}) {
  return element("button", {
    text,
    className: danger ? "danger small" : "secondary small",
    attrs: { type: "button", "data-testid": testid },
  });
}

// Says what was done, in the page's status line.
export function announce(text) {
  const box = document.getElementById("admin-status");
  box.textContent = text;
}
