"""The locks a store shares between a server's threads."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import wraps


def synchronized(method):
    """One thread at a time: a server shares one store between its request threads."""

    @wraps(method)
    def locked(self, *args, **kwargs):
        with self._lock:
            return method(self, *args, **kwargs)

    return locked


class SharedLock:
    """Many holders at once (searches of the in-memory indexes), or one alone (a change to
    them); one waiting to change them lets no new search in ahead of it."""

    def __init__(self):
        self._condition = threading.Condition()
        self._sharing = 0
        self._changing = False
        self._waiting = 0

    @contextmanager
    def shared(self) -> Iterator[None]:
        with self._condition:
            self._condition.wait_for(lambda: not (self._changing or self._waiting))
            self._sharing += 1
        try:
            yield
        finally:
            with self._condition:
                self._sharing -= 1
                self._condition.notify_all()

    @contextmanager
    def alone(self) -> Iterator[None]:
        with self._condition:
            self._waiting += 1
            self._condition.wait_for(lambda: not (self._changing or self._sharing))
            self._waiting -= 1
            self._changing = True
        try:
            yield
        finally:
            with self._condition:
                self._changing = False
                self._condition.notify_all()
