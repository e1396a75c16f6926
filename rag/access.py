"""Who may do what, and how often: one door for the web chat, ``/v1``, Slack and the CLI.

Every front end turns its request into a ``Caller`` with ``Access.identify`` (a key from an
``Authorization: Bearer`` header or the web chat's session cookie, and the client's address)
and then asks the same ``Access`` for permission:

- **keys**: with ``api_keys`` or ``admin_keys`` set, every caller needs one of them; a reader
  key reads, an admin key also writes. Wrong keys are rate-limited per address.
- **no keys at all**: reading is open; writing is allowed to a client on loopback, and only
  while the server itself listens on loopback (the single user on their own machine). A
  server reachable beyond loopback never takes an unauthenticated write.
- **rate**: ``rate_limit_per_minute`` requests per key (per address without keys; per user
  in Slack), counted by the ``limits`` library in memory or in a shared storage
  (``rate_limit_storage``, e.g. ``redis://host:6379`` for several replicas). A request
  refused for another reason (busy, no permission) does not use up the allowance.
- **concurrency**: at most ``max_concurrent_answers`` answers or searches at once, across
  every front end of the process; a request beyond them waits up to
  ``answer_queue_seconds`` for one to finish, then is told to retry (503).

The CLI needs no key: it acts as the owner of the index folder (``OWNER``), outside the
rate limit and the answer slots of a server.

Front ends do not call ``Access`` themselves: ``rag.service.Service`` does, inside each of its
methods, for the ``Caller`` a front end hands it.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from limits import RateLimitItemPerMinute
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from rag.errors import ConfigError, RagError
from rag.settings import Settings
from rag.text.counting import counted

SESSION_COOKIE = "rag_session"


class AccessError(RagError):
    """A caller is refused. ``kind`` says why, for a front end to answer in its own form
    (an HTTP status, a web notice, a Slack reply): ``unidentified`` (no key, or a wrong
    one), ``forbidden`` (may not write), ``too_many`` (over the rate limit; retry after
    ``retry_after`` seconds) or ``busy`` (every answer slot taken)."""

    KINDS = ("unidentified", "forbidden", "too_many", "busy")

    def __init__(self, kind: str, code: str, message: str, retry_after: int | None = None):
        if kind not in self.KINDS:
            raise ValueError(f"unknown kind of refusal {kind!r}")
        super().__init__(message)
        self.kind, self.code, self.message, self.retry_after = kind, code, message, retry_after


FRONT_ENDS = ("api", "web", "slack", "cli")


@dataclass(frozen=True)
class Caller:
    """Who is asking, and through which front end (``via``: one of ``FRONT_ENDS``);
    ``identity`` names them to the rate limiter (never holds a key)."""

    identity: str
    role: str  # "admin", "reader", "local" (no keys configured) or "owner" (the CLI)
    can_write: bool
    via: str = "api"

    @property
    def is_owner(self) -> bool:
        return self.role == "owner"


OWNER = Caller("owner", "owner", can_write=True, via="cli")


def session_token(key: str) -> str:
    """What the web chat's cookie holds for ``key``: a digest, never the key itself."""
    return hashlib.sha256(b"rag-news web session\0" + key.encode()).hexdigest()


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Access:
    """The keys, the rate limit and the concurrency cap of one server process."""

    def __init__(self, settings: Settings):
        self._roles: dict[str, str] = {}
        for key in settings.key_list("api_keys"):
            self._roles[key] = "reader"
        for key in settings.key_list("admin_keys"):
            self._roles[key] = "admin"
        self._sessions = {session_token(key): role for key, role in self._roles.items()}
        self.admin_configured = bool(settings.key_list("admin_keys"))
        self.server_on_loopback = is_loopback(settings.host)
        try:
            storage = storage_from_string(settings.rate_limit_storage)
        except Exception as err:  # limits raises several kinds for a bad URI
            raise ConfigError(
                f"rate_limit_storage {settings.rate_limit_storage!r} cannot be used: {err}"
            ) from None
        self._limiter = MovingWindowRateLimiter(storage)
        self._per_minute = RateLimitItemPerMinute(settings.rate_limit_per_minute)
        self._failures = RateLimitItemPerMinute(settings.wrong_keys_per_minute)
        self._answers = threading.BoundedSemaphore(settings.max_concurrent_answers)
        self._queue_seconds = settings.answer_queue_seconds

    @property
    def keys_required(self) -> bool:
        return bool(self._roles)

    # ----- who ---------------------------------------------------------------------------

    def identify(
        self,
        via: str,
        *,
        key: str | None = None,
        session: str | None = None,
        address: str | None = None,
    ) -> Caller:
        """The caller behind a bearer ``key`` or a web ``session`` token, from ``address``,
        through front end ``via``.

        Raises ``AccessError`` (unidentified) when keys are required and none (or a wrong
        one) is given; wrong keys from one address are limited to a few a minute.
        """
        if via not in FRONT_ENDS:
            raise ValueError(f"unknown front end {via!r}")
        address = address or "unknown"
        if not self.keys_required:
            local = self.server_on_loopback and is_loopback(address)
            return Caller(f"ip:{address}", "local", can_write=local, via=via)
        if key is None and session is None:
            raise AccessError(
                "unidentified", "missing_key", "send an API key: Authorization: Bearer KEY"
            )
        role = self._role(key, session)
        if role is None:
            self._count_failure(address)
            raise AccessError("unidentified", "invalid_key", "the API key is not valid")
        digest = session or session_token(key or "")
        return Caller(f"key:{digest[:16]}", role, can_write=role == "admin", via=via)

    @staticmethod
    def slack_user(user: str) -> Caller:
        """A Slack user (Slack's signature has already let them in), to the shared limits."""
        return Caller(f"slack:{user or 'unknown'}", "reader", can_write=False, via="slack")

    def _role(self, key: str | None, session: str | None) -> str | None:
        if key is not None:
            return next(
                (role for k, role in self._roles.items() if hmac.compare_digest(k, key)), None
            )
        if session is not None:
            return next(
                (r for s, r in self._sessions.items() if hmac.compare_digest(s, session)), None
            )
        return None

    def _count_failure(self, address: str) -> None:
        if not self._limiter.hit(self._failures, "failed", address):
            wait = self._wait(self._failures, "failed", address)
            raise AccessError("too_many", "rate_limited",
                              f"too many wrong keys; retry in {wait} s", wait)  # fmt: skip

    def session_for(self, key: str, address: str | None = None) -> str:
        """The session token for a key typed into the login page (``AccessError`` if wrong)."""
        self.identify("web", key=key, address=address)
        return session_token(key)

    # ----- what --------------------------------------------------------------------------

    def require_writer(self, caller: Caller) -> None:
        """Refuse a caller who may not add or delete articles (403)."""
        if caller.can_write:
            return
        if caller.role == "reader":
            raise AccessError(
                "forbidden", "admin_required", "adding or deleting articles needs an admin key"
            )
        if caller.role == "local":
            raise AccessError(
                "forbidden", "writes_disabled",
                "writing is off: set admin_keys (RAG_ADMIN_KEYS) to add or delete articles "
                "on a server reachable beyond this machine",
            )  # fmt: skip
        raise AccessError(
            "forbidden", "writes_disabled", "writing needs an admin key; set admin_keys"
        )

    # ----- how often ---------------------------------------------------------------------

    def check_rate(self, caller: Caller) -> None:
        """Count one request of ``caller``; 429 with the wait when over the limit."""
        if caller.is_owner:
            return
        if not self._limiter.hit(self._per_minute, "requests", caller.identity):
            self._refuse_rate(caller)

    def check_within_rate(self, caller: Caller) -> None:
        """429 when ``caller`` is over the limit, without counting a request (a request
        refused as busy must not use up the allowance)."""
        if not self._limiter.test(self._per_minute, "requests", caller.identity):
            self._refuse_rate(caller)

    def _refuse_rate(self, caller: Caller):
        wait = self._wait(self._per_minute, "requests", caller.identity)
        limit = self._per_minute.amount
        raise AccessError(
            "too_many",
            "rate_limited",
            f"more than {counted(limit, '{n} request|{n} requests')} a minute; retry in {wait} s",
            wait,
        )

    def _wait(self, item, *identifiers: str) -> int:
        reset = self._limiter.get_window_stats(item, *identifiers).reset_time
        return max(1, math.ceil(reset - time.time()))

    def take_answer_slot(self, caller: Caller, what: str = "answers") -> Callable[[], None]:
        """One of the process's answer slots for ``caller``'s request, and the function that
        gives it back (a stream gives it back when it ends).

        Busy (503) is decided before the request is counted, so a refused request does not
        use up the caller's allowance. The owner (the CLI) takes none.
        """
        if caller.is_owner:
            return lambda: None
        self.check_within_rate(caller)
        if not self._answers.acquire(timeout=self._queue_seconds):
            raise AccessError("busy", "overloaded",
                              f"too many {what} in progress; retry shortly", 1)  # fmt: skip
        try:
            self.check_rate(caller)
        except AccessError:
            self._answers.release()
            raise
        released = threading.Event()

        def release() -> None:
            if not released.is_set():
                released.set()
                self._answers.release()

        return release

    @contextmanager
    def answering(self, caller: Caller, what: str = "answers") -> Iterator[None]:
        """``take_answer_slot`` for the length of a ``with`` block."""
        release = self.take_answer_slot(caller, what)
        try:
            yield
        finally:
            release()


def bearer_key(headers: Mapping[str, str]) -> str | None:
    """The key of an ``Authorization: Bearer KEY`` header, if there is one."""
    scheme, _, key = (headers.get("authorization") or "").partition(" ")
    return key.strip() if scheme.lower() == "bearer" and key.strip() else None
