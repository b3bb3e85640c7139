// What the administration pages share: loading lists from /api/v1/admin, explaining a
// refusal field by field in the user's language, running a change, and small form helpers.
import { api } from "./api.js";
import { element, showText } from "./dom.js";
import { problemText } from "./i18n.js";

export const ADMIN = "/api/v1/admin";

export async function items(path) {
  return (await api(`${ADMIN}/${path}`)).items;
}

export function showRefusal(box, error) {
  showText(box, error ? problemText(error) : "");
}

// Runs one change (or load); a refusal is explained in `box`, which success clears.
export async function attempt(box, work) {
  try {
    await work();
    showRefusal(box, null);
  } catch (error) {
    showRefusal(box, error);
  }
}

// On submit, runs `work` with the form's trimmed values as one attempt.
export function onSubmit(form, box, work) {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    attempt(box, () => work(formValues(form)));
  });
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

for (const button of document.querySelectorAll("dialog [data-close]")) {
  button.addEventListener("click", () => button.closest("dialog").close());
}
