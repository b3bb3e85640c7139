// The lobby as the chair and secretary see it: who waits, with a button to admit each.
import { clear, element } from "./dom.js";
import { t } from "./i18n.js";

// waiting: [{peer_id, user, role}]; admit(peerId) asks the server to let one in.
export function renderLobby(list, waiting, { inSession, admit }) {
  clear(list);
  for (const peer of waiting) {
    const name = peer.user.full_name;
    const item = element("li", { attrs: { "data-testid": "lobby-entry", "data-username": peer.user.username ?? "" } });
    item.append(element("span", { text: `${name} · ${t(`part.${peer.role}`)}` }));
    const button = element("button", {
      text: t("call.admit"),
      className: "small",
      attrs: { type: "button", "data-testid": "lobby-admit", "aria-label": t("call.admit_who", { name }) },
    });
    // Before the session starts there is no call to admit into: starting it admits all.
    button.disabled = !inSession;
    button.addEventListener("click", () => admit(peer.peer_id));
    item.append(" ", button);
    list.append(item);
  }
}
