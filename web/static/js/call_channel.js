// The call's messages over the page's one Socket.IO connection: requests with an ack
// (never rejecting: a timeout answers like a network error), events of this case only,
// and the signals to one peer, sent in order.

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export class CallChannel {
  constructor(socket, caseId) {
    this.socket = socket;
    this.caseId = caseId;
  }

  async request(event, payload = {}) {
    try {
      return await this.socket.timeout(10000).emitWithAck(event, { case_id: this.caseId, ...payload });
    } catch {
      return { ok: false, error: { code: "network" } };
    }
  }

  on(name, handler) {
    this.socket.on(name, (data) => {
      if (Number(data?.case_id) === this.caseId) handler(data);
    });
  }

  // Signals to one peer leave one at a time, so a description is relayed before the
  // candidates that follow it; a rate-limited candidate is sent again a second later.
  signaller(to) {
    let chain = Promise.resolve();
    return (data) => {
      chain = chain.then(async () => {
        for (let attempt = 0; attempt < 3; attempt += 1) {
          const ack = await this.request("rtc:signal", { to, data });
          if (ack.ok || ack.error?.code !== "rate_limited") return;
          await sleep(1000);
        }
      });
      return chain;
    };
  }
}
