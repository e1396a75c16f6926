"""The access model every front end shares (rag/access.py), rule by rule."""

from __future__ import annotations

import threading
import time

import pytest

from rag.access import Access, AccessError, session_token
from rag.api import refusal_response
from rag.settings import Settings


def _access(**settings) -> Access:
    return Access(Settings.load(environ={}, **settings))


def _refused(call) -> AccessError:
    with pytest.raises(AccessError) as raised:
        call()
    return raised.value


def test_without_keys_only_the_local_user_of_a_loopback_server_writes():
    local_server = _access()
    local = local_server.identify("api", address="127.0.0.1")
    local_server.require_writer(local)  # the single user on their own machine
    remote = local_server.identify("api", address="192.0.2.7")
    assert _refused(lambda: local_server.require_writer(remote)).code == "writes_disabled"

    open_server = _access(host="0.0.0.0")  # reachable beyond loopback, no keys
    for address in ("127.0.0.1", "192.0.2.7"):
        caller = open_server.identify("api", address=address)  # reading is open
        refused = _refused(lambda caller=caller: open_server.require_writer(caller))
        assert refused.kind == "forbidden" and "set admin_keys" in refused.message


def test_with_keys_readers_read_and_admins_write():
    access = _access(api_keys="r1", admin_keys="a1")
    assert _refused(lambda: access.identify("api", address="127.0.0.1")).code == "missing_key"
    assert _refused(lambda: access.identify("api", key="nope")).code == "invalid_key"
    reader = access.identify("api", key="r1")
    assert _refused(lambda: access.require_writer(reader)).code == "admin_required"
    access.require_writer(access.identify("api", key="a1"))
    by_cookie = access.identify("api", session=session_token("a1"))
    assert (
        by_cookie.role == "admin"
        and by_cookie.identity == access.identify("api", key="a1").identity
    )
    assert "a1" not in by_cookie.identity and "a1" not in session_token("a1")


def test_the_rate_limit_is_per_caller_and_says_when_to_retry():
    access = _access(api_keys="r1,r2", rate_limit_per_minute=3)
    first, second = access.identify("api", key="r1"), access.identify("api", key="r2")
    for _ in range(3):
        access.check_rate(first)
    refused = _refused(lambda: access.check_rate(first))
    assert refused.kind == "too_many" and 1 <= refused.retry_after <= 60
    answered = refusal_response(refused)  # what the HTTP front end makes of it
    assert answered.status_code == 429
    assert answered.headers["retry-after"] == str(refused.retry_after)
    access.check_rate(second)  # another key has its own minute


def test_a_busy_refusal_does_not_count_and_a_slot_is_given_back_once():
    access = _access(
        api_keys="r1", rate_limit_per_minute=3, max_concurrent_answers=1, answer_queue_seconds=0
    )
    caller = access.identify("api", key="r1")
    release = access.take_answer_slot(caller)
    for _ in range(5):
        assert _refused(lambda: access.take_answer_slot(caller)).code == "overloaded"
    release()
    release()  # a second release must not open a second slot
    with access.answering(caller):
        assert _refused(lambda: access.take_answer_slot(caller)).kind == "busy"
    access.take_answer_slot(caller)()  # the third counted request of the minute
    assert _refused(lambda: access.take_answer_slot(caller)).kind == "too_many"


def test_a_request_beyond_the_cap_waits_for_a_slot_then_is_refused():
    access = _access(api_keys="r1", max_concurrent_answers=1, answer_queue_seconds=0.5)
    caller = access.identify("api", key="r1")
    release = access.take_answer_slot(caller)
    started = time.monotonic()
    assert _refused(lambda: access.take_answer_slot(caller)).code == "overloaded"
    assert time.monotonic() - started >= 0.5  # it waited its turn first
    threading.Timer(0.2, release).start()
    started = time.monotonic()
    access.take_answer_slot(caller)()  # given the slot the first answer gave back
    assert 0.1 < time.monotonic() - started < 0.5


def test_wrong_keys_from_one_address_are_limited():
    access = _access(api_keys="r1")
    codes = [
        _refused(lambda n=n: access.identify("api", key=f"guess{n}", address="192.0.2.9")).code
        for n in range(11)
    ]
    assert codes[:10] == ["invalid_key"] * 10 and codes[10] == "rate_limited"
    assert access.identify("api", key="r1", address="192.0.2.9").role == "reader"
