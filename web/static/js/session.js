// The session-timeout warning. The server ends a session after `idle` seconds without a
// request; it records activity at a resolution of min(60 s, idle / 10), so the page
// assumes the session ends that much earlier than its own last request suggests.
import { api, noteActivity, onActivity } from "./api.js";
import { t } from "./i18n.js";

export function watchSession(idleSeconds, { dialog, countdown, stay, signOut, onExpire }) {
  if (!idleSeconds || !dialog) return;
  const margin = Math.min(60, idleSeconds / 10) * 1000;
  const warnBefore = Math.min(120, idleSeconds / 4) * 1000;
  let last = Date.now();
  onActivity((at) => {
    last = at;
    if (dialog.open) dialog.close();
  });

  const tick = () => {
    const expiresAt = last + idleSeconds * 1000 - margin;
    const left = expiresAt - Date.now();
    if (left <= 0) {
      clearInterval(timer);
      onExpire();
      return;
    }
    if (left <= warnBefore) {
      countdown.textContent = t("session.ends_in", { seconds: Math.ceil(left / 1000) });
      if (!dialog.open) dialog.showModal();
    }
  };
  const timer = setInterval(tick, 1000);

  stay.addEventListener("click", async () => {
    try {
      await api("/api/v1/me");
      noteActivity();
    } catch {
      onExpire();
    }
  });
  signOut.addEventListener("click", onExpire);
}
