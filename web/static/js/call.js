// The call panel of the case room: the lobby and admission, the controls (join, leave,
// mute, camera, screen share, audio only), the connections to the other participants and
// their quality, and recording (consent, start and stop, the indicator, the connection to
// the server's recorder). Browsers connect to each other directly (a mesh); the server
// relays the signals over the page's one Socket.IO connection. See docs/realtime.md.
import { isCouncil, isTriage } from "./board.js";
import { CallChannel } from "./call_channel.js";
import { renderLobby } from "./call_lobby.js";
import { LocalMedia } from "./call_media.js";
import { PeerLink, RecorderLink } from "./call_peer.js";
import { measure, summarize } from "./call_stats.js";
import { Tiles } from "./call_tiles.js";
import { errorText, t } from "./i18n.js";

const RECORDER = "recorder";
const STATS_EVERY_MS = 3000;
const CALL_STATUSES = new Set(["scheduled", "in_session"]);
const $ = (id) => document.getElementById(id);

export class CallPanel {
  constructor(caseId, socket) {
    this.channel = new CallChannel(socket, caseId);
    this.socket = socket;
    this.state = "out"; // out, joining, lobby, in_call
    this.wanted = false; // the user is in the call: rejoin after a reconnect
    this.peerId = null;
    this.replaces = null; // the place in the call before a dropped connection
    this.iceServers = null;
    this.media = new LocalMedia();
    this.tiles = new Tiles($("video-grid"));
    this.links = new Map(); // remote peer id -> PeerLink
    this.info = new Map(); // remote peer id -> {user, role, audio_only, consent}
    this.waiting = []; // the lobby, for the chair and secretary
    this.recorder = null;
    this.recording = false;
    this.consent = false;
    this.status = null;
    this.role = null;
    this.timer = null;
    window.telemedCall = this.exposed();
    this.listen();
    this.wire();
    this.render();
  }

  // For tests and the curious: the live connections, read-only.
  exposed() {
    const panel = this;
    return {
      get pcs() {
        return new Map([...panel.links].map(([id, link]) => [id, link.pc]));
      },
      get recorder() {
        return panel.recorder?.pc ?? null;
      },
      get peerId() {
        return panel.peerId;
      },
    };
  }

  // --- what the room tells the panel -----------------------------------------------------

  render(status = this.status, role = this.role) {
    this.status = status;
    this.role = role;
    const joined = this.state === "lobby" || this.state === "in_call";
    const callable =
      CALL_STATUSES.has(status) && (role === "requester" || role === "guest" || isCouncil(role));
    const triage = isTriage(role);
    const media = this.media;
    $("call-panel").dataset.state = this.state;
    $("call-closed").hidden = callable || joined;
    $("call-controls").hidden = !callable && !joined;
    $("call-join").hidden = joined;
    $("call-join").disabled = this.state === "joining";
    for (const id of ["call-leave", "call-mute", "call-camera", "call-audio-only"]) $(id).hidden = !joined;
    $("call-screen").hidden = !joined || !navigator.mediaDevices?.getDisplayMedia;
    $("call-screen").disabled = media.audioOnly;
    $("call-camera").disabled = media.audioOnly;
    const pressed = (id, on) => $(id).setAttribute("aria-pressed", String(Boolean(on)));
    pressed("call-mute", media.muted);
    pressed("call-camera", media.cameraOff);
    pressed("call-screen", media.screen);
    pressed("call-audio-only", media.audioOnly);
    $("call-start").hidden = !(triage && status === "scheduled");
    $("rec-indicator").hidden = !this.recording;
    $("rec-panel").hidden = this.state !== "in_call";
    $("rec-consent").checked = this.consent;
    $("rec-start").hidden = !triage || this.recording;
    $("rec-stop").hidden = !triage || !this.recording;
    this.renderLobby(triage);
  }

  // Recording and consent are case events (in the room's ordered stream, replayed on join).
  onEvent(event) {
    const data = event.data ?? {};
    if (event.type === "recording.started") this.recording = true;
    else if (event.type === "recording.stopped") this.recording = false;
    else if (event.type === "recording.consent" && this.info.has(data.peer_id)) {
      this.info.get(data.peer_id).consent = data.consent;
      this.renderTile(data.peer_id);
    } else return;
    this.render();
  }

  roomJoined() {
    if (this.wanted && this.state === "out") this.join();
  }

  // --- what the server tells the panel ---------------------------------------------------

  listen() {
    const on = (name, handler) => this.channel.on(name, handler);
    on("rtc:signal", (m) => this.onSignal(m));
    on("call:admitted", (m) => {
      if (this.state === "lobby") this.enter(m.peers_in_call);
    });
    on("call:peer_joined", (m) => this.known(m.peer));
    on("call:peer_left", (m) => this.drop(m.peer_id));
    on("call:mode", (m) => {
      if (this.info.has(m.peer_id)) this.info.get(m.peer_id).audio_only = m.audio_only;
      this.renderTile(m.peer_id);
    });
    on("call:lobby", (m) => {
      this.waiting = m.waiting.filter((peer) => peer.peer_id !== this.peerId); // not oneself
      this.render();
    });
    on("call:stats", (m) => {
      for (const [peerId, figures] of Object.entries(m.peers ?? {})) this.tiles.report(peerId, figures);
    });
    on("call:ended", () => {
      this.wanted = false;
      this.teardown({ keepMedia: false });
      this.say("call.ended");
    });
    this.socket.on("disconnect", () => {
      if (this.state === "out") return;
      // This connection's place in the call is lost; rejoin once the room is back, giving
      // up the old place at once (the server may not have noticed the drop yet).
      this.replaces = this.peerId;
      this.teardown({ keepMedia: true });
      this.say("call.reconnecting");
    });
  }

  onSignal({ from, data }) {
    if (from === RECORDER) this.fromRecorder(data);
    else if (this.state === "in_call") this.link(from, false).handle(data);
  }

  fromRecorder(data) {
    if ("record" in data) {
      this.recorder?.close();
      this.recorder = null;
      if (data.record) {
        this.recorder = new RecorderLink({
          iceServers: this.iceServers ?? [],
          send: this.channel.signaller(RECORDER),
          tracks: () => this.media.tracks(),
          video: Boolean(data.record.video),
        });
      }
    } else if (data.description) {
      this.recorder?.receive(data).catch((error) => console.warn("call: recorder answer", error));
    }
  }

  // --- joining and leaving ---------------------------------------------------------------

  async join() {
    this.wanted = true;
    this.state = "joining";
    this.error(null);
    this.say("call.joining");
    this.render();
    if (this.iceServers === null) {
      const config = await this.channel.request("rtc:config");
      if (config.ok) this.iceServers = config.iceServers;
    }
    if (this.media.stream === null) {
      const refused = await this.media.acquire();
      if (refused) this.error(t(refused));
    }
    const ack = await this.channel.request("call:join", this.replaces ? { replaces: this.replaces } : {});
    this.replaces = null;
    if (!ack.ok) {
      this.state = "out";
      this.wanted = false;
      this.error(errorText(ack.error));
      this.say(null);
      this.render();
      return;
    }
    this.peerId = ack.peer_id;
    this.consent = false; // consent is given anew in every call
    this.showSelf();
    if (ack.state === "in_call") {
      this.enter(ack.peers_in_call);
    } else {
      this.state = "lobby";
      this.say("call.lobby");
      this.render();
    }
    // The join button is gone: keep the keyboard focus in the call's controls.
    if ([document.body, $("call-join")].includes(document.activeElement)) $("call-leave").focus();
  }

  // In the call: offer to everyone already there (they answer), measure every 3 s.
  enter(peers) {
    this.state = "in_call";
    this.say("call.in_call");
    for (const peer of peers) {
      this.known(peer);
      this.link(peer.peer_id, true);
    }
    if (this.media.audioOnly) this.channel.request("call:mode", { audio_only: true });
    clearInterval(this.timer);
    this.timer = setInterval(() => this.measureAll(), STATS_EVERY_MS);
    this.render();
  }

  async leave() {
    this.wanted = false;
    await this.channel.request("call:leave");
    this.teardown({ keepMedia: false });
    this.say("call.left");
    $("call-join").focus();
  }

  teardown({ keepMedia }) {
    clearInterval(this.timer);
    this.timer = null;
    for (const link of this.links.values()) link.close();
    this.links.clear();
    this.info.clear();
    this.recorder?.close();
    this.recorder = null;
    this.waiting = [];
    this.state = "out";
    this.peerId = null;
    if (!keepMedia) this.media.stop();
    this.tiles.clear();
    this.render();
  }

  // --- this participant's media ----------------------------------------------------------

  // Puts the current video (camera, screen or none) on every connection, without
  // renegotiating where the connection already sends video.
  async sendVideo() {
    const { video } = this.media.tracks();
    for (const link of [...this.links.values(), this.recorder].filter(Boolean)) {
      try {
        await link.sendVideo(video, this.media.stream);
      } catch (error) {
        console.warn("call: switching the video", error); // a connection that just closed
      }
    }
    this.showSelf();
    this.render();
  }

  async toggleScreen() {
    if (this.media.stopShare()) return this.sendVideo(); // back to the camera
    try {
      await this.media.startShare(() => {
        if (this.media.stopShare()) this.sendVideo();
      });
    } catch {
      this.error(t("call.screen_failed"));
      return;
    }
    await this.sendVideo();
  }

  // Audio only: stop sending video and free the camera, but stay in the call.
  async toggleAudioOnly() {
    const on = !this.media.audioOnly;
    try {
      await this.media.setAudioOnly(on);
    } catch {
      this.error(t("call.camera_failed"));
      return;
    }
    await this.sendVideo();
    if (this.state === "in_call") await this.channel.request("call:mode", { audio_only: on });
  }

  // --- the other participants ------------------------------------------------------------

  known(peer) {
    this.info.set(peer.peer_id, { ...peer });
    this.renderTile(peer.peer_id);
  }

  link(peerId, offering) {
    let link = this.links.get(peerId);
    if (!link) {
      link = new PeerLink({
        selfId: this.peerId ?? "",
        peerId,
        iceServers: this.iceServers ?? [],
        send: this.channel.signaller(peerId),
        onStream: (stream) => {
          this.tiles.show(peerId, stream);
          this.renderTile(peerId);
        },
        offering,
        tracks: () => this.media.tracks(),
        stream: this.media.stream,
      });
      this.links.set(peerId, link);
      this.renderTile(peerId);
    }
    return link;
  }

  drop(peerId) {
    this.links.get(peerId)?.close();
    this.links.delete(peerId);
    this.info.delete(peerId);
    this.tiles.remove(peerId);
  }

  async measureAll() {
    if (this.measuring || this.state !== "in_call") return;
    this.measuring = true;
    try {
      const all = [];
      for (const [peerId, link] of this.links) {
        const { totals, figures } = await measure(link.pc, link.totals);
        link.totals = totals;
        link.figures = figures;
        all.push(figures);
        this.renderTile(peerId);
      }
      if (all.length) await this.channel.request("rtc:stats", summarize(all));
    } catch (error) {
      console.warn("call: stats", error); // a connection closed meanwhile
    } finally {
      this.measuring = false;
    }
  }

  // --- rendering -------------------------------------------------------------------------

  renderTile(peerId) {
    if (!peerId || this.state === "out") return;
    if (peerId === this.peerId) {
      const who = { self: true, name: t("call.you"), audioOnly: this.media.audioOnly, consent: this.consent };
      this.tiles.update(peerId, who, null);
      return;
    }
    const info = this.info.get(peerId);
    const who = {
      self: false,
      name: info?.user?.full_name ?? "—",
      part: info ? t(`part.${info.role}`) : "",
      username: info?.user?.username,
      audioOnly: info?.audio_only,
      consent: info?.consent,
    };
    this.tiles.update(peerId, who, this.links.get(peerId)?.figures ?? null);
  }

  showSelf() {
    if (!this.peerId) return;
    const { video } = this.media.tracks();
    this.tiles.show(this.peerId, video ? new MediaStream([video]) : null, true);
    this.renderTile(this.peerId);
  }

  renderLobby(triage) {
    $("call-lobby").hidden = !triage || this.waiting.length === 0;
    $("lobby-hint").hidden = this.status === "in_session";
    renderLobby($("lobby-list"), this.waiting, {
      inSession: this.status === "in_session",
      admit: (peerId) => this.act("call:admit", { peer_id: peerId }),
    });
  }

  say(key) {
    $("call-status").textContent = key ? t(key) : "";
  }

  error(text) {
    $("call-error").textContent = text ?? "";
    $("call-error").hidden = !text;
  }

  // A chair's or participant's request; a refusal is shown (who has not consented yet).
  async act(event, payload = {}) {
    this.error(null);
    const ack = await this.channel.request(event, payload);
    if (ack.ok) return ack;
    const missing = ack.error?.missing;
    if (Array.isArray(missing) && missing.length) {
      const name = (id) => (id === this.peerId ? t("call.you") : (this.info.get(id)?.user?.full_name ?? "—"));
      this.error(t("call.consent_missing", { names: missing.map(name).join(", ") }));
    } else {
      this.error(errorText(ack.error));
    }
    return ack;
  }

  // --- controls --------------------------------------------------------------------------

  wire() {
    const click = (id, handler) => $(id).addEventListener("click", handler);
    click("call-join", () => this.join());
    click("call-leave", () => this.leave());
    click("call-mute", () => {
      this.media.toggleMute();
      this.render();
    });
    click("call-camera", () => {
      this.media.toggleCamera();
      this.render();
    });
    click("call-screen", () => this.toggleScreen());
    click("call-audio-only", () => this.toggleAudioOnly());
    click("call-start", () => this.act("call:start"));
    click("rec-start", () => this.act("rec:start"));
    click("rec-stop", () => this.act("rec:stop"));
    $("rec-consent").addEventListener("change", async (event) => {
      const consent = event.target.checked;
      const ack = await this.act("rec:consent", { consent });
      if (ack.ok) this.consent = consent;
      event.target.checked = this.consent;
      this.renderTile(this.peerId);
    });
  }
}
