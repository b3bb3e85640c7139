"""Prometheus metrics in a registry of the application's own (no process-global state)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


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

    def refused_frame(self, reason: str) -> None:
        self.socketio_refused_frames.labels(reason).inc()

    def watch_socketio(self, connections: Callable[[], int], rooms: Callable[[], int]) -> None:
        self.socketio_connections.set_function(connections)
        self.socketio_rooms.set_function(rooms)

    def render(self) -> bytes:
        return generate_latest(self.registry)
