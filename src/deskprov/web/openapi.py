"""The OpenAPI 3.1 document, built from the same endpoint list and models that serve requests."""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from deskprov import __version__
from deskprov.schemas.common import ErrorBody
from deskprov.web.api import ENDPOINTS, PREFIX, Endpoint

REF = "#/components/schemas/{model}"

ERRORS = {
    "400": "Body is not JSON or not an object; malformed cursor",
    "401": "No or bad API key",
    "403": "The API key's role may not do this",
    "404": "No such resource in this organisation",
    "409": "Conflict (unique field taken) or in use (delete refused)",
    "413": "Body over 1 MiB",
    "422": "Validation error, or unsupported by the provider",
    "429": "Too many failed API-key attempts; see Retry-After",
}


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template=REF)
    required = set(schema.get("required", []))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": prop}
        for name, prop in schema.get("properties", {}).items()
    ]


def _operation(endpoint: Endpoint, refs: Any) -> dict[str, Any]:
    params = [
        {"name": p[1:-1], "in": "path", "required": True, "schema": {"type": "string"}}
        for p in endpoint.path.split("/")
        if p.startswith("{")
    ]
    if endpoint.query:
        params += _query_parameters(endpoint.query)
    op: dict[str, Any] = {
        "operationId": endpoint.name,
        "summary": endpoint.summary,
        "tags": [endpoint.tag],
        "parameters": params,
        "security": [{"bearer": []}],
    }
    if endpoint.body:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": refs[(endpoint.body, "validation")]}},
        }
    success: dict[str, Any] = {"description": "OK" if endpoint.status != 201 else "Created"}
    if endpoint.response:
        success["content"] = {
            "application/json": {"schema": refs[(endpoint.response, "serialization")]}
        }
    if endpoint.status == 201:
        success["headers"] = {"Location": {"schema": {"type": "string"}}}
    op["responses"] = {str(endpoint.status): success}
    error = {"application/json": {"schema": refs[(ErrorBody, "serialization")]}}
    for status, text in ERRORS.items():
        op["responses"][status] = {"description": text, "content": error}
    if "available-phone-numbers" in endpoint.path or endpoint.tag == "phones":
        op["responses"]["502"] = {"description": "The provider's API failed", "content": error}
    return op


@cache
def build_document() -> dict[str, Any]:
    """The document (built once: it depends on the code only)."""
    wanted: list[tuple[type[BaseModel], Any]] = [(ErrorBody, "serialization")]
    for e in ENDPOINTS:
        if e.body:
            wanted.append((e.body, "validation"))
        if e.response:
            wanted.append((e.response, "serialization"))
    unique = list(dict.fromkeys(wanted))
    refs, defs = models_json_schema(unique, ref_template=REF)
    paths: dict[str, dict[str, Any]] = {}
    for e in ENDPOINTS:
        paths.setdefault(PREFIX + e.path, {})[e.method.lower()] = _operation(e, refs)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "deskprov management API",
            "version": __version__,
            "description": "Manage the data desk phones are provisioned from.",
        },
        "paths": paths,
        "components": {
            "schemas": defs.get("$defs", {}),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
