// The board as the case's events add up to it: the same fold as the server's
// telemed.cases.board.replay, event for event (tests/cases/test_fold_parity.py feeds both the
// same logs and compares boardJson with the replay). The room starts from the server's
// board (GET /api/v1/cases/{id}: boardFrom) and folds the events after it; the caller skips
// events at or below lastSeq. What the user may do is not derived here: the server says
// (allowed_actions).

// The notes a board carries, as the server's NOTES_PAGE: the latest ones; notesBefore pages
// to the earlier ones (GET /api/v1/cases/{id}/notes?before=...).
export const NOTES_PAGE = 50;

export function emptyBoard() {
  return {
    core: null,
    notes: [],
    notesBefore: null,
    attachments: [],
    decisions: new Map(), // id -> decision
    participants: new Map(), // user id -> actor, in the order they first acted
    recording: false, // the call's recording runs (started and not stopped)
    updatedAt: null,
    lastSeq: 0,
  };
}

// What the board itself carries beside the case's own fields.
const BOARD_FIELDS = [
  "updated_at", "last_seq", "clinical", "recording", "notes", "notes_before", "attachments", "decisions",
  "participants", "allowed_actions", "deadlines",
];

// The board the server answered (its latest notes only), ready for the events after it.
export function boardFrom(json) {
  const core = clone(json);
  for (const field of BOARD_FIELDS) delete core[field];
  return {
    core,
    notes: clone(json.notes),
    notesBefore: json.notes_before,
    attachments: clone(json.attachments),
    decisions: new Map(json.decisions.map((d) => [d.id, clone(d)])),
    participants: new Map(json.participants.map((p) => [p.id, clone(p)])),
    recording: json.recording,
    updatedAt: json.updated_at,
    lastSeq: json.last_seq,
  };
}

// The case's own fields a transition's event may carry beside its status (as the server's
// CORE_FIELDS_OF_TRANSITIONS).
const TRANSITION_FIELDS = ["scheduled_at", "outcome", "mode", "answer_by", "round_closed_at"];

function clone(value) {
  return structuredClone(value);
}

function byTimeThenUser(a, b) {
  if (a.at !== b.at) return a.at < b.at ? -1 : 1;
  return a.user.id - b.user.id;
}

export function applyEvent(board, event) {
  const { type, data } = event;
  if (event.actor && !board.participants.has(event.actor.id)) {
    board.participants.set(event.actor.id, clone(event.actor));
  }
  if (type === "case.created") {
    board.core = clone(data.case);
  } else if (type === "case.identity_updated") {
    // The identity is not on the board: the page asks for it (identity.js).
  } else if (type === "case.deadline_near" || type === "case.deadline_passed") {
    // Reminders: they change no status.
  } else if (type.startsWith("case.")) {
    board.core.status = data.to;
    for (const field of TRANSITION_FIELDS) {
      if (field in data) board.core[field] = data[field];
    }
  } else if (type === "recording.started" || type === "recording.stopped") {
    board.recording = type === "recording.started";
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
      target.opinions.sort(byTimeThenUser);
    }
  }
  board.updatedAt = event.at;
  board.lastSeq = event.seq;
}

// The board in the server's JSON (GET /api/v1/cases/{id} less the user's allowed_actions).
export function boardJson(board) {
  const notes = board.notes.map((note) => ({ ...clone(note), superseded_by: note.superseded_by ?? null }));
  const byId = new Map(notes.map((note) => [note.id, note]));
  for (const note of notes) {
    if (byId.has(note.supersedes)) byId.get(note.supersedes).superseded_by = note.id;
  }
  const shown = notes.slice(-NOTES_PAGE);
  return {
    ...clone(board.core ?? {}),
    updated_at: board.updatedAt,
    last_seq: board.lastSeq,
    clinical: true,
    recording: board.recording,
    notes: shown,
    notes_before: shown.length < notes.length ? shown[0].seq : board.notesBefore,
    attachments: clone(board.attachments),
    decisions: [...board.decisions.keys()].sort((a, b) => a - b).map((id) => clone(board.decisions.get(id))),
    participants: [...board.participants.values()].map(clone),
  };
}

export function openDraft(board) {
  const drafts = [...board.decisions.values()].filter((d) => d.status === "draft");
  return drafts.length ? drafts[drafts.length - 1] : null;
}

export function signedDecisions(board) {
  return [...board.decisions.values()].filter((d) => d.status === "signed");
}
