// Waiting-time targets per urgency: the one place they are set. A request waiting within
// half its target is on time, within the target is near it, beyond it is overdue.
export const WAIT_TARGET_SECONDS = {
  emergency: 60 * 60,
  urgent: 24 * 60 * 60,
  routine: 7 * 24 * 60 * 60,
};

// Statuses in which the requesting doctor is still waiting for the council.
export const WAITING_STATUSES = new Set([
  "requested",
  "info_requested",
  "accepted",
  "scheduled",
  "in_session",
]);

export function waitingLevel(urgency, seconds) {
  const target = WAIT_TARGET_SECONDS[urgency] ?? WAIT_TARGET_SECONDS.routine;
  if (seconds > target) return "over";
  if (seconds > target / 2) return "near";
  return "ok";
}
