"""The video call of a case room: lobby and admission, the WebRTC signal relay, ICE and
TURN credentials, recording, and the server's own media (``media/``)."""
