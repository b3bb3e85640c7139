// The video grid of the call: one tile per participant (this one first, muted), with
// the name and part, audio-only and consent badges, the connection quality measured
// here, and for the chair and secretary what each participant reports. One tile is
// large: the one the user pinned, else a shared screen (imaging), else the participant
// speaking now. Each other participant's tile can be pinned and shown full screen.
import { clear, element } from "./dom.js";
import { t } from "./i18n.js";
import { quality } from "./call_stats.js";

export class Tiles {
  constructor(grid) {
    this.grid = grid;
    this.tiles = new Map(); // peer id -> nodes
    this.pinned = null; // the peer id the user pinned
    this.speaker = null; // the peer id heard now
  }

  get(peerId, self = false) {
    let tile = this.tiles.get(peerId);
    if (tile) return tile;
    const testid = (name) => (self ? `call-self${name === "video" ? "-video" : ""}` : `call-${name}`);
    const figure = element("figure", { className: "tile", attrs: { "data-peer-id": peerId, "data-testid": testid("tile") } });
    const video = element("video", { attrs: { "data-testid": testid("video") } });
    video.autoplay = true;
    video.playsInline = true;
    video.muted = self; // never hear oneself
    const name = element("strong");
    const badge = element("span", { className: "badge", text: t("call.audio_only"), attrs: { "data-testid": "call-audio-only-badge" } });
    const consent = element("span", { className: "badge", text: t("call.consented"), attrs: { "data-testid": "call-consented" } });
    const signal = element("span", { className: "quality", attrs: { "data-testid": "call-quality" } });
    const reported = element("span", { className: "meta reported", attrs: { "data-testid": "call-reported" } });
    const caption = element("figcaption");
    caption.append(name, " ", badge, " ", consent, signal, reported);
    figure.append(video, caption);
    if (!self) caption.append(this.tools(peerId, figure));
    if (self) this.grid.prepend(figure);
    else this.grid.append(figure);
    tile = { figure, video, name, badge, consent, signal, reported };
    this.tiles.set(peerId, tile);
    this.layout();
    return tile;
  }

  tools(peerId, figure) {
    const pin = element("button", { className: "link", text: t("call.pin"), attrs: { type: "button", "aria-pressed": "false", "data-testid": "call-pin" } });
    pin.addEventListener("click", () => {
      this.pinned = this.pinned === peerId ? null : peerId;
      this.layout();
    });
    const full = element("button", { className: "link", text: t("call.fullscreen"), attrs: { type: "button", "data-testid": "call-fullscreen" } });
    full.addEventListener("click", () => figure.requestFullscreen?.().catch(() => {}));
    const tools = element("span", { className: "tile-tools" });
    tools.append(pin, " ", full);
    return tools;
  }

  // The participant heard now (null: nobody), as the call measures it.
  speaking(peerId) {
    if (peerId === this.speaker) return;
    this.speaker = peerId;
    this.layout();
  }

  // The large tile: the pinned one, else a shared screen, else the speaker's.
  layout() {
    const sharing = [...this.tiles].find(([, tile]) => tile.figure.dataset.screen === "true")?.[0];
    const focus = this.tiles.has(this.pinned) ? this.pinned : (sharing ?? this.speaker);
    for (const [peerId, tile] of this.tiles) {
      tile.figure.dataset.focus = String(peerId === focus);
      tile.figure.dataset.speaking = String(peerId === this.speaker);
      const pin = tile.figure.querySelector('[data-testid="call-pin"]');
      pin?.setAttribute("aria-pressed", String(peerId === this.pinned));
    }
  }

  // who: {name, part, username, audioOnly, consent, self}; figures: measured here or null.
  update(peerId, who, figures) {
    const tile = this.get(peerId, who.self);
    tile.name.textContent = who.part ? `${who.name} · ${who.part}` : who.name;
    if (who.username) tile.figure.dataset.username = who.username;
    tile.figure.dataset.audioOnly = String(Boolean(who.audioOnly));
    if (tile.figure.dataset.screen !== String(Boolean(who.screen))) {
      tile.figure.dataset.screen = String(Boolean(who.screen));
      this.layout();
    }
    tile.video.setAttribute("aria-label", t("call.video_of", { name: who.name }));
    tile.badge.hidden = !who.audioOnly;
    tile.consent.hidden = !who.consent;
    tile.signal.hidden = who.self;
    if (!who.self) {
      const level = quality(figures);
      tile.signal.dataset.quality = level;
      tile.signal.textContent = t(`call.quality.${level}`);
    }
  }

  show(peerId, stream, self = false) {
    const tile = this.get(peerId, self);
    if (tile.video.srcObject === stream) return;
    tile.video.srcObject = stream;
    tile.video.hidden = stream === null;
    // Muted (one's own) plays at once; the others start once the page may play sound.
    if (stream) tile.video.play().catch(() => {});
  }

  report(peerId, figures) {
    const tile = this.tiles.get(peerId);
    if (!tile) return;
    const known = (value) => value !== null && value !== undefined;
    tile.reported.textContent = t("call.reported", {
      quality: t(`call.quality.${quality(figures)}`),
      rtt: known(figures.rtt_ms) ? Math.round(figures.rtt_ms) : "—",
      loss: known(figures.packet_loss) ? `${(figures.packet_loss * 100).toFixed(1)}%` : "—",
      kbps: known(figures.bitrate_kbps) ? Math.round(figures.bitrate_kbps) : "—",
    });
  }

  remove(peerId) {
    this.tiles.get(peerId)?.figure.remove();
    this.tiles.delete(peerId);
    if (this.pinned === peerId) this.pinned = null;
    if (this.speaker === peerId) this.speaker = null;
    this.layout();
  }

  clear() {
    clear(this.grid);
    this.tiles.clear();
    this.pinned = this.speaker = null;
  }
}
