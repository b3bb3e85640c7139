"""The dependency rules of the house (docs/architecture.md), read from the imports.

Each rule names what it forbids; the test lists every offending import, so a failure says
exactly which line broke which rule.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import telemed

ROOT = Path(telemed.__file__).parent
WEB_FRAMEWORKS = ("aiohttp", "aiohttp_jinja2", "socketio", "engineio")
# The transport and the wiring (modules, or packages with all they hold): the only modules
# that may speak HTTP or Socket.IO.
TRANSPORT = {
    "app",
    "appkeys",
    "cli",
    "ops.protocol",
    "realtime.lifetime",
    "realtime.namespace",
    "realtime.server",
    "realtime.wire",
    # Outgoing: the HTTP wire to Janus, the SFU (the client above it speaks no HTTP).
    "signaling.janus.transport",
}
TRANSPORT_PACKAGES = ("http.", "pages.")
# Above everything: they build the application; nothing they build may reach back.
ENTRY_POINTS = {"app", "cli", "__main__"}
# What the media leaf may use besides itself: plain infrastructure, no domain.
MEDIA_MAY_USE = {"telemed.clock", "telemed.errors"}


def modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT).with_suffix("")
        if relative.parts[0] == "migrations":
            continue
        parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
        yield ".".join(parts), path


def imports(path: Path) -> Iterator[tuple[int, str]]:
    """Every module ``path`` imports (absolute names), with its line."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module
            for alias in node.names:
                yield node.lineno, f"{node.module}.{alias.name}"


def is_transport(name: str) -> bool:
    leaf = name.rsplit(".", 1)[-1]
    return (
        any(within(name, module) for module in TRANSPORT)
        or name.startswith(TRANSPORT_PACKAGES)
        or leaf == "views"
        or leaf.endswith("_views")
    )


def within(imported: str, package: str) -> bool:
    return imported == package or imported.startswith(package + ".")


def violations() -> list[str]:
    found: list[str] = []
    for name, path in modules():
        where = f"telemed/{path.relative_to(ROOT)}"
        for line, imported in imports(path):
            top = imported.split(".")[0]
            if top in WEB_FRAMEWORKS and not is_transport(name):
                found.append(f"{where}:{line}: a service or store imports {imported}")
            if within(name, "realtime") and (
                within(imported, "telemed.signaling") or within(imported, "telemed.guests")
            ):
                found.append(f"{where}:{line}: live delivery imports a feature: {imported}")
            if (
                within(name, "signaling.media")
                and within(imported, "telemed")
                and imported != "telemed"
                and not within(imported, "telemed.signaling.media")
                and not any(within(imported, allowed) for allowed in MEDIA_MAY_USE)
            ):
                found.append(f"{where}:{line}: the media leaf imports the domain: {imported}")
            entry = any(within(name, module) for module in ENTRY_POINTS)
            if not entry and within(imported, "telemed.app"):
                found.append(f"{where}:{line}: imports the application factory")
    return found


def test_every_module_keeps_the_layer_rules() -> None:
    assert violations() == []


def test_the_rules_see_the_imports_they_judge() -> None:
    # The reader itself: a module known to import both aiohttp and a feature is read so.
    namespace = dict(modules())["realtime.namespace"]
    seen = {imported for _, imported in imports(namespace)}
    assert "aiohttp.web" in seen
    assert "telemed.realtime.connections.Connection" in seen
    assert is_transport("realtime.namespace")
    assert not is_transport("signaling.service")
    assert is_transport("guests.views")
