"""Live delivery: Socket.IO connections, case rooms with replay, the live feed of committed
case events across processes, presence and per-user notifications. No feature lives here."""
