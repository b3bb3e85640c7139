"""The OpenAPI 3.1 document, built from the live router so it cannot drift from it.

Handlers carry their description with ``@describe(...)``: a summary, the pydantic schemas
of the body and query, and the success status. Every route under /api appears; a route
without a description still appears, marked so, and a test fails on it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass
from typing import Any, Generic, TypeVar

from aiohttp import web
from pydantic import BaseModel, TypeAdapter

import telemed
from telemed.schemas import RecordId

F = TypeVar("F", bound=Callable[..., Any])
# What a handler reads from the request: its body or its query.
In = TypeVar("In", bound=BaseModel)

_ATTR = "__telemed_api__"
_PARAM = re.compile(r"{(\w+)(?::[^}]*)?}")
# Every path parameter under /api is a record id, read by ``path_id``.
_PATH_ID_SCHEMA = TypeAdapter(RecordId).json_schema()


@dataclass(frozen=True)
class Description(Generic[In]):
    summary: str
    _: KW_ONLY
    tag: str
    body: type[In] | None = None
    query: type[In] | None = None
    status: int = 200
    content_type: str | tuple[str, ...] = "application/json"
    public: bool = False
    errors: tuple[int, ...] = ()
    # Other success statuses with the same content (a retry answered 200 instead of 201).
    also: tuple[int, ...] = ()
    # A multipart/form-data body: the JSON schema of its fields.
    form: dict[str, Any] | None = None

    def mark(self, handler: F) -> F:
        setattr(handler, _ATTR, self)
        return handler


class describe(Description[In]):
    """``@describe(summary, tag=..., ...)`` on a handler that reads and answers by itself."""

    def __call__(self, handler: F) -> F:
        return self.mark(handler)


def description_of(handler: object) -> Description[Any] | None:
    found: Description[Any] | None = getattr(handler, _ATTR, None)
    return found


ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "fields": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "field": {"type": "string"},
                            "message": {"type": "string"},
                            "code": {"type": "string"},
                        },
                    },
                },
            },
        }
    },
}


def _schema(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    """The model's JSON schema, its nested definitions moved into the components."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, definition in schema.pop("$defs", {}).items():
        components[name] = definition
    return schema


def _schema_ref(model: type[BaseModel], components: dict[str, Any]) -> dict[str, str]:
    components[model.__name__] = _schema(model, components)
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _query_parameters(model: type[BaseModel], components: dict[str, Any]) -> list[dict[str, Any]]:
    schema = _schema(model, components)
    required = set(schema.get("required", []))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": prop}
        for name, prop in schema.get("properties", {}).items()
    ]


def _operation(
    method: str, path: str, described: Description[Any] | None, components: dict[str, Any]
) -> dict[str, Any]:
    if described is None:
        return {"summary": "(undocumented)", "responses": {"default": {"description": "?"}}}
    error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    operation: dict[str, Any] = {
        "summary": described.summary,
        "tags": [described.tag],
        "parameters": [
            {"name": name, "in": "path", "required": True, "schema": _PATH_ID_SCHEMA}
            for name in _PARAM.findall(path)
        ],
        "responses": {"default": {"description": "an error in the one error shape", **error}},
    }
    types = described.content_type
    content: dict[str, Any] = {kind: {} for kind in ((types,) if isinstance(types, str) else types)}
    for status in (described.status, *described.also):
        operation["responses"][str(status)] = {"description": "success", "content": content}
    for status in described.errors:
        operation["responses"][str(status)] = {"description": "error", **error}
    if described.query is not None:
        operation["parameters"] += _query_parameters(described.query, components)
    if described.body is not None and method not in ("GET", "DELETE"):
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _schema_ref(described.body, components)}},
        }
    if described.form is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"multipart/form-data": {"schema": described.form}},
        }
    if described.public:
        operation["security"] = []
    return operation


def build_openapi(app: web.Application) -> dict[str, Any]:
    components: dict[str, Any] = {"Error": ERROR_SCHEMA}
    paths: dict[str, dict[str, Any]] = {}
    for route in app.router.routes():
        resource = route.resource
        if resource is None or route.method in ("HEAD", "*"):
            continue
        path = _PARAM.sub(lambda m: "{" + m.group(1) + "}", resource.canonical)
        if not path.startswith("/api/"):
            continue
        described = description_of(route.handler)
        operation = _operation(route.method, resource.canonical, described, components)
        paths.setdefault(path, {})[route.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Telemed API",
            "version": telemed.__version__,
            "description": "Remote consultations between district facilities and expert councils.",
        },
        "servers": [{"url": "/"}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": "telemed_session"},
            },
        },
        "security": [{"bearer": []}, {"cookie": []}],
    }


@describe("This document: the OpenAPI 3.1 description of the API.", tag="meta", public=True)
async def openapi_view(request: web.Request) -> web.Response:
    return web.json_response(build_openapi(request.app))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/openapi.json", openapi_view)
