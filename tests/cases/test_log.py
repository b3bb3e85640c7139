"""The case log has one writer: ``CaseLog.change``. Every event type the documents name is
appended through it, nothing else appends to the log, and what it writes is published."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import telemed
from telemed.cases.workflow import TRANSITIONS

ROOT = Path(telemed.__file__).parent
DOCS = ROOT.parent / "docs"
# An event type in backquotes; not an audit action named beside it ("audited as `x.y`").
EVENT = re.compile(
    r"(?<!audited as )`((?:case|note|attachment|decision|call|recording|guest)\.[a-z_]+)`"
)
# The paragraphs of docs/api.md and docs/realtime.md that list case event types.
EVENT_PARAGRAPH = re.compile(r"Event types|Case events|The event `")


def documented_event_types() -> set[str]:
    found: set[str] = set()
    for name in ("api.md", "realtime.md"):
        for paragraph in (DOCS / name).read_text().split("\n\n"):
            if EVENT_PARAGRAPH.search(paragraph):
                found |= set(EVENT.findall(paragraph))
    return found


def sources() -> Iterator[tuple[Path, ast.Module]]:
    for path in sorted(ROOT.rglob("*.py")):
        yield path, ast.parse(path.read_text(), str(path))


def appended_through_a_change() -> set[str]:
    """Literal event types passed to ``append`` on the ``Change`` of ``....change(...)``."""
    types: set[str] = set()
    for _, tree in sources():
        for node in ast.walk(tree):
            if not isinstance(node, ast.AsyncWith):
                continue
            changes = {
                item.optional_vars.id
                for item in node.items
                if isinstance(item.context_expr, ast.Call)
                and isinstance(item.context_expr.func, ast.Attribute)
                and item.context_expr.func.attr == "change"
                and isinstance(item.optional_vars, ast.Name)
            }
            for inner in ast.walk(node):
                if (
                    isinstance(inner, ast.Call)
                    and isinstance(inner.func, ast.Attribute)
                    and inner.func.attr == "append"
                    and isinstance(inner.func.value, ast.Name)
                    and inner.func.value.id in changes
                    and inner.args
                    and isinstance(inner.args[0], ast.Constant)
                    and isinstance(inner.args[0].value, str)
                ):
                    types.add(inner.args[0].value)
    return types


def callers_of(attribute: str) -> set[str]:
    return {
        str(path.relative_to(ROOT))
        for path, tree in sources()
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and (
            (isinstance(node.func, ast.Attribute) and node.func.attr == attribute)
            or (isinstance(node.func, ast.Name) and node.func.id == attribute)
        )
    }


def row_makers(model: str) -> set[str]:
    """Modules that make rows of ``model``: they call it, or build a Core insert on it."""

    def names_model(node: ast.Call) -> bool:
        if isinstance(node.func, ast.Name) and node.func.id == model:
            return True
        return (
            isinstance(node.func, ast.Name)
            and node.func.id in {"insert", "table"}
            and any(isinstance(arg, ast.Name) and arg.id == model for arg in node.args)
        )

    return {
        str(path.relative_to(ROOT))
        for path, tree in sources()
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and names_model(node)
    }


def test_every_documented_event_type_is_appended_through_the_case_log() -> None:
    documented = documented_event_types()
    written = appended_through_a_change() | {rule.event for rule in TRANSITIONS.values()}
    assert {"note.created", "recording.consent"} <= documented
    assert documented - written == set()
    # And the documents name every type the code writes.
    assert written - documented == set()


def test_only_the_case_log_appends_to_the_log_and_only_its_store_makes_event_rows() -> None:
    assert callers_of("next_seq") == {"cases/log.py"}
    assert callers_of("insert_event") == {"cases/log.py"}
    assert row_makers("CaseEvent") == {"cases/repository.py"}
    # Publishing committed events is the log's alone too.
    assert callers_of("committed") == {"cases/log.py"}
