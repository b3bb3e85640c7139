"""The module graph behind ``<link rel="modulepreload">``: read from the import
statements, transitive, each module once, cycles and outside paths harmless."""

from __future__ import annotations

import re
from pathlib import Path

from telemed.pages.modules import ModuleGraph
from tests.support.server import RunningServer

STATIC_JS = Path(__file__).resolve().parents[2] / "web" / "static" / "js"


def test_every_module_an_entry_imports_is_listed_once_in_the_order_found(
    tmp_path: Path,
) -> None:
    (tmp_path / "lib").mkdir()
    (tmp_path / "page.js").write_text(
        'import { a } from "./a.js";\nimport {\n  b,\n  c,\n} from "./lib/b.js";\n'
        'import "./side.js";\nconst later = () => import("./lazy.js");\n'
    )
    (tmp_path / "a.js").write_text(
        'import { io } from "/vendor/x/x.esm.js";\nexport const a = 1;\n'
    )
    (tmp_path / "lib" / "b.js").write_text(
        'import { a } from "../a.js";\nimport { d } from "./d.js";\nimport "../page.js";\n'
    )
    (tmp_path / "lib" / "d.js").write_text('import "../../outside.js";\nexport const d = 1;\n')
    (tmp_path / "side.js").write_text("// no imports\n")

    graph = ModuleGraph(tmp_path)
    assert graph.preloads("page.js") == [
        "/static/js/a.js",
        "/vendor/x/x.esm.js",
        "/static/js/lib/b.js",
        "/static/js/lib/d.js",
        "/static/js/side.js",
    ]
    assert graph.preloads("lib/d.js") == []


def test_the_case_room_lists_its_whole_graph_including_the_call_and_socket_io() -> None:
    listed = ModuleGraph(STATIC_JS).preloads("room.js")
    for module in ("call.js", "call_peer.js", "call_stats.js", "board.js", "i18n.js"):
        assert f"/static/js/{module}" in listed
    assert "/vendor/socket.io/socket.io.esm.min.js" in listed
    assert len(listed) == len(set(listed))


async def test_the_case_page_announces_its_modules(server: RunningServer) -> None:
    chair = await server.sign_in("gs.chutoa")
    async with chair.http.get("/cases/1") as response:
        html = await response.text()
    announced = re.findall(r'<link rel="modulepreload" href="([^"]+)">', html)
    assert "/static/js/call_peer.js" in announced
    assert "/vendor/socket.io/socket.io.esm.min.js" in announced
    # Every announced module is served.
    for url in set(announced):
        async with chair.http.get(url) as response:
            assert response.status == 200, url
