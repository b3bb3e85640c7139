"""Health, metrics, request ids, security headers and the shape of errors."""

from __future__ import annotations

import logging

import pytest

from tests.support.server import RunningServer


async def test_healthz_reports_the_database(server: RunningServer) -> None:
    async with server.http().get("/healthz") as response:
        assert response.status == 200
        assert await response.json() == {"status": "ok", "database": "ok"}


async def test_metrics_count_requests_by_route_pattern(server: RunningServer) -> None:
    http = server.http()
    async with http.get("/api/v1/me"):
        pass
    async with http.get("/metrics") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        text = await response.text()
    assert 'telemed_http_requests_total{method="GET",route="/api/v1/me",status="401"} 1.0' in text
    assert "telemed_http_request_duration_seconds_bucket" in text
    assert "telemed_socketio_connections 0.0" in text
    assert "telemed_socketio_rooms 0.0" in text


async def test_redirects_are_counted_and_logged_with_their_own_status(
    server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    http = server.http()
    with caplog.at_level(logging.INFO, logger="telemed.access"):
        async with http.get("/", allow_redirects=False) as response:
            assert response.status == 302
            assert response.headers["X-Request-ID"]
    assert [getattr(r, "status", None) for r in caplog.records if r.name == "telemed.access"] == [
        302
    ]
    async with http.get("/metrics") as response:
        text = await response.text()
    assert 'telemed_http_requests_total{method="GET",route="/",status="302"} 1.0' in text
    assert 'status="500"' not in text


@pytest.mark.parametrize("path", ["/login", "/api/v1/me", "/static/css/app.css", "/nowhere"])
async def test_security_headers_on_every_response(server: RunningServer, path: str) -> None:
    async with server.http().get(path) as response:
        headers = response.headers
    csp = headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert len(headers["X-Request-ID"]) == 16


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/api/v1/nothing-here", 404, "not_found"),
        ("GET", "/api", 404, "not_found"),
        ("DELETE", "/api/v1/me", 405, "method_not_allowed"),
        ("GET", "/api/v1/auth/login", 405, "method_not_allowed"),
    ],
)
async def test_api_errors_are_json_never_html(
    server: RunningServer, method: str, path: str, status: int, code: str
) -> None:
    async with server.http().request(method, path) as response:
        assert response.status == status
        assert response.content_type == "application/json"
        body = await response.json()
    assert body["error"]["code"] == code
    assert set(body["error"]) >= {"code", "message"}


async def test_unknown_page_gets_an_html_error_page_that_does_not_reflect_input(
    server: RunningServer,
) -> None:
    async with server.http().get("/<script>alert(1)</script>") as response:
        assert response.status == 404
        assert response.content_type == "text/html"
        text = await response.text()
    assert "<script>alert(1)</script>" not in text
    assert 'data-testid="error-page"' in text


async def test_sign_in_page_has_named_fields_and_no_inline_script(server: RunningServer) -> None:
    async with server.http().get("/login") as response:
        assert response.status == 200
        html = await response.text()
    assert 'name="username"' in html
    assert 'name="password"' in html
    assert '<script type="module" src="/static/js/login.js"></script>' in html
    assert "<script>" not in html


async def test_home_redirects_to_sign_in_when_signed_out(server: RunningServer) -> None:
    async with server.http().get("/", allow_redirects=False) as response:
        assert response.status == 302
        assert response.headers["Location"] == "/login"


async def test_home_greets_the_signed_in_user(server: RunningServer) -> None:
    signed = await server.sign_in("bs.namcan")
    async with signed.http.get("/") as response:
        assert response.status == 200
        html = await response.text()
    assert signed.user["full_name"] in html


async def test_browser_library_is_served_from_the_npm_install(server: RunningServer) -> None:
    if not (server.settings.web_dir / "node_modules" / "socket.io-client").is_dir():
        pytest.skip("web/node_modules is not installed (run scripts/install)")
    async with server.http().get("/vendor/socket.io/socket.io.esm.min.js") as response:
        assert response.status == 200
        assert "javascript" in response.content_type
