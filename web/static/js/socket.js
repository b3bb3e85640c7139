// One Socket.IO connection per page, shared by the notifications and the case room. The
// session cookie authenticates it; the client reconnects by itself after a drop.
import { io } from "/vendor/socket.io/socket.io.esm.min.js";
import { sessionEnded } from "./api.js";

let socket = null;

export function liveSocket() {
  if (socket === null) {
    socket = io({ withCredentials: true });
    socket.on("connect_error", (error) => {
      if (error?.data?.code === "authentication_required") sessionEnded();
    });
  }
  return socket;
}
