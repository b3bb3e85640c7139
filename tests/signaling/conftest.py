"""Fixtures of the signaling tests: the call participants a test made, closed after it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.signaling.callers import Caller


@pytest.fixture
async def callers() -> AsyncIterator[list[Caller]]:
    made: list[Caller] = []
    yield made
    for person in made:
        await person.close()
