"""ICE servers from settings, and TURN credentials in coturn's REST form."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging

import pytest

from telemed.accounts.models import UserRole
from telemed.accounts.principal import Principal
from telemed.clock import ManualClock
from telemed.settings import Settings
from telemed.signaling.ice import IceConfig, IceServers, turn_credential

TURN = ("turn:turn.example.test:3478?transport=udp", "turns:turn.example.test:5349")
STUN = ("stun:turn.example.test:3478",)


def test_a_credential_is_what_openssl_computes_for_the_same_secret_and_username() -> None:
    # printf '1700000000:42' | openssl dgst -sha1 -hmac north-secret -binary | base64
    credential = turn_credential("north-secret", "42", 1700000000)
    assert credential.username == "1700000000:42"
    assert credential.credential == "1azYcwkgPAnmyb6GOHbBMj8gPoQ="
    # A secret beyond ASCII is used as its UTF-8 bytes, as coturn reads its config file.
    other = turn_credential("Ω-secret", "telemed-recorder", 1700003600)
    assert other.credential == "5IpHYqGVw4d6gvr3fr6tJJ6QBGw="


def test_browser_servers_carry_a_credential_expiring_one_ttl_after_the_clock(
    clock: ManualClock,
) -> None:
    ice = IceServers(IceConfig(STUN, TURN, "s3cret", credential_ttl=600), clock)

    stun, turn = ice.for_subject("17")

    assert stun == {"urls": list(STUN)}
    expiry = int(clock.now().timestamp()) + 600
    assert turn["urls"] == list(TURN)
    assert turn["username"] == f"{expiry}:17"
    expected = base64.b64encode(
        hmac.digest(b"s3cret", f"{expiry}:17".encode(), hashlib.sha1)
    ).decode()
    assert turn["credential"] == expected

    clock.advance(90)
    later = ice.for_subject("17")[1]
    assert later["username"] == f"{expiry + 90}:17"
    assert later["credential"] != turn["credential"]


def test_without_turn_there_is_no_turn_entry_and_never_a_public_default(
    clock: ManualClock,
) -> None:
    assert IceServers(IceConfig(), clock).for_subject("1") == []
    assert IceServers(IceConfig(stun_urls=STUN), clock).for_subject("1") == [{"urls": list(STUN)}]
    # URLs without the shared secret would hand out credentials coturn refuses.
    assert IceServers(IceConfig(turn_urls=TURN), clock).for_subject("1") == []


def test_the_start_up_line_says_plainly_when_turn_is_missing(
    clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="telemed.signaling.ice")
    IceServers(IceConfig(), clock).log_configuration()
    IceServers(IceConfig(turn_urls=TURN), clock).log_configuration()
    IceServers(IceConfig(STUN, TURN, "s3cret"), clock).log_configuration()

    [none, no_secret, full] = caplog.records
    assert none.levelno == logging.WARNING
    assert "no STUN or TURN server configured" in none.getMessage()
    assert no_secret.levelno == logging.WARNING
    assert "TELEMED_TURN_SECRET is empty" in no_secret.getMessage()
    assert full.levelno == logging.INFO
    assert "1 STUN URL(s), 2 TURN URL(s)" in full.getMessage()
    assert "s3cret" not in caplog.text


def test_settings_read_comma_separated_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEMED_TURN_URLS", f" {TURN[0]} ,{TURN[1]},")
    monkeypatch.setenv("TELEMED_STUN_URLS", STUN[0])
    monkeypatch.setenv("TELEMED_TURN_SECRET", "s3cret")
    monkeypatch.setenv("TELEMED_TURN_CREDENTIAL_TTL", "900")

    settings = Settings()

    assert settings.turn_urls == list(TURN)
    assert settings.stun_urls == list(STUN)
    assert (settings.turn_secret, settings.turn_credential_ttl) == ("s3cret", 900)
    assert settings.recording_max_seconds == 4 * 3600


def test_browsers_are_named_by_user_id_and_the_server_peers_get_their_own(
    clock: ManualClock,
) -> None:
    ice = IceServers(IceConfig(STUN, TURN, "s3cret"), clock)
    principal = Principal(
        user_id=5,
        username="bs.namcan",
        full_name="Bác sĩ Năm Căn",
        role=UserRole.DISTRICT_DOCTOR,
        facility=None,
    )

    servers = ice.for_principal(principal)

    expiry = int(clock.now().timestamp()) + 3600
    assert servers[1]["username"] == f"{expiry}:5"
    assert "bs.namcan" not in str(servers)
    configuration = ice.server_configuration()
    assert configuration.iceServers is not None
    assert [s.urls for s in configuration.iceServers] == [list(STUN), list(TURN)]
    assert configuration.iceServers[1].username == f"{expiry}:telemed-recorder"
