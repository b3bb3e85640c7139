// Guest specialists from the case room: the chair or secretary invites one (name,
// specialty, how long the link works), copies the link (shown once: the server keeps only
// its hash), sees who is invited and revokes an invitation. Every value goes in as text.
import { api } from "./api.js";
import { confirmAction } from "./confirm.js";
import { $, clear, element, showText } from "./dom.js";
import { formatTime, problemText, t } from "./i18n.js";

// Events after which the list may read differently.
const CHANGES = new Set(["guest.invited", "guest.revoked", "call.join"]);

export class GuestPanel {
  constructor(caseId) {
    this.path = `/api/v1/cases/${caseId}/invites`;
    this.shown = false;
    $("guest-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.invite();
    });
    $("guest-copy").addEventListener("click", () => this.copy());
  }

  // Offered to whom the server allows it now (allowed_actions: invite_guest).
  render(allowed) {
    const show = allowed.has("invite_guest");
    $("guests-card").hidden = !show;
    if (show && !this.shown) this.load();
    this.shown = show;
  }

  onEvent(event) {
    if (this.shown && CHANGES.has(event.type)) this.load();
  }

  async load() {
    await this.ask(async () => this.list((await api(this.path)).items));
  }

  async invite() {
    const form = $("guest-form");
    if (!form.reportValidity()) return;
    const body = {
      name: form.elements.name.value.trim(),
      specialty: form.elements.specialty.value.trim(),
      expires_in: Number(form.elements.expires_in.value),
    };
    await this.ask(async () => {
      const made = await api(this.path, { method: "POST", body });
      form.reset();
      $("guest-url").value = made.url;
      $("guest-copied").textContent = t("guest.expires", { at: formatTime(made.expires_at) });
      $("guest-link").hidden = false;
      $("guest-url").select();
    });
  }

  async copy() {
    const input = $("guest-url");
    input.select();
    try {
      await navigator.clipboard.writeText(input.value);
      $("guest-copied").textContent = t("guest.copied");
    } catch {
      $("guest-copied").textContent = t("guest.copy_yourself");
    }
  }

  async revoke(invitation) {
    const sure = await confirmAction(t("confirm.revoke_guest", { name: invitation.name }), t("confirm.revoke_guest_yes"));
    if (!sure) return;
    await this.ask(async () => {
      await api(`${this.path}/${Number(invitation.id)}`, { method: "DELETE" });
      await this.load();
    });
  }

  async ask(work) {
    $("guest-error").hidden = true;
    try {
      await work();
    } catch (error) {
      showText($("guest-error"), problemText(error));
    }
  }

  list(items) {
    const list = $("guest-list");
    clear(list);
    for (const invitation of items) {
      const item = element("li", { attrs: { "data-testid": "guest", "data-state": invitation.state } });
      item.append(element("strong", { text: invitation.name }));
      if (invitation.specialty) item.append(` · ${invitation.specialty}`);
      const until = invitation.state === "pending" ? ` · ${t("guest.until", { at: formatTime(invitation.expires_at) })}` : "";
      item.append(element("span", { className: "meta", text: ` · ${t(`guest.state.${invitation.state}`)}${until}` }));
      if (invitation.state === "pending" || invitation.state === "used") {
        const revoke = element("button", {
          text: t("guest.revoke"),
          className: "danger small",
          attrs: { type: "button", "data-testid": "guest-revoke" },
        });
        revoke.addEventListener("click", () => this.revoke(invitation));
        item.append(" ", revoke);
      }
      list.append(item);
    }
    $("guests-empty").hidden = items.length > 0;
  }
}
