"""The records from the shell: audit verify/checkpoint, backup, restore."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from telemed.audit.checkpoints import CheckpointSigner
from telemed.audit.schemas import VerifyInput
from telemed.audit.service import AuditService
from telemed.audit.work import command_database
from telemed.cases.seals import SealCheck
from telemed.cli.common import Commands, database_command, operator, settings_of
from telemed.clock import SystemClock
from telemed.ops.archive import DamagedArchive
from telemed.ops.backup import Backups, RestoreRefused, prune
from telemed.settings import Settings


async def _with_audit(
    settings: Settings, action: Callable[[AuditService], Awaitable[dict[str, Any]]]
) -> dict[str, Any]:
    async with command_database(settings) as (sessionmaker, clock, work):
        signer = CheckpointSigner.load_or_create(settings.data_dir)
        records = (SealCheck(sessionmaker),)
        return await action(AuditService(sessionmaker, work, signer, clock, records=records))


def cmd_audit_verify(args: argparse.Namespace) -> int:
    settings = settings_of(args)
    body = None
    if args.checkpoint:
        try:
            data = json.loads(Path(args.checkpoint).read_text(encoding="utf-8"))
            body = VerifyInput.model_validate({"checkpoint": data})
        except (OSError, ValueError, ValidationError) as error:
            print(f"telemed: {args.checkpoint} is not a checkpoint: {error}", file=sys.stderr)
            return 2
    result = asyncio.run(_with_audit(settings, lambda audit: audit.verify(operator(), body)))
    if args.json:
        print(json.dumps(result, indent=2))
    elif result["ok"]:
        pinned = body.checkpoint if body else None
        covered = f", and it still holds checkpoint {pinned.seq}" if pinned else ""
        print(f"The audit chain is intact: {result['rows']} rows{covered}.")
    elif result["record"] is not None:
        print(f"The audit chain is intact but a signed record was changed: {result['reason']}")
    elif result["first_bad_seq"] is None:
        print(f"The checkpoint cannot be trusted: {result['reason']}")
    else:
        print(f"The audit chain is broken at seq {result['first_bad_seq']}: {result['reason']}")
    return 0 if result["ok"] else 1


def cmd_audit_checkpoint(args: argparse.Namespace) -> int:
    settings = settings_of(args)
    checkpoint = asyncio.run(_with_audit(settings, lambda audit: audit.checkpoint(operator())))
    text = json.dumps(checkpoint, indent=2) + "\n"
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"Checkpoint at seq {checkpoint['seq']} written to {args.output}.")
    else:
        print(text, end="")
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    settings = settings_of(args)
    stamp = SystemClock().now().strftime("%Y%m%dT%H%M%SZ")
    suffix = ".tar.age" if args.recipient else ".tar"
    output = Path(args.output or Path(args.directory) / f"telemed-backup-{stamp}{suffix}")
    backups = Backups(settings, SystemClock())
    try:
        manifest = asyncio.run(backups.create(output, operator(), args.recipient or []))
    except (ValueError, RuntimeError, OSError) as error:
        print(f"telemed: backup failed: {error}", file=sys.stderr)
        return 1
    print(
        f"Backup written to {output}: {manifest.database} database, "
        f"{len(manifest.files) - 3} files, audit checkpoint at row {manifest.checkpoint['seq']}."
    )
    if args.directory and args.keep:
        for old in prune(Path(args.directory), args.keep):
            print(f"Removed the older backup {old}.")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    settings = settings_of(args)
    identity = Path(args.identity) if args.identity else None
    key = Path(args.signing_key) if args.signing_key else None
    backups = Backups(settings, SystemClock())
    try:
        report = asyncio.run(backups.restore(Path(args.archive), operator(), identity, key))
    except DamagedArchive as error:
        print(f"telemed: the archive is damaged; nothing was restored: {error}", file=sys.stderr)
        return 1
    except RestoreRefused as error:
        print(f"telemed: restore refused: {error}", file=sys.stderr)
        return 1
    print(f"Restored {args.archive}:")
    for line in report.lines():
        print(f"  {line}")
    if key is None:
        print("  The private signing key is not in a backup: copy it into the data directory.")
    return 0


def register(commands: Commands) -> None:
    """Adds this module's commands to the ``telemed`` parser."""
    audit = commands.add_parser("audit", help="the audit trail").add_subparsers(
        dest="audit_command", required=True, metavar="ACTION"
    )
    audit_verify = audit.add_parser(
        "verify",
        help="check the hash chain (exit 0 when intact, 1 when not)",
        description="Walk the whole audit chain and print the first position where it "
        "no longer holds. With --checkpoint, also require that the chain still reaches the "
        "checkpoint with the same hash (catches a rewritten or truncated tail).",
    )
    audit_verify.add_argument("--checkpoint", metavar="FILE", help="a checkpoint JSON file")
    audit_verify.add_argument("--json", action="store_true", help="print the result as JSON")
    database_command(audit_verify, cmd_audit_verify)

    audit_checkpoint = audit.add_parser(
        "checkpoint",
        help="sign the end of the chain with the server's key",
        description="Write a checkpoint (seq, hash, time, Ed25519 signature). Keep it "
        "off the server: `telemed audit verify --checkpoint FILE` checks the chain against it.",
    )
    audit_checkpoint.add_argument(
        "--output", metavar="FILE", help="write it to FILE (default: print it)"
    )
    database_command(audit_checkpoint, cmd_audit_checkpoint)

    backup = commands.add_parser(
        "backup",
        help="write one consistent archive while the server runs",
        description="Database snapshot, the attachment files it names, the audit public key "
        "and a signed checkpoint, with a manifest of SHA-256 sums (docs/deployment.md).",
    )
    where = backup.add_mutually_exclusive_group(required=True)
    where.add_argument("--output", metavar="FILE", help="the archive to write")
    where.add_argument("--directory", metavar="DIR", help="write a time-stamped archive here")
    backup.add_argument("--keep", type=int, metavar="N", help="with --directory: keep the N newest")
    backup.add_argument(
        "--recipient", action="append", metavar="AGE_KEY", help="encrypt to this age public key"
    )
    database_command(backup, cmd_backup)

    restore = commands.add_parser(
        "restore",
        help="restore an archive into an empty data directory or database, then verify it",
    )
    restore.add_argument("archive")
    restore.add_argument("--identity", metavar="FILE", help="age identity of an encrypted archive")
    restore.add_argument(
        "--signing-key", metavar="FILE", help="the audit signing key, kept apart from backups"
    )
    database_command(restore, cmd_restore)
