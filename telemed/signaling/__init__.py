"""WebRTC for case rooms: ICE servers with short-lived TURN credentials, the server's own
peer connections, and the recording of a session by a receive-only server peer."""
