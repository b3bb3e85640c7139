"""Prometheus metrics in a registry of the application's own (no process-global state)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

SIGN_IN_FAILURES = ("invalid_credentials", "throttled")


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "telemed_http_requests_total",
            "HTTP requests by method, route and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "telemed_http_request_duration_seconds",
            "HTTP request latency by method and route.",
            ["method", "route"],
            registry=self.registry,
        )
        self.socketio_connections = Gauge(
            "telemed_socketio_connections",
            "Open Socket.IO connections on this process.",
            registry=self.registry,
        )
        self.socketio_rooms = Gauge(
            "telemed_socketio_rooms",
            "Socket.IO case rooms with at least one member on this process.",
            registry=self.registry,
        )
        self.live_healed = Counter(
            "telemed_live_healed_events_total",
            "Case events replayed to clients that found themselves behind the room's head "
            "(case:head); stays at 0 while live delivery loses nothing.",
            registry=self.registry,
        )
        self.loop_lag = Gauge(
            "telemed_event_loop_lag_seconds",
            "How late the last 0.5 s timer of this process's event loop fired.",
            registry=self.registry,
        )
        self.loop_lag_histogram = Histogram(
            "telemed_event_loop_lag_histogram_seconds",
            "How late the event loop's timers fire (sampled every 0.5 s).",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
            registry=self.registry,
        )
        self.audit_head = Gauge(
            "telemed_audit_chain_head",
            "The last seq of the audit chain (read every 15 s).",
            registry=self.registry,
        )
        self.open_calls = Gauge(
            "telemed_open_calls",
            "Video calls open on this process.",
            registry=self.registry,
        )

        self.forwarded_streams = Gauge(
            "telemed_sfu_forwarded_streams",
            "Streams the SFU forwards for this process's calls (one per subscribed feed).",
            registry=self.registry,
        )
        self.batch_units = Histogram(
            "telemed_commit_batch_units",
            "Units of work (case changes, audit rows) stored by one commit (group commit).",
            buckets=(1, 2, 5, 10, 20, 50, 100, 200),
            registry=self.registry,
        )
        self.commit_seconds = Histogram(
            "telemed_commit_seconds",
            "Time one batch's COMMIT took (the fsync on SQLite).",
            registry=self.registry,
        )
        self.write_turn_wait = Histogram(
            "telemed_write_turn_wait_seconds",
            "Time a batch waited for the database's write turn before its first unit: "
            "SQLite's write lock, or PostgreSQL's audit chain lock, which the batches of "
            "every process take.",
            registry=self.registry,
        )
        self.sign_in_failures = Counter(
            "telemed_sign_in_failures_total",
            "Refused sign-ins by reason: invalid_credentials (a wrong name or password, or "
            "a disabled account) or throttled (too many failures in the window).",
            ["reason"],
            registry=self.registry,
        )
        for reason in SIGN_IN_FAILURES:
            self.sign_in_failures.labels(reason)

        self.malformed_requests = Counter(
            "telemed_http_malformed_requests_total",
            "Requests refused by the HTTP parser (bad request line or headers).",
            registry=self.registry,
        )
        self.socketio_refused_frames = Counter(
            "telemed_socketio_refused_frames_total",
            "Socket.IO frames refused (binary, malformed, not Engine.IO), by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.minutes_pdf = Counter(
            "telemed_minutes_pdf_total",
            "Minutes PDF requests by outcome: rendered, cached, joined (waited for the same "
            "version's layout), busy (refused, queue full), timeout.",
            ["outcome"],
            registry=self.registry,
        )
        self.pdf_layouts = Gauge(
            "telemed_pdf_layouts",
            "PDF layouts running in the worker processes and waiting for a worker.",
            ["state"],
            registry=self.registry,
        )

    def batch_committed(self, units: int, seconds: float, waited: float) -> None:
        self.batch_units.observe(units)
        self.commit_seconds.observe(seconds)
        self.write_turn_wait.observe(waited)

    def sign_in_failed(self, reason: str) -> None:
        self.sign_in_failures.labels(reason).inc()

    def refused_frame(self, reason: str) -> None:
        self.socketio_refused_frames.labels(reason).inc()

    def watch_pdf(self, running: Callable[[], int], waiting: Callable[[], int]) -> None:
        self.pdf_layouts.labels("running").set_function(running)
        self.pdf_layouts.labels("waiting").set_function(waiting)

    def watch_socketio(self, connections: Callable[[], int], rooms: Callable[[], int]) -> None:
        self.socketio_connections.set_function(connections)
        self.socketio_rooms.set_function(rooms)

    def render(self) -> bytes:
        return generate_latest(self.registry)
