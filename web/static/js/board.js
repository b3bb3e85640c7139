// The board as the case's events add up to it, folded in seq order exactly as the
// server's telemed.cases.board.replay does. Events at or below the last seq are ignored.

export function emptyBoard() {
  return { core: null, notes: [], attachments: [], decisions: new Map(), lastSeq: 0 };
}

function clone(value) {
  return structuredClone(value);
}

export function applyEvent(board, event) {
  const { type, data } = event;
  if (type === "case.created") {
    board.core = clone(data.case);
  } else if (type.startsWith("case.")) {
    board.core.status = data.to;
    if ("scheduled_at" in data) board.core.scheduled_at = data.scheduled_at;
    if ("outcome" in data) board.core.outcome = data.outcome;
  } else if (type === "note.created") {
    board.notes.push(clone(data.note));
  } else if (type === "attachment.added") {
    board.attachments.push(clone(data.attachment));
  } else if (type === "decision.drafted" || type === "decision.signed") {
    board.decisions.set(data.decision.id, clone(data.decision));
  } else if (type === "decision.opinion") {
    const target = board.decisions.get(data.decision_id);
    if (target) {
      const mine = data.opinion.user.id;
      target.opinions = target.opinions.filter((o) => o.user.id !== mine);
      target.opinions.push(clone(data.opinion));
    }
  }
  board.lastSeq = event.seq;
}

export function openDraft(board) {
  const drafts = [...board.decisions.values()].filter((d) => d.status === "draft");
  return drafts.length ? drafts[drafts.length - 1] : null;
}

export function signedDecisions(board) {
  return [...board.decisions.values()].filter((d) => d.status === "signed");
}

// Which actions a role may take in a status, mirroring the server's transition table so
// that the page offers only what the server would accept (the server decides anyway).
export const ACTIONS = {
  accept: { who: "triage", from: ["requested"] },
  request_info: { who: "triage", from: ["requested"] },
  decline: { who: "triage", from: ["requested", "info_requested"] },
  provide_info: { who: "requester", from: ["info_requested"] },
  schedule: { who: "triage", from: ["accepted", "scheduled"] },
  start_session: { who: "triage", from: ["scheduled"] },
  close: { who: "requester", from: ["decided"] },
  cancel: { who: "requester", from: ["requested", "info_requested", "accepted", "scheduled"] },
};

export const OPEN_STATUSES = new Set([
  "requested",
  "info_requested",
  "accepted",
  "scheduled",
  "in_session",
  "decided",
]);
export const DRAFTING_STATUSES = new Set(["accepted", "scheduled", "in_session"]);
export const AMENDING_STATUSES = new Set(["decided", "closed"]);

// The user's part in this case: "requester", "chair", "secretary", "member" or null.
export function roleIn(core, user) {
  // A guest specialist is invited to this one case (the server admits them nowhere else).
  if (user.role === "guest") return "guest";
  if (user.role === "district_doctor" && user.facilityId === core.requesting_facility.id) {
    return "requester";
  }
  return user.seats[String(core.council.id)] ?? null;
}

export function isTriage(role) {
  return role === "chair" || role === "secretary";
}

export function isCouncil(role) {
  return role === "chair" || role === "secretary" || role === "member";
}
