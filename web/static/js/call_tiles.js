// The video grid of the call: one tile per participant (this one first, muted), with
// the name and part, audio-only and consent badges, the connection quality measured
// here, and for the chair and secretary what each participant reports.
import { clear, element } from "./dom.js";
import { t } from "./i18n.js";
import { quality } from "./call_stats.js";

export class Tiles {
  constructor(grid) {
    this.grid = grid;
    this.tiles = new Map(); // peer id -> nodes
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
    if (self) this.grid.prepend(figure);
    else this.grid.append(figure);
    tile = { figure, video, name, badge, consent, signal, reported };
    this.tiles.set(peerId, tile);
    return tile;
  }

  // who: {name, part, username, audioOnly, consent, self}; figures: measured here or null.
  update(peerId, who, figures) {
    const tile = this.get(peerId, who.self);
    tile.name.textContent = who.part ? `${who.name} · ${who.part}` : who.name;
    if (who.username) tile.figure.dataset.username = who.username;
    tile.figure.dataset.audioOnly = String(Boolean(who.audioOnly));
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
  }

  clear() {
    clear(this.grid);
    this.tiles.clear();
  }
}
