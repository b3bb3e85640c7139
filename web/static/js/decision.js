// The decision panel: signed decisions, the open draft with the members' opinions,
// concur / dissent, and for the chair and secretary the draft editor (answers per
// question, optimistic versions: a 409 reloads the draft), signing and amending. Which of
// these the user sees is what the server allows them now (allowed_actions).
import { api } from "./api.js";
import { openDraft, signedDecisions } from "./board.js";
import { clear, element, showText } from "./dom.js";
import { errorText, formatTime, t } from "./i18n.js";
import { stepUp } from "./step_up.js";

export class DecisionPanel {
  constructor(caseId, reload) {
    this.caseId = caseId;
    this.reload = reload; // fetches the board from the server and re-renders
    this.signed = document.getElementById("signed-decisions");
    this.draftView = document.getElementById("draft-view");
    this.opinionForm = document.getElementById("opinion-form");
    this.form = document.getElementById("draft-form");
    this.answers = document.getElementById("draft-answers");
    this.message = document.getElementById("draft-message");
    this.errorBox = document.getElementById("decision-error");
    this.amendButton = document.getElementById("amend");
    this.dirty = false;
    this.amending = false;
    this.shownVersion = null; // the draft version the editor was filled from
    this.form.addEventListener("input", () => {
      this.dirty = true;
    });
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.save();
    });
    document.getElementById("sign-decision").addEventListener("click", () => this.sign());
    document.getElementById("concur").addEventListener("click", () => this.opine("concur"));
    document.getElementById("dissent").addEventListener("click", () => this.opine("dissent"));
    this.amendButton.addEventListener("click", () => {
      this.amending = true;
      this.dirty = false;
      this.shownVersion = null;
      this.render(this.board, this.allowed, this.userId);
      document.getElementById("draft-treatment").focus();
    });
  }

  path(suffix) {
    return `/api/v1/cases/${this.caseId}/decision/${suffix}`;
  }

  showError(error) {
    showText(this.errorBox, this.unanswered(error) ?? errorText(error));
  }

  // A signature refused for a missing answer names the questions (and the treatment
  // direction) still to fill in, rather than "some fields are invalid".
  unanswered(error) {
    const missing = [];
    for (const problem of error?.data?.fields || []) {
      const number = /^answers\.(\d+)$/.exec(problem.field)?.[1];
      const question = this.board?.core.questions.find((q) => String(q.number) === number);
      if (question) missing.push(t("decision.unanswered", { n: question.number, text: question.text }));
      else if (problem.field === "treatment_direction") missing.push(t("decision.no_treatment"));
    }
    return missing.length ? missing.join(" ") : null;
  }

  // allowed: the server's allowed_actions for this user (a Set).
  render(board, allowed, userId) {
    this.board = board;
    this.allowed = allowed;
    this.userId = userId;
    this.errorBox.hidden = true;
    const draft = openDraft(board);
    this.renderSigned(board);
    this.renderDraft(board, draft);
    const myOpinion = draft?.opinions.find((o) => o.user.id === userId);
    this.opinionForm.hidden = !(draft && allowed.has("opine"));
    if (myOpinion) {
      this.opinionForm.querySelector("#dissent-reason").value = myOpinion.reason || "";
    }
    // Once the amendment's draft exists (or amending is no longer possible), it is a draft.
    if (!allowed.has("amend_decision")) this.amending = false;
    const canDraft = allowed.has("draft_decision") || this.amending;
    this.amendButton.hidden = !allowed.has("amend_decision") || this.amending;
    this.form.hidden = !canDraft;
    document.getElementById("sign-decision").disabled = !(draft && allowed.has("sign_decision"));
    if (canDraft) this.fillEditor(board, draft);
  }

  renderSigned(board) {
    clear(this.signed);
    for (const decision of signedDecisions(board).reverse()) {
      const box = element("article", {
        className: "decision signed",
        attrs: { "data-testid": "signed-decision" },
      });
      box.append(
        element("h3", {
          text: decision.amends
            ? t("decision.signed_amendment", { id: decision.id, amends: decision.amends })
            : t("decision.signed_title", { id: decision.id }),
        }),
        element("p", {
          className: "meta",
          text: t("decision.signed_by", {
            who: decision.signed_by?.full_name ?? "—",
            at: formatTime(decision.signed_at),
          }),
        }),
      );
      this.appendContent(box, board, decision);
      box.append(element("p", { className: "hash", text: `SHA-256 ${decision.content_sha256}` }));
      this.signed.append(box);
    }
  }

  renderDraft(board, draft) {
    clear(this.draftView);
    if (!draft) {
      if (!signedDecisions(board).length) {
        this.draftView.append(element("p", { className: "hint", text: t("decision.none") }));
      }
      return;
    }
    const box = element("article", { className: "decision draft", attrs: { "data-testid": "draft-decision" } });
    box.append(
      element("h3", { text: t("decision.draft_title", { version: draft.version }) }),
      element("p", {
        className: "meta",
        text: t("decision.drafted_by", { who: draft.drafted_by?.full_name ?? "—" }),
      }),
    );
    this.appendContent(box, board, draft);
    this.draftView.append(box);
  }

  appendContent(box, board, decision) {
    const answers = new Map(decision.answers.map((a) => [a.question, a.answer]));
    const list = element("ol", { className: "answers" });
    for (const question of board.core.questions) {
      const item = element("li");
      item.append(
        element("p", { className: "question", text: question.text }),
        element("p", {
          className: "answer text",
          text: answers.get(question.number) || t("decision.no_answer"),
          attrs: { "data-testid": `answer-${question.number}` },
        }),
      );
      list.append(item);
    }
    const facts = element("dl", { className: "facts" });
    facts.append(
      element("dt", { text: t("decision.treatment") }),
      element("dd", { className: "text", text: decision.treatment_direction || "—" }),
      element("dt", { text: t("decision.transfer") }),
      element("dd", { text: decision.transfer ? t("yes") : t("no") }),
      element("dt", { text: t("decision.follow_up") }),
      element("dd", { className: "text", text: decision.follow_up || "—" }),
    );
    const opinions = element("ul", { className: "opinions", attrs: { "data-testid": "opinions" } });
    for (const opinion of decision.opinions) {
      const text =
        opinion.stance === "concur"
          ? t("opinion.concur", { who: opinion.user.full_name })
          : t("opinion.dissent", { who: opinion.user.full_name, reason: opinion.reason });
      opinions.append(element("li", { text, className: `stance-${opinion.stance}` }));
    }
    box.append(list, facts);
    if (decision.opinions.length) box.append(element("h4", { text: t("decision.opinions") }), opinions);
  }

  fillEditor(board, draft) {
    const source = draft ?? (this.amending ? signedDecisions(board).at(-1) : null);
    const version = draft?.version ?? 0;
    if (this.dirty && this.shownVersion !== null && version !== this.shownVersion) {
      this.message.textContent = t("decision.changed_elsewhere");
      return;
    }
    if (this.dirty && this.shownVersion === version) return;
    this.shownVersion = version;
    const answers = new Map((source?.answers ?? []).map((a) => [a.question, a.answer]));
    clear(this.answers);
    for (const question of board.core.questions) {
      const id = `draft-answer-${question.number}`;
      this.answers.append(
        element("label", { text: t("decision.answer_to", { n: question.number, text: question.text }), attrs: { for: id } }),
      );
      const area = element("textarea", {
        attrs: { id, rows: "2", maxlength: "20000", "data-testid": id, "data-question": question.number },
      });
      area.value = answers.get(question.number) ?? "";
      this.answers.append(area);
    }
    document.getElementById("draft-treatment").value = source?.treatment_direction ?? "";
    document.getElementById("draft-transfer").checked = source?.transfer ?? false;
    document.getElementById("draft-follow-up").value = source?.follow_up ?? "";
    const amendment = draft ? draft.amends !== null : this.amending;
    document.getElementById("draft-form-title").textContent = amendment
      ? t("decision.amend_title")
      : t("decision.edit_title");
  }

  body() {
    return {
      version: this.shownVersion ?? 0,
      answers: [...this.answers.querySelectorAll("textarea")].map((area) => ({
        question: Number(area.dataset.question),
        answer: area.value,
      })),
      treatment_direction: document.getElementById("draft-treatment").value,
      transfer: document.getElementById("draft-transfer").checked,
      follow_up: document.getElementById("draft-follow-up").value,
    };
  }

  async save() {
    try {
      const saved = await api(this.path("draft"), { method: "PUT", body: this.body() });
      this.dirty = false;
      this.shownVersion = saved.version;
      this.message.textContent = t("decision.saved", { version: saved.version });
    } catch (error) {
      if (error.status === 409) {
        // Someone saved meanwhile: take their version and show it; the edit is not lost
        // from the user's mind, but it is not silently written over theirs.
        this.dirty = false;
        this.shownVersion = null;
        this.message.textContent = t("decision.reloaded");
        await this.reload();
        return;
      }
      this.showError(error);
    }
  }

  async sign() {
    if (this.dirty) {
      this.message.textContent = t("decision.save_first");
      return;
    }
    const draft = openDraft(this.board);
    if (!draft) return;
    // The password, re-entered in the sign dialog, proves that the chair signs in person.
    const confirmed = await stepUp(t("confirm.sign", { version: draft.version }), t("confirm.sign_yes"));
    if (!confirmed) return;
    try {
      await api(this.path("sign"), { method: "POST", body: { version: draft.version } });
      this.amending = false;
      this.message.textContent = "";
    } catch (error) {
      if (error.status === 409) await this.reload();
      this.showError(error);
    }
  }

  async opine(stance) {
    const draft = openDraft(this.board);
    if (!draft) return;
    const reason = document.getElementById("dissent-reason").value.trim();
    if (stance === "dissent" && !reason) {
      this.showError({ code: "dissent_reason" });
      document.getElementById("dissent-reason").focus();
      return;
    }
    try {
      await api(this.path("opinions"), {
        method: "POST",
        body: { version: draft.version, stance, reason },
      });
    } catch (error) {
      if (error.status === 409) await this.reload();
      this.showError(error);
    }
  }
}
