"""The Socket.IO server shared by the domain namespaces: creation, origin policy, auth."""
