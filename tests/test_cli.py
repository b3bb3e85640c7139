"""The ``telemed`` command: help everywhere, migrations, the demo network, users."""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import socket
import stat
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import func, select

from telemed.accounts.models import AuthSession, CouncilMembership, User
from telemed.accounts.passwords import PasswordHasher
from telemed.cli import build_parser, main
from telemed.db.base import Base
from telemed.db.engine import create_engine, create_sessionmaker
from tests.support.attachments import Field, multipart, png_bytes
from tests.support.cases import NEW_CASE
from tests.support.participants import sign_in
from tests.support.processes import ServerProcess, telemed_command


@pytest.fixture(autouse=True)
def _keep_the_umask() -> Iterator[None]:
    """``main`` sets the process's umask, as it should for a server; tests run on after."""
    previous = os.umask(0o022)
    os.umask(previous)
    yield
    os.umask(previous)


def _command_paths(parser: argparse.ArgumentParser, prefix: list[str]) -> list[list[str]]:
    paths = [prefix]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                paths.extend(_command_paths(sub, [*prefix, name]))
    return paths


@pytest.mark.parametrize("path", _command_paths(build_parser(), []), ids=" ".join)
def test_every_command_has_help(path: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([*path, "--help"])
    assert exit_info.value.code == 0
    assert "usage: telemed" in capsys.readouterr().out


def _url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"


async def _count(url: str, model: type[Base]) -> int:
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as db:
            return int(await db.scalar(select(func.count()).select_from(model)) or 0)
    finally:
        await engine.dispose()


def test_demo_is_idempotent_and_says_the_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = _url(tmp_path)
    assert main(["db", "upgrade", "--database-url", url]) == 0
    assert main(["demo", "--accounts-only", "--database-url", url]) == 0
    assert main(["demo", "--accounts-only", "--database-url", url]) == 0
    out = capsys.readouterr().out
    assert "telemed-demo" in out
    assert asyncio.run(_count(url, User)) == 7
    assert asyncio.run(_count(url, CouncilMembership)) == 4


def test_demo_on_unmigrated_database_says_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--database-url", _url(tmp_path)]) == 2
    assert "telemed db upgrade" in capsys.readouterr().err


def test_user_add_disable_and_council_membership(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = _url(tmp_path)
    main(["db", "upgrade", "--database-url", url])
    main(["demo", "--accounts-only", "--database-url", url])
    monkeypatch.setattr("sys.stdin", io.StringIO("a-long-password\n"))
    args = ["user", "add", "bs.moi", "--full-name", "BS. Mới", "--role", "council_member"]
    args += ["--council", "HDCM-TW", "--specialty", "Hô hấp", "--password-stdin"]
    assert main([*args, "--database-url", url]) == 0

    async def check_user() -> tuple[bool, bool]:
        engine = create_engine(url)
        try:
            async with create_sessionmaker(engine)() as db:
                user = await db.scalar(select(User).where(User.username == "bs.moi"))
                assert user is not None
                ok = await PasswordHasher().verify(user.password_hash, "a-long-password")
                return ok, user.is_active
        finally:
            await engine.dispose()

    assert asyncio.run(check_user()) == (True, True)
    assert asyncio.run(_count(url, CouncilMembership)) == 5

    monkeypatch.setattr("sys.stdin", io.StringIO("a-long-password\n"))
    assert main([*args, "--database-url", url]) == 1  # taken
    assert "taken" in capsys.readouterr().err

    assert main(["council", "remove-member", "bs.moi", "HDCM-TW", "--database-url", url]) == 0
    assert asyncio.run(_count(url, CouncilMembership)) == 4
    assert main(["user", "disable", "bs.moi", "--database-url", url]) == 0
    assert asyncio.run(check_user()) == (True, False)
    assert main(["user", "disable", "nobody", "--database-url", url]) == 1
    assert asyncio.run(_count(url, AuthSession)) == 0


def test_user_add_refuses_a_short_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = _url(tmp_path)
    main(["db", "upgrade", "--database-url", url])
    main(["demo", "--accounts-only", "--database-url", url])
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    args = ["user", "add", "x.y", "--full-name", "X", "--role", "admin", "--password-stdin"]
    assert main([*args, "--database-url", url]) == 1
    assert "password: at least 8 characters" in capsys.readouterr().err


async def test_what_the_server_writes_is_readable_by_its_own_user_only(tmp_path: Path) -> None:
    data = tmp_path / "data"
    await telemed_command("db", "upgrade", "--data-dir", str(data))
    await telemed_command("demo", "--accounts-only", "--data-dir", str(data))
    url = f"sqlite+aiosqlite:///{data / 'telemed.db'}"
    server = ServerProcess(url, data, log_path=tmp_path / "server.log")
    await server.start()
    try:
        async with aiohttp.ClientSession() as http:
            bearer = {"Authorization": f"Bearer {await sign_in(http, server.url, 'bs.namcan')}"}
            async with http.post(
                f"{server.url}/api/v1/cases", json=NEW_CASE, headers=bearer
            ) as response:
                assert response.status == 201
                case_id = (await response.json())["id"]
            body, content_type = multipart([Field("file", png_bytes(), "a.png")])
            async with http.post(
                f"{server.url}/api/v1/cases/{case_id}/attachments",
                data=body,
                headers={**bearer, "Content-Type": content_type},
            ) as response:
                assert response.status == 201
    finally:
        await server.stop()
    modes = {
        path.relative_to(tmp_path).as_posix(): stat.S_IMODE(path.stat().st_mode)
        for path in [data, *data.rglob("*")]
    }
    assert {"data/telemed.db", "data/blobs"} <= modes.keys()
    assert len([name for name in modes if name.startswith("data/blobs/")]) >= 2
    expected = {name: 0o700 if (tmp_path / name).is_dir() else 0o600 for name in modes}
    assert {name: oct(mode) for name, mode in modes.items()} == {
        name: oct(mode) for name, mode in expected.items()
    }


def test_serve_on_a_taken_port_says_so_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        code = main(["serve", "--port", str(port), "--database-url", _url(tmp_path)])
    assert code == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"127.0.0.1:{port} is already in use" in err
    assert "Traceback" not in err
