// Every signed-in page: sign-out, the session-timeout warning, live notifications.
import { api, sessionEnded } from "./api.js";
import { followUnreadCount } from "./inbox_badge.js";
import { listenForNotifications } from "./notify.js";
import { watchSession } from "./session.js";
import { closeSocket, liveSocket } from "./socket.js";

async function signOut() {
  closeSocket();
  try {
    await api("/api/v1/auth/logout", { method: "POST" });
  } catch {
    // Already ended: the sign-in page is where we go either way.
  }
  window.location.assign("/login");
}

document.getElementById("logout")?.addEventListener("click", signOut);

watchSession(Number(document.body.dataset.idleTimeout), {
  dialog: document.getElementById("session-warning"),
  countdown: document.getElementById("session-countdown"),
  stay: document.getElementById("stay-signed-in"),
  signOut: document.getElementById("sign-out-now"),
  onExpire: async () => {
    closeSocket();
    try {
      await api("/api/v1/auth/logout", { method: "POST" });
    } finally {
      sessionEnded();
    }
  },
});

// Scripts are running: tests (and anyone curious) can tell the page is ready.
document.body.dataset.ready = "true";

// Administrators receive no notifications; everyone else listens on the shared socket.
if (document.body.dataset.role !== "admin") {
  listenForNotifications(liveSocket());
  followUnreadCount(liveSocket(), document.getElementById("inbox-badge"));
}
