// The call's measurements, while in the call: every 3 s each connection's figures (the
// tiles' quality; a summary to the server, rtc:stats), and twice a second who is heard
// loudest (their tile grows; the last speaker keeps it while nobody speaks).
import { loudest, measure, summarize } from "./call_stats.js";

const STATS_EVERY_MS = 3000;
const SPEAKER_EVERY_MS = 500;

export class CallMeter {
  // panel: the CallPanel (its connections, channel and tiles are read at each reading).
  constructor(panel) {
    this.panel = panel;
    this.timers = [];
    this.measuring = false;
  }

  start() {
    this.stop();
    this.timers = [
      setInterval(() => this.measureAll(), STATS_EVERY_MS),
      setInterval(() => this.hearSpeaker(), SPEAKER_EVERY_MS),
    ];
  }

  stop() {
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
  }

  async measureAll() {
    const panel = this.panel;
    if (this.measuring || panel.state !== "in_call") return;
    this.measuring = true;
    try {
      const all = [];
      for (const [peerId, link] of panel.links) {
        const { totals, figures } = await measure(link.pc, link.totals);
        link.totals = totals;
        link.figures = figures;
        all.push(figures);
        panel.renderTile(peerId);
      }
      // Through the SFU, quality is measured per connection, not per participant.
      const sfu = panel.sfu;
      for (const [name, pc] of sfu?.connections() ?? []) {
        const { totals, figures } = await measure(pc, sfu.totals.get(name) ?? null);
        sfu.totals.set(name, totals);
        all.push(figures);
      }
      if (all.length) await panel.channel.request("rtc:stats", summarize(all));
    } catch (error) {
      console.warn("call: stats", error); // a connection closed meanwhile
    } finally {
      this.measuring = false;
    }
  }

  async hearSpeaker() {
    const { links, sfu, tiles } = this.panel;
    const mesh = [...links].map(([peerId, link]) => [link.pc, () => peerId]);
    const through = sfu?.subscriber ? [[sfu.subscriber, (stat) => sfu.owners.get(stat.mid)]] : [];
    try {
      const who = await loudest([...mesh, ...through]);
      if (who) tiles.speaking(who);
    } catch (error) {
      console.warn("call: audio levels", error); // a connection closed meanwhile
    }
  }
}
