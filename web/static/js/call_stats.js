// Connection figures of the call, read from RTCPeerConnection.getStats(): round-trip
// time, the share of packets lost and the bitrate received since the previous reading,
// and the frame rate of the video received. From them, a quality level per connection.

const round = (value, digits) => Math.round(value * 10 ** digits) / 10 ** digits;

function selectedPair(report) {
  let pairId = null;
  report.forEach((stat) => {
    if (stat.type === "transport" && stat.selectedCandidatePairId) pairId = stat.selectedCandidatePairId;
  });
  let pair = pairId ? report.get(pairId) : null;
  if (!pair) {
    report.forEach((stat) => {
      if (stat.type === "candidate-pair" && stat.nominated && stat.state === "succeeded") pair = stat;
    });
  }
  return pair;
}

// One reading of a connection. `last` is the previous reading's `totals` (or null):
// losses and bitrate are figured over the interval between the two.
export async function measure(pc, last) {
  const report = await pc.getStats();
  const totals = { at: performance.now(), bytes: 0, lost: 0, received: 0 };
  let fps = null;
  report.forEach((stat) => {
    if (stat.type !== "inbound-rtp") return;
    totals.bytes += stat.bytesReceived ?? 0;
    totals.lost += Math.max(0, stat.packetsLost ?? 0);
    totals.received += stat.packetsReceived ?? 0;
    if (stat.kind === "video" && typeof stat.framesPerSecond === "number") {
      fps = Math.max(fps ?? 0, stat.framesPerSecond);
    }
  });
  const pair = selectedPair(report);
  const rtt = typeof pair?.currentRoundTripTime === "number" ? pair.currentRoundTripTime * 1000 : null;
  const figures = { rtt_ms: rtt === null ? null : Math.round(rtt), packet_loss: null, bitrate_kbps: null, fps };
  if (last) {
    const seconds = (totals.at - last.at) / 1000;
    const lost = totals.lost - last.lost;
    const received = totals.received - last.received;
    if (lost + received > 0) figures.packet_loss = round(Math.min(1, Math.max(0, lost / (lost + received))), 4);
    if (seconds > 0) figures.bitrate_kbps = round(Math.max(0, totals.bytes - last.bytes) * 8 / seconds / 1000, 1);
  }
  if (figures.fps !== null) figures.fps = round(figures.fps, 1);
  return { totals, figures };
}

// good / fair / poor from what a participant hears and sees; unknown before any figure.
export function quality(figures) {
  const rtt = figures?.rtt_ms;
  const loss = figures?.packet_loss;
  if ((rtt === null || rtt === undefined) && (loss === null || loss === undefined)) return "unknown";
  if ((loss ?? 0) > 0.08 || (rtt ?? 0) > 800) return "poor";
  if ((loss ?? 0) > 0.02 || (rtt ?? 0) > 300) return "fair";
  return "good";
}

// What this participant reports to the server (rtc:stats): the worst round-trip and loss
// over its connections, the total bitrate received, the lowest video frame rate.
export function summarize(all) {
  const pick = (name) => all.map((f) => f[name]).filter((v) => typeof v === "number");
  const max = (values) => (values.length ? Math.max(...values) : null);
  const rtts = pick("rtt_ms");
  const losses = pick("packet_loss");
  const rates = pick("bitrate_kbps");
  const fps = pick("fps");
  return {
    rtt_ms: max(rtts) === null ? null : Math.min(600000, max(rtts)),
    packet_loss: max(losses),
    bitrate_kbps: rates.length ? Math.min(1000000, round(rates.reduce((a, b) => a + b, 0), 1)) : null,
    fps: fps.length ? Math.min(1000, Math.min(...fps)) : null,
  };
}

// Above this audio level (0 to 1) someone is speaking.
const SPEAKING_LEVEL = 0.02;

// Who is heard loudest now among `connections`, pairs of a connection and peerOf(stat),
// which names the participant an incoming audio stream comes from; null when nobody is.
export async function loudest(connections) {
  let who = null;
  let top = SPEAKING_LEVEL;
  for (const [pc, peerOf] of connections) {
    (await pc.getStats()).forEach((stat) => {
      if (stat.type !== "inbound-rtp" || stat.kind !== "audio" || !((stat.audioLevel ?? 0) > top)) return;
      const peerId = peerOf(stat);
      if (!peerId) return;
      who = peerId;
      top = stat.audioLevel;
    });
  }
  return who;
}
