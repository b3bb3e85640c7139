"""Reading requests: JSON bodies into typed schemas, and the real client address."""

from __future__ import annotations

import ipaddress
import json
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from telemed.errors import FieldProblem, UnsupportedMediaType, ValidationFailed
from telemed.http.errors import MalformedRequest
from telemed.schemas import record_id

Schema = TypeVar("Schema", bound=BaseModel)

MAX_JSON_BODY = 256 * 1024


def validation_problems(error: ValidationError) -> list[FieldProblem]:
    return [
        FieldProblem(".".join(str(part) for part in item["loc"]) or "body", item["msg"])
        for item in error.errors(include_url=False)
    ]


def parse_model(schema: type[Schema], data: object) -> Schema:
    try:
        return schema.model_validate(data)
    except ValidationError as error:
        raise ValidationFailed(validation_problems(error)) from None


async def parse_json(request: web.Request, schema: type[Schema]) -> Schema:
    """The body as ``schema``; only ``application/json`` is read. A browser sends another
    site's request with a JSON type only after a CORS preflight, which this server never
    grants, so no cross-site form (text/plain, form-encoded) can reach a JSON route."""
    if request.content_type != "application/json":
        raise UnsupportedMediaType("Send the body as JSON, with Content-Type: application/json.")
    raw = await request.content.read(MAX_JSON_BODY + 1)
    if len(raw) > MAX_JSON_BODY:
        raise MalformedRequest("The JSON body is larger than 256 KiB.")
    try:
        data = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError):
        raise MalformedRequest() from None
    return parse_model(schema, data)


def parse_query(request: web.Request, schema: type[Schema]) -> Schema:
    return parse_model(schema, dict(request.query))


def path_id(request: web.Request, name: str) -> int:
    """The id in the path. One out of range reaches the service as NO_RECORD, so it is
    answered and audited exactly like an id that names no record (a missing case)."""
    return record_id(request.match_info[name])


def _networks(trusted: list[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(item, strict=False) for item in trusted]


def is_trusted_proxy(candidate: str | None, trusted: list[str]) -> bool:
    try:
        ip = ipaddress.ip_address(candidate or "")
    except ValueError:
        return False
    return any(ip in net for net in _networks(trusted))


def client_address(peer: str | None, forwarded_for: str | None, trusted: list[str]) -> str:
    """The address of the client: X-Forwarded-For is believed only from trusted proxies.

    Walks the chain from the nearest hop backwards and stops at the first address that is
    not a trusted proxy, so a client cannot forge its address by sending the header itself.
    """
    address = peer or "unknown"
    if not forwarded_for or not trusted:
        return address

    def is_trusted(candidate: str) -> bool:
        return is_trusted_proxy(candidate, trusted)

    if not is_trusted(address):
        return address
    for hop in reversed([part.strip() for part in forwarded_for.split(",") if part.strip()]):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            break  # a malformed hop ends what can be believed
        address = hop
        if not is_trusted(hop):
            break
    return address
