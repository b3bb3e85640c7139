"""The OpenAPI document is valid 3.1 and describes every API route the router has."""

from __future__ import annotations

from openapi_spec_validator import validate

from telemed.http.openapi import description_of
from tests.support.server import RunningServer


async def test_openapi_document_is_valid_and_complete(server: RunningServer) -> None:
    async with server.http().get("/api/v1/openapi.json") as response:
        assert response.status == 200
        document = await response.json()
    validate(document)
    undocumented = [
        f"{route.method} {route.resource.canonical}"
        for route in server.app.router.routes()
        if route.resource is not None
        and route.resource.canonical.startswith("/api/")
        and route.method not in ("HEAD", "*")
        and description_of(route.handler) is None
    ]
    assert undocumented == []
    assert "/api/v1/cases/{case_id}/notes" in document["paths"]
    notes = document["paths"]["/api/v1/cases/{case_id}/notes"]["post"]
    assert notes["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/NewNote"
    }
    assert "NewNote" in document["components"]["schemas"]


async def test_path_ids_carry_the_bounds_of_a_record_id(server: RunningServer) -> None:
    async with server.http().get("/api/v1/openapi.json") as response:
        document = await response.json()
    parameters = [
        parameter
        for operations in document["paths"].values()
        for operation in operations.values()
        for parameter in operation["parameters"]
        if parameter["in"] == "path"
    ]
    assert parameters
    for parameter in parameters:
        assert parameter["schema"] == {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}
