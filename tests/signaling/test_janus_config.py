"""The Janus configuration Telemed generates: what it loads, where it listens, and what it
never does (other plugins and transports, public STUN). That Janus starts with it is shown
by every test that uses the ``janus`` fixture."""

from __future__ import annotations

from pathlib import Path

import pytest

from telemed.cli import main
from telemed.signaling.janus.config import JanusConfig, render


def test_only_the_videoroom_over_http_on_the_private_address(tmp_path: Path) -> None:
    config = JanusConfig(
        http_ip="10.0.0.5",
        api_secret="api-secret",
        admin_key="admin-key",
        rtp_ports=(30000, 30999),
        event_loops=3,
        ice_interfaces=("10.0.0.",),
        library_dir=tmp_path / "no-such-lib",  # the known module lists are used
    )
    files = render(config, tmp_path)
    core, http = files["janus.jcfg"], files["janus.transport.http.jcfg"]
    videoroom = files["janus.plugin.videoroom.jcfg"]
    assert 'api_secret = "api-secret"' in core
    assert "event_loops = 3" in core
    assert 'rtp_port_range = "30000-30999"' in core
    assert 'ice_enforce_list = "10.0.0."' in core
    assert "stun_server" not in core  # never a public STUN server
    disabled_plugins = next(line for line in core.splitlines() if "libjanus_echotest" in line)
    assert "libjanus_videoroom.so" not in disabled_plugins
    assert "libjanus_streaming.so" in disabled_plugins
    disabled_transports = next(line for line in core.splitlines() if "websockets" in line)
    assert "libjanus_http.so" not in disabled_transports
    assert 'ip = "10.0.0.5"' in http
    assert "admin_http = false" in http
    assert 'admin_key = "admin-key"' in videoroom


def test_values_that_would_break_the_file_are_refused() -> None:
    with pytest.raises(ValueError, match="quotes"):
        JanusConfig(http_ip="10.0.0.5", api_secret='a"b')
    with pytest.raises(ValueError, match="RTP port range"):
        JanusConfig(http_ip="10.0.0.5", rtp_ports=(40000, 30000))


def test_the_command_writes_private_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TELEMED_JANUS_API_SECRET", "from-the-environment")
    monkeypatch.setenv("TELEMED_JANUS_ADMIN_KEY", "key-from-the-environment")
    out = tmp_path / "janus"
    assert main(["janus-config", "--output", str(out), "--http-ip", "10.1.2.3"]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "janus.jcfg",
        "janus.plugin.videoroom.jcfg",
        "janus.transport.http.jcfg",
    ]
    assert all(p.stat().st_mode & 0o077 == 0 for p in out.iterdir())
    assert 'api_secret = "from-the-environment"' in (out / "janus.jcfg").read_text()
    assert "wrote" in capsys.readouterr().out
    assert main(["janus-config", "--output", str(out), "--rtp-ports", "9-8"]) == 2
