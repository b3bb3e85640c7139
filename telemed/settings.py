"""Settings: environment variables with the ``TELEMED_`` prefix, overridable by CLI flags.

Every field has a default, so ``telemed serve`` runs with no configuration at all on an
embedded SQLite database under ``data_dir``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

_REPO_WEB_DIR = Path(__file__).resolve().parent.parent / "web"


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TELEMED_", extra="ignore", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    data_dir: Path = Path("data")
    # Empty means the embedded SQLite file ``<data_dir>/telemed.db``.
    database_url: str = ""
    # With a Redis URL, several server processes share Socket.IO rooms.
    redis_url: str = ""
    # /readyz answers "unavailable" below this much free disk in the data directory.
    ready_min_free_bytes: int = Field(default=1024**3, ge=0)
    web_dir: Path = _REPO_WEB_DIR

    # Sessions: idle timeout and absolute lifetime, in seconds.
    session_idle_timeout: int = Field(default=30 * 60, gt=0)
    session_lifetime: int = Field(default=12 * 3600, gt=0)
    # Set in production behind TLS; the default serves plain HTTP on loopback.
    cookie_secure: bool = False

    # Signing or amending a decision needs the password re-entered within this many minutes.
    step_up_minutes: int = Field(default=5, ge=1, le=60)

    # Deadlines (telemed/cases/deadlines.py): hours per urgency for the council's first
    # answer (from the request) and for its decision (from that first answer); the reminder
    # goes out when this share of the time is left (checked by the scheduler, below).
    deadline_emergency_hours: float = Field(default=1, gt=0)
    deadline_urgent_hours: float = Field(default=24, gt=0)
    deadline_routine_hours: float = Field(default=72, gt=0)
    deadline_near_fraction: float = Field(default=0.25, gt=0, lt=1)

    # Sign-in throttling: failures counted in a window per account and per address.
    login_window: int = Field(default=15 * 60, gt=0)
    login_slowdown_after: int = Field(default=3, ge=1)
    login_slowdown_seconds: float = Field(default=1.0, ge=0)
    login_max_failures_per_account: int = Field(default=5, ge=1)
    login_max_failures_per_address: int = Field(default=20, ge=1)
    # How long a browser that signed in stays a known device of that account, in seconds.
    login_known_device_lifetime: int = Field(default=90 * 24 * 3600, gt=0)

    # Origins allowed to open a Socket.IO connection besides the server's own.
    allowed_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Proxies whose X-Forwarded-For is believed (addresses or CIDR networks).
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)

    # The largest attachment accepted, in bytes.
    max_upload_bytes: int = Field(default=50 * 1024 * 1024, gt=0)

    # Minutes PDF: worker processes that lay out PDFs (one per two cores, at least one),
    # how many requests may wait for a worker (beyond: 503), the longest layout in seconds
    # (beyond: the worker is killed, 504), the characters of discussion a PDF prints (the
    # rest is left out, and the PDF says so), and the disk kept for finished PDFs.
    pdf_workers: int = Field(default_factory=lambda: max(1, (os.cpu_count() or 1) // 2), ge=1)
    pdf_max_waiting: int = Field(default=4, ge=0)
    pdf_timeout_seconds: float = Field(default=60.0, gt=0)
    pdf_max_discussion_chars: int = Field(default=200_000, ge=1)
    pdf_cache_bytes: int = Field(default=256 * 1024 * 1024, ge=0)
    # The minutes PDF of a signed decision is signed (PAdES). By default by a certificate per
    # council from Telemed's own CA (<data_dir>/signing/, made on first start); with both
    # paths set, by this key (PEM) and certificate chain (PEM, the signer's first, then up
    # to the root) from a real CA, for every council.
    pdf_signing_key: Path | None = None
    pdf_signing_certs: Path | None = None

    log_level: str = "INFO"
    log_json: bool = True

    # Live rooms: per-connection message rate (token bucket) and how often every open
    # connection's session and joined rooms are checked again.
    socket_rate_per_second: float = Field(default=20.0, gt=0)
    socket_burst: int = Field(default=40, ge=1)
    socket_revalidate_seconds: float = Field(default=5.0, gt=0)
    # Namespaces the Redis channels and keys, so several deployments can share one Redis.
    redis_prefix: str = Field(default="telemed", pattern=r"^[A-Za-z0-9_.:-]{1,64}$")

    # Video: STUN and TURN URLs handed to browsers (comma-separated; none by default, never
    # a public server), the secret shared with coturn (use-auth-secret) and how long a
    # TURN credential lives, in seconds.
    stun_urls: Annotated[list[str], NoDecode] = Field(default_factory=list)
    turn_urls: Annotated[list[str], NoDecode] = Field(default_factory=list)
    turn_secret: str = ""
    turn_credential_ttl: int = Field(default=3600, gt=0)
    # Recording: the longest recording in seconds, and the process CPU share (of one core)
    # above which a recording drops video to keep the call and the signaling responsive.
    recording_max_seconds: float = Field(default=4 * 3600, gt=0)
    recording_cpu_threshold: float = Field(default=0.85, gt=0)
    # The SFU (Janus) for calls past two participants: the URL of each instance's HTTP API
    # (comma-separated, e.g. http://10.0.0.5:8088/janus; empty: no SFU, calls stay a
    # mesh), the API secret of those instances and the VideoRoom plugin's admin key (both
    # in the generated Janus configuration, `telemed janus-config`). Private addresses only:
    # browsers never talk to Janus, Telemed signals for them.
    janus_url: Annotated[list[str], NoDecode] = Field(default_factory=list)
    janus_api_secret: str = ""
    janus_admin_key: str = ""
    # Where Janus writes the recordings of SFU calls, as both Janus and Telemed see it
    # (shared storage when Janus runs elsewhere); empty: <data_dir>/recordings.
    janus_recording_dir: Path | None = None
    # The key that encrypts patient identities at rest (AES-256-GCM): 32 bytes in URL-safe
    # base64. Empty: the key file <data_dir>/identity.key, generated (0600) on first start.
    # Lose it and every stored identity is lost with it: back it up apart from the data.
    identity_key: str = Field(default="", repr=False)
    # A guest specialist's session (from a one-time invitation link), in seconds.
    guest_session_lifetime: int = Field(default=4 * 3600, gt=0)
    # How often each process runs its periodic jobs (reminders before sessions), seconds.
    scheduler_interval_seconds: float = Field(default=15.0, gt=0)
    # The address people reach Telemed at (links in emails); empty: http://host:port.
    public_url: str = ""
    # Email: notifications also go to users' addresses through this SMTP server. No host:
    # no email. STARTTLS upgrades the connection (port 587); implicit TLS is port 465.
    smtp_host: str = ""
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str = ""
    smtp_password: str = Field(default="", repr=False)
    smtp_from: str = "telemed@localhost"
    smtp_starttls: bool = True
    smtp_implicit_tls: bool = False
    smtp_timeout_seconds: float = Field(default=30.0, gt=0)

    @field_validator(
        "allowed_origins", "trusted_proxies", "stun_urls", "turn_urls", "janus_url", mode="before"
    )
    @classmethod
    def _csv(cls, value: object) -> object:
        return _split_csv(value)

    @model_validator(mode="after")
    def _signing_paths_together(self) -> Settings:
        if (self.pdf_signing_key is None) != (self.pdf_signing_certs is None):
            raise ValueError("set both TELEMED_PDF_SIGNING_KEY and TELEMED_PDF_SIGNING_CERTS")
        return self

    @property
    def effective_public_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'telemed.db').resolve()}"
