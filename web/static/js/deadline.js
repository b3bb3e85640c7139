// The council's next deadline as the server computes it (docs/api.md, "Deadlines"): the
// first answer while the request waits for one, then the decision. The queue and the case
// page show the time left, or how long it is overdue.
import { element } from "./dom.js";
import { formatDuration, formatTime, t } from "./i18n.js";

export function nextDeadline(deadlines) {
  if (deadlines?.answer_due_at) return { kind: "answer", due: new Date(deadlines.answer_due_at) };
  if (deadlines?.decision_due_at) {
    return { kind: "decision", due: new Date(deadlines.decision_due_at) };
  }
  return null;
}

// A span saying the time left (or overdue), or null when no deadline runs.
export function deadlineElement(deadlines, now = Date.now()) {
  const next = nextDeadline(deadlines);
  if (!next) return null;
  const left = (next.due.getTime() - now) / 1000;
  const over = left < 0;
  const key = `deadline.${next.kind}_${over ? "over" : "left"}`;
  return element("span", {
    className: over ? "deadline deadline-over" : "deadline",
    text: t(key, { time: formatDuration(Math.abs(left)) }),
    attrs: {
      "data-testid": "deadline",
      "data-kind": next.kind,
      "data-over": String(over),
      title: formatTime(next.due.toISOString()),
    },
  });
}
