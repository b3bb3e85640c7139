"""A Janus configuration for Telemed: the VideoRoom plugin only, the plain HTTP API only,
on a private address, with the API secret and the VideoRoom admin key Telemed uses.

Development and the tests start Janus with it (``telemed janus-config --output DIR``, then
``janus -F DIR``); production may start from it too (docs/deployment.md). Everything Janus
would load by default but Telemed does not use (the other plugins, the WebSocket, MQTT,
RabbitMQ, Nanomsg and Unix-socket transports, event handlers, loggers) is disabled, so an
instance exposes exactly the API Telemed drives, and no public STUN server is ever asked.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path

# Where Debian's package puts the modules (multiarch), and the modules of Janus 1.1 that
# the configuration disables when the folder cannot be read at generation time.
DEFAULT_LIBRARY_GLOB = "/usr/lib/*/janus"
VIDEOROOM = "libjanus_videoroom.so"
HTTP = "libjanus_http.so"
KNOWN_PLUGINS = (
    "libjanus_audiobridge.so",
    "libjanus_duktape.so",
    "libjanus_echotest.so",
    "libjanus_lua.so",
    "libjanus_nosip.so",
    "libjanus_recordplay.so",
    "libjanus_sip.so",
    "libjanus_streaming.so",
    "libjanus_textroom.so",
    "libjanus_videocall.so",
    "libjanus_voicemail.so",
    VIDEOROOM,
)
KNOWN_TRANSPORTS = (
    "libjanus_mqtt.so",
    "libjanus_nanomsg.so",
    "libjanus_pfunix.so",
    "libjanus_rabbitmq.so",
    "libjanus_websockets.so",
    HTTP,
)
KNOWN_LOGGERS = ("libjanus_jsonlog.so",)
KNOWN_EVENT_HANDLERS = (
    "libjanus_gelfevh.so",
    "libjanus_mqttevh.so",
    "libjanus_nanomsgevh.so",
    "libjanus_rabbitmqevh.so",
    "libjanus_sampleevh.so",
    "libjanus_wsevh.so",
)


@dataclass(frozen=True)
class JanusConfig:
    """What differs between instances. ``http_ip`` is the private address the HTTP API
    binds to (Telemed reaches it there; browsers never do); ``ice_interfaces`` limits ICE
    gathering to these interfaces or address prefixes (empty: every interface)."""

    http_ip: str
    http_port: int = 8088
    api_secret: str = ""
    admin_key: str = ""
    rtp_ports: tuple[int, int] = (20000, 40000)
    # Handles share this many event loops instead of one thread each: a fraction of the
    # CPU per forwarded stream (docs/performance.md). About one per core.
    event_loops: int = 2
    session_timeout: int = 60
    ice_interfaces: tuple[str, ...] = ()
    nat_1_1: str = ""
    debug_level: int = 4
    server_name: str = "telemed-janus"
    library_dir: Path | None = None

    def __post_init__(self) -> None:
        low, high = self.rtp_ports
        if not (1024 <= low < high <= 65535):
            raise ValueError("the RTP port range must be within 1024-65535, low < high")
        if not (0 < self.http_port <= 65535):
            raise ValueError("the HTTP port must be within 1-65535")
        if self.event_loops < 1:
            raise ValueError("event_loops must be at least 1")
        for text in (self.api_secret, self.admin_key, self.server_name, self.http_ip):
            if '"' in text or "\\" in text or "\n" in text:
                raise ValueError("quotes, backslashes and newlines are not allowed in values")


def library_dir(config: JanusConfig) -> Path:
    if config.library_dir is not None:
        return config.library_dir
    found = sorted(glob.glob(DEFAULT_LIBRARY_GLOB))
    return Path(found[0]) if found else Path("/usr/lib/x86_64-linux-gnu/janus")


def _modules(folder: Path, known: tuple[str, ...]) -> list[str]:
    """The module files in ``folder`` (the real ones where the folder exists)."""
    present = sorted(p.name for p in folder.glob("libjanus_*.so")) if folder.is_dir() else []
    return present or list(known)


def _disabled(folder: Path, known: tuple[str, ...], keep: str = "") -> str:
    return ",".join(name for name in _modules(folder, known) if name != keep)


def _q(value: object) -> str:
    return f'"{value}"'


def render(config: JanusConfig, folder: Path) -> dict[str, str]:
    """The configuration files, by name, for a Janus started with ``-F folder``."""
    lib = library_dir(config)
    low, high = config.rtp_ports
    general = [
        f"configs_folder = {_q(folder)}",
        f"plugins_folder = {_q(lib / 'plugins')}",
        f"transports_folder = {_q(lib / 'transports')}",
        f"events_folder = {_q(lib / 'events')}",
        f"loggers_folder = {_q(lib / 'loggers')}",
        f"debug_level = {config.debug_level}",
        "debug_timestamps = true",
        "debug_colors = false",
        f"server_name = {_q(config.server_name)}",
        f"session_timeout = {config.session_timeout}",
        f"event_loops = {config.event_loops}",
        "hide_dependencies = true",
        # The plugin's file-system requests (recordings) may not touch the system.
        'protected_folders = ["/bin", "/boot", "/dev", "/etc", "/lib", "/proc", "/sbin", '
        '"/sys", "/usr"]',
    ]
    if config.api_secret:
        general.append(f"api_secret = {_q(config.api_secret)}")
    nat = ['ice_ignore_list = "vmnet"']
    if config.ice_interfaces:
        nat.append(f"ice_enforce_list = {_q(','.join(config.ice_interfaces))}")
    if config.nat_1_1:
        nat.append(f"nat_1_1_mapping = {_q(config.nat_1_1)}")
    core = {
        "general": general,
        "certificates": [],
        "media": [f'rtp_port_range = "{low}-{high}"', "ipv6 = false"],
        # No stun_server: a public STUN server is never asked (Janus's addresses are known).
        "nat": nat,
        "plugins": [f"disable = {_q(_disabled(lib / 'plugins', KNOWN_PLUGINS, VIDEOROOM))}"],
        "transports": [f"disable = {_q(_disabled(lib / 'transports', KNOWN_TRANSPORTS, HTTP))}"],
        "loggers": [f"disable = {_q(_disabled(lib / 'loggers', KNOWN_LOGGERS))}"],
        "events": [
            "broadcast = false",
            f"disable = {_q(_disabled(lib / 'events', KNOWN_EVENT_HANDLERS))}",
        ],
    }
    http = {
        "general": [
            'json = "compact"',
            'base_path = "/janus"',
            "http = true",
            f"port = {config.http_port}",
            f"ip = {_q(config.http_ip)}",
            "https = false",
        ],
        "admin": ["admin_http = false", "admin_https = false"],
        "cors": [],
        "certificates": [],
    }
    videoroom_general = ["string_ids = false", "lock_rtp_forward = true", "events = false"]
    if config.admin_key:
        videoroom_general.append(f"admin_key = {_q(config.admin_key)}")
    return {
        "janus.jcfg": _sections(core),
        "janus.transport.http.jcfg": _sections(http),
        "janus.plugin.videoroom.jcfg": _sections({"general": videoroom_general}),
    }


def _sections(sections: dict[str, list[str]]) -> str:
    lines = ["# Generated by `telemed janus-config`: Telemed's Janus, VideoRoom over HTTP only."]
    for name, entries in sections.items():
        lines.append(f"{name}: {{")
        lines.extend(f"\t{entry}" for entry in entries)
        lines.append("}")
    return "\n".join(lines) + "\n"


def write(config: JanusConfig, folder: Path) -> list[Path]:
    """Writes the files into ``folder`` (made if needed; readable by the owner only, as
    they hold the secrets) and returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render(config, folder.resolve()).items():
        path = folder / name
        path.write_text(text, encoding="utf-8")
        path.chmod(0o600)
        written.append(path)
    return written
