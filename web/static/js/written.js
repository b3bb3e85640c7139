// Which way the council answers (a written consultation or a live session), and for a
// written one its round: the deadline, whether the chair closed it, and whose opinion on
// the draft is still awaited. The mode comes from the board; the round from the server's
// answer to /actions (seats are not case events), so the page derives no rule here.
import { $ } from "./dom.js";
import { formatTime, t } from "./i18n.js";

// The timeline's words for the events that open a written round.
export function writtenEventText(event, who) {
  const d = event.data;
  const key = event.type === "case.accepted" && d.mode === "written" ? "event.case.accepted_written" : `event.${event.type}`;
  return t(key, { who, at: formatTime(d.answer_by) });
}

export class WrittenPanel {
  // core: the board's case fields; round: /actions' written_round (null when not written);
  // hasDraft: whether the board holds a draft decision to give opinions on.
  render(core, round, hasDraft) {
    const badge = $("case-mode");
    badge.hidden = !core.mode;
    badge.textContent = core.mode ? t(`mode.${core.mode}`) : "";
    badge.dataset.mode = core.mode ?? "";
    const box = $("written-round");
    box.hidden = core.mode !== "written";
    if (box.hidden) return;
    $("written-deadline").textContent = core.round_closed_at
      ? t("written.closed", { at: formatTime(core.round_closed_at) })
      : t("written.answer_by", { at: formatTime(core.answer_by) });
    const line = $("written-awaiting");
    line.hidden = core.status !== "accepted" || !round;
    if (line.hidden) return;
    const names = round.awaiting.map((person) => person.full_name);
    if (!hasDraft) line.textContent = t("written.no_draft");
    else if (names.length) line.textContent = t("written.awaiting", { names: names.join(", ") });
    else line.textContent = t("written.all_answered");
  }
}
