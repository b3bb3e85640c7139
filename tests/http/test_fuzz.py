"""REST fuzzing: schemathesis generates requests from the OpenAPI document the server
serves and sends them to a real server process, in turn as a district doctor, a council
chair, a council member, the administrator, a guest specialist and no one. No answer may
be a server error or stray from the document (status, content type, headers, body).

Bounded for CI (a couple of minutes per backend): the coverage phase (boundary values and
every documented constraint broken in turn) and a few generated examples per operation,
deterministic (the same requests on every run), no shrinking, one worker.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.support.api import call
from tests.support.attachments import png_bytes
from tests.support.cases import NEW_CASE, to_session
from tests.support.processes import ServerProcess
from tests.support.server import SignedIn

CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
]
# Left out, and why: signing out would end the session the other requests are sent with.
LEFT_OUT = ["/api/v1/auth/logout"]
USERS = ["bs.namcan", "gs.chutoa", "gs.timmach", "kiemtra"]
REPO = Path(__file__).resolve().parents[2]


async def _signed_in(http: aiohttp.ClientSession, username: str) -> SignedIn:
    body = {"username": username, "password": "telemed-demo"}
    async with http.post("/api/v1/auth/login", json=body) as response:
        data = await response.json()
        assert response.status == 200, data
    return SignedIn(username, data["token"], data["csrf_token"], data["user"], http)


async def _role_tokens(url: str) -> list[str | None]:
    """Sessions of every role, and a case for them to reach (record ids start at 1, so
    generated ids hit it): in session, with a note, an attachment and an invited guest."""
    async with aiohttp.ClientSession(base_url=url) as http:
        people = {name: await _signed_in(http, name) for name in USERS}
        doctor, chair = people["bs.namcan"], people["gs.chutoa"]
        case_id = (await call(doctor, "POST", "/api/v1/cases", NEW_CASE, 201))["id"]
        await to_session(chair, case_id)
        await call(doctor, "POST", f"/api/v1/cases/{case_id}/notes", {"body": "ECG"}, 201)
        form = aiohttp.FormData()
        form.add_field("file", png_bytes(), filename="ecg.png", content_type="image/png")
        async with http.post(
            f"/api/v1/cases/{case_id}/attachments", data=form, headers=doctor.bearer
        ) as response:
            assert response.status == 201, await response.text()
        invite = await call(chair, "POST", f"/api/v1/cases/{case_id}/invites", {"name": "G"}, 201)
        token = str(invite["url"]).rsplit("/", 1)[1]
        async with http.post("/api/v1/guests/redeem", json={"token": token}) as response:
            guest = (await response.json())["token"]
    return [*(who.token for who in people.values()), guest, None]


async def _schemathesis(url: str, tokens: list[str | None], workdir: Path) -> tuple[int, str]:
    """Run the schemathesis CLI (its cache goes to ``workdir``): exit status and report."""
    arguments = [
        f"{url}/api/v1/openapi.json",
        f"--checks={','.join(CHECKS)}",
        *(f"--exclude-path={path}" for path in LEFT_OUT),
        "--phases=examples,coverage,fuzzing",
        "--max-examples=10",
        "--generation-deterministic",
        "--no-shrink",
        "--workers=1",
        "--request-timeout=60",
        "--suppress-health-check=all",
    ]
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        *arguments,
        cwd=workdir,
        env={
            **os.environ,
            "SCHEMATHESIS_HOOKS": "tests.http.fuzz_roles",
            "TELEMED_FUZZ_TOKENS": json.dumps(tokens),
            "PYTHONPATH": str(REPO),
            "NO_COLOR": "1",
        },
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    assert process.returncode is not None
    return process.returncode, output.decode(errors="replace")


@pytest.mark.slow
async def test_generated_requests_get_no_server_error_and_match_the_document(
    database_url: str, tmp_path: Path
) -> None:
    server = ServerProcess(
        database_url, tmp_path / "data", env={"TELEMED_LOGIN_SLOWDOWN_SECONDS": "0"}
    )
    await server.start()
    try:
        tokens = await _role_tokens(server.url)
        returncode, report = await _schemathesis(server.url, tokens, tmp_path)
    finally:
        await server.stop()
    assert returncode == 0, report[-20_000:] + "\n--- server log ---\n" + server.log()
    # Every operation of the document but the left-out ones was tested.
    selected = re.search(r"Selected: (\d+)/(\d+)\s+Tested: (\d+)", report)
    assert selected is not None, report[-5_000:]
    chosen, total, tested = (int(group) for group in selected.groups())
    assert chosen == tested == total - len(LEFT_OUT) > 20, report[-5_000:]
