"""Admin page sessions and forms, without a browser."""

from __future__ import annotations

import pytest
from multidict import MultiDict, MultiDictProxy

from deskprov.errors import Invalid
from deskprov.schemas import account as acc
from deskprov.web.admin import session as sessions
from deskprov.web.admin.forms import form_data, parse


def form(**fields: str) -> MultiDictProxy[str]:
    return MultiDictProxy(MultiDict(fields))


def test_csrf_token_is_bound_to_the_session() -> None:
    one, two = sessions.Session("a" * 43), sessions.Session("b" * 43)
    token = sessions.csrf_token(one)
    assert sessions.csrf_ok(one, token)
    assert not sessions.csrf_ok(two, token)
    assert not sessions.csrf_ok(one, None) and not sessions.csrf_ok(one, "")


def test_forms_become_the_api_bodies() -> None:
    data = form_data(
        form(
            _csrf="x",
            _action="y",
            _bools="capabilities.sms,hosted",
            channel_id="",
            user_id="",
            sid="PN1",
            hosted="on",
        )
    )
    assert data == {
        "sid": "PN1",
        "capabilities": {"sms": False},
        "hosted": True,
    }
    ext = parse(
        form(
            extension="101",
            label="Desk",
            subtype="start_new_call",
            scope="provider_account",
            type="memory_key",
            position="3",
            **{"target.type": "queue", "target.queue": "qu_123", "target.team": "tm_9"},
        ),
        acc.SipExtensionCreate,
    )
    assert isinstance(ext, acc.SipExtensionCreate)
    assert ext.position == 3 and ext.target.model_dump() == {"type": "queue", "id": "qu_123"}


def test_form_errors_name_the_field() -> None:
    with pytest.raises(Invalid) as weak:
        parse(form(username="a b", password="weak", credential_list_id="cl_1"), acc.SipUserCreate)
    assert set(weak.value.fields or {}) == {"username", "password"}
    bell = form(username="ok", password="Good-Passw0rd-1\x07", credential_list_id="cl_1")
    with pytest.raises(Invalid) as control:
        parse(bell, acc.SipUserCreate)
    assert control.value.fields == {"password": "control characters are not allowed"}
