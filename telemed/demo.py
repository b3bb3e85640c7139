"""`telemed demo`: the demo network and its cases, wired to a database for the command
line (the server is not running; events go nowhere, the audit trail gets every step)."""

from __future__ import annotations

from dataclasses import dataclass

from telemed.accounts.demo import CASE_STAFF, USERS, seed_demo_network
from telemed.accounts.organisations import OrganisationService
from telemed.accounts.passwords import PasswordHasher
from telemed.accounts.principal import Actor
from telemed.accounts.service import AccountService
from telemed.audit.work import command_database
from telemed.cases.attachments import AttachmentService
from telemed.cases.blobs import BlobStore
from telemed.cases.decisions import DecisionService
from telemed.cases.demo import DemoServices, seed_demo_cases
from telemed.cases.identity_cipher import IdentityCipher
from telemed.cases.log import CaseLog
from telemed.cases.service import CaseService
from telemed.settings import Settings


@dataclass(frozen=True)
class DemoResult:
    usernames: list[str]
    cases_made: int | None  # None: accounts only


async def load_demo(settings: Settings, operator: Actor, *, accounts_only: bool) -> DemoResult:
    async with command_database(settings) as (sessionmaker, clock, work):
        accounts = AccountService(sessionmaker, clock, PasswordHasher(), work)
        organisations = OrganisationService(sessionmaker, work)
        users = USERS if accounts_only else [*USERS, *CASE_STAFF]
        names = await seed_demo_network(accounts, organisations, operator, users)
        if accounts_only:
            return DemoResult(names, None)
        # No listeners: the server is not running, nobody is in a room.
        case_log = CaseLog(work, clock)
        cases = CaseService(case_log, work, clock, IdentityCipher.from_settings(settings))
        blobs = BlobStore(settings.data_dir / "blobs")
        attachments = AttachmentService(
            case_log, work, sessionmaker, blobs, clock, settings.max_upload_bytes
        )
        decisions = DecisionService(case_log, clock)
        services = DemoServices(sessionmaker, clock, cases, decisions, attachments)
        return DemoResult(names, await seed_demo_cases(services))
