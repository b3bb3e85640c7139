"""The JSON handler, declared once: ``@api(summary, tag=..., body=..., status=...)`` both
describes it for the OpenAPI document and does what every such handler does: the signed-in
actor first, then the body or query parsed into its schema, then the answer as JSON.

A handler that answers otherwise (files, pages, cookies, sign-in) reads the request itself
under ``@describe``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from aiohttp import web
from aiohttp.typedefs import Handler

from telemed.accounts.principal import Actor
from telemed.http.auth import current_actor
from telemed.http.openapi import Description, In
from telemed.http.requests import parse_json, parse_query, path_id

Input = TypeVar("Input", covariant=True)


class Call(Generic[Input]):
    """One request as a JSON handler needs it: who asks, what they sent, the path's ids."""

    def __init__(self, request: web.Request, actor: Actor, value: Input) -> None:
        self.request = request
        self.app = request.app
        self.actor = actor
        self._input = value

    @property
    def input(self) -> Input:
        return self._input

    def id(self, name: str) -> int:
        return path_id(self.request, name)


Endpoint = Callable[[Call[In]], Awaitable[object]]


class api(Description[In]):
    def __call__(self, endpoint: Endpoint[In]) -> Handler:
        async def handler(request: web.Request) -> web.StreamResponse:
            actor = await current_actor(request)
            value: Any = None
            if self.body is not None:
                value = await parse_json(request, self.body)
            elif self.query is not None:
                value = parse_query(request, self.query)
            answer = await endpoint(Call(request, actor, value))
            if isinstance(answer, web.StreamResponse):
                return answer
            return web.json_response(answer, status=self.status)

        return self.mark(handler)
