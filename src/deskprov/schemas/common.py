"""Building blocks shared by every resource's schema."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from deskprov.domain import rules


def _text_rules(value: str) -> str:
    problem = rules.text_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


# Every text field: no control characters, line separators, non-characters or lone surrogates.
Text = Annotated[str, AfterValidator(_text_rules)]
Name = Annotated[Text, StringConstraints(min_length=1, max_length=100), AfterValidator(not_blank)]
E164 = Annotated[
    str,
    StringConstraints(pattern=rules.E164.pattern),
    Field(description="E.164 number, for example +14155550100", examples=["+14155550100"]),
]
Extension = Annotated[str, StringConstraints(pattern=rules.EXTENSION.pattern)]
Id = Annotated[str, StringConstraints(min_length=3, max_length=32)]
Timestamp = Annotated[str, Field(description="ISO 8601 in UTC", examples=["2026-11-26T08:00:00Z"])]


class Body(BaseModel):
    """A request body: unknown fields are refused; no type coercion ("1" is not 1)."""

    model_config = ConfigDict(extra="forbid", strict=True)


class Query(BaseModel):
    """Query-string parameters arrive as text, so these convert ("50" -> 50)."""

    model_config = ConfigDict(extra="forbid")


class View(BaseModel):
    """A response body."""

    model_config = ConfigDict(frozen=True)


class PageQuery(Query):
    limit: int = Field(50, ge=1, le=500, description="items per page, 1 to 500")
    cursor: str | None = Field(None, max_length=200, description="next_cursor of the last page")


class ListQuery(PageQuery):
    """A list that can be searched and sorted (which columns: each endpoint says)."""

    q: Text | None = Field(
        None, min_length=1, max_length=100, description="only items containing this text"
    )
    sort: str | None = Field(
        None,
        max_length=40,
        pattern=r"^-?[a-z_]+$",
        description="a column to sort by, '-' first for descending; cursors follow it",
    )


V = TypeVar("V", bound=View)


class Page(View, Generic[V]):
    items: list[V]
    next_cursor: str | None


class ErrorDetail(View):
    code: str
    message: str
    fields: dict[str, str] | None = None
    dependents: list[dict[str, str]] | None = None


class ErrorBody(View):
    error: ErrorDetail
