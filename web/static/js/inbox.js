// The inbox page: the stored notifications, newest first, a page at a time; each marked
// read on its own button or all at once. New ones arrive live at the top.
import { api } from "./api.js";
import { clear, element, showText } from "./dom.js";
import { errorText, formatTime, t } from "./i18n.js";
import { noticeText } from "./notify.js";
import { liveSocket } from "./socket.js";

const list = document.getElementById("inbox-list");
const more = document.getElementById("inbox-more");
const empty = document.getElementById("inbox-empty");
const failure = document.getElementById("inbox-error");
let next = null;

function announce(unread) {
  document.dispatchEvent(new CustomEvent("telemed:inbox", { detail: { unread } }));
}

function showError(error) {
  showText(failure, errorText(error));
}

function item(note) {
  const row = element("li", {
    className: note.read_at ? "inbox-item" : "inbox-item unread",
    attrs: { "data-testid": "inbox-item", "data-id": String(note.id), "data-kind": note.kind },
  });
  const link = element("a", {
    text: noticeText(note) ?? note.title,
    attrs: { href: `/cases/${Number(note.case_id)}`, "data-testid": "inbox-text" },
  });
  row.append(link, element("time", { text: formatTime(note.at), attrs: { datetime: note.at } }));
  if (!note.read_at) {
    const read = element("button", {
      text: t("inbox.read"),
      className: "light",
      attrs: { type: "button", "data-testid": "inbox-mark-read" },
    });
    read.addEventListener("click", async () => {
      try {
        const answer = await api(`/api/v1/notifications/${Number(note.id)}/read`, { method: "POST" });
        row.replaceWith(item(answer.notification));
        announce(answer.unread);
      } catch (error) {
        showError(error);
      }
    });
    row.append(read);
  }
  return row;
}

async function load(first) {
  const query = first || next === null ? "" : `&before=${Number(next)}`;
  try {
    const page = await api(`/api/v1/notifications?limit=20${query}`);
    if (first) clear(list);
    for (const note of page.items) list.append(item(note));
    next = page.next;
    more.hidden = next === null;
    empty.hidden = list.childElementCount > 0;
    failure.hidden = true;
    announce(page.unread);
  } catch (error) {
    showError(error);
  }
}

more.addEventListener("click", () => load(false));
document.getElementById("inbox-read-all").addEventListener("click", async () => {
  try {
    announce((await api("/api/v1/notifications/read", { method: "POST" })).unread);
    await load(true);
  } catch (error) {
    showError(error);
  }
});
liveSocket().on("notify", (note) => {
  list.prepend(item(note));
  empty.hidden = true;
});
load(true);
