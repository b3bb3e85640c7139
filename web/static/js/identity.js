// Who the patient is, on the case page: shown to the case's participants only when they
// ask (the server audits every read), edited by the requesting doctors while the case is
// open. Every value goes in as text.
import { api } from "./api.js";
import { $, clear, element, showText } from "./dom.js";
import { formatDate, problemText, t } from "./i18n.js";

const FIELDS = ["full_name", "date_of_birth", "national_id", "health_insurance_number", "hospital_record_number"];

// The fields the form holds, without the empty ones (the API clears what is left out).
export function identityFrom(form) {
  const data = new FormData(form);
  const identity = {};
  for (const name of FIELDS) {
    const value = String(data.get(name) ?? "").trim();
    if (value) identity[name] = value;
  }
  return identity;
}

export class IdentityPanel {
  constructor(caseId, role) {
    this.path = `/api/v1/cases/${caseId}/identity`;
    this.shown = null; // the last answer, once the reader asked for it
    // Participants only: to anyone else the server answers as for a missing case.
    $("identity").hidden = !["district_doctor", "council_member"].includes(role);
    $("identity-show").addEventListener("click", () => this.reveal());
    $("identity-edit").addEventListener("click", () => this.edit());
    $("identity-cancel").addEventListener("click", () => this.render());
    $("identity-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.save();
    });
  }

  // A change by someone else: a reader who is looking sees the new identity.
  onEvent(event) {
    if (event.type === "case.identity_updated" && this.shown && $("identity-form").hidden) this.reveal();
  }

  async reveal() {
    await this.ask(() => api(this.path));
  }

  async save() {
    const form = $("identity-form");
    if (!form.reportValidity()) return;
    await this.ask(() => api(this.path, { method: "PUT", body: identityFrom(form) }));
  }

  async ask(request) {
    $("identity-error").hidden = true;
    try {
      this.shown = await request();
    } catch (error) {
      showText($("identity-error"), problemText(error));
      return;
    }
    this.render();
  }

  render() {
    const identity = this.shown?.identity ?? null;
    const facts = $("identity-facts");
    clear(facts);
    for (const name of FIELDS) {
      if (!identity?.[name]) continue;
      const value = name === "date_of_birth" ? formatDate(identity[name]) : identity[name];
      facts.append(element("dt", { text: t(`identity.${name}`) }), element("dd", { text: value, attrs: { "data-field": name } }));
    }
    $("identity-show").hidden = this.shown !== null;
    facts.hidden = identity === null;
    $("identity-none").hidden = this.shown === null || identity !== null;
    $("identity-edit").hidden = !this.shown?.editable;
    $("identity-form").hidden = true;
  }

  edit() {
    const form = $("identity-form");
    const identity = this.shown?.identity ?? {};
    for (const name of FIELDS) form.elements[name].value = identity[name] ?? "";
    form.hidden = false;
    $("identity-edit").hidden = true;
    form.elements.full_name.focus();
  }
}
