// The header's unread count: read from the stored inbox on load, read again on each live
// notice, and set from the `inbox` event when another page of the same user marks some read.
import { api } from "./api.js";

function show(badge, unread) {
  badge.textContent = String(unread);
  badge.hidden = unread === 0;
  badge.dataset.unread = String(unread);
}

export function followUnreadCount(socket, badge) {
  if (!badge) return;
  const refresh = async () => {
    try {
      show(badge, (await api("/api/v1/notifications/unread")).unread);
    } catch {
      // Signed out or offline: the next notice or reload tries again.
    }
  };
  refresh();
  socket.on("notify", refresh);
  socket.on("inbox", (data) => show(badge, Number(data.unread)));
  document.addEventListener("telemed:inbox", (event) => show(badge, event.detail.unread));
}
