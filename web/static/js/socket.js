// One Socket.IO connection per page, shared by the notifications and the case room. The
// session cookie authenticates it; the client reconnects by itself after a drop.
import { io } from "/vendor/socket.io/socket.io.esm.min.js";
import { sessionEnded } from "./api.js";

let socket = null;

export function liveSocket() {
  if (socket === null) {
    socket = io({ withCredentials: true });
    // The transport in use, on the page (long-polling first, then the websocket): tests
    // and people debugging a hospital network see whether the upgrade went through.
    socket.on("connect", () => {
      const engine = socket.io.engine;
      document.body.dataset.socket = engine.transport.name;
      engine.once("upgrade", (transport) => {
        document.body.dataset.socket = transport.name;
      });
    });
    socket.on("connect_error", (error) => {
      if (error?.data?.code === "authentication_required") sessionEnded();
    });
  }
  return socket;
}

// Before signing out: close the connection ourselves, so that the server ending it does
// not set the client reconnecting (and polling with a session the server just dropped).
export function closeSocket() {
  socket?.disconnect();
}
