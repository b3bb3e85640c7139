"""docs/deployment.md quotes the files of ``deploy/`` whole, so that the guide operators
follow is the configuration tests/ops/test_topology.py runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support import deploy

ROOT = Path(__file__).resolve().parents[2]
QUOTED = [
    "deploy/telemed.env",
    "deploy/systemd/telemed@.service",
    "deploy/nginx/telemed.conf",
    "deploy/coturn/turnserver.conf",
    "deploy/systemd/telemed-backup.service",
    "deploy/systemd/telemed-backup.timer",
]
FENCE = re.compile(r"^```[a-z]*\n(.*?)^```$", re.MULTILINE | re.DOTALL)


@pytest.mark.parametrize("path", QUOTED)
def test_the_deployment_guide_quotes_the_shipped_file_whole(path: str) -> None:
    guide = (ROOT / "docs" / "deployment.md").read_text()
    blocks = FENCE.findall(guide)
    assert (ROOT / path).read_text() in blocks, f"docs/deployment.md does not quote {path}"
    assert f"`{path}`" in guide


def test_every_file_the_topology_runs_is_quoted() -> None:
    used = {deploy.NGINX_CONF, deploy.COTURN_CONF, deploy.TELEMED_UNIT, deploy.TELEMED_ENV}
    assert {path.relative_to(ROOT).as_posix() for path in used} <= set(QUOTED)
