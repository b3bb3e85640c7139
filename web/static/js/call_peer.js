// One browser-to-browser connection of the call, negotiated with the "perfect
// negotiation" pattern: either side may offer at any time (joining, screen share without
// a camera, an ICE restart); when two offers cross, the polite side (the smaller peer id)
// rolls its own back and answers, the impolite side ignores the other's. Descriptions and
// trickled candidates travel through the server as rtc:signal, in order per peer.
// Also the send-only connection to the server's recorder while the session is recorded.

export class PeerLink {
  // send(data) relays {description} or {candidate} to the remote peer; onStream(stream)
  // gets the remote media; tracks() gives the local tracks ({audio, video}, either null).
  constructor({ selfId, peerId, iceServers, send, onStream, offering, tracks, stream }) {
    this.peerId = peerId;
    this.polite = selfId < peerId;
    this.makingOffer = false;
    this.ignoreOffer = false;
    this.early = []; // candidates that arrived before the remote description
    this.totals = null; // the previous stats reading (call_stats.measure)
    this.figures = null;
    this.send = send;
    this.inbox = Promise.resolve(); // signals from this peer are applied one at a time
    const pc = (this.pc = new RTCPeerConnection({ iceServers }));
    const local = tracks();
    for (const kind of ["audio", "video"]) {
      if (local[kind]) pc.addTrack(local[kind], stream);
      // Without a local track, the side that offers still asks to receive this kind.
      else if (offering) pc.addTransceiver(kind, { direction: "recvonly" });
    }
    pc.onnegotiationneeded = async () => {
      try {
        this.makingOffer = true;
        await pc.setLocalDescription();
        await send({ description: pc.localDescription.toJSON() });
      } catch (error) {
        console.warn("call: offer failed", error);
      } finally {
        this.makingOffer = false;
      }
    };
    pc.onicecandidate = ({ candidate }) => {
      if (candidate) send({ candidate: candidate.toJSON() });
    };
    pc.oniceconnectionstatechange = () => {
      // A changed network (Wi-Fi to 4G, a NAT rebinding): gather again and renegotiate.
      if (pc.iceConnectionState === "failed") pc.restartIce();
    };
    pc.ontrack = ({ track, streams }) => onStream(streams[0] ?? new MediaStream([track]));
  }

  handle(data) {
    this.inbox = this.inbox.then(() => this.receive(data)).catch((error) => console.warn("call: signal", error));
  }

  async receive({ description, candidate }) {
    const pc = this.pc;
    if (description) {
      const collision = description.type === "offer" && (this.makingOffer || pc.signalingState !== "stable");
      this.ignoreOffer = !this.polite && collision;
      if (this.ignoreOffer) return;
      if (collision && pc.signalingState === "have-local-offer") {
        await pc.setLocalDescription({ type: "rollback" });
      }
      await pc.setRemoteDescription(description);
      for (const early of this.early.splice(0)) await this.addCandidate(early);
      if (description.type === "offer") {
        await pc.setLocalDescription();
        await this.send({ description: pc.localDescription.toJSON() });
      }
    } else if (candidate) {
      if (!pc.remoteDescription) this.early.push(candidate);
      else await this.addCandidate(candidate);
    }
  }

  async addCandidate(candidate) {
    try {
      await this.pc.addIceCandidate(candidate);
    } catch (error) {
      // Candidates of an offer we ignored are expected to fail.
      if (!this.ignoreOffer) console.warn("call: candidate refused", error);
    }
  }

  videoTransceiver() {
    return this.pc.getTransceivers().find((tr) => tr.receiver.track.kind === "video" && !tr.stopped) ?? null;
  }

  // Sends `track` as this connection's video (null: send none) without renegotiating,
  // unless the connection never sent video (then the direction changes and it does).
  async sendVideo(track, stream) {
    const transceiver = this.videoTransceiver();
    if (!transceiver) {
      if (track) this.pc.addTrack(track, stream);
      return;
    }
    await transceiver.sender.replaceTrack(track);
    if (track && (transceiver.direction === "recvonly" || transceiver.direction === "inactive")) {
      transceiver.sender.setStreams?.(stream);
      transceiver.direction = "sendrecv";
    }
  }

  close() {
    this.pc.close();
  }
}

// The send-only connection to the server's recorder: this side offers, the recorder
// answers; closed when the recording stops ({"record": null}).
export class RecorderLink {
  constructor({ iceServers, send, tracks, video }) {
    const pc = (this.pc = new RTCPeerConnection({ iceServers }));
    const local = tracks();
    pc.addTransceiver(local.audio ?? "audio", { direction: "sendonly" });
    if (video) this.video = pc.addTransceiver(local.video ?? "video", { direction: "sendonly" });
    pc.onicecandidate = ({ candidate }) => {
      if (candidate) send({ candidate: candidate.toJSON() });
    };
    this.ready = (async () => {
      await pc.setLocalDescription();
      await send({ description: pc.localDescription.toJSON() });
    })();
  }

  async receive({ description }) {
    if (description && description.type === "answer") {
      await this.ready;
      if (this.pc.signalingState === "have-local-offer") await this.pc.setRemoteDescription(description);
    }
  }

  async sendVideo(track) {
    if (this.video) await this.video.sender.replaceTrack(track);
  }

  close() {
    this.pc.close();
  }
}
