// The case room: the board as the server answers it (its latest notes), then kept live from
// the case's events in seq order across reconnects (rejoin with the last seq seen, ignore
// what was already applied); the timeline shows the latest entries and pages to earlier
// ones on scroll; the notes posted with a client_id and retried until acknowledged,
// presence, and the actions the server says this user may take now (the page keeps no copy
// of the workflow's rules).
import { api, noteActivity } from "./api.js";
import { applyEvent, boardFrom, emptyBoard, openDraft } from "./board.js";
import { CallPanel } from "./call.js";
import { deadlineElement } from "./deadline.js";
import { confirmAction } from "./confirm.js";
import { DecisionPanel } from "./decision.js";
import { $, clear, element, showText } from "./dom.js";
import { GuestPanel } from "./guests.js";
import { errorText, formatTime, localToIso, problemText, t } from "./i18n.js";
import { IdentityPanel } from "./identity.js";
import { liveSocket } from "./socket.js";
import { uploadFiles } from "./upload.js";
import { WrittenPanel, writtenEventText } from "./written.js";

const body = document.body.dataset;
const caseId = Number(body.caseId);
const userId = Number(body.userId);
const board = emptyBoard();
// allowed_actions as the server last answered them, for the seq it answered at.
const actions = { known: false, lastSeq: -1, allowed: new Set(), round: null, deadlines: null };
const socket = liveSocket();
const decisions = new DecisionPanel(caseId, () => join());
const call = new CallPanel(caseId, socket);
const identity = new IdentityPanel(caseId, body.role);
const guests = new GuestPanel(caseId);
const written = new WrittenPanel();
const pending = new Map(); // client_id -> {payload, item}
// The timeline's earliest entry shown, and whether the case has entries before it.
const TIMELINE_PAGE = 50;
const history = { earliest: null, more: false, loading: false };

function setConnection(state) {
  const node = $("connection-status");
  node.dataset.state = state;
  node.textContent = t(`connection.${state}`);
}

function fail(text) {
  showText($("room-error"), text);
  $("room").hidden = true;
}

// --- rendering -------------------------------------------------------------------------

function renderHeader() {
  const core = board.core;
  $("case-title").textContent = `${t("case.number", { id: core.id })} · ${core.title}`;
  document.title = `${t("case.number", { id: core.id })} · Telemed`;
  $("case-status").textContent = t(`status.${core.status}`);
  $("case-status").dataset.status = core.status;
  const deadline = deadlineElement(actions.deadlines);
  $("case-deadline").replaceChildren(...(deadline ? [deadline] : []));
  $("case-urgency").textContent = t(`urgency.${core.urgency}`);
  $("case-urgency").className = `badge urgency-${core.urgency}`;
  $("case-council").textContent = `${core.requesting_facility.name} → ${core.council.name}`;
  $("case-schedule").textContent = core.scheduled_at
    ? t("case.scheduled_for", { at: formatTime(core.scheduled_at) })
    : "";
  $("patient-code").textContent = core.patient.code;
  $("patient-sex").textContent = t(`sex.${core.patient.sex}`);
  $("patient-birth-year").textContent = core.patient.birth_year;
  $("case-specialty").textContent = core.specialty;
  $("case-requester").textContent = core.requested_by?.full_name ?? "—";
  $("case-summary").textContent = core.summary;
}

function renderQuestions() {
  const list = $("case-questions");
  clear(list);
  const select = $("note-question");
  while (select.options.length > 1) select.remove(1);
  for (const question of board.core.questions) {
    list.append(element("li", { text: question.text, className: "text" }));
    select.append(new Option(t("question.label", { n: question.number }), String(question.number)));
  }
}

// A session is scheduled from now on: the browser refuses an earlier time before sending.
function localNow() {
  const now = new Date();
  now.setMinutes(now.getMinutes() - now.getTimezoneOffset());
  return now.toISOString().slice(0, 16);
}

function renderActions() {
  const allowed = actions.allowed;
  $("schedule-at").min = localNow();
  let any = false;
  for (const form of document.querySelectorAll("form.action")) {
    form.hidden = !allowed.has(form.dataset.action);
    any ||= !form.hidden;
  }
  $("actions-none").hidden = any || !actions.known;
  $("note-form").hidden = !allowed.has("note");
  $("attach-more").hidden = !allowed.has("attach");
}

function attachmentUrl(attachment, preview = false) {
  const base = `/api/v1/cases/${caseId}/attachments/${Number(attachment.id)}`;
  return preview ? `${base}/preview` : base;
}

function openViewer(attachment) {
  const preview = attachment.kind === "dicom";
  $("viewer-title").textContent = attachment.filename;
  $("viewer-image").src = attachmentUrl(attachment, preview);
  $("viewer-image").alt = attachment.description || attachment.filename;
  $("viewer-download").href = attachmentUrl(attachment);
  $("viewer").showModal();
}

function renderAttachments() {
  const list = $("attachments");
  clear(list);
  for (const attachment of board.attachments) {
    const item = element("li", { attrs: { "data-testid": "attachment", "data-kind": attachment.kind } });
    const link = element("a", {
      text: attachment.filename,
      attrs: { href: attachmentUrl(attachment), download: "" },
    });
    item.append(link, element("span", { className: "meta", text: ` · ${t(`kind.${attachment.kind}`)} · ${Math.ceil(attachment.size / 1024)} KB` }));
    if (attachment.description) item.append(element("span", { className: "meta", text: ` · ${attachment.description}` }));
    const viewable = attachment.kind === "image" || (attachment.kind === "dicom" && attachment.has_preview);
    if (viewable) {
      const view = element("button", {
        text: attachment.kind === "dicom" ? t("attachment.preview") : t("attachment.view"),
        className: "secondary small",
        attrs: { type: "button", "data-testid": "view-attachment" },
      });
      view.addEventListener("click", () => openViewer(attachment));
      item.append(view);
    }
    list.append(item);
  }
  $("attachments-empty").hidden = board.attachments.length > 0;
}

function eventText(event) {
  const d = event.data;
  const who = event.actor?.full_name ?? d.guest?.full_name ?? "—";
  switch (event.type) {
    case "attachment.added":
      return t("event.attachment.added", { who, file: d.attachment.filename });
    case "case.accepted":
    case "case.continued_in_writing":
      return writtenEventText(event, who);
    case "case.scheduled":
      return t("event.case.scheduled", { who, at: formatTime(d.scheduled_at) });
    case "decision.drafted":
      return t("event.decision.drafted", { who, version: d.decision.version });
    case "decision.signed":
      return t("event.decision.signed", { who, id: d.decision.id });
    case "recording.consent":
      return t(d.consent ? "event.recording.consent" : "event.recording.consent_withdrawn", { who });
    case "guest.invited":
    case "guest.revoked":
      return t(`event.${event.type}`, { who, guest: d.guest?.name ?? "—" });
    case "decision.opinion":
      return t(`event.decision.${d.opinion.stance}`, { who, reason: d.opinion.reason });
    default:
      return t(`event.${event.type}`, { who, reason: d.reason, message: d.message, outcome: d.outcome });
  }
}

function noteItem(event) {
  const note = event.data.note;
  const item = element("li", {
    className: "note",
    attrs: { "data-testid": "note", "data-seq": event.seq, "data-note-id": note.id },
  });
  const meta = element("p", { className: "meta" });
  meta.append(element("strong", { text: note.author?.full_name ?? "—" }), ` · ${formatTime(note.created_at)}`);
  if (note.question) meta.append(` · ${t("question.label", { n: note.question })}`);
  if (note.supersedes) meta.append(` · ${t("note.corrects")}`);
  item.append(meta, element("p", { className: "text note-body", text: note.body, attrs: { "data-testid": "note-text" } }));
  return item;
}

function timelineItem(event) {
  if (event.type === "note.created") return noteItem(event);
  const item = element("li", { className: "event", attrs: { "data-testid": "event", "data-seq": event.seq, "data-type": event.type } });
  item.append(element("span", { className: "meta", text: `${formatTime(event.at)} · ` }), element("span", { className: "text", text: eventText(event) }));
  return item;
}

function renderAll() {
  renderHeader();
  renderQuestions();
  renderActions();
  renderAttachments();
  decisions.render(board, actions.allowed, userId);
  call.render(actions.allowed);
  guests.render(actions.allowed);
  written.render(board.core, actions.round, openDraft(board) !== null);
}

// What this user may do now, asked of the server after joining and after every event that
// may change it (case.* and decision.*); the answer for the latest seq wins.
async function refreshActions() {
  let answer;
  try {
    answer = await api(`/api/v1/cases/${caseId}/actions`);
  } catch {
    return; // the room shows its own errors on join; the next event asks again
  }
  if (answer.last_seq < actions.lastSeq) return;
  actions.known = true;
  actions.lastSeq = answer.last_seq;
  actions.allowed = new Set(answer.allowed_actions);
  actions.round = answer.written_round ?? null;
  actions.deadlines = answer.deadlines;
  if (board.core) renderAll();
}

function changesActions(event) {
  return event.type.startsWith("case.") || event.type.startsWith("decision.");
}

// --- events ----------------------------------------------------------------------------

// The timeline keeps its newest entry in view while the reader is at its end; a reader who
// scrolled up to read older notes is left where they are.
function atEnd(list) {
  return list.scrollHeight - list.scrollTop - list.clientHeight < 48;
}

function showNewest(list) {
  list.scrollTop = list.scrollHeight;
}

function apply(events, { batch = false } = {}) {
  let changed = false;
  const timeline = $("timeline");
  const follow = batch || atEnd(timeline);
  let ask = false;
  for (const event of [...events].sort((a, b) => a.seq - b.seq)) {
    if (event.seq <= board.lastSeq) continue; // already applied (a replay overlapping live)
    if (event.seq !== board.lastSeq + 1) {
      join({ resync: true }); // a gap: ask for what is missing; the replay is in order
      break;
    }
    applyEvent(board, event);
    call.onEvent(event);
    identity.onEvent(event);
    guests.onEvent(event);
    $("timeline").append(timelineItem(event));
    changed = true;
    ask ||= changesActions(event);
  }
  if (changed && board.core) renderAll();
  if (ask && !batch) refreshActions();
  if (changed && follow) showNewest(timeline);
  return changed && !batch;
}

// --- the board and the timeline's pages ------------------------------------------------

// The board as the server answers it now, and the timeline's latest page under it; the room
// joins after it. False when the case cannot be shown here.
async function load() {
  let answer;
  try {
    answer = await api(`/api/v1/cases/${caseId}`);
  } catch (error) {
    fail(problemText(error));
    return false;
  }
  if (!answer.clinical) {
    fail(t("room.clinical_only"));
    return false;
  }
  Object.assign(board, boardFrom(answer));
  call.recording = board.recording;
  history.earliest = board.lastSeq + 1;
  history.more = board.lastSeq > 0;
  await showEarlier();
  renderAll();
  $("room").hidden = false;
  showNewest($("timeline"));
  return true;
}

// The page of entries before the earliest shown, above them; the reader's place is kept.
async function showEarlier() {
  if (history.loading || !history.more) return;
  history.loading = true;
  try {
    const path = `/api/v1/cases/${caseId}/events?before=${history.earliest}&limit=${TIMELINE_PAGE}`;
    const page = await api(path);
    const timeline = $("timeline");
    const fromEnd = timeline.scrollHeight - timeline.scrollTop;
    timeline.prepend(...page.events.map(timelineItem));
    timeline.scrollTop = timeline.scrollHeight - fromEnd;
    if (page.events.length) history.earliest = page.events[0].seq;
    history.more = page.has_more;
  } catch {
    // left as it is: the next scroll or click asks again
  } finally {
    history.loading = false;
    $("timeline-earlier").hidden = !history.more;
  }
}

$("timeline").addEventListener("scroll", (event) => {
  if (event.target.scrollTop < 48) showEarlier();
});
$("timeline-earlier").addEventListener("click", () => showEarlier());

const ready = load();
let joining = false;

async function join({ resync = false } = {}) {
  if (!(await ready)) return;
  joining = true;
  const request = { case_id: caseId, after_seq: board.lastSeq, resync };
  const ack = await socket.timeout(15000).emitWithAck("case:join", request).catch(() => null);
  joining = false;
  if (ack === null) {
    // No answer in time (a server under load): ask again while connected; a reconnect
    // joins by itself.
    setTimeout(() => {
      if (socket.connected) join({ resync });
    }, 1000);
    return;
  }
  if (!ack.ok) {
    setConnection("offline");
    fail(ack.error?.code === "forbidden" ? t("room.clinical_only") : errorText(ack.error));
    return;
  }
  noteActivity();
  $("room").hidden = false;
  $("room-error").hidden = true;
  apply(ack.events, { batch: true });
  renderPresence(ack.peers);
  // Live once the room can be acted in: what this user may do here is known.
  await refreshActions();
  setConnection("live");
  call.roomJoined();
  for (const [clientId, entry] of pending) send(clientId, entry);
}

socket.on("case:event", (event) => {
  if (Number(event.case_id) === caseId) apply([event]);
});
// The room's last seq, told now and then and whenever this socket might have missed one:
// a board behind it asks for the rest (a lost delivery heals within seconds).
socket.on("case:head", (head) => {
  if (Number(head.case_id) === caseId && !joining && board.lastSeq < head.last_seq) join({ resync: true });
});
socket.on("case:presence", (data) => {
  if (Number(data.case_id) === caseId) renderPresence(data.peers);
});
socket.on("case:removed", (data) => {
  if (Number(data.case_id) === caseId) fail(t("room.removed"));
});
socket.on("connect", () => join());
socket.on("disconnect", () => {
  setConnection("reconnecting");
});
socket.io.on("reconnect_attempt", () => setConnection("reconnecting"));

function renderPresence(peers) {
  const list = $("presence");
  clear(list);
  const seen = new Set();
  for (const peer of peers) {
    if (seen.has(peer.user.id)) continue;
    seen.add(peer.user.id);
    const item = element("li", { attrs: { "data-testid": "present", "data-username": peer.user.username } });
    item.append(element("strong", { text: peer.user.full_name }), ` · ${t(`part.${peer.role}`)}`);
    list.append(item);
  }
}

// --- notes -----------------------------------------------------------------------------

function send(clientId, entry) {
  if (!socket.connected) return; // sent again when the connection is back (join above)
  socket.timeout(10000).emit("case:note", entry.payload, (timeout, ack) => {
    if (!pending.has(clientId)) return;
    if (timeout || (!ack.ok && ["rate_limited", "internal_error"].includes(ack.error?.code))) {
      setTimeout(() => send(clientId, entry), 1000); // same client_id: stored once
      return;
    }
    if (ack.ok) {
      noteActivity();
      pending.delete(clientId);
      entry.item.remove();
      return;
    }
    entry.item.classList.add("error");
    entry.state.textContent = t("note.refused", { reason: errorText(ack.error) });
    pending.delete(clientId);
  });
}

$("note-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = $("note-body").value.trim();
  if (!text) {
    $("note-body").focus();
    return;
  }
  const clientId = crypto.randomUUID();
  const question = $("note-question").value;
  const payload = { case_id: caseId, body: text, client_id: clientId };
  if (question) payload.question = Number(question);
  const item = element("li", { className: "note pending", attrs: { "data-testid": "pending-note" } });
  const state = element("p", { className: "meta", text: t("note.sending") });
  item.append(state, element("p", { className: "text", text }));
  $("pending-notes").append(item);
  const entry = { payload, item, state };
  pending.set(clientId, entry);
  $("note-body").value = "";
  send(clientId, entry);
});

// --- actions, uploads, viewer ----------------------------------------------------------

// Actions that cannot be taken back are confirmed first.
const CONFIRM = { cancel: true, decline: true, close_round: true };

for (const form of document.querySelectorAll("form.action")) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    $("action-error").hidden = true;
    if (!form.reportValidity()) return;
    const body = { action: form.dataset.action };
    for (const field of form.querySelectorAll("textarea, input")) {
      body[field.name] = field.type === "datetime-local" ? localToIso(field.value) : field.value.trim();
    }
    if (CONFIRM[body.action]) {
      const sure = await confirmAction(t(`confirm.${body.action}`, { id: caseId }), t(`confirm.${body.action}_yes`));
      if (!sure) return;
    }
    const button = form.querySelector("button");
    button.disabled = true;
    try {
      await api(`/api/v1/cases/${caseId}/transitions`, { method: "POST", body });
      form.reset();
    } catch (error) {
      showText($("action-error"), problemText(error));
      if (error.status === 409) join();
    } finally {
      button.disabled = false;
    }
  });
}

$("attach-files").addEventListener("change", async (event) => {
  const input = event.target;
  await uploadFiles(caseId, input.files, $("attach-uploads"));
  input.value = "";
});

$("viewer-close").addEventListener("click", () => $("viewer").close());

setConnection(socket.connected ? "live" : "connecting");
if (socket.connected) join();
