// The call through the SFU (docs/realtime.md, "The SFU from the third participant"): two
// connections whatever the size of the call. The publisher sends this participant's
// microphone and camera (or screen) to the server's virtual peer sfu:publish; the
// subscriber receives everyone else from sfu:subscribe, whose offers say which participant
// each m-line carries. The browser never talks to Janus: every description and candidate
// travels over rtc:signal, like the mesh's.

export const PUBLISH = "sfu:publish";
// Simulcast: the camera goes out twice, full size and halved, and the server picks for each
// receiver the layer its link holds (docs/realtime.md, "Weak links"). Janus takes the rids
// highest first, as offered here, and numbers its substreams from the lowest (0).
const LAYERS = [
  { rid: "h", maxBitrate: 600_000 },
  { rid: "l", scaleResolutionDownBy: 2, maxBitrate: 150_000 },
];
export const SUBSCRIBE = "sfu:subscribe";

export class SfuLinks {
  // channel: the call's CallChannel; tracks() gives the local tracks ({audio, video}, either
  // null); onStream(peerId, stream) shows a participant's media.
  constructor({ iceServers, channel, tracks, stream, onStream }) {
    this.iceServers = iceServers;
    this.onStream = onStream;
    this.sendPublish = channel.signaller(PUBLISH);
    this.sendSubscribe = channel.signaller(SUBSCRIBE);
    this.owners = new Map(); // mid of the receiving connection -> peer id
    this.streams = new Map(); // peer id -> the MediaStream shown
    this.inbox = Promise.resolve(); // signals are applied one at a time, in order
    this.totals = new Map(); // stats readings per connection (call_stats.measure)
    this.subscriber = null;
    this.publisher = this.publish(tracks(), stream);
  }

  publish(local, stream) {
    const pc = new RTCPeerConnection({ iceServers: this.iceServers });
    const streams = stream ? [stream] : [];
    pc.addTransceiver(local.audio ?? "audio", { direction: "sendonly", streams });
    this.video = pc.addTransceiver(local.video ?? "video", { direction: "sendonly", streams, sendEncodings: LAYERS });
    pc.onnegotiationneeded = async () => {
      try {
        await pc.setLocalDescription();
        await this.sendPublish({ description: pc.localDescription.toJSON() });
      } catch (error) {
        console.warn("call: offer to the SFU failed", error);
      }
    };
    pc.onicecandidate = ({ candidate }) => {
      if (candidate) this.sendPublish({ candidate: candidate.toJSON() });
    };
    pc.oniceconnectionstatechange = () => {
      if (pc.iceConnectionState === "failed") pc.restartIce(); // a new offer follows
    };
    return pc;
  }

  receiver() {
    const pc = new RTCPeerConnection({ iceServers: this.iceServers });
    pc.onicecandidate = ({ candidate }) => {
      if (candidate) this.sendSubscribe({ candidate: candidate.toJSON() });
    };
    return pc;
  }

  handle(from, data) {
    const apply = from === PUBLISH ? () => this.published(data) : () => this.subscribed(data);
    this.inbox = this.inbox.then(apply).catch((error) => console.warn("call: SFU signal", error));
  }

  async published({ description }) {
    if (description?.type === "answer" && this.publisher.signalingState === "have-local-offer") {
      await this.publisher.setRemoteDescription(description);
    }
  }

  // An offer of what this participant receives: a new connection when the server says so
  // (the first offer, or Janus lost the previous one), otherwise the current one.
  async subscribed({ description, streams, new_connection: fresh }) {
    if (description?.type !== "offer") return;
    if (fresh || this.subscriber === null) {
      this.subscriber?.close();
      this.subscriber = this.receiver();
      this.totals.delete(SUBSCRIBE);
    }
    this.owners = new Map((streams ?? []).map((s) => [s.mid, s.peer_id]));
    const pc = this.subscriber;
    await pc.setRemoteDescription(description);
    await pc.setLocalDescription();
    await this.sendSubscribe({ description: pc.localDescription.toJSON() });
    this.regroup();
  }

  // Each participant's tracks in one stream, by the m-lines the last offer gave them (an
  // m-line may carry someone else after an update).
  regroup() {
    const byPeer = new Map();
    for (const transceiver of this.subscriber.getTransceivers()) {
      const peerId = transceiver.mid === null ? undefined : this.owners.get(transceiver.mid);
      if (!peerId || transceiver.stopped) continue;
      if (!byPeer.has(peerId)) byPeer.set(peerId, []);
      byPeer.get(peerId).push(transceiver.receiver.track);
    }
    for (const [peerId, tracks] of byPeer) {
      const shown = this.streams.get(peerId)?.getTracks() ?? [];
      if (shown.length === tracks.length && tracks.every((track) => shown.includes(track))) continue;
      const stream = new MediaStream(tracks);
      this.streams.set(peerId, stream);
      this.onStream(peerId, stream);
    }
    for (const peerId of [...this.streams.keys()]) {
      if (!byPeer.has(peerId)) this.streams.delete(peerId);
    }
  }

  // The connections, by the virtual peer each talks to.
  connections() {
    return new Map([[PUBLISH, this.publisher], ...(this.subscriber ? [[SUBSCRIBE, this.subscriber]] : [])]);
  }

  // The camera, the screen or nothing, on the one sending connection: no renegotiation.
  async sendVideo(track) {
    await this.video.sender.replaceTrack(track);
  }

  close() {
    this.publisher.close();
    this.subscriber?.close();
  }
}
