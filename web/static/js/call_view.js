// The call panel on the page: it shows CallPanel's state (controls, tiles, lobby,
// recording) and hands the controls' clicks back to it. It keeps no state of its own but
// the tiles' nodes; what the user may do comes from the server (allowed_actions).
import { renderLobby } from "./call_lobby.js";
import { Tiles } from "./call_tiles.js";
import { $, showText } from "./dom.js";
import { t } from "./i18n.js";

export class CallView {
  constructor(panel) {
    this.panel = panel;
    this.tiles = new Tiles($("video-grid"));
  }

  render() {
    const { state, media, allowed } = this.panel;
    const joined = state === "lobby" || state === "in_call";
    const callable = allowed.has("join_call");
    $("call-panel").dataset.state = state;
    $("call-closed").hidden = callable || joined;
    $("call-controls").hidden = !callable && !joined;
    $("call-join").hidden = joined;
    $("call-join").disabled = state === "joining";
    for (const id of ["call-leave", "call-mute", "call-camera", "call-audio-only"]) $(id).hidden = !joined;
    $("call-screen").hidden = !joined || !navigator.mediaDevices?.getDisplayMedia;
    $("call-screen").disabled = media.audioOnly;
    $("call-camera").disabled = media.audioOnly;
    const pressed = (id, on) => $(id).setAttribute("aria-pressed", String(Boolean(on)));
    pressed("call-mute", media.muted);
    pressed("call-camera", media.cameraOff);
    pressed("call-screen", media.screen);
    pressed("call-audio-only", media.audioOnly);
    $("call-start").hidden = !allowed.has("start_session");
    $("rec-indicator").hidden = !this.panel.recording;
    $("rec-panel").hidden = state !== "in_call";
    $("rec-consent").checked = this.panel.consent;
    $("rec-start").hidden = !allowed.has("record") || this.panel.recording;
    $("rec-stop").hidden = !allowed.has("record") || !this.panel.recording;
    this.renderLobby();
  }

  // The server tells the lobby to the chair and secretary only; admitting waits for the
  // session (starting it admits everyone).
  renderLobby() {
    const { waiting, allowed } = this.panel;
    $("call-lobby").hidden = waiting.length === 0;
    $("lobby-hint").hidden = allowed.has("admit");
    renderLobby($("lobby-list"), waiting, {
      inSession: allowed.has("admit"),
      admit: (peerId) => this.panel.act("call:admit", { peer_id: peerId }),
    });
  }

  renderTile(peerId) {
    const panel = this.panel;
    if (!peerId || panel.state === "out") return;
    if (peerId === panel.peerId) {
      const who = { self: true, name: t("call.you"), audioOnly: panel.media.audioOnly, consent: panel.consent };
      this.tiles.update(peerId, who, null);
      return;
    }
    const info = panel.info.get(peerId);
    const who = {
      self: false,
      name: info?.user?.full_name ?? "—",
      part: info ? t(`part.${info.role}`) : "",
      username: info?.user?.username,
      audioOnly: info?.audio_only,
      screen: info?.screen,
      consent: info?.consent,
    };
    this.tiles.update(peerId, who, panel.links.get(peerId)?.figures ?? null);
  }

  showSelf() {
    const { peerId, media } = this.panel;
    if (!peerId) return;
    const { video } = media.tracks();
    this.tiles.show(peerId, video ? new MediaStream([video]) : null, true);
    this.renderTile(peerId);
  }

  say(key) {
    $("call-status").textContent = key ? t(key) : "";
  }

  error(text) {
    showText($("call-error"), text);
  }

  // What the server decided for the call (a weak link, the SFU needed), until the next.
  notice(text) {
    showText($("call-notice"), text);
  }

  // After joining, the join button is gone: keep the keyboard focus in the call's controls.
  keepFocus() {
    if ([document.body, $("call-join")].includes(document.activeElement)) $("call-leave").focus();
  }

  focusJoin() {
    $("call-join").focus();
  }

  wire() {
    const panel = this.panel;
    const click = (id, handler) => $(id).addEventListener("click", handler);
    click("call-join", () => panel.join());
    click("call-leave", () => panel.leave());
    click("call-mute", () => {
      panel.media.toggleMute();
      this.render();
    });
    click("call-camera", () => {
      panel.media.toggleCamera();
      this.render();
    });
    click("call-screen", () => panel.toggleScreen());
    click("call-audio-only", () => panel.toggleAudioOnly());
    click("call-start", () => panel.act("call:start"));
    click("rec-start", () => panel.act("rec:start"));
    click("rec-stop", () => panel.act("rec:stop"));
    $("rec-consent").addEventListener("change", async (event) => {
      event.target.checked = await panel.setConsent(event.target.checked);
    });
  }
}
