"""Settings: environment variables with the ``TELEMED_`` prefix, overridable by CLI flags.

Every field has a default, so ``telemed serve`` runs with no configuration at all on an
embedded SQLite database under ``data_dir``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
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
    web_dir: Path = _REPO_WEB_DIR

    # Sessions: idle timeout and absolute lifetime, in seconds.
    session_idle_timeout: int = Field(default=30 * 60, gt=0)
    session_lifetime: int = Field(default=12 * 3600, gt=0)
    # Set in production behind TLS; the default serves plain HTTP on loopback.
    cookie_secure: bool = False

    # Sign-in throttling: failures counted in a window per account and per address.
    login_window: int = Field(default=15 * 60, gt=0)
    login_slowdown_after: int = Field(default=3, ge=1)
    login_slowdown_seconds: float = Field(default=1.0, ge=0)
    login_max_failures_per_account: int = Field(default=5, ge=1)
    login_max_failures_per_address: int = Field(default=20, ge=1)

    # Origins allowed to open a Socket.IO connection besides the server's own.
    allowed_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Proxies whose X-Forwarded-For is believed (addresses or CIDR networks).
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)

    log_level: str = "INFO"
    log_json: bool = True

    @field_validator("allowed_origins", "trusted_proxies", mode="before")
    @classmethod
    def _csv(cls, value: object) -> object:
        return _split_csv(value)

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'telemed.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.effective_database_url.startswith("sqlite")
