"""HTML forms into the API's own request models, so a form obeys exactly the API's rules.

Field names are the body's, dotted for nested objects (``target.type``, ``credentials.auth_token``).
Empty fields are left out (absent).
Checkboxes named in ``_bools`` are true when ticked and false otherwise; a field named in
``_nulls`` left empty is sent as null (a select whose blank choice clears the value). A memory
key's target is picked per kind: ``target.type`` chooses which of ``target.value`` /
``target.<kind>`` is sent.
Values arrive as text, so the models are validated in lax mode ("5" is 5 for ``position``).
"""

from __future__ import annotations

from typing import Any

from multidict import MultiDictProxy
from pydantic import BaseModel, ValidationError

from deskprov.errors import Invalid
from deskprov.web.errors import invalid_from
from deskprov.web.request import text_problems

RESOURCE_TARGETS = ("channel", "agent", "sip_user", "team", "queue")


def _put(data: dict[str, Any], dotted: str, value: Any) -> None:
    """``data[a][b] = value`` for ``a.b``; a name that is both a value and an object (``name``
    and ``name.x`` in one form) is refused."""
    *parents, leaf = dotted.split(".")
    for part in parents:
        data = data.setdefault(part, {})
        if not isinstance(data, dict):
            raise Invalid("a form field is given twice", fields={dotted: "conflicts with another"})
    if isinstance(data.get(leaf), dict):
        raise Invalid("a form field is given twice", fields={dotted: "conflicts with another"})
    data[leaf] = value


def form_data(form: MultiDictProxy[Any]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    bools = set(str(form.get("_bools", "")).split(",")) - {""}
    for name, value in form.items():
        if name.startswith("_") or not isinstance(value, str) or name in bools:
            continue
        if name.startswith("target."):
            continue  # picked below
        if value != "":
            _put(data, name, value)  # as typed: a password's spaces are part of it
    for name in bools:
        _put(data, name, name in form)
    for name in set(str(form.get("_nulls", "")).split(",")) - {""}:
        if form.get(name, "") == "":
            _put(data, name, None)
    kind = str(form.get("target.type", ""))
    if kind == "phone_number":
        data["target"] = {"type": kind, "value": str(form.get("target.value", ""))}
    elif kind in RESOURCE_TARGETS:
        data["target"] = {"type": kind, "id": str(form.get(f"target.{kind}", ""))}
    return data


def parse(form: MultiDictProxy[Any], model: type[BaseModel]) -> BaseModel:
    data = form_data(form)
    found: dict[str, str] = {}
    text_problems(data, "", found)
    if found:
        raise Invalid("some text breaks the text rules", fields=found)
    try:
        return model.model_validate(data, strict=False)
    except ValidationError as exc:
        raise invalid_from(exc) from None
