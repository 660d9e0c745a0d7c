"""HTML forms into the API's own request models, so a form obeys exactly the API's rules.

Field names are the body's, dotted for nested objects (``target.type``, ``credentials.auth_token``).
Empty fields are left out (absent).
Checkboxes named in ``_bools`` are true when ticked and false otherwise; a field named in
``_nulls`` left empty is sent as null (a select whose blank choice clears the value); a field
named in ``_lists`` is every value sent under that name, in order (blanks dropped), and one named
in ``_lines`` is its text split at line breaks, commas and spaces, and one named in ``_pairs``
is a mapping, a ``key value`` pair per line. A target (a memory key's
``target``, a channel's ``route``) is picked per kind: ``<t>.type`` chooses which of
``<t>.value`` / ``<t>.<kind>`` is sent.
Values arrive as text, so the models are validated in lax mode ("5" is 5 for ``position``).
A refusal is worded for people: each field's problem in our words, not the validator's.
"""

from __future__ import annotations

import re
from typing import Any

from multidict import MultiDictProxy
from pydantic import BaseModel, ValidationError

from deskprov.errors import Invalid
from deskprov.web.request import text_problems

RESOURCE_TARGETS = ("channel", "agent", "sip_user", "team", "queue")
TARGETS = ("target", "route")

# What a field must look like, said the way the form's hint says it.
SHAPES = {
    "prefix": "1-63 lower-case letters, digits or hyphens, not starting or ending with a hyphen",
    "username": "1-32 letters, digits, dots, hyphens or underscores",
    "password": "at least 12 characters, with an upper-case letter, a lower-case letter "
    "and a digit",
    "extension": "1-16 digits, * or #",
    "phone_number": "a number in E.164 form, such as +14155550100",
    "target.value": "a number in E.164 form, such as +14155550100",
    "email": "an email address, such as alice@example.com",
    "area_code": "three digits",
}


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


def _named(form: MultiDictProxy[Any], key: str) -> set[str]:
    return set(str(form.get(key, "")).split(",")) - {""}


def form_data(form: MultiDictProxy[Any]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    bools, lists, lines = _named(form, "_bools"), _named(form, "_lists"), _named(form, "_lines")
    pairs = _named(form, "_pairs")
    for name, value in form.items():
        if name.startswith("_") or not isinstance(value, str) or name in bools | lists:
            continue
        if name.split(".")[0] in TARGETS:
            continue  # picked below
        if name in lines:
            _put(data, name, [v for v in re.split(r"[\s,;]+", value) if v])
        elif name in pairs:
            found = (line.split(None, 1) for line in value.splitlines() if line.strip())
            _put(data, name, {p[0]: (p[1].strip() if len(p) > 1 else "") for p in found})
        elif value != "":
            _put(data, name, value)  # as typed: a password's spaces are part of it
    for name in bools:
        _put(data, name, name in form)
    for name in lists:
        _put(data, name, [v for v in form.getall(name, []) if isinstance(v, str) and v])
    for name in _named(form, "_nulls"):
        if form.get(name, "") == "":
            _put(data, name, None)
    for target in TARGETS:
        kind = str(form.get(f"{target}.type", ""))
        if kind == "phone_number":
            data[target] = {"type": kind, "value": str(form.get(f"{target}.value", ""))}
        elif kind in RESOURCE_TARGETS:
            data[target] = {"type": kind, "id": str(form.get(f"{target}.{kind}", ""))}
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
        raise Invalid("some fields need another look", fields=in_our_words(exc)) from None


def in_our_words(exc: ValidationError) -> dict[str, str]:
    """Each field's problem as a person would say it (the API says it as the validator does)."""
    fields: dict[str, str] = {}
    for err in exc.errors(include_url=False):
        parts = [str(p) for p in err["loc"]]
        tags = (*RESOURCE_TARGETS, "phone_number")
        if len(parts) >= 2 and parts[0] in TARGETS and parts[1] in tags:
            del parts[1]  # the union's tag
        name = ".".join(parts[:2] if parts[:1] == ["member_ids"] else parts) or "form"
        fields.setdefault(name, _why(name, err))
    return fields


def _why(name: str, err: Any) -> str:
    kind, ctx = err["type"], err.get("ctx") or {}
    if kind == "missing" or (kind == "string_too_short" and ctx.get("min_length") == 1):
        return "required: fill this in" if not name.endswith(".id") else "pick one"
    if kind == "string_pattern_mismatch":
        shape = SHAPES.get(name) or SHAPES.get(name.rsplit(".", 1)[-1], "in another form")
        return "should be " + shape
    text = isinstance(err.get("input"), str)
    if kind == "string_too_short" or (kind == "too_short" and text):
        return SHAPES.get(name) or f"at least {ctx.get('min_length')} characters"
    if kind == "string_too_long" or (kind == "too_long" and text):
        return f"at most {ctx.get('max_length')} characters"
    if kind == "too_long":
        return f"at most {ctx.get('max_length')} items"
    if kind == "too_short":
        return "add at least one"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return "a whole number"
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        low, high = ctx.get("ge", ctx.get("gt")), ctx.get("le", ctx.get("lt"))
        if low is not None and high is not None:
            return f"a number from {low} to {high}"
        return f"at least {low}" if low is not None else f"at most {high}"
    if kind in ("literal_error", "enum", "union_tag_invalid"):
        return "pick one of the choices"
    if kind == "extra_forbidden":
        return "not a field of this form"
    if kind == "value_error":
        return str(err["msg"]).removeprefix("Value error, ")
    if kind in ("bool_parsing", "bool_type"):
        return "tick or untick it"
    return str(err["msg"]).lower()
