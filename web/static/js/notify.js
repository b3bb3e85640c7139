// In-app notifications (the `notify` event): an emergency request raises a banner
// (role="alert") and a short sound made with the Web Audio API; other kinds a notice.
import { formatTime, t } from "./i18n.js";

let audio = null;

function beep() {
  try {
    audio ??= new AudioContext();
    if (audio.state === "suspended") audio.resume().catch(() => {});
    const start = audio.currentTime;
    for (let i = 0; i < 3; i += 1) {
      const tone = audio.createOscillator();
      const gain = audio.createGain();
      tone.type = "square";
      tone.frequency.value = 880;
      gain.gain.setValueAtTime(0.15, start + i * 0.3);
      gain.gain.setValueAtTime(0, start + i * 0.3 + 0.18);
      tone.connect(gain).connect(audio.destination);
      tone.start(start + i * 0.3);
      tone.stop(start + i * 0.3 + 0.2);
    }
  } catch {
    // No audio device or blocked autoplay: the banner still alerts.
  }
}

function showEmergency(note) {
  const banner = document.getElementById("emergency-banner");
  if (!banner) return;
  const caseId = Number(note.case_id);
  document.getElementById("emergency-text").textContent = t("notify.emergency", {
    id: caseId,
    title: note.title ?? "",
  });
  document.getElementById("emergency-link").href = `/cases/${caseId}`;
  banner.hidden = false;
  beep();
}

// A notice as one line of text (the live notice and the inbox alike); null for a kind
// this page does not know.
export function noticeText(note) {
  const key = `notify.${note.kind}`;
  const text = t(key, {
    id: Number(note.case_id),
    title: note.title ?? "",
    at: formatTime(note.scheduled_at ?? note.answer_by ?? note.due_at),
    minutes: Number(note.minutes_before ?? 0),
  });
  return text === key ? null : text;
}

function showNotice(note) {
  const region = document.getElementById("notice");
  if (!region) return;
  const text = noticeText(note);
  if (text !== null) region.textContent = text;
}

export function listenForNotifications(socket) {
  document.getElementById("emergency-dismiss")?.addEventListener("click", () => {
    document.getElementById("emergency-banner").hidden = true;
  });
  socket.on("notify", (note) => {
    if (note.kind === "emergency") showEmergency(note);
    else showNotice(note);
    document.dispatchEvent(new CustomEvent("telemed:notify", { detail: note }));
  });
}
