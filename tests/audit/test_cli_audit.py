"""Account changes made from the command line are recorded with the operator as actor;
``telemed audit verify`` and ``telemed audit checkpoint`` check the chain."""

from __future__ import annotations

import asyncio
import io
import json
import stat
from pathlib import Path

import pytest

from telemed.cli import main
from telemed.db.engine import create_engine
from tests.support.audit import audit_rows, drop_append_only_triggers, edit, rewrite_from, truncate


@pytest.fixture
def cli_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Flags for a migrated SQLite database with the demo network, run as user "vanhanh"."""
    monkeypatch.setenv("USER", "vanhanh")
    flags = ["--database-url", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"]
    flags += ["--data-dir", str(tmp_path / "data")]
    assert main(["db", "upgrade", *flags]) == 0
    assert main(["demo", "--accounts-only", *flags]) == 0
    return flags


def _rows(flags: list[str], **where: object) -> list[dict[str, object]]:
    return asyncio.run(audit_rows(flags[1], **where))


def _tamper(flags: list[str], action: str, *args: int) -> None:
    async def run() -> None:
        engine = create_engine(flags[1])
        try:
            await drop_append_only_triggers(engine)
            if action == "edit":
                await edit(engine, args[0], action="case.read")
            elif action == "rewrite":
                await rewrite_from(engine, args[0], action="case.read")
            else:
                await truncate(engine, args[0])
        finally:
            await engine.dispose()

    asyncio.run(run())


def test_account_changes_name_the_operator_and_the_object(
    cli_db: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("a-long-password\n"))
    add = ["user", "add", "bs.moi", "--full-name", "BS. Mới", "--role", "council_member"]
    assert main([*add, "--council", "HDCM-TW", "--password-stdin", *cli_db]) == 0
    assert main(["council", "set-member", "bs.moi", "HDCM-MIENNAM", *cli_db]) == 0
    assert main(["council", "remove-member", "bs.moi", "HDCM-TW", *cli_db]) == 0
    assert main(["user", "disable", "bs.moi", *cli_db]) == 0
    assert main(["user", "disable", "nobody", *cli_db]) == 1

    rows = _rows(cli_db, actor_username="vanhanh")
    seen = [(row["action"], row["object_id"], row["outcome"]) for row in rows]
    assert seen[-6:] == [
        ("user.create", "bs.moi", "success"),
        ("council.member_set", "HDCM-TW", "success"),
        ("council.member_set", "HDCM-MIENNAM", "success"),
        ("council.member_remove", "HDCM-TW", "success"),
        ("user.disable", "bs.moi", "success"),
        ("user.disable", "nobody", "denied"),
    ]
    assert {(row["address"], row["actor_id"]) for row in rows} == {("cli", None)}
    assert "a-long-password" not in repr(_rows(cli_db))


def test_seeding_the_demo_again_records_no_new_accounts(cli_db: list[str]) -> None:
    before = len(_rows(cli_db, action="user.create"))
    assert main(["demo", "--accounts-only", *cli_db]) == 0
    assert len(_rows(cli_db, action="user.create")) == before == 7


def test_verify_says_intact_and_exits_0(
    cli_db: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", "verify", *cli_db]) == 0
    # The demo network's 11 rows and the verification's own, recorded before the walk.
    assert "The audit chain is intact: 12 rows." in capsys.readouterr().out
    assert _rows(cli_db)[-1]["action"] == "audit.verify"


def test_verify_prints_the_first_bad_seq_and_exits_1(
    cli_db: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    _tamper(cli_db, "edit", 4)
    assert main(["audit", "verify", *cli_db]) == 1
    out = capsys.readouterr().out
    assert "broken at seq 4" in out
    assert main(["audit", "verify", "--json", *cli_db]) == 1
    result = json.loads(capsys.readouterr().out)
    assert (result["ok"], result["first_bad_seq"]) == (False, 4)


def test_a_checkpoint_file_catches_a_rewritten_or_truncated_tail(
    cli_db: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saved = tmp_path / "checkpoint.json"
    assert main(["audit", "checkpoint", "--output", str(saved), *cli_db]) == 0
    checkpoint = json.loads(saved.read_text())
    assert set(checkpoint) == {"seq", "hash", "at", "public_key", "signature"}
    assert checkpoint["seq"] == 12  # the demo's 11 rows and the checkpoint's own
    assert main(["audit", "verify", "--checkpoint", str(saved), *cli_db]) == 0
    assert "still holds checkpoint 12" in capsys.readouterr().out

    _tamper(cli_db, "rewrite", 5)
    assert main(["audit", "verify", *cli_db]) == 0  # consistent on its own
    assert main(["audit", "verify", "--checkpoint", str(saved), *cli_db]) == 1
    assert "broken at seq 12" in capsys.readouterr().out.splitlines()[-1]


def test_a_checkpoint_catches_truncation(
    cli_db: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saved = tmp_path / "checkpoint.json"
    assert main(["audit", "checkpoint", "--output", str(saved), *cli_db]) == 0
    _tamper(cli_db, "truncate", 9)
    assert main(["audit", "verify", "--checkpoint", str(saved), *cli_db]) == 1
    # The verification's own row goes on from row 9 as row 10, before the walk.
    assert "broken at seq 11: the chain ends at row 10" in capsys.readouterr().out


def test_checkpoint_prints_when_no_file_and_refuses_a_forged_one(
    cli_db: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", "checkpoint", *cli_db]) == 0
    checkpoint = json.loads(capsys.readouterr().out)
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps({**checkpoint, "seq": checkpoint["seq"] - 1}))
    assert main(["audit", "verify", "--checkpoint", str(forged), *cli_db]) == 1
    assert "signature is not valid" in capsys.readouterr().out
    not_json = tmp_path / "not.json"
    not_json.write_text("{")
    assert main(["audit", "verify", "--checkpoint", str(not_json), *cli_db]) == 2


def test_the_signing_key_is_private_and_its_public_half_is_published(
    cli_db: list[str], tmp_path: Path
) -> None:
    assert main(["audit", "checkpoint", *cli_db]) == 0
    key = tmp_path / "data" / "audit-signing-key.pem"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert b"PRIVATE KEY" in key.read_bytes()
    public = tmp_path / "data" / "audit-signing-key.pub.pem"
    assert public.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    before = key.read_bytes()
    assert main(["audit", "checkpoint", *cli_db]) == 0
    assert key.read_bytes() == before  # made once, then kept
