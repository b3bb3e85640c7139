// The call panel of the case room: the lobby and admission, the controls (join, leave,
// mute, camera, screen share, audio only), the connections to the other participants and
// their quality, and recording (consent, start and stop, the indicator, the connection to
// the server's recorder). Up to two participants, browsers connect to each other directly
// (a mesh); from the third, when the server has an SFU, each browser keeps two connections
// to it (call_sfu.js). The server relays every signal over the page's one Socket.IO
// connection. See docs/realtime.md.
// This module holds the call's state and talks to the server; call_view.js shows it.
import { CallChannel } from "./call_channel.js";
import { LocalMedia } from "./call_media.js";
import { PeerLink, RecorderLink } from "./call_peer.js";
import { PUBLISH, SUBSCRIBE, SfuLinks } from "./call_sfu.js";
import { CallMeter } from "./call_meter.js";
import { CallView } from "./call_view.js";
import { errorText, t } from "./i18n.js";

const RECORDER = "recorder";

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
    this.links = new Map(); // remote peer id -> PeerLink (a mesh)
    this.sfu = null; // SfuLinks, once the call goes through the SFU
    this.epoch = 0; // the SFU room's: a new one means publishing again
    this.early = []; // SFU signals that came before the join's answer said "sfu"
    this.info = new Map(); // remote peer id -> {user, role, audio_only, consent}
    this.waiting = []; // the lobby, for the chair and secretary
    this.recorder = null;
    this.recording = false;
    this.consent = false;
    this.allowed = new Set(); // the server's allowed_actions for this user
    this.meter = new CallMeter(this);
    this.view = new CallView(this);
    this.tiles = this.view.tiles;
    // The browser tests read the live connections; a page not under test exposes nothing.
    if (window.telemedTest) window.telemedCall = this.exposed();
    this.listen();
    this.view.wire();
    this.render();
  }

  // The live connections, read-only.
  exposed() {
    const panel = this;
    return {
      get pcs() {
        const mesh = [...panel.links].map(([id, link]) => [id, link.pc]);
        return new Map([...mesh, ...(panel.sfu?.connections() ?? [])]);
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

  // allowed: the server's allowed_actions for this user, when the room learns them.
  render(allowed = this.allowed) {
    this.allowed = allowed;
    this.view.render();
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
      if (this.state === "lobby") this.enter(m.peers_in_call, m);
    });
    on("call:topology", (m) => {
      if (this.state === "in_call" && m.topology === "sfu") this.toSfu(m.epoch);
    });
    on("call:peer_joined", (m) => this.known(m.peer));
    on("call:peer_left", (m) => this.drop(m.peer_id));
    on("call:mode", (m) => this.onMode(m));
    on("call:notice", (m) => {
      if (m.notice === "sfu_needed") this.view.notice(t("call.sfu_needed", { limit: m.limit }));
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
    else if (from === PUBLISH || from === SUBSCRIBE) {
      if (this.sfu) this.sfu.handle(from, data);
      else this.early.push([from, data]);
    }
    else if (this.state === "in_call" && this.sfu === null) this.link(from, false).handle(data);
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
      this.enter(ack.peers_in_call, ack);
    } else {
      this.state = "lobby";
      this.say("call.lobby");
      this.render();
    }
    this.view.keepFocus();
  }

  // In the call: in a mesh, offer to everyone already there (they answer); through the
  // SFU, publish. Measure (call_meter.js).
  enter(peers, { topology, epoch }) {
    this.state = "in_call";
    this.say("call.in_call");
    for (const peer of peers) this.known(peer);
    if (topology === "sfu") this.toSfu(epoch);
    else for (const peer of peers) this.link(peer.peer_id, true);
    if (this.media.audioOnly || this.media.screen) this.tellMode();
    this.meter.start();
    this.render();
  }

  // The call moves to the SFU, or to a new SFU room: the direct connections close and this
  // participant publishes (again); the tiles stay, their media comes back through the SFU.
  toSfu(epoch) {
    if (this.sfu !== null && this.epoch === epoch) return;
    for (const link of this.links.values()) link.close();
    this.links.clear();
    this.sfu?.close();
    this.epoch = epoch;
    this.sfu = new SfuLinks({
      iceServers: this.iceServers ?? [],
      channel: this.channel,
      tracks: () => this.media.tracks(),
      stream: this.media.stream,
      onStream: (peerId, stream) => {
        this.tiles.show(peerId, stream);
        this.renderTile(peerId);
      },
    });
    for (const [from, data] of this.early.splice(0)) this.sfu.handle(from, data);
  }

  async leave() {
    this.wanted = false;
    await this.channel.request("call:leave");
    this.teardown({ keepMedia: false });
    this.say("call.left");
    this.view.focusJoin();
  }

  teardown({ keepMedia }) {
    this.meter.stop();
    for (const link of this.links.values()) link.close();
    this.links.clear();
    this.sfu?.close();
    this.sfu = null;
    this.early = [];
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
    for (const link of [...this.links.values(), this.sfu, this.recorder].filter(Boolean)) {
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
    const back = async () => {
      await this.sendVideo(); // back to the camera
      await this.tellMode();
    };
    if (this.media.stopShare()) return back();
    try {
      await this.media.startShare(() => {
        if (this.media.stopShare()) back();
      });
    } catch {
      this.error(t("call.screen_failed"));
      return;
    }
    await this.sendVideo();
    await this.tellMode();
  }

  // The others show this participant as audio only, or its shared screen large.
  async tellMode() {
    if (this.state !== "in_call") return;
    await this.channel.request("call:mode", { audio_only: this.media.audioOnly, screen: Boolean(this.media.screen) });
  }

  // Someone's audio only changed; the server switches this participant itself when its
  // link stays poor (reason "weak_link"): the camera stops here, and the page says why.
  async onMode(m) {
    if (m.peer_id === this.peerId) {
      if (m.audio_only && !this.media.audioOnly) {
        await this.toggleAudioOnly({ tell: false });
        if (m.reason === "weak_link") this.view.notice(t("call.weak_link"));
      }
      return;
    }
    if (this.info.has(m.peer_id)) Object.assign(this.info.get(m.peer_id), { audio_only: m.audio_only, screen: m.screen });
    if (m.audio_only && m.reason === "weak_link") {
      this.view.notice(t("call.weak_link_other", { name: this.info.get(m.peer_id)?.user?.full_name ?? "" }));
    }
    this.renderTile(m.peer_id);
  }

  // Audio only: stop sending video and free the camera, but stay in the call.
  async toggleAudioOnly({ tell = true } = {}) {
    const on = !this.media.audioOnly;
    try {
      await this.media.setAudioOnly(on);
    } catch {
      this.error(t("call.camera_failed"));
      return;
    }
    await this.sendVideo();
    if (!on) this.view.notice(null);
    if (tell) await this.tellMode();
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

  renderTile(peerId) {
    this.view.renderTile(peerId);
  }

  showSelf() {
    this.view.showSelf();
  }

  say(key) {
    this.view.say(key);
  }

  error(text) {
    this.view.error(text);
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

  // Consent is this participant's, given anew in every call; the answer is whether it holds.
  async setConsent(consent) {
    const ack = await this.act("rec:consent", { consent });
    if (ack.ok) this.consent = consent;
    this.renderTile(this.peerId);
    return this.consent;
  }
}
