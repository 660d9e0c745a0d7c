"""Requests and answers checked against an OpenAPI 3.0 description (Twilio's, for the stand-in).

An operation is found by method and path; its path parameters, query parameters and form body
are checked against the description: an unknown path, method, parameter or form field, a
missing required field, a value of the wrong type, outside its enum or not matching its
pattern is a ``Violation``. Success bodies are checked against the response schema, so the
stand-in cannot drift from what Twilio answers either.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from openapi_schema_validator import OAS30Validator

REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference"
TWILIO_SPEC = REFERENCE / "twilio_api_v2010_sip_numbers.json"


class Violation(Exception):
    """A request (or an answer of the stand-in) the description does not allow."""


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str
    template: str
    pattern: re.Pattern[str]
    path_params: dict[str, dict[str, Any]]
    query_params: dict[str, dict[str, Any]]
    form: dict[str, Any] | None  # the form body's schema, None when the operation takes none
    responses: dict[int, dict[str, Any] | None] = field(default_factory=dict)


class Spec:
    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.operations: list[Operation] = []
        for template, item in document["paths"].items():
            for method, op in item.items():
                if method not in ("get", "post", "delete", "put", "patch"):
                    continue
                params = op.get("parameters", [])
                body = op.get("requestBody", {}).get("content", {})
                form = body.get("application/x-www-form-urlencoded", {}).get("schema")
                regex = re.sub(
                    r"\{(\w+)\}",
                    r"(?P<\1>[^/]+)",
                    re.escape(template).replace(r"\{", "{").replace(r"\}", "}"),
                )
                responses: dict[int, dict[str, Any] | None] = {}
                for status, answer in op.get("responses", {}).items():
                    content = answer.get("content", {}).get("application/json", {})
                    responses[int(status)] = content.get("schema")
                self.operations.append(
                    Operation(
                        operation_id=op["operationId"],
                        method=method.upper(),
                        template=template,
                        pattern=re.compile(f"^{regex}$"),
                        path_params={p["name"]: p["schema"] for p in params if p["in"] == "path"},
                        query_params={p["name"]: p["schema"] for p in params if p["in"] == "query"},
                        form=form,
                        responses=responses,
                    )
                )

    def find(self, method: str, path: str) -> tuple[Operation, dict[str, str]]:
        allowed = []
        for op in self.operations:
            found = op.pattern.match(path)
            if found:
                if op.method == method:
                    return op, found.groupdict()
                allowed.append(op.method)
        if allowed:
            raise Violation(f"{method} is not allowed on {path} (only {', '.join(allowed)})")
        raise Violation(f"no such path in Twilio's API: {method} {path}")

    def check_request(
        self,
        op: Operation,
        path_values: dict[str, str],
        query: dict[str, str],
        form: dict[str, str] | None,
    ) -> None:
        for name, value in path_values.items():
            self._check_value(f"path parameter {name}", value, op.path_params[name])
        for name, value in query.items():
            if name not in op.query_params:
                raise Violation(f"{op.operation_id} has no query parameter {name}")
            self._check_value(f"query parameter {name}", value, op.query_params[name])
        if op.form is None:
            if form:
                raise Violation(f"{op.operation_id} takes no body, got {sorted(form)}")
            return
        form = form or {}
        properties = op.form.get("properties", {})
        for name in op.form.get("required", []):
            if name not in form:
                raise Violation(f"{op.operation_id} needs the form field {name}")
        for name, value in form.items():
            if name not in properties:
                raise Violation(f"{op.operation_id} has no form field {name}")
            self._check_value(f"form field {name}", value, properties[name])

    def _check_value(self, what: str, text: str, schema: dict[str, Any]) -> None:
        schema = self.resolve(schema)
        kind = schema.get("type", "string")
        value: Any = text
        if kind == "boolean":
            if text not in ("true", "false"):
                raise Violation(f"{what} must be true or false, not {text!r}")
            value = text == "true"
        elif kind in ("integer", "number"):
            try:
                value = int(text) if kind == "integer" else float(text)
            except ValueError:
                raise Violation(f"{what} must be a number, not {text!r}") from None
        if schema.get("format") == "uri":
            parts = urlsplit(text)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise Violation(f"{what} must be an absolute URL, not {text!r}")
        errors = list(_validator(json.dumps(schema, sort_keys=True)).iter_errors(value))
        if errors:
            raise Violation(f"{what} {text!r}: {errors[0].message}")

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            *_, name = schema["$ref"].split("/")
            schema = self.document["components"]["schemas"][name]
        return schema

    def check_answer(self, op: Operation, status: int, body: Any) -> None:
        if status not in op.responses:
            raise Violation(f"{op.operation_id} never answers {status}")
        schema = op.responses[status]
        if schema is None:
            if body is not None:
                raise Violation(f"{op.operation_id} answers {status} without a body")
            return
        with_components = {**schema, "components": self.document["components"]}
        errors = list(_validator(json.dumps(with_components, sort_keys=True)).iter_errors(body))
        if errors:
            raise Violation(f"the stand-in's {op.operation_id} answer: {errors[0].message}")


@cache
def _validator(schema_json: str) -> OAS30Validator:
    return OAS30Validator(json.loads(schema_json))


@cache
def twilio_spec() -> Spec:
    return Spec(json.loads(TWILIO_SPEC.read_text()))
