"""Known devices: a signed cookie that a browser earns by signing in to an account.

Sign-in throttling treats a browser that once signed in to an account apart from every
other client (OWASP's "device cookies"): an attacker who locks the account out for
unknown clients does not lock out its owner's own browsers. The cookie names the account
and a random device id, with the time it was issued, under an HMAC of the server's key;
nothing is stored, and a forged or expired cookie is simply an unknown device.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from telemed.clock import Clock

COOKIE_PREFIX = "telemed_device_"


def account_key(username: str) -> str:
    """The account a sign-in names, as every counter and cookie spells it."""
    return username.casefold()


def device_cookie_name(username: str) -> str:
    """One cookie per account, so a workstation shared by several doctors knows them all."""
    digest = hashlib.sha256(account_key(username).encode()).hexdigest()
    return f"{COOKIE_PREFIX}{digest[:16]}"


class KnownDevices:
    def __init__(self, key: bytes, clock: Clock, lifetime: timedelta) -> None:
        self._key = key
        self._clock = clock
        self.lifetime = lifetime

    def issue(self, username: str) -> str:
        """A new cookie value for this account (a new device id at every sign-in)."""
        device = secrets.token_urlsafe(16)
        issued = str(int(self._clock.now().timestamp()))
        return f"{device}.{issued}.{self._mac(username, device, issued)}"

    def recognise(self, username: str, cookie: str | None) -> str | None:
        """The device id when ``cookie`` is this server's, for this account, unexpired."""
        if not cookie or len(cookie) > 200:
            return None
        device, _, rest = cookie.partition(".")
        issued, _, mac = rest.partition(".")
        if not device or not issued.isdigit():
            return None
        if not hmac.compare_digest(mac.encode(), self._mac(username, device, issued).encode()):
            return None
        issued_at = datetime.fromtimestamp(int(issued), tz=self._clock.now().tzinfo)
        if self._clock.now() - issued_at >= self.lifetime:
            return None
        return device

    def _mac(self, username: str, device: str, issued: str) -> str:
        message = f"known-device|{account_key(username)}|{device}|{issued}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()
