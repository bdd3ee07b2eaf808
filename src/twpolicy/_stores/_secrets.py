"""The guard's own credentials, known by keyed hash only (I.A.1).

The guarded clients register their consumer secret, access token secret and bearer token
here when they are built, so that a rule can refuse storing or exporting them and the guard
can keep them out of every decision, log line and error. A secret is never kept as it is:
only a keyed hash of it (BLAKE2b under a key drawn at random for the process), with its length, so a
memory dump, a pickle or a repr shows nothing that can be turned back into it.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
import secrets
import threading
from collections.abc import Iterable, Iterator
from typing import Final

__all__ = [
    "LOGGERS",
    "MIN_SECRET_LENGTH",
    "REDACTED",
    "RedactSecrets",
    "SecretRegistry",
    "install_log_filter",
    "process_secrets",
]

#: Shorter values are not registered: they would match ordinary words and numbers.
MIN_SECRET_LENGTH: Final = 12
#: What a secret is replaced by wherever twpolicy writes text.
REDACTED: Final = "[redacted secret]"


# Secrets without whitespace (every OAuth token and key) can only sit inside a run of
# non-space characters at least as long as they are: only those windows are hashed.
@functools.lru_cache(maxsize=64)
def _runs(length: int) -> re.Pattern[str]:
    """Runs of at least ``length`` non-space characters (found in C, not in a Python loop)."""
    # Anchored at a run's start: a run shorter than ``length`` is read once, not once a
    # character (which made long texts of short words cost quadratic time in C).
    return re.compile(r"(?<!\S)\S{%d,}" % length)  # noqa: UP031  # a regex quantifier, braces and all


_CLEAN_SLOTS: Final = 1024
#: Longer texts are not remembered as clean (a whole payload's texts, joined, would be kept).
_CLEAN_LENGTH: Final = 4096
#: Bumped by every change to any registry: what a text was found clean against.
_CHANGES = [0]


class SecretRegistry:
    """Keyed hashes of secrets, to recognise them without holding them.

    Args:
        parent: a registry whose secrets count as this one's too (the process-wide one).
    """

    __slots__ = ("_clean", "_digests", "_key", "_lengths", "_lock", "_parent", "_spaced")

    def __init__(self, parent: SecretRegistry | None = None) -> None:
        self._key = secrets.token_bytes(32)
        self._digests: set[bytes] = set()
        self._lengths: set[int] = set()
        self._spaced: set[int] = set()  # lengths of secrets holding whitespace
        self._lock = threading.Lock()
        self._parent = parent
        # Texts known to hold no secret (decision messages repeat), per registry state.
        self._clean: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"twpolicy.SecretRegistry({len(self._digests)} secret(s), values never kept)"

    def __len__(self) -> int:
        return len(self._digests) + (len(self._parent) if self._parent is not None else 0)

    def _digest(self, value: str) -> bytes:
        # A keyed BLAKE2b is one C call (several times faster than hmac.new), as strong a MAC.
        data = value.encode("utf-8", "surrogatepass")
        return hashlib.blake2b(data, key=self._key, digest_size=32).digest()

    def register(self, values: Iterable[object]) -> int:
        """Remember each string of ``values`` long enough to be a secret; return how many."""
        added = 0
        for value in values:
            if not isinstance(value, str) or len(value) < MIN_SECRET_LENGTH:
                continue
            digest = self._digest(value)
            with self._lock:
                if digest not in self._digests:
                    _CHANGES[0] += 1
                    self._digests.add(digest)
                    self._lengths.add(len(value))
                    if any(c.isspace() for c in value):
                        self._spaced.add(len(value))
                    added += 1
        return added

    def clear(self) -> None:
        """Forget every secret registered here (tests; a process rotating its credentials)."""
        with self._lock:
            _CHANGES[0] += 1
            self._digests.clear()
            self._lengths.clear()
            self._spaced.clear()

    def _registries(self) -> Iterator[SecretRegistry]:
        registry: SecretRegistry | None = self
        while registry is not None:
            if registry._digests:  # noqa: SLF001  # the same class
                yield registry
            registry = registry._parent  # noqa: SLF001  # ditto

    def spaced(self) -> bool:
        """Whether a registered secret holds whitespace (it may span words of a text)."""
        return any(r._spaced for r in self._registries())  # noqa: SLF001  # the same class

    def is_secret(self, value: object) -> bool:
        """Whether ``value`` is exactly a registered secret."""
        if not isinstance(value, str) or len(value) < MIN_SECRET_LENGTH or not len(self):
            return False
        return any(
            len(value) in r._lengths and r._digest(value) in r._digests  # noqa: SLF001  # ditto
            for r in self._registries()
        )

    @staticmethod
    def _state() -> int:
        return _CHANGES[0]

    def generation(self) -> int:
        """A number that changes whenever any registry's secrets change.

        A text found clean stays clean while it is unchanged: callers may remember that.
        """
        return _CHANGES[0]

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Where registered secrets occur in ``text``, as ``(start, end)`` pairs, in order."""
        found: list[tuple[int, int]] = []
        if len(text) < MIN_SECRET_LENGTH or not len(self):
            return found
        state = self._state()
        if self._clean.get(text) == state:
            return found
        for registry in self._registries():
            found.extend(registry._own_spans(text))  # noqa: SLF001  # ditto
        if not found and len(text) <= _CLEAN_LENGTH:  # short texts without a secret
            if len(self._clean) >= _CLEAN_SLOTS:
                self._clean.clear()
            self._clean[text] = state
        return sorted(found)

    def _own_spans(self, text: str) -> Iterator[tuple[int, int]]:
        with self._lock:
            lengths = sorted(self._lengths)
            spaced = set(self._spaced)
        runs: list[tuple[int, int]] | None = None
        for length in lengths:
            if length in spaced:
                regions: Iterable[tuple[int, int]] = ((0, len(text)),)
            else:
                if runs is None:  # found once, for the shortest length: the rest filter them
                    runs = [m.span() for m in _runs(length).finditer(text)]
                regions = [(start, end) for start, end in runs if end - start >= length]
            for start, end in regions:
                for at in range(start, end - length + 1):
                    if self._digest(text[at : at + length]) in self._digests:
                        yield at, at + length

    def contains(self, text: object) -> bool:
        """Whether a registered secret occurs anywhere in ``text``."""
        if not isinstance(text, str):
            return False
        if len(text) > _CLEAN_LENGTH and len(self) and not self.spaced():
            # A long text (a payload's texts, joined): each distinct run of non-space
            # characters long enough to hold a secret is checked once, and remembered clean.
            shortest = min(min(r._lengths) for r in self._registries())  # noqa: SLF001  # the same class
            runs = {run for run in text.split() if len(run) >= shortest}
            return any(self.spans(run) for run in runs)
        return bool(self.spans(text))

    def redact(self, text: str) -> str:
        """``text`` with every registered secret in it replaced by `REDACTED`."""
        spans = self.spans(text)
        if not spans:
            return text
        out: list[str] = []
        last = 0
        for start, end in spans:
            if start < last:  # overlapping matches: extend the one already cut out
                last = max(last, end)
                continue
            out.append(text[last:start])
            out.append(REDACTED)
            last = end
        out.append(text[last:])
        return "".join(out)


_PROCESS = SecretRegistry()


def process_secrets() -> SecretRegistry:
    """The registry every guard consults: secrets of clients built without a guard."""
    return _PROCESS


class RedactSecrets:
    """A `logging` filter that replaces registered secrets in a record's text.

    The message is formatted with its arguments first, and a traceback is formatted too, so
    a secret in either is cut out before any handler sees the record.
    """

    def __init__(self, registry: SecretRegistry) -> None:
        self._registry = registry

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the record in place; never drops it."""
        if not len(self._registry):
            return True
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001  # a malformed record: logging reports it, not us
            return True
        record.msg, record.args = self._registry.redact(message), None
        if record.exc_info and record.exc_info[0] is not None:
            text = record.exc_text or logging.Formatter().formatException(record.exc_info)
            record.exc_text = self._registry.redact(text)
        if record.stack_info:
            record.stack_info = self._registry.redact(record.stack_info)
        return True


#: The loggers twpolicy writes to; each gets the filter (a logger's filters see only its own).
LOGGERS: Final = ("twpolicy", "twpolicy.decisions", "twpolicy.stores", "twpolicy.consent")


def install_log_filter() -> None:
    """Put a `RedactSecrets` filter on each twpolicy logger, once."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets(_PROCESS))
