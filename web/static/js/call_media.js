// This participant's own media in the call: camera and microphone (audio only when the
// camera is refused), mute, camera off, the shared screen in place of the camera, and the
// audio-only mode that frees the camera entirely.

const CAMERA = { width: { ideal: 640 }, height: { ideal: 360 }, frameRate: { ideal: 15 } };

export class LocalMedia {
  constructor() {
    this.stream = null; // camera and microphone
    this.screen = null; // the shared screen (a video track)
    this.audioOnly = false;
  }

  // Asks for camera and microphone; an i18n key when less than both was granted.
  async acquire() {
    this.audioOnly = false;
    try {
      this.stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: CAMERA });
      return null;
    } catch (error) {
      console.warn("call: camera refused", error);
    }
    this.audioOnly = true;
    try {
      this.stream = await navigator.mediaDevices.getUserMedia({ audio: true });
      return "call.camera_refused";
    } catch {
      this.stream = new MediaStream(); // still sees and hears the others
      return "call.media_refused";
    }
  }

  audioTrack() {
    return this.stream?.getAudioTracks()[0] ?? null;
  }

  cameraTrack() {
    return this.stream?.getVideoTracks()[0] ?? null;
  }

  // What goes out now: the microphone, and the screen, the camera or no video.
  tracks() {
    const video = this.audioOnly ? null : (this.screen ?? this.cameraTrack());
    return { audio: this.audioTrack(), video };
  }

  get muted() {
    return this.audioTrack()?.enabled === false;
  }

  get cameraOff() {
    return this.cameraTrack()?.enabled === false;
  }

  // Muting and the camera switch keep the tracks (silence, black frames): no renegotiation.
  toggleMute() {
    const track = this.audioTrack();
    if (track) track.enabled = !track.enabled;
  }

  toggleCamera() {
    const track = this.cameraTrack();
    if (track) track.enabled = !track.enabled;
  }

  async startShare(onEnded) {
    const shared = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
    this.screen = shared.getVideoTracks()[0];
    // The browser's own "stop sharing" button ends the track.
    this.screen.addEventListener("ended", onEnded);
  }

  stopShare() {
    if (!this.screen) return false;
    this.screen.stop();
    this.screen = null;
    return true;
  }

  // Audio only stops the camera (a weak network, a weak computer); back on asks for it again.
  async setAudioOnly(on) {
    if (on) {
      this.stopShare();
      const track = this.cameraTrack();
      if (track) {
        track.stop();
        this.stream.removeTrack(track);
      }
    } else if (!this.cameraTrack()) {
      const fresh = await navigator.mediaDevices.getUserMedia({ video: CAMERA });
      this.stream.addTrack(fresh.getVideoTracks()[0]);
    }
    this.audioOnly = on;
  }

  stop() {
    this.stopShare();
    for (const track of this.stream?.getTracks() ?? []) track.stop();
    this.stream = null;
  }
}
