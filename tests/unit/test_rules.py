"""Pure rules: text, passwords, ids, the failure limiter."""

from __future__ import annotations

from deskprov.domain import rules
from deskprov.domain.ids import new_id
from deskprov.web.limits import FailureLimiter


def test_control_characters() -> None:
    for bad in ("\n", "\r", "\t", "\x00", "\x1b", "\x7f", "\x85"):
        assert rules.has_control_characters(f"a{bad}b")
    for good in ("Zoë & Ünal <ops>", "日本語", "a \"quoted\" 'label'"):
        assert not rules.has_control_characters(good)


def test_password_rules() -> None:
    assert rules.password_problem("Sup3rSecretPass") is None
    assert rules.password_problem("Sh0rt") is not None
    assert rules.password_problem("x" * 200 + "A1") is not None


def test_ids_are_prefixed_and_unguessable() -> None:
    ids = {new_id("sip_user") for _ in range(1000)}
    assert len(ids) == 1000
    assert all(i.startswith("su_") and len(i) == 19 for i in ids)


def test_limiter_blocks_after_limit_and_forgets_after_window() -> None:
    now = [0.0]
    limiter = FailureLimiter(limit=3, window=60, clock=lambda: now[0])
    for _ in range(3):
        assert limiter.retry_after("10.0.0.1") is None
        limiter.fail("10.0.0.1")
    assert limiter.retry_after("10.0.0.1") == 60
    assert limiter.retry_after("10.0.0.2") is None
    now[0] = 30.0
    assert limiter.retry_after("10.0.0.1") == 30
    now[0] = 60.5
    assert limiter.retry_after("10.0.0.1") is None


def test_limiter_table_is_bounded() -> None:
    limiter = FailureLimiter(limit=1, window=60, max_addresses=10)
    for i in range(100):
        limiter.fail(f"10.0.0.{i}")
    assert limiter.retry_after("10.0.0.99") is not None
    assert limiter.retry_after("10.0.0.0") is None
