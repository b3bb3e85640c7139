"""The ES modules a page's entry script pulls in, listed up front.

A browser discovers a module's imports only after fetching it, so a graph four levels deep
costs four round trips before the page can run: on a hospital link with 300 ms of latency,
more than a second. Listing every module of the graph as ``<link rel="modulepreload">``
lets the browser fetch them all at once. The graph is read from the import statements of
the files themselves, so it cannot drift from the code.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

import jinja2

# Static imports only (``import ... from "./x.js"`` and ``import "./x.js"``), which is what
# Telemed's modules use; a dynamic ``import()`` is left to load when it runs.
IMPORT = re.compile(r"""^\s*import\s[^;"']*?["']([^"']+)["']""", re.M)


class ModuleGraph:
    def __init__(self, js_dir: Path, url_prefix: str = "/static/js/") -> None:
        self._js_dir = js_dir
        self._prefix = url_prefix
        self._cache: dict[str, list[str]] = {}

    def preloads(self, entry: str) -> list[str]:
        """Every module URL ``entry`` (a path under the js directory) imports, directly or
        not, in the order first found; the entry itself is not listed."""
        if entry not in self._cache:
            found: list[str] = []
            self._walk(PurePosixPath(entry), found, {entry})
            self._cache[entry] = found
        return self._cache[entry]

    def _walk(self, module: PurePosixPath, found: list[str], seen: set[str]) -> None:
        path = self._js_dir / module
        if not path.is_file():
            return
        for match in IMPORT.finditer(path.read_text(encoding="utf-8")):
            target = match.group(1)
            if target.startswith("/"):  # a library served by Telemed (/vendor/...)
                if target not in seen:
                    seen.add(target)
                    found.append(target)
                continue
            if not target.startswith("."):
                continue
            resolved = _normalize(module.parent / target)
            key = str(resolved)
            if key in seen or resolved.parts[:1] == ("..",):
                continue
            seen.add(key)
            found.append(self._prefix + key)
            self._walk(resolved, found, seen)


def _normalize(path: PurePosixPath) -> PurePosixPath:
    parts: list[str] = []
    for part in path.parts:
        if part == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            else:
                parts.append(part)
        elif part != ".":
            parts.append(part)
    return PurePosixPath(*parts)


def install(env: jinja2.Environment, js_dir: Path) -> None:
    """Give ``env`` ``module_preloads(entry)`` (used by ``_module.html``)."""
    env.globals["module_preloads"] = ModuleGraph(js_dir).preloads
