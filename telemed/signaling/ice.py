"""ICE servers for browsers and for the server's own peers.

TURN credentials follow coturn's REST API form (``use-auth-secret``): the username is
``"<unix expiry>:<user id>"`` and the password is base64(HMAC-SHA1(secret, username)).
coturn recomputes the password from the username with the same secret and refuses it
once the expiry has passed, so no credential is ever stored anywhere.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from dataclasses import dataclass
from typing import Required, TypedDict

from aiortc import RTCConfiguration, RTCIceServer

from telemed.accounts.principal import Principal
from telemed.clock import Clock

log = logging.getLogger(__name__)

# The subject of the server's own TURN credentials (browsers get their user id).
SERVER_SUBJECT = "telemed-recorder"


class IceServer(TypedDict, total=False):
    """One entry of ``RTCConfiguration.iceServers``, as browsers take it."""

    urls: Required[list[str]]
    username: str
    credential: str


@dataclass(frozen=True)
class TurnCredential:
    username: str
    credential: str
    expires_at: int


def turn_password(secret: str, username: str) -> str:
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def turn_credential(secret: str, subject: str, expires_at: int) -> TurnCredential:
    """A credential valid until ``expires_at`` (unix seconds) for ``subject`` (a user id:
    never a name, since coturn logs usernames)."""
    username = f"{expires_at}:{subject}"
    return TurnCredential(username, turn_password(secret, username), expires_at)


@dataclass(frozen=True)
class IceConfig:
    stun_urls: tuple[str, ...] = ()
    turn_urls: tuple[str, ...] = ()
    turn_secret: str = ""
    credential_ttl: int = 3600

    @property
    def has_turn(self) -> bool:
        return bool(self.turn_urls and self.turn_secret)


class IceServers:
    """What ``RTCPeerConnection({iceServers})`` receives. With nothing configured the list
    is empty (host candidates only: enough on one network); a public STUN or TURN server
    is never added by default, since it would learn who talks to whom."""

    def __init__(self, config: IceConfig, clock: Clock) -> None:
        self._config = config
        self._clock = clock

    def describe(self) -> str:
        """One line for the start-up log saying what browsers will be given."""
        config = self._config
        if config.turn_urls and not config.turn_secret:
            return "TURN URLs are set but TELEMED_TURN_SECRET is empty: TURN is not offered"
        if not config.has_turn and not config.stun_urls:
            return (
                "no STUN or TURN server configured (TELEMED_STUN_URLS, TELEMED_TURN_URLS): "
                "calls connect only where browsers reach each other directly"
            )
        if not config.has_turn:
            return (
                f"{len(config.stun_urls)} STUN URL(s) and no TURN server: calls across "
                "strict firewalls will fail"
            )
        return (
            f"{len(config.stun_urls)} STUN URL(s), {len(config.turn_urls)} TURN URL(s), "
            f"credentials valid {config.credential_ttl} s"
        )

    def log_configuration(self) -> None:
        line = self.describe()
        if self._config.has_turn:
            log.info("ice servers: %s", line)
        else:
            log.warning("ice servers: %s", line)

    def credential_for(self, subject: str) -> TurnCredential:
        expires_at = int(self._clock.now().timestamp()) + self._config.credential_ttl
        return turn_credential(self._config.turn_secret, subject, expires_at)

    def for_subject(self, subject: str) -> list[IceServer]:
        servers: list[IceServer] = []
        if self._config.stun_urls:
            servers.append({"urls": list(self._config.stun_urls)})
        if self._config.has_turn:
            credential = self.credential_for(subject)
            servers.append(
                {
                    "urls": list(self._config.turn_urls),
                    "username": credential.username,
                    "credential": credential.credential,
                }
            )
        return servers

    def for_principal(self, principal: Principal) -> list[IceServer]:
        """The ``iceServers`` of ``rtc:config``: TURN credentials name the user by id."""
        return self.for_subject(str(principal.user_id))

    def server_configuration(self) -> RTCConfiguration:
        """The configuration of the server's own peers: the same servers as the browsers'."""
        servers = [
            RTCIceServer(
                urls=entry["urls"],
                username=entry.get("username"),
                credential=entry.get("credential"),
            )
            for entry in self.for_subject(SERVER_SUBJECT)
        ]
        return RTCConfiguration(iceServers=servers)
