"""What the guarded clients read each ID as: the evidence that an ID names a user or a DM.

An ID alone does not say what it names: ``"1445880548472328192"`` may be a Tweet's or a
user's. The 1,500,000 Tweet-ID cap (I.F.2.b.i) counts Tweet IDs only, so an application that
wrapped Tweet IDs in user objects it made up would export them uncounted. The exports judge
IDs by evidence instead, failing closed: an ID presented as a user's or a DM's counts as a
Tweet ID unless a guarded client of this process read it as a user's (or a DM's), and never
if one read it as a Tweet's (`IdEvidence.proven`).

Which way would a Bloom filter's errors fall? A false positive among users read would let
a Tweet ID leave uncounted, so user and DM IDs read are kept exactly. Among Tweets read a
false positive only over-counts, so a Bloom filter would do; but an exact set is smaller
than a blocked Bloom filter at a rate that counts almost nothing twice (8 bytes an ID
against 11 at 1e-9, 5.4 at 1e-6) and ten times cheaper to add to (about 0.35 µs an ID
against 3.4), so all three are kept exactly (`ExactIds`): no false positives either way.
The evidence lives in this process (`process_evidence`): a process that exports user IDs
it did not read through a guarded client counts them as Tweet IDs.
"""

from __future__ import annotations

import bisect
import functools
import heapq
import json
import re
import threading
from array import array
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from twpolicy._payloads._ids import (
    DMS,
    LARGEST_ID,
    TWEETS,
    USERS,
    content_kind,
    is_id,
    references,
)
from twpolicy._payloads._walker import adapt, walk
from twpolicy.exceptions import PayloadError

__all__ = [
    "ExactIds",
    "IdEvidence",
    "id_key",
    "process_evidence",
    "read_body",
    "read_document",
    "read_parsed",
    "read_response",
]


def id_key(value: object) -> int | None:
    """An ID as the integer it names (``"123"`` and ``123`` alike), or ``None`` if not an ID."""
    if type(value) is int:
        return value if 0 <= value <= LARGEST_ID else None
    if isinstance(value, str) and is_id(value):
        return int(value)
    return None


class ExactIds:
    """A set of IDs kept exactly and compactly: a sorted array of 64-bit integers.

    New IDs wait in a small set and are merged into the array when that set grows past a
    quarter of the array (so each ID is merged a few times in all). No false positives, at
    8 bytes an ID once merged.
    """

    __slots__ = ("_batch", "_lock", "_pending", "_sorted")

    def __init__(self, batch: int = 4096) -> None:
        # The pending set is merged once it holds ``batch`` IDs, or a quarter of the array.
        self._batch = batch
        self._sorted = array("Q")
        self._pending: set[int] = set()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._sorted) + len(self._pending)

    @property
    def nbytes(self) -> int:
        """The size of the merged array, in bytes."""
        return len(self._sorted) * self._sorted.itemsize

    def __contains__(self, number: object) -> bool:
        if type(number) is not int:
            return False
        if number in self._pending:
            return True
        merged = self._sorted
        at = bisect.bisect_left(merged, number)
        return at < len(merged) and merged[at] == number

    def update(self, numbers: Iterable[int]) -> None:
        """Add ``numbers`` (integers from 0 to 2**64 - 1).

        IDs already held are found without the lock (the sets only grow, so an ID seen held
        is held), and a read that teaches nothing new, the usual one, never takes it.
        """
        pending, merged, bisect_left = self._pending, self._sorted, bisect.bisect_left
        size = len(merged)
        fresh = [
            n
            for n in numbers
            if n not in pending and ((at := bisect_left(merged, n)) == size or merged[at] != n)
        ]
        if not fresh:
            return
        with self._lock:
            fresh = [n for n in fresh if n not in self]  # another thread may have added them
            self._pending.update(fresh)
            if len(self._pending) >= max(self._batch, len(self._sorted) // 4):
                incoming = sorted(self._pending)
                self._sorted = array("Q", heapq.merge(self._sorted, incoming))
                self._pending = set()


class IdEvidence:
    """The IDs guarded clients read, by what the API said they name.

    Each kind is kept exactly (`ExactIds`): nothing never read is taken for something read.
    """

    __slots__ = ("dms", "tweets", "users")

    def __init__(self) -> None:
        self.tweets = ExactIds()
        self.users = ExactIds()
        self.dms = ExactIds()

    def __repr__(self) -> str:
        return (
            f"IdEvidence({len(self.tweets)} Tweet IDs, {len(self.users)} user IDs, "
            f"{len(self.dms)} DM IDs)"
        )

    @property
    def nbytes(self) -> int:
        """The size of what it keeps, in bytes (IDs not yet merged not included)."""
        return self.tweets.nbytes + self.users.nbytes + self.dms.nbytes

    def learn(
        self,
        tweets: Iterable[object] = (),
        users: Iterable[object] = (),
        dms: Iterable[object] = (),
    ) -> None:
        """Record IDs read as Tweets', users' and DMs'; anything that is not an ID is skipped."""
        for into, found in ((self.tweets, tweets), (self.users, users), (self.dms, dms)):
            keys = [k for k in map(id_key, found) if k is not None]
            if keys:
                into.update(keys)

    def learn_decimal(
        self, tweets: Iterable[str], users: Iterable[str], dms: Iterable[str]
    ) -> None:
        """`learn` for IDs known to be decimal IDs (`fast_ids` checked them): no test each."""
        if tweets:
            self.tweets.update(map(int, tweets))
        if users:
            self.users.update(map(int, users))
        if dms:
            self.dms.update(map(int, dms))

    def read_as_tweet(self, value: object) -> bool:
        """Whether ``value`` was read as a Tweet ID."""
        return id_key(value) in self.tweets

    def proven(self, value: object, kind: str) -> bool:
        """Whether ``value`` was read as a ``kind`` (``"users"``, ``"dms"``) ID, never a Tweet's.

        Only then is it not counted as a Tweet ID. An ID read as a Tweet's counts as one
        whatever it was also read as, and however it is presented.
        """
        key = id_key(value)
        if key is None:
            return False
        exact = self.users if kind == "users" else self.dms if kind == "dms" else None
        return exact is not None and key in exact and key not in self.tweets

    def unproven(self, values: Iterable[object], kind: str) -> int:
        """How many of ``values``, presented as ``kind`` IDs, count as Tweet IDs."""
        if kind == "tweets":
            return sum(1 for _ in values)
        return sum(1 for value in values if not self.proven(value, kind))


_PROCESS = IdEvidence()


def process_evidence() -> IdEvidence:
    """The evidence of this process: what its guarded clients have read."""
    return _PROCESS


def _found(document: Any) -> Iterator[tuple[str, str | None]]:
    """``(family, ID)`` for every object's own ID and every ID it refers to."""
    for node in walk(document):
        kind = content_kind(node)
        family = (
            "tweet"
            if kind in TWEETS
            else "user"
            if kind in USERS
            else "dm"
            if kind in DMS
            else None
        )
        if family is not None:
            yield family, node.read_id().value
        for reference in references(node, kind):
            yield reference.target, reference.id.value


def read_document(document: Any, evidence: IdEvidence | None = None) -> None:
    """Record what a parsed API response (JSON or tweepy models) says its IDs name.

    A document that cannot be walked teaches nothing (and so proves no user ID).
    """
    found: dict[str, list[str | None]] = {"tweet": [], "user": [], "dm": []}
    try:
        for family, value in _found(adapt(document)):
            if family in found:
                found[family].append(value)
    except (PayloadError, RecursionError):
        return
    (evidence or _PROCESS).learn(found["tweet"], found["user"], found["dm"])


#: The fast path's decoder of v2 pages, each family's extraction, what the decoder raises
#: on a body it refuses, and the decimal check (`_fast_path`).
_FastPath = tuple[
    Callable[[bytes], Any], tuple[Callable[..., None] | None, ...], type[Exception], Any
]


@functools.cache
def _fast_path() -> _FastPath | None:
    """The ID hook's fast path (`twpolicy._payloads._seenfast`), generated on the first read.

    Then, not at start-up: it generates code and imports msgspec.
    """
    import msgspec  # noqa: PLC0415  # on first read, as the readers

    from twpolicy._payloads._fastids import at_most  # noqa: PLC0415  # ditto
    from twpolicy._payloads._seenfast import all_kinds  # noqa: PLC0415  # ditto

    made = all_kinds()
    if made is None:  # pragma: no cover  # the table's v2 pages are read: tested
        return None
    decimal = at_most(LARGEST_ID)  # as `fast_ids` checks: 0 to 2**64 - 1, one per line
    decimals = re.compile(f"{decimal}(?:\\n{decimal})*")
    return made[0].decode, made[1], msgspec.DecodeError, decimals


def _fast(data: bytes) -> list[set[str]] | None:
    """The Tweet, user and DM IDs of a v2 page, as `fast_ids` reads each kind; else ``None``.

    The page is decoded once for the three kinds. Each ID once: a page repeats IDs (a
    conversation's, an author's), and what is learned is a set, so repeats are dropped
    before they are checked and converted.

    ``None`` where `fast_ids` gives ``None`` for any of the three kinds (the body is not
    such a page, or an ID is not a decimal string): the walker reads it.
    """
    path = _fast_path()
    if path is None:  # pragma: no cover  # see `_fast_path`
        return None
    decode, extracts, refused, decimals = path
    try:
        page = decode(data)
    except refused:
        return None
    found: list[set[str]] = []
    for extract in extracts:
        if extract is None:  # none of this family's IDs in such a page
            found.append(set())
            continue
        out: list[str | None] = []
        extract(page, out.append, out.extend)
        found.append({value for value in out if value})
    ids = found[0] | found[1] | found[2]
    joined = "\n".join(ids)  # one match checks every ID at once, as `fast_ids` does per kind
    if ids and (joined.count("\n") != len(ids) - 1 or decimals.fullmatch(joined) is None):
        return None
    return found


def read_body(body: object, evidence: IdEvidence | None = None) -> None:
    """Record what a response body as received (bytes or text) says its IDs name.

    v2 pages are read by the fast ID path (only their ID fields are decoded, `_fast`);
    anything else is parsed and walked. A body that is not JSON teaches nothing.
    """
    data = body.encode() if type(body) is str else body
    if isinstance(data, bytearray):
        data = bytes(data)
    if not isinstance(data, bytes):
        return
    found = _fast(data)
    if found is not None:
        (evidence or _PROCESS).learn_decimal(*found)
        return
    try:
        document = json.loads(data)
    except ValueError:
        return
    read_document(document, evidence)


def _body_of(response: Any) -> bytes | None:
    """A response's body as received (`requests`' ``_content``, `aiohttp`'s ``_body``)."""
    held = vars(response) if hasattr(response, "__dict__") else {}
    for name in ("_content", "_body"):
        body = held.get(name)
        if isinstance(body, bytes):
            return body
    body = getattr(response, "_body", None)  # aiohttp keeps it in a slot
    return body if isinstance(body, bytes) else None


def read_response(response: Any, evidence: IdEvidence | None = None) -> None:
    """The guarded clients' ID hook: record what the body of ``response`` says its IDs name.

    A response whose body was not received (a stream not read) teaches nothing, so proves
    no user ID. Not public: an application that could call it could vouch for IDs.
    """
    body = _body_of(response)
    if body is not None:
        read_body(body, evidence)


def read_parsed(result: Any, response: Any = None, evidence: IdEvidence | None = None) -> None:
    """`read_response` for the v1.1 API: the body received, else what its parser gave."""
    body = _body_of(response) if response is not None else None
    if body is not None:
        read_body(body, evidence)
    elif isinstance(result, (str, bytes, bytearray)):
        read_body(result, evidence)
    else:
        read_document(result, evidence)
