"""Results computed once and shared by concurrent callers for a few seconds, per process.

A wall of twenty screens refreshes its panels every two seconds; without this each screen would
run the same aggregate queries. With it the city pays one computation per key per ``ttl_s``,
however many displays ask: the first caller computes while the others wait for its answer.
"""
from __future__ import annotations

import threading
import time
from typing import Callable, TypeVar

T = TypeVar("T")


class Memo:
    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self._entries: dict[str, tuple[float, object]] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, key: str, ttl_s: float, compute: Callable[[], T]) -> T:
        entry = self._entries.get(key)
        if entry is not None and self.clock() - entry[0] < ttl_s:
            return entry[1]
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            entry = self._entries.get(key)          # computed while this caller waited
            if entry is not None and self.clock() - entry[0] < ttl_s:
                return entry[1]
            value = compute()                       # an exception leaves the old entry and reaches the caller
            self._entries[key] = (self.clock(), value)
            return value
