// The new-request form: numbered questions to add and remove, then the attachments
// uploaded with a progress bar once the case exists.
import { api } from "./api.js";
import { errorText, t } from "./i18n.js";
import { identityFrom } from "./identity.js";
import { uploadFiles } from "./upload.js";

const form = document.getElementById("case-form");
const list = document.getElementById("questions");
const template = document.getElementById("question-template");
const errorBox = document.getElementById("form-error");
const MAX_QUESTIONS = 20;

function renumber() {
  const items = [...list.children];
  items.forEach((item, index) => {
    const id = `question-${index + 1}`;
    const label = item.querySelector(".question-label");
    const text = item.querySelector(".question-text");
    label.textContent = t("question.label", { n: index + 1 });
    label.htmlFor = id;
    text.id = id;
    const remove = item.querySelector(".remove-question");
    remove.setAttribute("aria-label", t("question.remove", { n: index + 1 }));
    remove.hidden = items.length === 1;
  });
  document.getElementById("add-question").disabled = items.length >= MAX_QUESTIONS;
}

function addQuestion(focus = true) {
  const item = template.content.firstElementChild.cloneNode(true);
  item.querySelector(".remove-question").addEventListener("click", () => {
    item.remove();
    renumber();
    list.querySelector(".question-text")?.focus();
  });
  list.append(item);
  renumber();
  if (focus) item.querySelector(".question-text").focus();
}

document.getElementById("add-question").addEventListener("click", () => addQuestion());
addQuestion(false);

function showError(text) {
  errorBox.textContent = text;
  errorBox.hidden = false;
}

// The identity when any of its fields is filled in (optional, stored sealed).
function identityPart() {
  const identity = identityFrom(form);
  return Object.keys(identity).length ? { identity } : {};
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  errorBox.hidden = true;
  if (!form.reportValidity()) return;
  const data = new FormData(form);
  const questions = [...list.querySelectorAll(".question-text")]
    .map((q) => q.value.trim())
    .filter(Boolean);
  const submit = form.querySelector("button[type=submit]");
  submit.disabled = true;
  let created;
  try {
    created = await api("/api/v1/cases", {
      method: "POST",
      body: {
        council: data.get("council"),
        patient_code: String(data.get("patient_code")).trim(),
        patient_sex: data.get("patient_sex"),
        patient_birth_year: Number(data.get("patient_birth_year")),
        title: data.get("title"),
        summary: data.get("summary"),
        questions,
        specialty: data.get("specialty"),
        urgency: data.get("urgency"),
        ...identityPart(),
      },
    });
  } catch (error) {
    const fields = (error.data.fields || []).map((f) => f.field).join(", ");
    showError(fields ? `${errorText(error)} (${fields})` : errorText(error));
    submit.disabled = false;
    return;
  }
  const files = document.getElementById("files").files;
  const failures = await uploadFiles(created.id, files, document.getElementById("uploads"));
  const open = document.getElementById("open-created");
  open.href = `/cases/${Number(created.id)}`;
  if (failures === 0) {
    window.location.assign(open.href);
    return;
  }
  showError(t("upload.some_failed"));
  open.hidden = false;
});
